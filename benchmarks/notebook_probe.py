"""Time what the notebook computes when its commodity picker changes (a child process).

Loads the prod Workbench once (as the notebook does on start), then for each pick calls
materia.analysis the way notebooks/commodities.py wires it: countries and years for the
pickers, default countries, unit, the time series, top producers and exporters,
stocks-to-use, the balance sheet, revisions and the most revised estimates. Prints one JSON object: the load time and,
per query, every latency in milliseconds.

Run: `python -m benchmarks.notebook_probe <picks>` with MATERIA_HOME etc. in the environment.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable


def picker_queries(analysis, wb, code: str) -> list[tuple[str, Callable[[], object]]]:
    """The materia.analysis calls notebooks/commodities.py makes when the commodity changes,
    in its cells' order (metric: production; countries: the default top producers)."""
    state: dict = {}

    def keep(key: str, fn: Callable[[], object]) -> Callable[[], object]:
        def call():
            state[key] = fn()
            return state[key]

        return call

    def country() -> str:
        return state["selected"][0] if state["selected"] else state["countries"][0, 0]

    def top_year() -> int:
        return min(state["years"][1], state["latest"])

    return [
        ("countries", keep("countries", lambda: analysis.countries(wb, code))),
        ("market_years", keep("years", lambda: analysis.market_years(wb, code))),
        ("default_countries", keep("selected", lambda: analysis.default_countries(wb, code))),
        ("unit", lambda: analysis.unit(wb, code, "production")),
        (
            "time_series",
            lambda: analysis.time_series(wb, code, state["selected"], "production", state["years"]),
        ),
        ("latest_year", keep("latest", lambda: analysis.latest_year(wb, code))),
        ("top_producers", lambda: analysis.top_countries(wb, code, "production", top_year(), 10)),
        ("top_exporters", lambda: analysis.top_countries(wb, code, "exports", top_year(), 10)),
        (
            "stocks_to_use",
            lambda: analysis.stocks_to_use(wb, code, state["selected"], state["years"]),
        ),
        ("balance_sheet", lambda: analysis.balance_sheet(wb, code, country(), state["years"][1])),
        ("revisions", lambda: analysis.revisions(wb, code, country(), state["years"][1])),
        ("most_revised", lambda: analysis.most_revised(wb, code, "production")),
    ]


def main(picks: int) -> dict:
    from materia import analysis, settings

    s = settings.load()
    t0 = time.perf_counter()
    wb = analysis.load(s, "prod")
    load_s = time.perf_counter() - t0
    codes = analysis.commodities(wb)["commodity_code"].to_list()
    # Rotate through the commodities; the biggest ones first (most rows per query).
    sizes = wb.metrics.group_by("commodity_code").len().sort("len", descending=True)
    order = [c for c in sizes["commodity_code"].to_list() if c in codes][:10]
    lat: dict[str, list[float]] = {}
    for i in range(picks):
        code = order[i % len(order)]
        total = 0.0
        for name, call in picker_queries(analysis, wb, code):
            t = time.perf_counter()
            # e.g. a commodity with no production: the notebook shows that message
            with contextlib.suppress(analysis.MateriaError):
                call()
            ms = (time.perf_counter() - t) * 1000
            total += ms
            lat.setdefault(name, []).append(ms)
        lat.setdefault("whole pick", []).append(total)
    return {
        "load_s": load_s,
        "obt_rows": wb.metrics.height,
        "vintage_rows": wb.vintages.height,
        "latency_ms": lat,
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
