"""What the workbench computes for one commodity: plain functions on its polars frames.

The world is the sum over every country of the primary files in the release. In PSD, E2
(EU-15, to 1998), E4 (European Union, from 1999) and UR (USSR, to 1986) are the sole
reporting units for their members in their years (no member-state rows overlap them), so
they are countries like any other: summed, ranked, and given a share. That reproduces
USDA's published world totals. Breakdown files (EU member states, Russia's spring and
winter wheat: `materia.sources.psd_datasets`) are shown under their parent (`breakdowns`), never
summed into a world. Stocks-to-use is ending stocks / (domestic consumption + exports)
for a country, and ending stocks / domestic consumption for the world (world exports are
someone's imports), as USDA computes it. A world yield is on the countries' basis
(`materia.sources.psd_commodities.yield_basis`): lint kg/ha for cotton, rough basis for rice.
"""

from __future__ import annotations

import polars as pl

from materia.core.errors import MateriaError
from materia.sources import psd_codes, psd_commodities
from materia.workbench.data import Commodity

WORLD, WORLD_NAME = "WORLD", "World"
KEY = ("commodity_code", "country_code", "market_year")
# Metrics of `obt_commodity_metrics` with their display names, in balance-sheet order.
METRICS = {
    "area_harvested": "Area harvested",
    "yield": "Yield",
    "beginning_stocks": "Beginning stocks",
    "production": "Production",
    "imports": "Imports",
    "total_supply": "Total supply",
    "exports": "Exports",
    "domestic_consumption": "Domestic consumption",
    "feed_consumption": "Feed consumption",
    "ending_stocks": "Ending stocks",
    "total_distribution": "Total distribution",
    "stocks_to_use": "Stocks-to-use",
}
# Quantities in the commodity's own unit: they add up over countries.
QUANTITIES = (
    "beginning_stocks",
    "production",
    "imports",
    "total_supply",
    "exports",
    "domestic_consumption",
    "feed_consumption",
    "ending_stocks",
    "total_distribution",
)
# What the time-series picker offers, when the commodity has it.
SERIES_METRICS = (
    "production",
    "domestic_consumption",
    "exports",
    "imports",
    "ending_stocks",
    "stocks_to_use",
    "yield",
    "area_harvested",
)


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise MateriaError(f"unknown metric {metric!r}: use one of {', '.join(METRICS)}")
    return metric


# --- labels -------------------------------------------------------------------------------
def year_label(commodity_code: str, year: int) -> str:
    """USDA's label of a PSD market year by its commodity group's rule: "2022/23" (coffee's
    Market_Year 2023 is 2022/23), or "2022" for livestock and dairy."""
    return psd_commodities.year_label(commodity_code, year)


def year_labels(commodity_code: str, column: str = "market_year") -> pl.Expr:
    """`year_label` of every value of a market-year column, as a polars expression.

    Vectorised rather than a Python function per row: a `map_elements` closure holding a
    Commodity kept every picked commodity's frames alive in the notebook (~40 MB a pick)."""
    rule = psd_commodities.group_of(commodity_code).years
    year = pl.col(column).cast(pl.Int64)
    if rule == psd_commodities.CALENDAR:
        return year.cast(pl.String)
    start = year - 1 if rule == psd_commodities.ENDS else year
    return pl.format("{}/{}", start, ((start + 1) % 100).cast(pl.String).str.zfill(2))


def in_parens(unit_text: str) -> str:
    """PSD writes most units as "(1000 MT)" but some bare ("1000 480 lb. Bales")."""
    u = (unit_text or "").strip()
    return u if not u or u.startswith("(") else f"({u})"


def label(metric: str, unit_text: str = "") -> str:
    """Axis or column title with its unit: "Production (1000 MT)"."""
    return f"{METRICS[check_metric(metric)]} {in_parens(unit_text)}".strip()


def unit(c: Commodity, metric: str) -> str:
    """The unit of a metric for this commodity, e.g. "(1000 60 KG BAGS)"; "" when unknown."""
    if check_metric(metric) == "stocks_to_use":
        return "(%)"
    basis = psd_commodities.yield_basis(c.code)
    if metric == "yield" and basis is not None and basis.basis:
        return f"{basis.unit[:-1]}, {basis.basis})"  # "(MT/HA, rough basis)"

    def compute() -> str:
        units = c.metrics[f"{metric}_unit"].drop_nulls()
        return units.mode().sort()[0] if units.len() else ""

    return c.memo(("unit", metric), compute)


def quantity_unit(c: Commodity) -> str:
    """The unit the commodity's quantities are in (production's, else total supply's)."""
    return unit(c, "production") or unit(c, "total_supply")


# --- what the commodity has ------------------------------------------------------------------
def has_data(c: Commodity, metric: str) -> bool:
    """True when some country reports a non-zero value of `metric`."""
    if check_metric(metric) == "stocks_to_use":
        return has_data(c, "ending_stocks") and has_data(c, "domestic_consumption")
    present = c.memo(
        "present",  # one pass over every metric column
        lambda: c.metrics.select(
            [(pl.col(m).fill_null(0) != 0).any().alias(m) for m in METRICS if m != "stocks_to_use"]
        ).row(0, named=True),
    )
    return bool(present[metric])


def available_metrics(c: Commodity) -> list[str]:
    """The series metrics this commodity has (no empty charts for beef yield)."""
    return [m for m in SERIES_METRICS if has_data(c, m)]


def market_years(c: Commodity) -> tuple[int, int]:
    years = c.metrics["market_year"]
    return int(years.min()), int(years.max())  # type: ignore[arg-type]


def countries(c: Commodity) -> pl.DataFrame:
    """(country_code, country_name) reporting this commodity, by name."""
    return c.memo(
        "countries",
        lambda: (
            c.metrics.select("country_code", "country_name")
            .unique("country_code")
            .sort("country_name")
        ),  # fmt: skip
    )


# --- the world ---------------------------------------------------------------------------------
def world(c: Commodity) -> pl.DataFrame:
    """World rows by market year: every quantity summed over every reporting country,
    the yield on the countries' basis, stocks-to-use = ending stocks / domestic use."""
    return c.memo("world", lambda: _world(c))


def _world(c: Commodity) -> pl.DataFrame:
    df = c.metrics
    sums = [pl.col(m).sum().alias(m) if df[m].is_not_null().any() else pl.lit(None, pl.Float64).alias(m) for m in (*QUANTITIES, "area_harvested")]  # fmt: skip
    out = (
        df.group_by("market_year")
        .agg(*sums)
        .with_columns(
            pl.lit(WORLD).alias("country_code"),
            pl.lit(WORLD_NAME).alias("country_name"),
            _ratio("ending_stocks", "domestic_consumption").alias("stocks_to_use"),
        )
    )
    return out.join(world_yield(c), on="market_year", how="left").sort("market_year")


def world_yield(c: Commodity) -> pl.DataFrame:
    """(market_year, yield): factor x Σ numerator / Σ area harvested over the countries,
    on their basis (cotton: bales x 217.72 kg / ha; rice: rough production / ha)."""
    basis = psd_commodities.yield_basis(c.code) or psd_commodities.MT_PER_HA
    df = c.metrics
    if basis.numerator == psd_codes.METRICS["production"]:
        num = df.select("market_year", pl.col("production").alias("num"), "area_harvested")
    else:  # another attribute (rice's rough production): from the long-form rows
        rows = c.lines.filter(pl.col("attribute_id") == basis.numerator)
        num = df.select("country_code", "market_year", "area_harvested").join(
            rows.select("country_code", "market_year", pl.col("value").alias("num")),
            on=["country_code", "market_year"],
            how="left",
        )
    sums = num.group_by("market_year").agg(pl.col("num").sum(), pl.col("area_harvested").sum())
    return sums.select(
        "market_year",
        pl.when(pl.col("area_harvested") > 0)
        .then(pl.col("num") * basis.factor / pl.col("area_harvested"))
        .alias("yield"),
    )


def _ratio(num: str, den: str) -> pl.Expr:
    return pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den))


def country_rows(c: Commodity) -> pl.DataFrame:
    """Country rows with the columns `world` has; a country's stocks-to-use is the served
    one: ending stocks / (domestic consumption + exports)."""
    cols = ("country_code", "country_name", "market_year", *QUANTITIES, "area_harvested")
    return c.memo("country_rows", lambda: c.metrics.select(*cols, "yield", "stocks_to_use"))


def with_world(c: Commodity) -> pl.DataFrame:
    """Country rows and World rows, one frame."""

    def compute() -> pl.DataFrame:
        rows = country_rows(c)
        return pl.concat([rows, world(c).select(rows.columns)], how="vertical_relaxed")

    return c.memo("with_world", compute)


def latest_year(c: Commodity, metric: str = "production") -> int:
    """The newest market year with a non-zero world total of `metric`."""
    years = c.memo(
        ("years with", metric),
        lambda: world(c).filter(pl.col(metric).fill_null(0) != 0)["market_year"],
    )
    if years.len() == 0:
        raise MateriaError(f"no data for {METRICS[check_metric(metric)].lower()} of {c.name}")
    return int(years.max())  # type: ignore[arg-type]


# --- rankings ------------------------------------------------------------------------------------
def top_countries(
    c: Commodity, metric: str = "production", year: int | None = None, n: int = 10
) -> pl.DataFrame:
    """The top `n` countries by `metric` in `year` (default: the latest), then a World row.

    (rank, country_code, country_name, value, world_share, change_pct): world_share is
    the fraction of the world total (the sum over every country), change_pct the percent
    change on the market year before (year-on-year).
    """
    if check_metric(metric) not in QUANTITIES:
        raise MateriaError(f"{METRICS[metric]} does not add up over countries: rank a quantity")
    year = latest_year(c, metric) if year is None else year
    rows = with_world(c).filter(pl.col("market_year").is_in([year, year - 1]))
    both = (
        rows.filter(market_year=year)
        .select("country_code", "country_name", pl.col(metric).alias("value"))
        .join(
            rows.filter(market_year=year - 1).select("country_code", pl.col(metric).alias("prev")),
            on="country_code",
            how="left",
        )
        .filter(pl.col("value").is_not_null())
    )
    total = both.filter(country_code=WORLD)["value"]
    total_value = total[0] if total.len() else None
    change = pl.when(pl.col("prev") > 0).then((pl.col("value") / pl.col("prev") - 1) * 100)
    share = pl.col("value") / total_value if total_value else pl.lit(None, pl.Float64)
    ranked = (
        both.filter(pl.col("country_code") != WORLD)
        .sort("value", "country_code", descending=[True, False])
        .head(n)
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int32).alias("rank"))
    )
    world_row = both.filter(country_code=WORLD).with_columns(pl.lit(None, pl.Int32).alias("rank"))
    cols = [
        "rank",
        "country_code",
        "country_name",
        "value",
        share.alias("world_share"),
        change.alias("change_pct"),
    ]
    return pl.concat([ranked.select(cols), world_row.select(cols)])


def default_countries(c: Commodity, n: int = 5) -> list[str]:
    """The top `n` producers of the latest year (or importers, for a commodity with none)."""
    metric = "production" if has_data(c, "production") else "imports"
    ranked = c.memo(
        ("ranked", metric),
        lambda: (
            top_countries(c, metric, n=10_000)
            .filter(pl.col("rank").is_not_null())["country_code"]
            .to_list()
        ),  # fmt: skip
    )
    return ranked[:n]


# --- series ----------------------------------------------------------------------------------------
def time_series(
    c: Commodity,
    country_codes: list[str],
    metric: str = "production",
    years: tuple[int, int] | None = None,
) -> pl.DataFrame:
    """(country_code, country_name, market_year, value) for the chosen countries and/or
    WORLD, oldest year first; a missing value is left out, never drawn as zero."""
    check_metric(metric)
    df = with_world(c) if WORLD in country_codes else country_rows(c)
    df = df.filter(pl.col("country_code").is_in(country_codes) & pl.col(metric).is_not_null())
    if years is not None:
        df = df.filter(pl.col("market_year").is_between(years[0], years[1]))
    return df.select(
        "country_code", "country_name", "market_year", pl.col(metric).alias("value")
    ).sort("country_name", "market_year")


def stocks_to_use(
    c: Commodity, country_codes: list[str], years: tuple[int, int] | None = None
) -> pl.DataFrame:
    """Stocks-to-use (a ratio) of the chosen countries, with the World line always."""
    return time_series(c, [*country_codes, WORLD], "stocks_to_use", years)


def wide_series(c: Commodity, series: pl.DataFrame) -> pl.DataFrame:
    """A time series as a table: one row per market year (newest first, USDA's labels),
    one column per country (World first)."""
    if series.height == 0:
        return pl.DataFrame({"market_year": []}, schema={"market_year": pl.String})
    order = sorted(series["country_name"].unique(), key=lambda n: (n != WORLD_NAME, n))
    wide = series.pivot(on="country_name", index="market_year", values="value")
    wide = wide.sort("market_year", descending=True).select("market_year", *order)
    return wide.with_columns(year_labels(c.code))
