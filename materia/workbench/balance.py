"""A WASDE-style balance sheet with every supply and use line PSD reports for the commodity.

Lines come from the commodity's long-form rows (`Commodity.lines`), laid out by
`psd_codes.BALANCE_LINES`: area and yield, then supply (beginning stocks, production,
imports, their parts indented) and total supply, then use (domestic consumption and its
parts, slaughter, loss, exports, ending stocks) and total distribution, stocks-to-use,
and the memo lines PSD adds (trade-year trade, rough production, rates). The world sums
every quantity over the countries, with its yield on their basis. "Does not balance"
appears only where USDA's own totals differ from the lines that make them, naming them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from materia.core.errors import MateriaError
from materia.sources import psd_codes as pc
from materia.sources import psd_commodities
from materia.workbench import analysis as an
from materia.workbench import psd_revisions, units
from materia.workbench.data import Commodity
from materia.workbench.units import Unit

LABELS = {
    "001": "Area planted", "004": "Area harvested", "184": "Yield",
    "020": "Beginning stocks", "028": "Production", "057": "Imports", "086": "Total supply",
    "125": "Domestic consumption", "130": "Feed", "192": "Food, seed and industrial",
    "088": "Exports", "176": "Ending stocks", "178": "Total distribution",
    "081": "Imports, trade year", "113": "Exports, trade year",
}  # fmt: skip
SUPPLY_TOPS = ("020", "028", "057")
USE_TOPS = ("125", "117", "172", "088", "176")
STU = "stocks_to_use"
# Below this absolute gap USDA's totals count as balanced (float noise, not a revision).
BALANCE_TOLERANCE = 0.005


@dataclass(frozen=True)
class BalanceSheet:
    commodity: str
    region: str  # "World", "European Union", ...
    release: dt.date
    previous_release: dt.date | None  # the release compared with, when it has the year
    table: pl.DataFrame  # item, unit, then one column per shown estimate (numbers)
    value_columns: list[str]
    note: str  # where USDA's own numbers do not balance, naming the lines; "" when they do
    compared: str = ""  # what the newest year's columns compare, in words

    @property
    def title(self) -> str:
        return f"{self.commodity}: {self.region} supply and demand"


# --- the lines ---------------------------------------------------------------------------
def _parts(tops: tuple[str, ...], present: set[str]) -> list[str]:
    """The lines that add up to a total: each top line, or its parts when it is absent."""
    out = []
    for top in tops:
        if top in present:
            out.append(top)
        else:
            out += sorted(a for a in present if pc.BALANCE_LINES.get(a, ("", None))[1] == top)
    return out


def layout(present: set[str]) -> list[tuple[str, int]]:
    """(attribute id or "stocks_to_use", indent) in sheet order, for the lines present."""
    out = [(a, 0) for a in (*pc.AREA_LINES, pc.YIELD) if a in present]
    for tops, total in ((SUPPLY_TOPS, pc.TOTAL_SUPPLY), (USE_TOPS, pc.TOTAL_DISTRIBUTION)):
        for top in tops:
            kids = sorted(a for a in present if pc.BALANCE_LINES.get(a, ("", None))[1] == top)
            if top in present:
                out += [(top, 0), *((k, 1) for k in kids)]
            else:
                out += [(k, 0) for k in kids]
        if total in present:
            out.append((total, 0))
    if {"176", "125"} <= present:
        out.append((STU, 0))
    shown = {a for a, _ in out}
    return out + [(a, 0) for a in sorted(present - shown)]


def imbalance(
    values: dict[str, float], present: set[str], labels: dict[str, str] | None = None
) -> list[str]:
    """What does not add up in one sheet-year (attribute id -> value), in words naming the
    lines (`labels`: attribute id -> name)."""
    names = {**LABELS, **(labels or {})}

    def named(ids: list[str]) -> str:
        return " + ".join(names.get(a, a).strip() for a in ids)

    out = []
    supply, use = _parts(SUPPLY_TOPS, present), _parts(USE_TOPS, present)
    s = sum(values.get(a) or 0.0 for a in supply)
    u = sum(values.get(a) or 0.0 for a in use)
    total_s, total_u = values.get(pc.TOTAL_SUPPLY), values.get(pc.TOTAL_DISTRIBUTION)
    if total_s is not None and supply and abs(total_s - s) > BALANCE_TOLERANCE:
        out.append(f"total supply is {total_s - s:+,.1f} from {named(supply)}")
    if total_u is not None and use and abs(total_u - u) > BALANCE_TOLERANCE:
        out.append(f"total distribution is {total_u - u:+,.1f} from {named(use)}")
    if total_s is not None and total_u is not None and abs(total_s - total_u) > BALANCE_TOLERANCE:
        out.append(f"total supply minus total distribution is {total_s - total_u:+,.1f}")
    if total_s is None and total_u is None and supply and use and abs(s - u) > BALANCE_TOLERANCE:
        out.append(f"{named(supply)} minus {named(use)} is {s - u:+,.1f}")
    return out


# --- a region's values --------------------------------------------------------------------
def region_values(c: Commodity, long: pl.DataFrame, region: str) -> dict[int, dict[str, float]]:
    """market year -> attribute id -> value for a country (as served) or the world (every
    quantity summed, the yield on the countries' basis, rates left out), with the derived
    stocks-to-use."""
    if region == an.WORLD:
        rows = long.filter(~pl.col("attribute_id").is_in(pc.NOT_ADDITIVE))
        rows = rows.group_by("market_year", "attribute_id").agg(pl.col("value").sum())
    else:
        rows = long.filter(country_code=region).select("market_year", "attribute_id", "value")
    out: dict[int, dict[str, float]] = {}
    for year, attr, value in rows.iter_rows():
        out.setdefault(year, {})[attr] = value
    basis = psd_commodities.yield_basis(c.code) or psd_commodities.MT_PER_HA
    for v in out.values():
        if region == an.WORLD and v.get("004") and basis.numerator in v and an.has_data(c, "yield"):
            v[pc.YIELD] = basis.factor * v[basis.numerator] / v["004"]
        use = (v.get("125") or 0.0) + (0.0 if region == an.WORLD else v.get("088") or 0.0)
        if "176" in v and "125" in v and use > 0:
            v[STU] = v["176"] / use
    return out


def _region_name(c: Commodity, region: str) -> str:
    if region == an.WORLD:
        return an.WORLD_NAME
    try:
        return c.country_names[region]
    except KeyError:
        raise MateriaError(f"no {c.name} data for country {region!r}") from None


# --- the sheet ----------------------------------------------------------------------------
def balance_sheet(
    c: Commodity, region: str = an.WORLD, years: int = 3, unit: Unit | None = None
) -> BalanceSheet:
    """Several market years side by side ("2020/21", "2021/22", …); for the newest, the
    previous release's estimate beside this release's and the change, when the previous
    release has that year.

    Quantities are in `unit` (default: the commodity's PSD unit); area and yield keep
    theirs, except a US sheet in bushels, which shows million acres and bushels per acre
    as WASDE does; stocks-to-use is a percentage.
    """
    name = _region_name(c, region)
    current = region_values(c, c.lines, region)
    shown = [y for y in sorted(current) if current[y].get(pc.TOTAL_SUPPLY) or current[y].get("028")]
    shown = shown[-years:]
    if not shown:
        raise MateriaError(f"no {c.name} balance sheet for {name}")
    newest = shown[-1]
    present = {a for y in shown for a, v in current[y].items() if v is not None}
    lines = layout(present)
    unit_of, scale = _units(c, region, unit)

    def row(values: dict[str, float]) -> list[float | None]:
        return [None if values.get(a) is None else values[a] * scale(a) for a, _ in lines]

    labels = _labels(c)
    cols: dict[str, list] = {
        "item": [("  " * level) + labels.get(a, a) for a, level in lines],
        "unit": [unit_of(a) for a, _ in lines],
    }
    for y in shown[:-1]:
        cols[an.year_label(c.code, y)] = row(current[y])
    label = an.year_label(c.code, newest)
    previous = None
    compared = ""
    if c.previous_release is not None:
        before = region_values(c, psd_revisions.as_of(c, c.previous_release), region).get(newest)
        if before:
            previous = c.previous_release
            prev_col, cur_col = _month_columns(label, c.previous_release, c.release)
            cols[prev_col], cols[cur_col] = row(before), row(current[newest])
            cols["change"] = [None if a is None or b is None else b - a for a, b in zip(cols[prev_col], cols[cur_col], strict=True)]  # fmt: skip
            compared = f"{label}: the {c.release:%B %Y} release beside the {c.previous_release:%B %Y} release"  # fmt: skip
        else:
            compared = f"{label} is new in the {c.release:%B %Y} release: the {c.previous_release:%B %Y} release has no estimate to compare"  # fmt: skip
    if previous is None:
        cols[label] = row(current[newest])
    table = pl.DataFrame(cols, schema={k: pl.String if k in ("item", "unit") else pl.Float64 for k in cols})  # fmt: skip
    return BalanceSheet(
        commodity=c.name,
        region=name,
        release=c.release,
        previous_release=previous,
        table=table,
        value_columns=[k for k in cols if k not in ("item", "unit")],
        note=_note(c, {y: current[y] for y in shown}, present, an.quantity_unit(c).strip("()")),
        compared=compared,
    )


def _labels(c: Commodity) -> dict[str, str]:
    names = c.lines.sort("attribute_id").group_by("attribute_id").agg(pl.col("attribute_name").last())  # fmt: skip
    return {**dict(names.iter_rows()), **LABELS, STU: "Stocks-to-use"}


def _units(c: Commodity, region: str, unit: Unit | None):
    """(unit label of a line, factor of a line) for this sheet."""
    qty_unit = an.in_parens(an.quantity_unit(c))
    psd_units = dict(
        c.lines.group_by("attribute_id").agg(pl.col("unit_description").mode().first()).iter_rows()
    )
    us = units.us_units(c.code, unit) if region == "US" and unit is not None else None
    yield_unit = an.unit(c, "yield")  # the countries' basis, which the world's follows

    def label(a: str) -> str:
        if a == STU:
            return "%"
        if a in pc.AREA_LINES and us:
            return us[0].label
        if a == pc.YIELD:
            return us[1].label if us else yield_unit.strip().strip("()")
        own = an.in_parens(psd_units.get(a, ""))
        if own == qty_unit and unit is not None:
            return unit.label
        return own.strip().strip("()")

    def factor(a: str) -> float:
        if a == STU:
            return 100.0
        if a in pc.AREA_LINES and us:
            return us[0].factor
        if a == pc.YIELD and us:
            return us[1].factor
        if unit is not None and an.in_parens(psd_units.get(a, "")) == qty_unit:
            return unit.factor
        return 1.0

    return label, factor


def _month_columns(label: str, previous: dt.date, current: dt.date) -> tuple[str, str]:
    fmt = "%b" if previous.strftime("%b") != current.strftime("%b") else "%b %Y"
    return f"{label} {previous.strftime(fmt)}", f"{label} {current.strftime(fmt)}"


def _note(c: Commodity, values: dict[int, dict], present: set[str], qty_unit: str) -> str:
    notes = []
    labels = _labels(c)
    for year, v in sorted(values.items()):
        for fault in imbalance(v, present & set(v), labels):
            notes.append(f"{an.year_label(c.code, year)}: {fault}")
    if not notes:
        return ""
    return f"Does not balance in USDA's numbers: {'; '.join(notes)} ({qty_unit})."


def imbalances(c: Commodity) -> pl.DataFrame:
    """Every country-year whose USDA totals do not add up, and what does not."""
    names, labels = c.country_names, _labels(c)
    by_key: dict[tuple[str, int], dict[str, float]] = {}
    for cc, year, attr, value in c.lines.select("country_code", "market_year", "attribute_id", "value").iter_rows():  # fmt: skip
        by_key.setdefault((cc, year), {})[attr] = value
    out = []
    for (cc, year), v in sorted(by_key.items()):
        faults = imbalance(v, set(v), labels)
        if faults:
            out.append((cc, names.get(cc, cc), year, "; ".join(faults)))
    return pl.DataFrame(
        out,
        schema={
            "country_code": pl.String,
            "country_name": pl.String,
            "market_year": pl.Int32,
            "fault": pl.String,
        },  # fmt: skip
        orient="row",
    ).sort("country_name", "market_year")
