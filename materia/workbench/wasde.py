"""The WASDE report as analysts read it, from one publication (`materia.workbench.wasde_data`): the
U.S. balance sheets as WASDE prints them, the season-average farm prices, the world and
regional tables, how a projection moved across the reports loaded, and what the newest
report changed.

A value "as of" a report is the newest vintage of its series at or before that report
(`fct_wasde_vintages` holds a row each time a value appears or moves). Regions are
printed side by side, countries and groups (World, Major Exporters, ...): nothing here
ever sums one region into another.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from materia.core.errors import MateriaError
from materia.sources import wasde_tables, wasde_units
from materia.workbench.wasde_data import KEY, Wasde

US = wasde_tables.US


# --- values as of a report ---------------------------------------------------------------------
def as_of(w: Wasde, month: dt.date) -> pl.DataFrame:
    """Every series (KEY) with its value and projection flag as the report of `month`
    stood: its newest vintage at or before it."""
    return w.memo(
        ("as of", month),
        lambda: (
            w.vintages.filter(pl.col("release_month") <= month)
            .group_by(*KEY)
            .agg(pl.col("value").last(), pl.col("projection").last())
            .sort(*KEY)
        ),
    )


def _label(month: dt.date) -> str:
    return f"{month:%b %Y}"


# --- the U.S. balance sheets ---------------------------------------------------------------------
def sheets(w: Wasde) -> list[tuple[str, str]]:
    """(report title, commodity) of every U.S. balance sheet of the newest report, in
    WASDE's order."""
    us = w.latest.filter((pl.col("region") == US) & pl.col("report_title").str.starts_with("U.S."))
    found = set(us.select("report_title", "commodity").unique().iter_rows())
    order = [s.title for s in wasde_tables.US_SHEETS]
    return sorted(found, key=lambda t: (order.index(t[0]) if t[0] in order else 99, t))


def find_sheet(w: Wasde, commodity: str) -> tuple[str, str]:
    """The U.S. balance sheet of a commodity named as WASDE names it ("Corn", "Oilseed,
    Soybean") or loosely ("soybeans"); MateriaError listing the ones there are."""
    wanted = commodity.strip().lower().rstrip("s")
    all_ = sheets(w)
    for title, name in all_:
        if name.lower() == commodity.strip().lower():
            return title, name
    for title, name in all_:
        if wanted and wanted in name.lower():
            return title, name
    names = ", ".join(sorted({n for _, n in all_}))
    raise MateriaError(f"no U.S. balance sheet of {commodity!r} in the WASDE report (there are: {names})")  # fmt: skip


@dataclass(frozen=True)
class Sheet:
    title: str  # the report table
    commodity: str
    report: dt.date
    previous: dt.date | None
    table: pl.DataFrame  # item, unit, one column per market year (+ previous, change)
    note: str = ""
    year: str = ""  # the newest market year
    decimals: dict[str, int] | None = None  # item -> the decimals WASDE prints it with

    @property
    def caption(self) -> str:
        than = f", beside {self.previous:%B %Y}" if self.previous else ""
        return f"{self.commodity}: {self.title}, WASDE {self.report:%B %Y}{than}"


def us_sheet(w: Wasde, title: str, commodity: str) -> Sheet:
    """A U.S. balance sheet as WASDE prints it: its lines in WASDE's order (a sub-line
    indented under the line that holds it), its market years side by side, and for the
    newest year the previous report's projection, this report's and the change."""
    rows = w.latest.filter(
        (pl.col("report_title") == title)
        & (pl.col("commodity") == commodity)
        & (pl.col("region") == US)
        & (pl.col("period") == "Annual")
        & (pl.col("reliability") == "")
    )
    if rows.height == 0:
        raise MateriaError(f"no U.S. balance sheet {title!r} of {commodity} in the WASDE report")
    years = sorted(rows["market_year"].unique().to_list())
    newest = years[-1]
    flags = dict(rows.select("market_year", "projection").unique().iter_rows())
    sheet = wasde_tables.SHEETS.get(title)
    listed = list(sheet.lines) if sheet else []
    present = list(dict.fromkeys(rows["attribute"].to_list()))
    order = [a for a in listed if a in present] + [a for a in present if a not in listed]
    subs = {s for subs in (sheet.within.values() if sheet else ()) for s in subs}
    values = {(r["attribute"], r["market_year"]): r["value"] for r in rows.iter_rows(named=True)}
    units = dict(rows.select("attribute", "unit_label").unique(subset="attribute").iter_rows())
    codes = dict(rows.select("attribute", "unit_code").unique(subset="attribute").iter_rows())
    before = {}
    if w.previous:
        prev = as_of(w, w.previous).filter(
            (pl.col("report_title") == title) & (pl.col("commodity") == commodity)
            & (pl.col("region") == US) & (pl.col("market_year") == newest)
        )  # fmt: skip
        before = dict(prev.select("attribute", "value").iter_rows())
    columns: dict[str, list] = {"item": [], "unit": []}
    heads = [f"{y} {flags.get(y) or ''}".strip() for y in years[:-1]]
    this = f"{newest} {_label(w.report)}"
    for h in heads + ([f"{newest} {_label(w.previous)}"] if w.previous else []) + [this]:
        columns[h] = []
    if w.previous:
        columns["change"] = []
    for a in order:
        columns["item"].append(("  " if a in subs else "") + a)
        columns["unit"].append(units.get(a) or "")
        for y, h in zip(years[:-1], heads, strict=True):
            columns[h].append(values.get((a, y)))
        if w.previous:
            columns[f"{newest} {_label(w.previous)}"].append(before.get(a))
        columns[this].append(values.get((a, newest)))
        if w.previous:
            now, was = values.get((a, newest)), before.get(a)
            columns["change"].append(None if now is None or was is None else now - was)
    table = pl.DataFrame(columns, schema={c: pl.String if c in ("item", "unit") else pl.Float64 for c in columns})  # fmt: skip
    note = "" if w.previous else f"Only the {w.report:%B %Y} report is loaded: nothing to compare yet."  # fmt: skip
    decimals = {a: wasde_units.decimals(codes.get(a)) for a in order}
    return Sheet(title, commodity, w.report, w.previous, table, note, newest, decimals)


def farm_prices(w: Wasde) -> pl.DataFrame:
    """The season-average farm price of every U.S. commodity of the newest report: its
    market years, and for the newest the previous report's and the change."""
    rows = w.latest.filter(
        (pl.col("attribute") == "Avg. Farm Price") & (pl.col("region") == US)
        & (pl.col("period") == "Annual") & (pl.col("reliability") == "")
    )  # fmt: skip
    if rows.height == 0:
        return pl.DataFrame(schema={"commodity": pl.String, "unit": pl.String})
    newest = rows["market_year"].max()
    prev = (
        as_of(w, w.previous).filter(pl.col("attribute") == "Avg. Farm Price")
        if w.previous
        else pl.DataFrame(schema={**dict.fromkeys(KEY, pl.String), "value": pl.Float64})
    )
    wide = rows.pivot(on="market_year", index=["commodity", "unit_label"], values="value", aggregate_function="first")  # fmt: skip
    wide = wide.select("commodity", pl.col("unit_label").alias("unit"), *sorted(c for c in wide.columns if "/" in c))  # fmt: skip
    if w.previous:
        was = prev.filter(pl.col("market_year") == newest).select(
            "commodity", pl.col("value").alias(f"{newest} {_label(w.previous)}")
        )
        wide = wide.join(was, on="commodity", how="left").with_columns(
            (pl.col(newest) - pl.col(f"{newest} {_label(w.previous)}")).alias("change")
        )
    return wide.sort("commodity")


# --- world and regional tables -------------------------------------------------------------------
def world_tables(w: Wasde) -> list[tuple[str, str]]:
    """(report title, commodity) of the world supply-and-use tables of the newest report."""
    found = w.latest.filter(pl.col("report_title").str.starts_with("World ") & (pl.col("reliability") == ""))  # fmt: skip
    return sorted(set(found.select("report_title", "commodity").unique().iter_rows()))


def world_table(w: Wasde, title: str, commodity: str, year: str | None = None) -> pl.DataFrame:
    """A world table of one market year (default: the newest) as WASDE prints it: one row
    per region, the world and groups first (`group` says which rows are groups of
    countries: never sum rows), its attributes as columns in WASDE's order."""
    rows = w.latest.filter(
        (pl.col("report_title") == title) & (pl.col("commodity") == commodity)
        & (pl.col("period") == "Annual") & (pl.col("reliability") == "")
    )  # fmt: skip
    if rows.height == 0:
        raise MateriaError(f"no table {title!r} of {commodity} in the WASDE report")
    year = year or rows["market_year"].max()
    rows = rows.filter(pl.col("market_year") == year)
    present = list(dict.fromkeys(rows["attribute"].to_list()))
    attrs = [a for a in wasde_tables.WORLD_LINES if a in present]
    attrs += [a for a in present if a not in attrs]
    wide = rows.pivot(on="attribute", index=["region", "region_kind"], values="value", aggregate_function="first")  # fmt: skip
    first = {r: i for i, r in enumerate(wasde_tables.AGGREGATES)}
    wide = wide.with_columns(
        (pl.col("region_kind") == "aggregate").alias("group"),
        pl.col("region").replace_strict(first, default=len(first)).alias("_order"),
    ).sort("_order", "region")
    return wide.select("region", "group", *attrs)


# --- how a projection moved, and what a report changed --------------------------------------------
def path(w: Wasde, title: str, commodity: str, region: str, year: str, attribute: str) -> pl.DataFrame:  # fmt: skip
    """One figure in every report loaded, oldest first: (release_month, value, change,
    revised); `revised` False where a report carried the earlier figure. Reports before
    the figure existed are left out."""
    v = w.vintages.filter(
        (pl.col("report_title") == title) & (pl.col("commodity") == commodity)
        & (pl.col("region") == region) & (pl.col("market_year") == year)
        & (pl.col("attribute") == attribute) & (pl.col("period") == "Annual")
        & (pl.col("reliability") == "")
    ).sort("release_month")  # fmt: skip
    moved = dict(v.select("release_month", "value").iter_rows())
    rows, last = [], None
    for month in w.reports:
        known = [m for m in moved if m <= month]
        if not known:
            continue
        value = moved[max(known)]
        rows.append((month, value, None if last is None else value - last, month in moved))
        last = value
    return pl.DataFrame(
        rows,
        schema={
            "release_month": pl.Date,
            "value": pl.Float64,
            "change": pl.Float64,
            "revised": pl.Boolean,
        },  # fmt: skip
        orient="row",
    )


CHANGE_COLUMNS = {
    "report_title": pl.String, "commodity": pl.String, "region": pl.String,
    "market_year": pl.String, "attribute": pl.String, "unit": pl.String,
    "previous": pl.Float64, "current": pl.Float64, "change": pl.Float64,
    "change_pct": pl.Float64,
}  # fmt: skip


def what_changed(w: Wasde, titles: list[str] | None = None, n: int | None = None) -> pl.DataFrame:
    """Every figure the newest report moved since the report before it (both named by
    `Wasde.report` and `Wasde.previous`), largest change in percent first; new series are
    not revisions. Empty when only one report is loaded."""
    if w.previous is None:
        return pl.DataFrame(schema=CHANGE_COLUMNS)
    now = w.latest.filter(pl.col("reliability") == "").select(*KEY, "value", "unit_label")
    was = as_of(w, w.previous).select(*KEY, pl.col("value").alias("previous"))
    df = (
        now.join(was, on=list(KEY), how="inner")
        .filter(pl.col("value").is_not_null() & pl.col("previous").is_not_null())
        .filter((pl.col("value") - pl.col("previous")).abs() > 1e-9)
        .select(
            "report_title",
            "commodity",
            "region",
            "market_year",
            "attribute",
            pl.col("unit_label").alias("unit"),
            "previous",
            pl.col("value").alias("current"),
            (pl.col("value") - pl.col("previous")).alias("change"),
            pl.when(pl.col("previous") != 0)
            .then((pl.col("value") / pl.col("previous") - 1) * 100)
            .alias("change_pct"),
        )  # fmt: skip
    )
    if titles:
        df = df.filter(pl.col("report_title").is_in(titles))
    df = df.sort(pl.col("change_pct").abs(), "report_title", "region", descending=[True, False, False], nulls_last=True)  # fmt: skip
    return (df.head(n) if n else df).cast(CHANGE_COLUMNS)  # type: ignore[arg-type]


# --- the link from PSD ---------------------------------------------------------------------------
def for_psd(code: str) -> tuple[tuple[str, str] | None, tuple[str, str] | None]:
    """(U.S. sheet, world table) of a PSD commodity code, as (report title, commodity);
    None where WASDE prints none."""
    us = next(((t, c) for t, c, k in wasde_tables.US_TABLES if k == code), None)
    world = next(((t, c) for t, c, k in wasde_tables.WORLD_TABLES if k == code), None)
    return us, world


def unit_label(code: str) -> str:
    return wasde_units.label(code)


def export_header(w: Wasde, **more: str) -> dict[str, str]:
    """An export's header block: the source, the report (and the one compared with)."""
    than = f" (compared with {w.previous:%B %Y})" if w.previous else " (the only one loaded)"
    return {
        "Source": "USDA WASDE report data (www.usda.gov/oce/commodity/wasde), via materia",
        "Report": f"{w.report:%B %Y}, released {w.release_date:%Y-%m-%d}{than}",
        **more,
    }


def psd_link(settings, env: str, code: str, release: dt.date) -> str:
    """For the PSD page of a commodity: the WASDE figures of its PSD release month, if a
    WASDE report of that month is published beside it (markdown; "" when there is none)."""
    from materia.workbench import wasde_data

    us, world = for_psd(code)
    if (us is None and world is None) or not wasde_data.published(settings, env):
        return ""
    w = wasde_data.open_wasde(settings, env)
    if release not in w.reports:
        loaded = ", ".join(f"{m:%b %Y}" for m in w.reports[-3:])
        return f"No WASDE report of {release:%B %Y} is loaded (newest loaded: {loaded})."
    figures = as_of(w, release).filter(pl.col("attribute") == "Production")
    parts = []
    for (title, commodity), region in ((world, "World"), (world, US), (us, US)):
        if title is None:
            continue
        row = figures.filter(
            (pl.col("report_title") == title) & (pl.col("commodity") == commodity)
            & (pl.col("region") == region)
        ).sort("market_year")  # fmt: skip
        if row.height:
            last = row.row(-1, named=True)
            unit = w.latest.filter(pl.col("report_title") == title)["unit_label"][0]
            parts.append(f"{region} {last['market_year']} production {last['value']:,.2f} {unit}")  # fmt: skip
    name = (us or world)[1]  # type: ignore[index]
    return (
        f"**WASDE {release:%B %Y}**, the report of this PSD release's month: "
        + "; ".join(parts)
        + f'. The report itself: `uv run marimo run notebooks/wasde.py -- --commodity "{name}"`.'
    )


# --- the report's section -----------------------------------------------------------------------
DEFAULT_REPORT = ("Corn", "Wheat", "Oilseed, Soybean")


def report_sheets(w: Wasde, psd_codes: list[str]) -> list[tuple[str, str]]:
    """The U.S. sheets a report shows: those of its PSD commodities WASDE prints, else
    corn, wheat and soybeans."""
    wanted = [us for code in psd_codes if (us := for_psd(code)[0]) is not None]
    there = set(sheets(w))
    found = [s for s in wanted if s in there]
    return found or [s for s in sheets(w) if s[1] in DEFAULT_REPORT]


def report_world_tables(w: Wasde, psd_codes: list[str]) -> list[tuple[str, str]]:
    wanted = [world for code in psd_codes if (world := for_psd(code)[1]) is not None]
    there = set(world_tables(w))
    found = [t for t in wanted if t in there]
    return found or [t for t in world_tables(w) if t[1] in ("Wheat", "Corn") and "U.S." not in t[0]]  # fmt: skip
