"""WASDE-style views, all from the vintages: balance sheets with the previous release's
estimate beside this release's, how an estimate moved, and what a release changed.

A value "as of" a release is the newest vintage of its key at or before that release
(`fct_psd_vintages` holds a row each time a value appears or changes). The previous
release of a commodity is the newest earlier release its vintages know.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from materia import analysis as an
from materia.errors import MateriaError
from materia.units import Unit
from materia.workbench_data import Commodity

# Balance-sheet lines in USDA's order: (metric, label).
ITEMS = (
    ("area_harvested", "Area harvested"),
    ("yield", "Yield"),
    ("beginning_stocks", "Beginning stocks"),
    ("production", "Production"),
    ("imports", "Imports"),
    ("total_supply", "Total supply"),
    ("feed_consumption", "Feed"),
    ("domestic_consumption", "Domestic consumption"),
    ("exports", "Exports"),
    ("ending_stocks", "Ending stocks"),
    ("stocks_to_use", "Stocks-to-use"),
)
SUPPLY = ("beginning_stocks", "production", "imports")
DISTRIBUTION = ("domestic_consumption", "exports", "ending_stocks")
# Below this absolute gap USDA's totals count as balanced (float noise, not a revision).
BALANCE_TOLERANCE = 0.005


# --- values as of a release ---------------------------------------------------------------
def as_of(c: Commodity, release: dt.date) -> pl.DataFrame:
    """Country rows (country_code, market_year, one column per metric) as they stood in
    `release`: for each key, its newest vintage at or before that release."""
    return c.memo(("as of", release), lambda: _as_of(c, release))


def _as_of(c: Commodity, release: dt.date) -> pl.DataFrame:
    metric_of = {a: m for m, a in c.attribute_ids.items()}
    last = (
        c.vintages.filter(
            (pl.col("release_month") <= release) & pl.col("attribute_id").is_in(list(metric_of))
        )
        .sort("release_month")
        .group_by("country_code", "market_year", "attribute_id")
        .agg(pl.col("value").last())
        .with_columns(pl.col("attribute_id").replace_strict(metric_of).alias("metric"))
    )
    base = pl.DataFrame(
        schema={"country_code": pl.String, "market_year": pl.Int32}
        | {m: pl.Float64 for m in metric_of.values()}
    )
    if last.height == 0:
        return base
    wide = last.pivot(on="metric", index=["country_code", "market_year"], values="value")
    return pl.concat([base, wide], how="diagonal_relaxed")


def _region(frame: pl.DataFrame, region: str) -> pl.DataFrame:
    """market_year -> metric values of one country (as served), or of the world (summed;
    yield = production / area), with stocks-to-use by USDA's rule for each."""
    metrics = [m for m, _ in ITEMS if m != "stocks_to_use" and m in frame.columns]
    if region == an.WORLD:
        sums = [m for m in metrics if m != "yield"]
        df = frame.group_by("market_year").agg(
            [
                pl.col(m).sum()
                if frame[m].is_not_null().any()
                else pl.lit(None, pl.Float64).alias(m)
                for m in sums
            ]  # fmt: skip
        )
        df = df.with_columns(
            pl.when(pl.col("area_harvested") > 0)
            .then(pl.col("production") / pl.col("area_harvested"))
            .alias("yield")
        )
        use = pl.col("domestic_consumption")
    else:
        df = frame.filter(country_code=region).select("market_year", *metrics)
        use = pl.col("domestic_consumption") + pl.col("exports")
    return df.with_columns(
        pl.when(use > 0).then(pl.col("ending_stocks") / use).alias("stocks_to_use")
    )


# --- the balance sheet ---------------------------------------------------------------------
@dataclass(frozen=True)
class BalanceSheet:
    commodity: str
    region: str  # "World", "European Union", ...
    release: dt.date
    previous_release: dt.date | None
    table: pl.DataFrame  # item, unit, then one column per shown estimate (numbers)
    value_columns: list[str]
    note: str  # where USDA's own numbers do not balance; "" when they do

    @property
    def title(self) -> str:
        return f"{self.commodity}: {self.region} supply and demand"


def _region_name(c: Commodity, region: str) -> str:
    if region == an.WORLD:
        return an.WORLD_NAME
    try:
        return c.country_names[region]
    except KeyError:
        raise MateriaError(f"no {c.name} data for country {region!r}") from None


def balance_sheet(
    c: Commodity, region: str = an.WORLD, years: int = 3, unit: Unit | None = None
) -> BalanceSheet:
    """Several market years side by side ("2020/21", "2021/22", …); for the newest, the
    previous release's estimate beside this release's, and the change.

    Stocks-to-use is a percentage; area and yield keep their own units; every other line
    is in `unit` (default: the commodity's PSD unit).
    """
    name = _region_name(c, region)
    own = an.world(c) if region == an.WORLD else an.country_rows(c).filter(country_code=region)
    current = own.sort("market_year")
    current = current.filter(pl.col("total_supply").fill_null(0) != 0)
    if current.height == 0:
        raise MateriaError(f"no {c.name} balance sheet for {name}")
    shown = current["market_year"].to_list()[-years:]
    newest = shown[-1]
    items = [(m, lbl) for m, lbl in ITEMS if an.has_data(c, m)]
    qty_unit = an.quantity_unit(c)
    factor = unit.factor if unit else 1.0

    def unit_of(m: str) -> str:
        if m == "stocks_to_use":
            return "%"
        if m in an.QUANTITIES:
            return unit.label if unit else qty_unit.strip().strip("()")
        return an.unit(c, m).strip().strip("()")

    def scaled(m: str, v: float | None) -> float | None:
        if v is None:
            return None
        return v * 100 if m == "stocks_to_use" else v * factor if m in an.QUANTITIES else v

    def values(frame: pl.DataFrame, year: int) -> list[float | None]:
        row = frame.filter(market_year=year)
        return [scaled(m, row[m][0] if row.height and m in row.columns else None) for m, _ in items]

    cols: dict[str, list] = {
        "item": [lbl for _, lbl in items],
        "unit": [unit_of(m) for m, _ in items],
    }
    for y in shown[:-1]:
        cols[an.year_label(c.code, y)] = values(current, y)
    label = an.year_label(c.code, newest)
    if c.previous_release is not None:
        before = values(_region(as_of(c, c.previous_release), region), newest)
        now = values(current, newest)
        prev_col, cur_col = _month_columns(label, c.previous_release, c.release)
        cols[prev_col] = before
        cols[cur_col] = now
        cols["change"] = [None if a is None or b is None else b - a for a, b in zip(before, now, strict=True)]  # fmt: skip
    else:
        cols[label] = values(current, newest)
    table = pl.DataFrame(cols, schema={k: pl.String if k in ("item", "unit") else pl.Float64 for k in cols})  # fmt: skip
    return BalanceSheet(
        commodity=c.name,
        region=name,
        release=c.release,
        previous_release=c.previous_release,
        table=table,
        value_columns=[k for k in cols if k not in ("item", "unit")],
        note=_imbalance_note(current.filter(pl.col("market_year").is_in(shown)), c, qty_unit),
    )


def _month_columns(label: str, previous: dt.date, current: dt.date) -> tuple[str, str]:
    fmt = "%b" if previous.strftime("%b") != current.strftime("%b") else "%b %Y"
    return f"{label} {previous.strftime(fmt)}", f"{label} {current.strftime(fmt)}"


def _imbalance_note(rows: pl.DataFrame, c: Commodity, qty_unit: str) -> str:
    notes = []
    for r in rows.iter_rows(named=True):
        supply = sum(r[m] or 0.0 for m in SUPPLY)
        dist = sum(r[m] or 0.0 for m in DISTRIBUTION)
        total = r["total_supply"]
        if total is None:
            continue
        label = an.year_label(c.code, r["market_year"])
        if abs(total - supply) > BALANCE_TOLERANCE:
            notes.append(f"{label}: total supply differs from its parts by {total - supply:+,.1f}")
        if abs(total - dist) > BALANCE_TOLERANCE:
            notes.append(f"{label}: supply minus distribution is {total - dist:+,.1f}")
    if not notes:
        return ""
    return f"Does not balance in USDA's numbers: {'; '.join(notes)} {an.in_parens(qty_unit)}."


def imbalances(c: Commodity) -> pl.DataFrame:
    """Every country-year whose USDA totals do not add up."""
    df = c.metrics.filter(pl.col("total_supply").is_not_null())
    parts = pl.sum_horizontal([pl.col(m).fill_null(0.0) for m in SUPPLY])
    dist = pl.sum_horizontal([pl.col(m).fill_null(0.0) for m in DISTRIBUTION])
    return (
        df.select(
            "country_code",
            "country_name",
            "market_year",
            (pl.col("total_supply") - parts).alias("supply_gap"),
            (pl.col("total_supply") - dist).alias("distribution_gap"),
        )
        .filter(
            (pl.col("supply_gap").abs() > BALANCE_TOLERANCE)
            | (pl.col("distribution_gap").abs() > BALANCE_TOLERANCE)
        )
        .sort("country_name", "market_year")
    )


# --- how an estimate moved -----------------------------------------------------------------
def revisions(c: Commodity, region: str, year: int, metric: str = "production") -> pl.DataFrame:
    """(release_month, value, change) of one estimate across the landed releases; the
    world's is the sum over countries as each release stood."""
    attr = c.attribute_ids.get(an.check_metric(metric))
    if attr is None:
        raise MateriaError(f"{an.METRICS[metric]} is derived: it has no PSD vintages")
    v = c.vintages.filter((pl.col("market_year") == year) & (pl.col("attribute_id") == attr))
    if region != an.WORLD:
        v = v.filter(country_code=region).select("release_month", "value")
    else:
        months = v["release_month"].unique().sort()
        # Each country's value as that release stood, summed.
        v = pl.DataFrame(
            {
                "release_month": months,
                "value": [
                    v.filter(pl.col("release_month") <= m)
                    .sort("release_month")
                    .group_by("country_code")
                    .agg(pl.col("value").last())["value"]
                    .sum()
                    for m in months
                ],
            },
            schema={"release_month": pl.Date, "value": pl.Float64},
        )
    return v.sort("release_month").with_columns(pl.col("value").diff().alias("change"))


def most_revised(c: Commodity, metric: str = "production", n: int = 10) -> pl.DataFrame:
    """Country-years whose estimate moved most between its first and latest release."""
    attr = c.attribute_ids[an.check_metric(metric)]
    names = an.countries(c)
    return (
        c.vintages.filter(attribute_id=attr)
        .sort("release_month")
        .group_by("country_code", "market_year")
        .agg(
            pl.len().alias("releases"),
            pl.col("value").first().alias("first"),
            pl.col("value").last().alias("latest"),
            pl.col("release_month").first().alias("first_release"),
            pl.col("release_month").last().alias("latest_release"),
        )
        .filter(pl.col("releases") > 1)
        .with_columns((pl.col("latest") - pl.col("first")).alias("change"))
        .join(names, on="country_code", how="left")
        .sort(pl.col("change").abs(), "country_code", "market_year", descending=[True, False, True])
        .head(n)
        .with_columns(
            pl.col("market_year")
            .map_elements(lambda y: an.year_label(c.code, y), return_dtype=pl.String)
            .alias("year")
        )
        .select(
            "country_name",
            "year",
            "first_release",
            "first",
            "latest_release",
            "latest",
            "change",
            "releases",
            "market_year",
        )
    )


# --- what changed in this release ------------------------------------------------------------
def what_changed(
    changes: pl.DataFrame,
    commodities: list[str] | None = None,
    attributes: list[str] | None = None,
    by: str = "pct",
    n: int | None = 25,
) -> pl.DataFrame:
    """The largest revisions of the newest release (from `Workbench.changes()`), by
    absolute change (`by="abs"`) or by percent of the previous value (`by="pct"`),
    optionally only for some commodity codes and attribute ids."""
    if by not in ("abs", "pct"):
        raise MateriaError(f"sort what changed by 'abs' or 'pct', not {by!r}")
    df = changes
    if commodities:
        df = df.filter(pl.col("commodity_code").is_in(commodities))
    if attributes:
        df = df.filter(pl.col("attribute_id").is_in(attributes))
    df = df.with_columns(
        (pl.col("current") - pl.col("previous")).alias("change"),
        pl.when(pl.col("previous") != 0)
        .then((pl.col("current") / pl.col("previous") - 1) * 100)
        .alias("change_pct"),
        pl.struct("commodity_code", "market_year")
        .map_elements(
            lambda r: an.year_label(r["commodity_code"], r["market_year"]), return_dtype=pl.String
        )  # fmt: skip
        .alias("year"),
    )
    key = pl.col("change_pct").abs() if by == "pct" else pl.col("change").abs()
    df = df.sort(key, "commodity_name", "country_name", descending=[True, False, False], nulls_last=True)  # fmt: skip
    out = df.select(
        "commodity_name", "country_name", "year", "attribute_name", "unit",
        "previous", "current", "change", "change_pct", "previous_release", "release",
        "commodity_code", "country_code", "market_year", "attribute_id",
    )  # fmt: skip
    return out.head(n) if n else out
