"""Measure materia against its baselines: `uv run python -m benchmarks [--smoke] [--only NAME]`.

Builds (or reuses) the full-size data under benchmarks/.data, runs every measurement,
prints a table and writes benchmarks/RESULTS.md. `--smoke` runs everything on tiny
synthetic data, once, and writes to a temporary path: a check that the harness works,
not a measurement.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import generate, results
from benchmarks.measure import MEASUREMENTS, Context

DEFAULT_OUT = Path(__file__).resolve().parent / "RESULTS.md"


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny data, 1 repeat, temp output")
    ap.add_argument("--only", action="append", choices=list(MEASUREMENTS), metavar="NAME",
                    help=f"run only this measurement (repeatable): {', '.join(MEASUREMENTS)}")  # fmt: skip
    ap.add_argument("--rows", type=int, help="rows per release (default 2,100,000)")
    ap.add_argument("--releases", type=int, help="monthly releases in the series (default 13)")
    ap.add_argument("--repeats", type=int, help="runs per figure (default 3)")
    ap.add_argument("--picks", type=int, help="commodity picks timed in the notebook (default 30)")
    ap.add_argument(
        "--launches", type=int, help="`marimo run` starts timed per dataset (default 5)"
    )
    ap.add_argument(
        "--history", type=int, help="monthly releases of the full history (default 240)"
    )
    ap.add_argument("--source", choices=["real", "synthetic"], help="default: real when present")
    ap.add_argument("--cache", type=Path, help="generated data (default benchmarks/.data)")
    ap.add_argument("--out", type=Path, help="results file (default benchmarks/RESULTS.md)")
    ap.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up round")
    a = ap.parse_args(argv)
    smoke = a.smoke
    a.rows = a.rows or (3_000 if smoke else 2_100_000)
    a.releases = a.releases or (2 if smoke else 13)
    a.repeats = a.repeats or (1 if smoke else 3)
    a.picks = a.picks or (2 if smoke else 30)
    a.launches = a.launches or (1 if smoke else 5)
    a.history = a.history or (3 if smoke else 240)
    a.source = a.source or ("synthetic" if smoke else None)
    a.warmup = not (a.no_warmup or smoke)
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="materia-benchmarks-") as td:
        scratch = Path(td)
        cache = a.cache or (scratch / "data" if a.smoke else generate.DATA_DIR)
        out = a.out or (scratch / "RESULTS.md" if a.smoke else DEFAULT_OUT)
        releases = (
            a.releases
            if not a.only or {"growth", "backfill", "prod_state", "noop", "notebook"} & set(a.only)
            else 1
        )
        log(f"data: {a.rows:,} rows x {releases} release(s) under {cache}")
        t_gen = time.perf_counter()
        series = generate.build(a.rows, releases, cache, a.source, log=log)
        t_gen = time.perf_counter() - t_gen
        ctx = Context(series, a.repeats, a.picks, a.warmup, scratch, log, a.launches,
                      a.history, a.rows, cache, a.source)  # fmt: skip
        done = []
        with ctx.stack:
            for name, fn in MEASUREMENTS.items():
                if a.only and name not in a.only:
                    continue
                log(f"measuring {name}")
                done.append(fn(ctx))
        params = {
            "data": f"{series.source}, {a.rows:,} rows per release, {len(series.releases)} "
            f"monthly releases ({series.releases[0].label} … {series.releases[-1].label})",
            "full history": f"{a.history} monthly releases from 2006-01 (when measured)",
            "runs per figure": str(a.repeats)
            + (", after one untimed warm-up round" if a.warmup else ""),
            "data generation wall (0 when cached)": f"{t_gen:.0f} s",
            "harness wall": f"{time.perf_counter() - t0:.0f} s",
        }
        if a.smoke:
            params["mode"] = "smoke (tiny data, figures meaningless)"
        print(results.table(done))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(results.markdown(done, params, out))
        log(f"wrote {out}")
        if a.smoke and a.out is None:
            print(out.read_text())
    # A figure that could not be measured is a failure of the harness, not a result.
    broken = [r.key for r in done if r.error or any(g.status == "NOT MEASURED" for g in r.goals)]
    if broken:
        log(f"not measured: {', '.join(broken)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
