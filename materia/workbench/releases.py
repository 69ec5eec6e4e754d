"""Which releases of a commodity are loaded, and what its newest release changed.

A commodity's releases are the months in which a landed primary file holding its
commodity group was published: the publication's archives (`psd/<dataset>/<YYYY>/<MM>/…`)
read with the dataset registry (`materia.sources.psd_datasets`). Every release comparison is
between a commodity's newest release and the one before it, both named; a month in which
USDA changed no value still counts (the vintages keep a row only when a value changes,
so they alone cannot tell which releases were loaded). Breakdown files (EU member
states, Russia's spring and winter wheat) are releases of their own dataset, never of the
commodity they split.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Protocol

import polars as pl

from materia.core.errors import MateriaError
from materia.lakehouse import serving
from materia.landing.manifest import Landed
from materia.sources import psd_commodities, psd_datasets


class Workbench(Protocol):
    """What a comparison reads (`materia.workbench.data.Workbench` is one): named here so
    that the data module can use this one without an import circle."""

    publication: Any
    reader: Any

    def source(self, table: str) -> str: ...

    def commodities(self) -> pl.DataFrame: ...


@dataclass(frozen=True)
class Release:
    """A release month of a commodity's primary data, and the files that carried it."""

    month: dt.date
    datasets: tuple[str, ...]  # landing stems, e.g. ("psd_grains_pulses_csv",)

    @property
    def label(self) -> str:
        return f"{self.month:%B %Y}"


def landed(archives: list[str]) -> dict[str, list[dt.date]]:
    """Landing stem -> the release months landed, oldest first (unknown keys skipped)."""
    out: dict[str, set[dt.date]] = defaultdict(set)
    for key in archives:
        item = Landed.parse(key)
        if item is not None:
            out[item.stem].add(item.release_month)
    return {stem: sorted(months) for stem, months in out.items()}


def of_commodity(archives: list[str], code: str) -> tuple[Release, ...]:
    """The releases of a commodity's primary data, oldest first."""
    group = psd_commodities.group_of(code).name
    holders = {d.stem for d in psd_datasets.holding(group)}
    by_month: dict[dt.date, list[str]] = defaultdict(list)
    for stem, months in landed(archives).items():
        if stem in holders:
            for m in months:
                by_month[m].append(stem)
    return tuple(Release(m, tuple(sorted(by_month[m]))) for m in sorted(by_month))


CHANGE_COLUMNS = {
    "commodity_code": pl.String, "commodity_name": pl.String, "country_code": pl.String,
    "country_name": pl.String, "market_year": pl.Int32, "attribute_id": pl.String,
    "attribute_name": pl.String, "unit": pl.String, "release": pl.Date,
    "previous_release": pl.Date, "previous": pl.Float64, "current": pl.Float64,
}  # fmt: skip


def compared(wb: Workbench, codes: tuple[str, ...] | None) -> list[tuple[str, dt.date, dt.date]]:
    """(commodity, newest release, the release before it) of every commodity (or `codes`)
    with two releases loaded."""
    published = wb.commodities()
    out = []
    for code, release in published.select("commodity_code", "release_month").iter_rows():
        if codes is not None and code not in codes:
            continue
        earlier = [
            r.month for r in of_commodity(wb.publication.archives, code) if r.month < release
        ]
        if earlier:
            out.append((code, release, max(earlier)))
    return out


def read_changes(wb: Workbench, codes: tuple[str, ...] | None) -> pl.DataFrame:
    """Every primary value a commodity's newest release changed since the release before
    it, with both values and both releases (see `Workbench.changes`)."""
    pairs = compared(wb, codes)
    if not pairs:
        return pl.DataFrame(schema=CHANGE_COLUMNS)
    src = wb.source
    tables = wb.publication.tables
    keys = "commodity_code, country_code, market_year, attribute_id"
    rel = ", ".join("(?, ?::DATE, ?::DATE)" for _ in pairs)
    params = [v for pair in pairs for v in pair]
    attribute_names = (
        f"SELECT attribute_id, any_value(attribute_name) AS attribute_name "
        f"FROM {src(serving.DIM_ATTRIBUTE)} GROUP BY 1"
        if serving.DIM_ATTRIBUTE in tables
        else "SELECT NULL::VARCHAR AS attribute_id, NULL::VARCHAR AS attribute_name"
    )
    if serving.LATEST not in tables:
        raise MateriaError(f"{serving.LATEST} is not in the newest publication")
    latest = src(serving.LATEST)
    vintages = src(serving.VINTAGES)
    # `cur` (the newest releases' rows, ~1 % of the table) is materialised once; the full
    # table is only scanned, never held: a few tens of MB at full size.
    sql = f"""
    WITH rel(commodity_code, release, previous_release) AS (VALUES {rel}),
    cur AS MATERIALIZED (
      SELECT {keys}, unit_id, value AS current, rel.release, rel.previous_release
      FROM {vintages} v JOIN rel USING (commodity_code)
      WHERE v.release_month = rel.release
    ), prev AS (
      SELECT {keys}, arg_max(value, release_month) AS previous
      FROM {vintages} v JOIN rel USING (commodity_code) SEMI JOIN cur USING ({keys})
      WHERE v.release_month <= rel.previous_release
      GROUP BY ALL
    ), parts AS (  -- breakdown rows (EU member states under the EU's codes) are not the commodity's
      SELECT DISTINCT commodity_code, country_code, market_year
      FROM {latest} WHERE dataset_role = 'breakdown'
    ), names AS (
      SELECT commodity_code, country_code, any_value(commodity_name) AS commodity_name,
             any_value(country_name) AS country_name
      FROM {src(serving.OBT)} GROUP BY ALL
    ), units AS (
      SELECT unit_id, any_value(unit_description) AS unit FROM {latest} GROUP BY 1
    )
    SELECT commodity_code, n.commodity_name, country_code, n.country_name, market_year,
           attribute_id, a.attribute_name, u.unit, cur.release, cur.previous_release,
           prev.previous, cur.current
    FROM cur
    JOIN prev USING ({keys})
    ANTI JOIN parts USING (commodity_code, country_code, market_year)
    LEFT JOIN names n USING (commodity_code, country_code)
    LEFT JOIN ({attribute_names}) a USING (attribute_id)
    LEFT JOIN units u USING (unit_id)
    WHERE prev.previous IS DISTINCT FROM cur.current
    ORDER BY ALL
    """
    return wb.reader.frame(sql, params).cast(CHANGE_COLUMNS)  # type: ignore[arg-type]
