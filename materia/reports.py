"""Offline HTML reports of the commodities workbench.

`marimo export html` pages load marimo's frontend from a CDN (about 700 module chunks,
which Chromium also refuses to load from file://), so they show a blank page offline.
This is the static export path instead: the report runs the notebook's logic (the same
`materia.analysis` functions, with the notebook's default picks) and writes ONE
self-contained HTML file: markdown-like prose, tables with units, and altair charts drawn
by vega-embed from a single inlined vl-convert bundle. Nothing is fetched when it opens.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import os
import time
from pathlib import Path

import altair as alt
import polars as pl

from materia import analysis as an
from materia.errors import MateriaError
from materia.settings import Settings

log = logging.getLogger(__name__)

# Commodities reported, in order, when present (Corn is the notebook's default).
REPORTED = ("Corn", "Wheat", "Rice, Milled", "Oilseed, Soybean", "Coffee, Green", "Cotton")
TOP_N = 5


# --- the vega bundle (built once per vl-convert version; about 0.9 MB) ----------------------
def _vega_bundle(cache_dir: Path) -> str:
    import vl_convert

    path = cache_dir / f"vega-bundle-{vl_convert.__version__}.js"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    bundle = vl_convert.javascript_bundle()
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(bundle, encoding="utf-8")
    tmp.replace(path)
    return bundle


# --- HTML pieces ------------------------------------------------------------------------
def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: object, column: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if column in ("world_share", "stocks_to_use"):
            return f"{value:.1%}" if column == "world_share" else f"{value:.3f}"
        return f"{value:,.2f}" if abs(value) < 100 and value != int(value) else f"{value:,.0f}"
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m")
    return str(value)


def table_html(df: pl.DataFrame, caption: str) -> str:
    """A plain HTML table; the caption carries the unit."""
    head = "".join(f"<th>{_esc(c)}</th>" for c in df.columns)

    def cell(column: str, value: object) -> str:
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        attr = ' class="num"' if numeric else ""
        return f"<td{attr}>{_esc(_fmt(value, column))}</td>"

    rows = "".join(
        "<tr>" + "".join(cell(c, v) for c, v in zip(df.columns, row, strict=True)) + "</tr>"
        for row in df.iter_rows()
    )
    return (
        f"<table><caption>{_esc(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


class _Charts:
    """Collects chart specs; each becomes a <div> drawn by vegaEmbed at load time."""

    def __init__(self) -> None:
        self.specs: list[dict] = []

    def add(self, chart: alt.Chart) -> str:
        spec = chart.to_dict()
        spec.pop("$schema", None)  # a URL; vega-embed would not fetch it, but keep the file clean
        self.specs.append(spec)
        return f'<div class="chart" id="chart-{len(self.specs) - 1}"></div>'

    def script(self) -> str:
        # "</" cannot appear inside a <script> element; JSON allows escaping the slash.
        specs = json.dumps(self.specs).replace("</", "<\\/")
        return (
            "<script>const SPECS = "
            + specs
            + ";\nSPECS.forEach((s, i) => vegaEmbed('#chart-' + i, s,"
            " {actions: false, renderer: 'svg'}).catch(e => {"
            " document.getElementById('chart-' + i).textContent = 'chart failed: ' + e; }));"
            "</script>"
        )


# --- sections ---------------------------------------------------------------------------------
def _commodity_section(wb: an.Workbench, code: str, charts: _Charts) -> str:
    name = an.commodities(wb).filter(pl.col("commodity_code") == code)["commodity_name"][0]
    year = an.latest_year(wb, code)
    lo, hi = an.market_years(wb, code)
    years = (max(lo, hi - 25), hi)
    countries = an.default_countries(wb, code, TOP_N)
    unit = an.unit(wb, code, "production")
    parts = [f'<section><h2 id="c{_esc(code)}">{_esc(name)}</h2>']

    series = an.time_series(wb, code, countries, "production", years)
    parts.append(
        charts.add(
            an.line_chart(series, f"{name}: production by country", an.label("production", unit))
        )
    )
    for metric, title in (("production", "Top producers"), ("exports", "Top exporters")):
        top = an.top_countries(wb, code, metric, year=year, n=10)
        if top.height:
            parts.append(
                table_html(
                    top.select(
                        "rank",
                        pl.col("country_name").alias("country"),
                        pl.col("value").alias(an.label(metric, an.unit(wb, code, metric))),
                        "world_share",
                    ),
                    f"{title}, market year {year}: {an.label(metric, an.unit(wb, code, metric))}, "
                    "share of world (aggregates excluded)",
                )
            )
    stu = an.stocks_to_use(wb, code, countries, years)
    if stu.height:
        parts.append(
            charts.add(
                an.line_chart(
                    stu,
                    f"{name}: stocks-to-use",
                    an.label("stocks_to_use", "(ratio)"),
                    value="stocks_to_use",
                )
            )
        )
    bs = an.balance_sheet(wb, code, countries[0], year)
    parts.append(
        f'<p class="{"ok" if bs.balanced else "warn"}">Balance sheet, {_esc(bs.country_name)} '
        f"{year}: {_esc(bs.note)}</p>"
    )
    parts.append(
        table_html(
            bs.table.drop("unit").rename({"value": an.in_parens(bs.unit) or "value"}),
            f"Balance sheet {bs.country_name} {year} {an.in_parens(bs.unit)}",
        )
    )
    revised = an.most_revised(wb, code, "production", n=5)
    if revised.height:
        parts.append(
            table_html(
                revised.drop("country_code", "unit"),
                f"Most revised production estimates {an.in_parens(unit)} (fct_psd_vintages)",
            )
        )
    parts.append("</section>")
    return "\n".join(parts)


CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1000px;margin:2rem auto;
padding:0 1rem;color:#1f2328}
h1{margin-bottom:.2rem} .meta{color:#57606a}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border-bottom:1px solid #d0d7de;padding:.25rem .6rem;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.chart{width:100%;min-height:340px;margin:1rem 0}
.warn{background:#fff8c5;padding:.4rem .6rem} .ok{color:#1a7f37}
"""


def render(settings: Settings, env: str = "prod") -> tuple[str, dt.date | None]:
    """The report's HTML and the release it shows."""
    wb = an.load(settings, env)
    if wb.metrics.height == 0:
        raise MateriaError(f"environment {env!r} has no rows in obt_commodity_metrics")
    names = set(an.commodities(wb)["commodity_name"])
    codes = [an.commodity_code(wb, n) for n in REPORTED if n in names] or [an.default_commodity(wb)]
    charts = _Charts()
    sections = [_commodity_section(wb, c, charts) for c in codes]
    release = wb.release
    release_text = release.strftime("%Y-%m") if release else "unknown"
    nav = " · ".join(
        f'<a href="#c{_esc(c)}">{_esc(an.commodities(wb).filter(pl.col("commodity_code") == c)["commodity_name"][0])}</a>'
        for c in codes
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Commodities report, PSD release {_esc(release_text)}</title>
<style>{CSS}</style></head>
<body>
<h1>Commodities report</h1>
<p class="meta">USDA PSD Online, release {_esc(release_text)} · environment {_esc(env)} ·
generated {dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")} by materia.
World totals and shares exclude aggregates (EU, USSR, ...).</p>
<nav>{nav}</nav>
{"".join(sections)}
<script>{_vega_bundle(settings.home / "cache")}</script>
{charts.script()}
</body></html>
"""
    return page, release


def default_path(settings: Settings, release: dt.date | None) -> Path:
    stamp = release.strftime("%Y-%m") if release else "unknown"
    return settings.reports_dir / f"commodities-{stamp}.html"


def main(settings: Settings, env: str = "prod", out: Path | None = None) -> int:
    """Write the report (atomically) and print where; 0 on success."""
    started = time.monotonic()
    page, release = render(settings, env)
    path = Path(out) if out else default_path(settings, release)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"report: {path} ({len(page) / 1e6:.1f} MB, {time.monotonic() - started:.1f} s)")
    return 0
