"""What the analyst workbench computes: plain functions on polars frames.

`load(settings, env)` reads an environment's serving tables once through the Iceberg read
API (`materia.lakehouse.read_table`) and splits them by commodity; every other function
filters those in-memory frames, so a picker change in the notebook costs milliseconds
and no UI value ever becomes query text. Aggregates (E4 European Union, E2 EU-15, UR
USSR, ...) are excluded from rankings and world sums, never double counted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import altair as alt
import polars as pl

from materia import psd_codes
from materia.errors import MateriaError
from materia.settings import Settings

# Metrics of `obt_commodity_metrics` with their display labels, in balance-sheet order.
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
}
# What the time-series picker offers.
SERIES_METRICS = (
    "production",
    "domestic_consumption",
    "exports",
    "imports",
    "ending_stocks",
    "yield",
    "area_harvested",
)
# PSD attribute ids of the metrics; dim_attribute.metric_name overrides when published.
ATTRIBUTE_IDS = psd_codes.METRICS
KEY = ("commodity_code", "country_code", "market_year")
DEFAULT_COMMODITY = "Corn"
# Below this absolute gap, USDA's totals count as balanced (float noise, not a revision).
BALANCE_TOLERANCE = 0.005


@dataclass(frozen=True)
class Workbench:
    """One environment's serving data, loaded once and split by commodity code."""

    env: str
    metrics: pl.DataFrame  # obt_commodity_metrics
    vintages: pl.DataFrame  # fct_psd_vintages
    attribute_ids: dict[str, str] = field(default_factory=lambda: dict(ATTRIBUTE_IDS))
    _by_commodity: dict[str, pl.DataFrame] = field(default_factory=dict, repr=False)
    _vintages_by_commodity: dict[str, pl.DataFrame] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for frame, into in ((self.metrics, self._by_commodity), (self.vintages, self._vintages_by_commodity)):  # fmt: skip
            if frame.height:
                for (code,), part in frame.partition_by("commodity_code", as_dict=True).items():
                    into[code] = part

    def commodity(self, code: str) -> pl.DataFrame:
        try:
            return self._by_commodity[code]
        except KeyError:
            raise MateriaError(f"commodity {code!r} is not in environment {self.env!r}") from None

    def commodity_vintages(self, code: str) -> pl.DataFrame:
        return self._vintages_by_commodity.get(code, self.vintages.clear())

    @property
    def release(self) -> dt.date | None:
        """Newest release month in the data."""
        return self.metrics["release_month"].max() if self.metrics.height else None  # type: ignore[return-value]


# --- loading ----------------------------------------------------------------------------
def envs(settings: Settings) -> list[str]:
    """Published environments, prod first (empty when nothing is published yet)."""
    from materia import lakehouse

    return lakehouse.list_envs(settings)


def is_empty(settings: Settings) -> bool:
    """True when prod has no published serving tables yet."""
    return "prod" not in envs(settings)


# Workbenches by the identity of the frames they split: read_table returns the same cached
# frame for an unchanged snapshot, so switching environments back and forth is instant.
_workbenches: dict[tuple[str, int, int], Workbench] = {}


def load(settings: Settings, env: str = "prod") -> Workbench:
    """The environment's serving data (read through the Iceberg read API, cached)."""
    from materia import lakehouse

    metrics = lakehouse.read_table("obt_commodity_metrics", env, settings)
    vintages = lakehouse.read_table("fct_psd_vintages", env, settings)
    key = (env, id(metrics), id(vintages))
    if key in _workbenches and _workbenches[key].metrics is metrics:
        return _workbenches[key]
    ids = dict(ATTRIBUTE_IDS)
    if lakehouse.table_exists("dim_attribute", env, settings):
        dims = lakehouse.read_table("dim_attribute", env, settings)
        for row in dims.filter(pl.col("metric_name").is_in(list(METRICS))).iter_rows(named=True):
            ids[row["metric_name"]] = row["attribute_id"]
    wb = Workbench(env=env, metrics=metrics, vintages=vintages, attribute_ids=ids)
    if len(_workbenches) >= 8:
        _workbenches.pop(next(iter(_workbenches)))
    _workbenches[key] = wb
    return wb


# --- pickers ------------------------------------------------------------------------------
def _check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise MateriaError(f"unknown metric {metric!r}: use one of {', '.join(METRICS)}")
    return metric


def commodities(wb: Workbench) -> pl.DataFrame:
    """(commodity_code, commodity_name), sorted by name."""
    return (
        wb.metrics.select("commodity_code", "commodity_name")
        .unique("commodity_code")
        .sort("commodity_name", "commodity_code")
    )


def commodity_code(wb: Workbench, name_or_code: str) -> str:
    """The code of a commodity given by name (case-insensitive) or by code."""
    if name_or_code in wb._by_commodity:
        return name_or_code
    hits = commodities(wb).filter(
        pl.col("commodity_name").str.to_lowercase() == name_or_code.strip().lower()
    )
    if hits.height == 0:
        raise MateriaError(f"no commodity named {name_or_code!r} in environment {wb.env!r}")
    return hits["commodity_code"][0]


def default_commodity(wb: Workbench) -> str:
    """Corn when present, else the first commodity by name."""
    try:
        return commodity_code(wb, DEFAULT_COMMODITY)
    except MateriaError:
        return commodities(wb)["commodity_code"][0]


def market_years(wb: Workbench, code: str) -> tuple[int, int]:
    years = wb.commodity(code)["market_year"]
    return int(years.min()), int(years.max())  # type: ignore[arg-type]


def countries(wb: Workbench, code: str) -> pl.DataFrame:
    """(country_code, country_name, is_aggregate) reporting this commodity, by name."""
    return (
        wb.commodity(code)
        .select("country_code", "country_name", "is_aggregate")
        .unique("country_code")
        .sort("country_name")
    )


def unit(wb: Workbench, code: str, metric: str) -> str:
    """The unit of a metric for a commodity, e.g. "(1000 60 KG BAGS)"; "" when unknown."""
    if metric == "stocks_to_use":
        return "(ratio)"
    units = wb.commodity(code)[f"{_check_metric(metric)}_unit"].drop_nulls()
    return units.mode().sort()[0] if units.len() else ""


def in_parens(unit_text: str) -> str:
    """PSD writes most units as "(1000 MT)" but some bare ("1000 480 lb. Bales")."""
    u = unit_text.strip()
    return u if not u or u.startswith("(") else f"({u})"


def label(metric: str, unit_text: str = "") -> str:
    """Axis/column title with its unit: "Production (1000 MT)"."""
    name = "Stocks-to-use" if metric == "stocks_to_use" else METRICS[metric]
    return f"{name} {in_parens(unit_text)}".strip()


# --- rankings -------------------------------------------------------------------------------
def latest_year(wb: Workbench, code: str, metric: str = "production") -> int:
    """The newest market year with a non-zero world total of `metric`."""
    df = (
        wb.commodity(code)
        .filter(~pl.col("is_aggregate"))
        .group_by("market_year")
        .agg(pl.col(metric).sum())
        .filter(pl.col(metric) > 0)
    )
    if df.height == 0:
        raise MateriaError(f"commodity {code!r} has no {metric} in environment {wb.env!r}")
    return int(df["market_year"].max())  # type: ignore[arg-type]


def top_countries(
    wb: Workbench, code: str, metric: str = "production", year: int | None = None, n: int = 10
) -> pl.DataFrame:
    """Top `n` countries by `metric` in `year` (default: latest) with their world share.

    World = the sum over non-aggregate countries; aggregates are not ranked.
    """
    _check_metric(metric)
    year = latest_year(wb, code, metric) if year is None else year
    rows = wb.commodity(code).filter(
        (pl.col("market_year") == year) & ~pl.col("is_aggregate") & pl.col(metric).is_not_null()
    )
    world = rows[metric].sum()
    return (
        rows.sort(metric, "country_code", descending=[True, False])
        .head(n)
        .select(
            pl.int_range(1, pl.len() + 1).alias("rank"),
            "country_code",
            "country_name",
            "market_year",
            pl.col(metric).alias("value"),
            pl.col(f"{metric}_unit").alias("unit"),
            (pl.col(metric) / world if world else pl.lit(None, pl.Float64)).alias("world_share"),
        )
    )


def default_countries(wb: Workbench, code: str, n: int = 5) -> list[str]:
    """Country codes of the top `n` producers in the latest year."""
    return top_countries(wb, code, "production", n=n)["country_code"].to_list()


# --- series ----------------------------------------------------------------------------------
def _select(
    wb: Workbench, code: str, country_codes: list[str], years: tuple[int, int] | None
) -> pl.DataFrame:
    df = wb.commodity(code).filter(pl.col("country_code").is_in(country_codes))
    if years is not None:
        df = df.filter(pl.col("market_year").is_between(years[0], years[1]))
    return df


def time_series(
    wb: Workbench,
    code: str,
    country_codes: list[str],
    metric: str = "production",
    years: tuple[int, int] | None = None,
) -> pl.DataFrame:
    """(country_code, country_name, market_year, value, unit) for the chosen countries."""
    _check_metric(metric)
    return (
        _select(wb, code, country_codes, years)
        .filter(pl.col(metric).is_not_null())
        .select(
            "country_code",
            "country_name",
            "market_year",
            pl.col(metric).alias("value"),
            pl.col(f"{metric}_unit").alias("unit"),
        )
        .sort("country_name", "market_year")
    )


def stocks_to_use(
    wb: Workbench,
    code: str,
    country_codes: list[str],
    years: tuple[int, int] | None = None,
    world: bool = True,
) -> pl.DataFrame:
    """(country_name, market_year, stocks_to_use) with a "World" line over non-aggregates.

    Stocks-to-use = ending stocks / (domestic consumption + exports), a ratio.
    """
    rows = _select(wb, code, country_codes, years).select(
        "country_name", "market_year", "stocks_to_use"
    )
    if world:
        all_rows = wb.commodity(code).filter(~pl.col("is_aggregate"))
        if years is not None:
            all_rows = all_rows.filter(pl.col("market_year").is_between(years[0], years[1]))
        totals = (
            all_rows.group_by("market_year")
            .agg(
                (
                    pl.col("ending_stocks").sum()
                    / (pl.col("domestic_consumption").sum() + pl.col("exports").sum())
                ).alias("stocks_to_use")
            )
            .select(pl.lit("World").alias("country_name"), "market_year", "stocks_to_use")
        )
        rows = pl.concat([rows, totals])
    return rows.filter(pl.col("stocks_to_use").is_finite()).sort("country_name", "market_year")


# --- balance sheet ---------------------------------------------------------------------------
SUPPLY = ("beginning_stocks", "production", "imports")
DISTRIBUTION = ("domestic_consumption", "exports", "ending_stocks")


@dataclass(frozen=True)
class BalanceSheet:
    commodity_name: str
    country_name: str
    market_year: int
    unit: str
    table: pl.DataFrame  # (item, value, unit)
    supply_gap: float | None  # USDA total supply − (beginning stocks + production + imports)
    distribution_gap: float | None  # total supply − (consumption + exports + ending stocks)

    @property
    def balanced(self) -> bool:
        return all(
            g is None or abs(g) <= BALANCE_TOLERANCE
            for g in (self.supply_gap, self.distribution_gap)
        )

    @property
    def note(self) -> str:
        if self.balanced:
            return "USDA's numbers balance."
        parts = []
        if self.supply_gap is not None and abs(self.supply_gap) > BALANCE_TOLERANCE:
            parts.append(f"total supply differs from its parts by {self.supply_gap:+,.1f}")
        if self.distribution_gap is not None and abs(self.distribution_gap) > BALANCE_TOLERANCE:
            parts.append(f"supply minus distribution is {self.distribution_gap:+,.1f}")
        return f"Does not balance in USDA's numbers: {'; '.join(parts)} {in_parens(self.unit)}."


def balance_sheet(wb: Workbench, code: str, country_code: str, year: int) -> BalanceSheet:
    """Supply and demand for commodity × country × market year, with an imbalance flag.

    beginning stocks + production + imports = total supply
    = domestic consumption + exports + ending stocks (= total distribution).
    """
    rows = wb.commodity(code).filter(
        (pl.col("country_code") == country_code) & (pl.col("market_year") == year)
    )
    if rows.height == 0:
        raise MateriaError(
            f"no balance sheet for commodity {code!r}, country {country_code!r}, "
            f"market year {year} in environment {wb.env!r}"
        )
    r = rows.row(0, named=True)
    main_unit = r["production_unit"] or r["total_supply_unit"] or ""
    items = [
        ("Beginning stocks", "beginning_stocks"),
        ("+ Production", "production"),
        ("+ Imports", "imports"),
        ("= Total supply", "total_supply"),
        ("Domestic consumption", "domestic_consumption"),
        ("  of which feed", "feed_consumption"),
        ("+ Exports", "exports"),
        ("+ Ending stocks", "ending_stocks"),
        ("= Total distribution", "total_distribution"),
    ]
    table = pl.DataFrame(
        {
            "item": [name for name, _ in items],
            "value": [r[m] for _, m in items],
            "unit": [r[f"{m}_unit"] or main_unit for _, m in items],
        },
        schema={"item": pl.String, "value": pl.Float64, "unit": pl.String},
    )

    def total(ms: tuple[str, ...]) -> float | None:
        vals = [r[m] for m in ms]
        return None if all(v is None for v in vals) else sum(v or 0.0 for v in vals)

    supply, distribution = total(SUPPLY), total(DISTRIBUTION)
    usda_supply = r["total_supply"]
    supply_gap = None if usda_supply is None or supply is None else usda_supply - supply
    reference = usda_supply if usda_supply is not None else supply
    dist_gap = None if reference is None or distribution is None else reference - distribution
    return BalanceSheet(
        commodity_name=r["commodity_name"],
        country_name=r["country_name"],
        market_year=year,
        unit=main_unit,
        table=table,
        supply_gap=supply_gap,
        distribution_gap=dist_gap,
    )


def imbalances(wb: Workbench, code: str) -> pl.DataFrame:
    """Every country-year of a commodity whose USDA totals do not add up."""
    df = wb.commodity(code)
    parts = [pl.col(m).fill_null(0.0) for m in SUPPLY]
    dist = [pl.col(m).fill_null(0.0) for m in DISTRIBUTION]
    return (
        df.filter(pl.col("total_supply").is_not_null())
        .select(
            "country_code",
            "country_name",
            "market_year",
            (pl.col("total_supply") - pl.sum_horizontal(parts)).alias("supply_gap"),
            (pl.col("total_supply") - pl.sum_horizontal(dist)).alias("distribution_gap"),
            pl.col("total_supply_unit").alias("unit"),
        )
        .filter(
            (pl.col("supply_gap").abs() > BALANCE_TOLERANCE)
            | (pl.col("distribution_gap").abs() > BALANCE_TOLERANCE)
        )
        .sort("country_name", "market_year")
    )


# --- revisions ------------------------------------------------------------------------------
def revisions(
    wb: Workbench, code: str, country_code: str, year: int, metric: str = "production"
) -> pl.DataFrame:
    """How one estimate moved across releases: (release_month, value, change, unit).

    E.g. Brazil coffee 2023 production: 64,300 (2022-06) → 62,600 (2022-12).
    """
    attr = wb.attribute_ids[_check_metric(metric)]
    unit_text = unit(wb, code, metric)
    return (
        wb.commodity_vintages(code)
        .filter(
            (pl.col("country_code") == country_code)
            & (pl.col("market_year") == year)
            & (pl.col("attribute_id") == attr)
        )
        .sort("release_month")
        .select(
            "release_month",
            "value",
            pl.col("value").diff().alias("change"),
            pl.lit(unit_text).alias("unit"),
        )
    )


def most_revised(wb: Workbench, code: str, metric: str = "production", n: int = 10) -> pl.DataFrame:
    """Country-years whose estimate moved most between first and latest release."""
    attr = wb.attribute_ids[_check_metric(metric)]
    names = wb.commodity(code).select("country_code", "country_name").unique("country_code")
    return (
        wb.commodity_vintages(code)
        .filter(pl.col("attribute_id") == attr)
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
        .select(
            "country_code",
            "country_name",
            "market_year",
            "first_release",
            "first",
            "latest_release",
            "latest",
            "change",
            "releases",
            pl.lit(unit(wb, code, metric)).alias("unit"),
        )
    )


# --- dev vs prod ------------------------------------------------------------------------------
VALUE_COLUMNS = (*METRICS, "stocks_to_use", "net_exports", "production_yoy_pct", "share_of_world_production")  # fmt: skip


def metric_differences(
    dev: pl.DataFrame, prod: pl.DataFrame, limit: int | None = None
) -> pl.DataFrame:
    """Keys and metrics whose values differ between two `obt_commodity_metrics` frames.

    (commodity_code, country_code, market_year, metric, prod, dev, status) where status
    is "changed", "only in dev" or "only in prod" (then metric is "*row*").
    """
    cols = [c for c in VALUE_COLUMNS if c in dev.columns and c in prod.columns]
    # Marker columns tell which side a key came from (a full join leaves one side null).
    joined = prod.select(*KEY, *cols, pl.lit(True).alias("_p")).join(
        dev.select(*KEY, *cols, pl.lit(True).alias("_d")),
        on=list(KEY),
        how="full",
        coalesce=True,
        suffix="_dev",
    )
    only = joined.filter(pl.col("_p").is_null() | pl.col("_d").is_null()).select(
        *KEY,
        pl.lit("*row*").alias("metric"),
        pl.lit(None, pl.Float64).alias("prod"),
        pl.lit(None, pl.Float64).alias("dev"),
        pl.when(pl.col("_p").is_null())
        .then(pl.lit("only in dev"))
        .otherwise(pl.lit("only in prod"))
        .alias("status"),
    )
    both = joined.filter(pl.col("_p") & pl.col("_d"))
    changed = [
        both.filter(pl.col(c).ne_missing(pl.col(f"{c}_dev"))).select(
            *KEY,
            pl.lit(c).alias("metric"),
            pl.col(c).cast(pl.Float64).alias("prod"),
            pl.col(f"{c}_dev").cast(pl.Float64).alias("dev"),
            pl.lit("changed").alias("status"),
        )
        for c in cols
    ]
    out = pl.concat([only, *changed]).sort(*KEY, "metric")
    return out.head(limit) if limit else out


def row_counts(settings: Settings, envs_: list[str]) -> pl.DataFrame:
    """(table, <env>...) row counts of every serving table, from Iceberg snapshot summaries."""
    from materia import lakehouse

    cat = lakehouse.catalog(settings)
    counts: dict[str, dict[str, int | None]] = {}
    for env in envs_:
        ns = lakehouse.namespace_for(env)
        for _, name in cat.list_tables(ns):
            snap = cat.load_table((ns, name)).current_snapshot()
            total = snap.summary.get("total-records") if snap and snap.summary else None
            counts.setdefault(name, {})[env] = int(total) if total is not None else 0
    return pl.DataFrame(
        [{"table": t, **{e: c.get(e) for e in envs_}} for t, c in sorted(counts.items())],
        schema={"table": pl.String, **{e: pl.Int64 for e in envs_}},
    )


@dataclass(frozen=True)
class EnvDiff:
    dev: str
    prod: str
    row_counts: pl.DataFrame
    differences: pl.DataFrame

    @property
    def summary(self) -> str:
        if self.differences.height == 0:
            return f"{self.dev} matches {self.prod}: no key or metric differs."
        by = self.differences.group_by("status").len().sort("status")
        parts = [f"{n:,} {s}" for s, n in by.iter_rows()]
        return f"{self.dev} vs {self.prod}: {', '.join(parts)}."


def compare_envs(settings: Settings, dev: str, prod: str = "prod") -> EnvDiff:
    """Row counts of every serving table and the metric values that differ."""
    d, p = load(settings, dev), load(settings, prod)
    return EnvDiff(
        dev=dev,
        prod=prod,
        row_counts=row_counts(settings, [prod, dev]),
        differences=metric_differences(d.metrics, p.metrics),
    )


# --- charts (altair; units in every axis title) -----------------------------------------------
def _years_axis() -> alt.X:
    return alt.X("market_year:O", title="Market year")


def line_chart(series: pl.DataFrame, title: str, y_title: str, value: str = "value") -> alt.Chart:
    """One line per country over market years."""
    return (
        alt.Chart(series, title=title)
        .mark_line(point=True)
        .encode(
            x=_years_axis(),
            y=alt.Y(f"{value}:Q", title=y_title),
            color=alt.Color("country_name:N", title="Country"),
            tooltip=["country_name", "market_year", alt.Tooltip(f"{value}:Q", format=",.2f")],
        )
        .properties(width="container", height=320)
    )


def bar_chart(top: pl.DataFrame, title: str, x_title: str) -> alt.Chart:
    """Horizontal bars of a ranking, world share in the tooltip."""
    return (
        alt.Chart(top, title=title)
        .mark_bar()
        .encode(
            x=alt.X("value:Q", title=x_title),
            y=alt.Y("country_name:N", sort="-x", title=None),
            tooltip=[
                "country_name",
                alt.Tooltip("value:Q", format=",.0f"),
                alt.Tooltip("world_share:Q", format=".1%", title="World share"),
            ],
        )
        .properties(width="container", height=28 * max(top.height, 1))
    )


def revision_chart(rev: pl.DataFrame, title: str, y_title: str) -> alt.Chart:
    return (
        alt.Chart(rev, title=title)
        .mark_line(point=True, interpolate="step-after")
        .encode(
            x=alt.X("release_month:T", title="Release"),
            y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False)),
            tooltip=["release_month:T", alt.Tooltip("value:Q", format=",.0f")],
        )
        .properties(width="container", height=240)
    )


def units_row(df: pl.DataFrame, value: str = "value", unit_col: str = "unit") -> pl.DataFrame:
    """Rename `value` to carry its (single) unit in the column title, for tables."""
    units = df[unit_col].drop_nulls().unique() if unit_col in df.columns else pl.Series([])
    if units.len() == 1:
        return df.drop(unit_col).rename({value: f"{value} {units[0]}"})
    return df
