"""The workbench in Chromium (Playwright) against `marimo run`, on two datasets, and the
default report.

- the harness's data: the home `growth` built (every release of the series published),
  or releases 1-2 published for the purpose;
- the shared real releases (`<repo>/../shared/data/psd`, when present): all four PSD
  datasets there and the Russia breakdown, landed and published by one `materia pipeline
  run` as the README's sample does, with the real file names.

On each: `launches` starts of `marimo run`, each timed to the first render in a fresh
browser profile (p95 over them), then `picks` commodity picks in the last session, each
timed to every chart redrawn and to the page no longer changing; the notebook's RSS
after the last pick.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from benchmarks import generate, runner, workspace
from benchmarks.figures import Context, Result
from benchmarks.runner import MIB, ChildFailed, Stats
from benchmarks.workspace import NotBuilt

GOALS = (
    "{d}: first render after `marimo run` starts ≤ 4 s (p95 of {n})",
    "{d}: commodity pick → every chart redrawn, p50 ≤ 250 ms",
    "{d}: commodity pick → every chart redrawn, p95 ≤ 600 ms",
    "{d}: commodity pick → the page stops changing, p50 ≤ 500 ms",
    "{d}: notebook RSS after {p} picks ≤ 400 MiB",
)
EXPORT_GOAL = "default report export ≤ 6 s"
# The shared real releases, as the README's "Try it on the sample releases" lands them.
REAL_DATASETS = (
    "psd_coffee_csv.zip,psd_cotton_csv.zip,psd_grains_pulses_csv.zip,psd_livestock_csv.zip,"
    "psd_russiabreakdown_area_prod_csv.zip"
)
REAL_AS_OF, REAL_FROM = "2025-11-30", "2022-01"


def notebook(ctx: Context) -> Result:
    res = Result(
        "notebook",
        "5. Notebook: the workbench in Chromium (Playwright) against `marimo run`, and the report",
    )
    harness_goals = _goals("harness data", ctx)
    try:
        workspace.require("server", "extract", "transform", "lakehouse", "analysis")
        ws = ctx.published(min(2, len(ctx.series.releases)))
        ctx.log(f"  browser on the harness data: {ctx.launches} start(s), {ctx.picks} picks")
        _browse(ctx, res, "harness data", ws.home, ws.env, harness_goals)
    except (NotBuilt, ChildFailed) as e:
        res.error = str(e)
        res.unmeasured(str(e), *harness_goals, EXPORT_GOAL)
        return res
    _real(ctx, res)
    try:
        workspace.require("reports")
        walls = []
        for _ in range(ctx.repeats):
            with tempfile.TemporaryDirectory(dir=ctx.scratch) as td:
                out = Path(td) / "commodities.html"
                walls.append(ws.report(out).wall_s)
                if not out.exists() or out.stat().st_size == 0:
                    raise ChildFailed(f"materia report commodities wrote no {out.name}")
    except (NotBuilt, ChildFailed) as e:
        res.unmeasured(str(e), EXPORT_GOAL)
        return res
    w = Stats.of(walls)
    res.figure("default report export wall (materia report commodities)", w.fmt())
    res.goal(EXPORT_GOAL, w.median <= 6.0, f"median {w.median:.2f} s")
    return res


def _goals(dataset: str, ctx: Context) -> list[str]:
    return [g.format(d=dataset, n=ctx.launches, p=ctx.picks) for g in GOALS]


def _real(ctx: Context, res: Result) -> None:
    """The same figures on the shared real releases (none when they are absent here)."""
    shared = generate.SHARED_PSD
    if generate.shared_archives() is None:
        res.figure("real releases", f"not measured: no PSD releases under {shared}")
        return
    goals = _goals("real releases", ctx)
    try:
        with (
            workspace.psd_server(shared) as srv,
            workspace.workspace(srv.base_url, ctx.scratch, datasets=REAL_DATASETS) as ws,
        ):
            ctx.log("  real releases: one pipeline run")
            p = ws.pipeline(REAL_AS_OF, backfill_from=REAL_FROM)
            res.figure(
                "real releases: land → publish (one pipeline run of the shared datasets)",
                f"{p.wall_s:.2f} s, peak RSS {p.peak_rss / MIB:,.0f} MiB, "
                f"{len(ws.landed_keys())} archives",
            )
            ctx.log(f"  browser on the real releases: {ctx.launches} start(s), {ctx.picks} picks")
            _browse(ctx, res, "real releases", ws.home, ws.env, goals)
    except (NotBuilt, ChildFailed) as e:
        res.error = str(e)
        res.unmeasured(str(e), *goals)


def _browse(ctx: Context, res: Result, dataset: str, home: Path, env, goals: list[str]) -> None:
    s = runner.python(
        ["-m", "benchmarks.browser", str(home), str(ctx.picks), str(ctx.launches)],
        env=env,
        what=f"browser ({dataset})",
    )
    got = json.loads(s.stdout.strip().splitlines()[-1])
    firsts = got["first_render_s"]
    redrawn = [p["redrawn_ms"] for p in got["picks"]]
    settled = [p["settled_ms"] for p in got["picks"]]
    first95 = runner.percentile(firsts, 95)
    p50, p95 = runner.percentile(redrawn, 50), runner.percentile(redrawn, 95)
    s50, s95 = runner.percentile(settled, 50), runner.percentile(settled, 95)
    res.figure(
        f"{dataset}: first render after `marimo run` starts, p95 (each of {len(firsts)})",
        f"{first95:.2f} s ({', '.join(f'{x:.2f}' for x in firsts)})",
    )
    res.figure(f"{dataset}: pick → every chart redrawn, p50 / p95 / max (n={len(redrawn)})", f"{p50:.0f} / {p95:.0f} / {max(redrawn):.0f} ms")  # fmt: skip
    res.figure(f"{dataset}: pick → page settled (no change for 1 s), p50 / p95", f"{s50:.0f} / {s95:.0f} ms")  # fmt: skip
    res.figure(f"{dataset}: notebook RSS after the first render / after {len(redrawn)} picks / peak (VmHWM)", f"{got['rss_first_render'] / MIB:,.0f} / {got['rss_end'] / MIB:,.0f} / {got['peak_rss'] / MIB:,.0f} MiB")  # fmt: skip
    table = [f"| pick ({dataset}) | commodity | redrawn ms | settled ms | RSS MiB |", "|---:|---|---:|---:|---:|"]  # fmt: skip
    table += [
        f"| {i + 1} | {p['commodity']} | {p['redrawn_ms']:.0f} | {p['settled_ms']:.0f} | {p['rss'] / MIB:,.0f} |"  # fmt: skip
        for i, p in enumerate(got["picks"])
    ]
    res.tables.append("\n".join(table))
    res.goal(goals[0], first95 <= 4, f"p95 {first95:.2f} s")
    res.goal(goals[1], p50 <= 250, f"p50 {p50:.0f} ms")
    res.goal(goals[2], p95 <= 600, f"p95 {p95:.0f} ms")
    res.goal(goals[3], s50 <= 500, f"p50 {s50:.0f} ms")
    res.goal(goals[4], got["rss_end"] <= 400 * MIB, f"{got['rss_end'] / MIB:,.0f} MiB")
