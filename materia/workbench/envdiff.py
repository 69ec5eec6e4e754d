"""A dev environment against prod: row counts of every serving table, and every key
and metric of `obt_commodity_metrics` whose value differs. Read from each
environment's current publication."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from materia.core.settings import Settings

KEY = ("commodity_code", "country_code", "market_year")
VALUE_COLUMNS = (
    "area_harvested", "yield", "beginning_stocks", "production", "imports", "total_supply",
    "exports", "domestic_consumption", "feed_consumption", "ending_stocks",
    "total_distribution", "stocks_to_use", "net_exports", "production_yoy_pct",
    "share_of_world_production",
)  # fmt: skip


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


@dataclass(frozen=True)
class EnvDiff:
    dev: str
    prod: str
    row_counts: pl.DataFrame  # table, <prod>, <dev>
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
    from materia.workbench.data import OBT, open_workbench

    d, p = open_workbench(settings, dev), open_workbench(settings, prod)
    dc, pc = d.row_counts(), p.row_counts()
    counts = pl.DataFrame(
        [{"table": t, prod: pc.get(t), dev: dc.get(t)} for t in sorted(set(dc) | set(pc))],
        schema={"table": pl.String, prod: pl.Int64, dev: pl.Int64},
    )
    return EnvDiff(dev, prod, counts, metric_differences(d.table(OBT), p.table(OBT)))
