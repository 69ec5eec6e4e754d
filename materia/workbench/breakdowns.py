"""Breakdowns as a drill-down under their parent: EU member states under the European
Union, Russia's spring and winter wheat under Russia's wheat.

Breakdown files (`materia.sources.psd_datasets`) split one reporting unit into parts; the parts
are shown beside the parent's own value and their sum, never added to a world. A
breakdown file is not revised every month: when its release differs from the parent's,
the table says so, since two releases' estimates need not add up.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from materia.core.errors import MateriaError
from materia.sources import psd_codes, psd_datasets
from materia.workbench import analysis as an
from materia.workbench.data import Commodity
from materia.workbench.units import Unit

# What the breakdown files hold: area, production and yield.
METRICS = ("production", "area_harvested", "yield")
SUM_OF_PARTS = "Sum of the parts"


@dataclass(frozen=True)
class Breakdown:
    dataset: str  # landing stem
    parent_code: str
    parent_name: str
    release: dt.date  # of the parts
    parent_release: dt.date  # of the parent's primary value
    table: pl.DataFrame  # part, then one column per market year (newest first)
    note: str

    @property
    def title(self) -> str:
        return psd_datasets.dataset(self.dataset).title  # it names the parent


def parents(c: Commodity) -> list[tuple[str, str]]:
    """(dataset, parent country code) of each breakdown under this commodity."""
    df = c.breakdown.select("dataset", "parent_country_code").unique().sort("dataset")
    return [tuple(r) for r in df.iter_rows()]  # type: ignore[misc]


def breakdown(
    c: Commodity,
    dataset: str,
    parent: str,
    metric: str = "production",
    years: int = 5,
    unit: Unit | None = None,
) -> Breakdown:
    """The parts of `parent` in `dataset` over the newest `years` market years, with their
    sum and the parent's own value (quantities in `unit`, default the PSD unit)."""
    if metric not in METRICS:
        raise MateriaError(f"breakdowns hold {', '.join(METRICS)}, not {metric!r}")
    attr = psd_codes.METRICS[metric]
    rows = c.breakdown.filter(
        (pl.col("dataset") == dataset)
        & (pl.col("parent_country_code") == parent)
        & (pl.col("attribute_id") == attr)
    )
    if rows.height == 0:
        raise MateriaError(f"no {an.METRICS[metric].lower()} of {c.name} in {dataset} for {parent}")
    factor = unit.factor if unit is not None and metric in an.QUANTITIES else 1.0
    shown = sorted(rows["market_year"].unique().to_list())[-years:][::-1]
    own = rows.filter(pl.col("market_year").is_in(shown)).with_columns(
        pl.when(pl.col("commodity_code") != c.code)
        .then(pl.col("commodity_name"))  # Russia: "Wheat, Spring"
        .otherwise(pl.col("country_name"))  # the EU: "France"
        .alias("part"),
        pl.col("value") * factor,
    )
    parent_rows = c.metrics.filter(
        (pl.col("country_code") == parent) & pl.col("market_year").is_in(shown)
    )
    parent_name = c.country_names.get(parent) or parent
    lines = [own.select("part", "market_year", "value")]
    if metric != "yield":
        lines.append(
            own.group_by("market_year").agg(pl.col("value").sum()).with_columns(
                pl.lit(SUM_OF_PARTS).alias("part")
            ).select("part", "market_year", "value")
        )  # fmt: skip
    lines.append(
        parent_rows.select(
            pl.lit(f"{parent_name} ({_release_of(c, parent_rows):%b %Y})").alias("part"),
            "market_year",
            (pl.col(metric) * factor).alias("value"),
        )
    )
    long = pl.concat(lines, how="vertical_relaxed")
    order = [*sorted(own["part"].unique()), SUM_OF_PARTS]
    table = (
        long.with_columns(
            an.year_labels(c.code)
        )
        .pivot(on="market_year", index="part", values="value")
        .with_columns(pl.col("part").replace_strict(
            {p: i for i, p in enumerate(order)}, default=len(order)
        ).alias("_order"))
        .sort("_order")
        .drop("_order")
    )  # fmt: skip
    labels = [an.year_label(c.code, y) for y in shown]
    table = table.select("part", *[y for y in labels if y in table.columns])
    release = rows["release_month"].max()
    parent_release = _release_of(c, parent_rows)
    note = ""
    if parent_release != release:
        note = (
            f"The parts come from the {release:%B %Y} release of "
            f"{psd_datasets.dataset(dataset).file}, {parent_name} from the "
            f"{parent_release:%B %Y} release: two releases' estimates need not add up."
        )
    return Breakdown(dataset, parent, parent_name, release, parent_release, table, note)  # type: ignore[arg-type]


def _release_of(c: Commodity, parent_rows: pl.DataFrame) -> dt.date:
    months = parent_rows["release_month"].drop_nulls()
    return months.max() if months.len() else c.release  # type: ignore[return-value]
