"""PSD's release comparisons, the way WASDE shows revisions, all from PSD's vintages (the
WASDE report data itself is `materia.workbench.wasde`): values as a release stood, how an estimate
moved across the loaded releases, and what a release changed.

A value "as of" a release is the newest vintage of its key at or before that release
(`fct_psd_vintages` holds a row each time a value appears or changes). A commodity's
releases are those of its landed primary files (`Commodity.releases`, from the
publication and the dataset registry), so a release that changed nothing still counts;
comparisons are always between two of them, both named. The balance sheet is
`materia.workbench.balance`.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from materia.core.errors import MateriaError
from materia.workbench import analysis as an
from materia.workbench.data import Commodity


# --- values as of a release ---------------------------------------------------------------
def as_of(c: Commodity, release: dt.date) -> pl.DataFrame:
    """The commodity's primary rows (country_code, market_year, attribute_id, value) as
    they stood in `release`: for each key, its newest vintage at or before that release."""
    return c.memo(("as of", release), lambda: _as_of(c, release))


def _as_of(c: Commodity, release: dt.date) -> pl.DataFrame:
    return (
        c.vintages.filter(pl.col("release_month") <= release)
        .sort("release_month")
        .group_by("country_code", "market_year", "attribute_id")
        .agg(pl.col("value").last())
        .sort("country_code", "market_year", "attribute_id")
    )


# --- how an estimate moved -----------------------------------------------------------------
def revisions(c: Commodity, region: str, year: int, metric: str = "production") -> pl.DataFrame:
    """One estimate in every loaded release of the commodity, oldest first:
    (release_month, value, change, revised). `value` is the estimate as that release
    stood (carried from an earlier one when the release did not touch it: `revised`
    False); the world's is the sum over countries. Releases before the estimate existed
    are left out."""
    attr = c.attribute_ids.get(an.check_metric(metric))
    if attr is None:
        raise MateriaError(f"{an.METRICS[metric]} is derived: it has no PSD vintages")
    v = c.vintages.filter((pl.col("market_year") == year) & (pl.col("attribute_id") == attr))
    if region != an.WORLD:
        v = v.filter(country_code=region)
    months = [r.month for r in c.releases] or sorted(v["release_month"].unique().to_list())
    touched = set(v["release_month"].to_list())
    rows = []
    for m in months:
        known = v.filter(pl.col("release_month") <= m)
        if known.height == 0:
            continue
        last = known.sort("release_month").group_by("country_code").agg(pl.col("value").last())
        rows.append((m, float(last["value"].sum()), m in touched))
    out = pl.DataFrame(
        rows,
        schema={"release_month": pl.Date, "value": pl.Float64, "revised": pl.Boolean},
        orient="row",
    )
    return out.with_columns(pl.col("value").diff().alias("change")).select(
        "release_month", "value", "change", "revised"
    )


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
        .with_columns(an.year_labels(c.code).alias("year"))
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
    by: str = "abs",
    n: int | None = 25,
) -> pl.DataFrame:
    """The largest revisions of each commodity's newest release against the release before
    it (from `Workbench.changes()`): by absolute change in the commodity's unit (`by="abs"`,
    the default) or by percent of the previous value (`by="pct"`: small series first,
    e.g. Panama's imports 1 -> 149), optionally only for some commodity codes and
    attribute ids."""
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
