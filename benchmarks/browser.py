"""What an analyst waits for in the workbench: Playwright + Debian Chromium against `marimo run`.

Run in its own process (`python -m benchmarks.browser <home> <picks> [<launches>]`) so
the harness's imports cannot help or hurt it; prints one JSON object:

- `first_render_s`: per launch, from launching `marimo run notebooks/commodities.py` to
  every chart drawn for the default commodity, in a Chromium started beforehand with an
  empty profile (so the frontend's assets come from the server, as on a first visit);
- per commodity pick, `redrawn_ms`: from choosing it in the picker to every chart on the
  page redrawn for it (each chart's SVG title names the commodity), and `settled_ms`:
  to the last change of the page after that (no change for SETTLE_QUIET_MS);
- `peak_rss`: the marimo process's VmHWM at the end (its kernel is a thread of it), and
  its VmRSS after the first render, after each pick and at the end (`rss_end`).

The picks run in the last launch's session.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

SETTLE_QUIET_MS = 1000
# Records the time of every DOM change, through the shadow roots marimo renders into.
WATCH = """() => {
  window.__lastChange = performance.now();
  const seen = new WeakSet();
  const observe = root => {
    if (seen.has(root)) return; seen.add(root);
    new MutationObserver(() => { window.__lastChange = performance.now(); watchAll(root); })
      .observe(root, {childList: true, subtree: true, attributes: true, characterData: true});
  };
  const watchAll = root => { for (const el of root.querySelectorAll('*')) if (el.shadowRoot) { observe(el.shadowRoot); watchAll(el.shadowRoot); } };
  observe(document); watchAll(document);
}"""
SETTLED = f"() => performance.now() - window.__lastChange > {SETTLE_QUIET_MS}"


def _vm(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def measure(home: Path, picks: list[str], default: str = "Corn", launches: int = 1) -> dict:
    out: dict = {"picks": [], "first_render_s": []}
    for i in range(launches):
        _session(home, picks if i == launches - 1 else [], default, out)
    return out


def _session(home: Path, picks: list[str], default: str, out: dict) -> None:
    """One `marimo run` in a fresh Chromium profile: its first render, then `picks`."""
    from testsupport import clean_env
    from testsupport.ops.browser import chromium, marimo, wait_for_charts

    with tempfile.TemporaryDirectory(prefix="materia-browser-") as td:
        tmp = Path(td)
        with chromium(tmp / "profile") as ctx:
            page = ctx.new_page()
            page.goto("about:blank")  # the browser is up before the clock starts
            with marimo(home, tmp / "marimo.log", env=clean_env(home)) as srv:
                page.goto(srv.url)
                wait_for_charts(page, default, minimum=3, timeout_s=300)
                out["first_render_s"].append(time.monotonic() - srv.started)
                out["rss_first_render"] = _vm(srv.process.pid, "VmRSS")
                if not picks:
                    out["peak_rss"] = _vm(srv.process.pid, "VmHWM")
                    out["rss_end"] = _vm(srv.process.pid, "VmRSS")
                    if tb := srv.tracebacks():
                        raise RuntimeError(f"a notebook cell failed:\n{tb}")
                    return
                page.evaluate(WATCH)
                page.wait_for_function(SETTLED, timeout=60_000, polling=100)
                picker = page.locator("select").filter(
                    has=page.locator("option", has_text=default)
                ).first  # fmt: skip
                for name in picks:
                    t0 = page.evaluate("performance.now()")
                    picker.select_option(label=name)
                    wait_for_charts(page, name, minimum=3, timeout_s=120)
                    t1 = page.evaluate("performance.now()")
                    page.wait_for_function(SETTLED, timeout=120_000, polling=100)
                    last = page.evaluate("window.__lastChange")
                    rss = _vm(srv.process.pid, "VmRSS")
                    out["picks"].append({"commodity": name, "redrawn_ms": t1 - t0, "settled_ms": last - t0, "rss": rss})  # fmt: skip
                out["peak_rss"] = _vm(srv.process.pid, "VmHWM")
                out["rss_end"] = _vm(srv.process.pid, "VmRSS")
                if tb := srv.tracebacks():
                    raise RuntimeError(f"a notebook cell failed:\n{tb}")


def pick_order(home: Path, n: int) -> tuple[str, list[str]]:
    """The commodity the notebook opens on (Corn, else the first by name) and `n` picks
    cycling through the commodities with the most countries, each different from the
    one shown before it, so every pick changes the page."""
    from materia.workbench.data import open_workbench
    from testsupport.lakehouse import fixture as lakehouse_fixture

    wb = open_workbench(lakehouse_fixture.settings_for(home))
    names = wb.commodities()["commodity_name"].to_list()
    default = "Corn" if "Corn" in names else names[0]
    by_size = wb.commodities().sort("countries", "commodity_name", descending=[True, False])
    pool = [x for x in by_size["commodity_name"].to_list() if x != default][:10] or [default]
    order, shown = [], default
    for i in range(n):
        name = pool[i % len(pool)]
        name = default if name == shown else name
        order.append(name)
        shown = name
    return default, order


if __name__ == "__main__":
    home = Path(sys.argv[1])
    first, picks = pick_order(home, int(sys.argv[2]))
    launches = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    print(json.dumps(measure(home, picks, first, launches)))
