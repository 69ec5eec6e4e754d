"""The published tables, named once: what the SQLMesh project's serving models publish
and every reader (workbench, reports, envdiff, outside readers per docs/READING.md) reads.
The models define the columns; this module names the tables and the keys the code relies
on, so a rename is one edit here and one in `sqlmesh_materia/models/serving/`."""

from __future__ import annotations

from materia.core.target import SERVING as SCHEMA  # noqa: F401  (prod's namespace)

OBT = "obt_commodity_metrics"  # one row per commodity, country, year, attribute: the newest
VINTAGES = "fct_psd_vintages"  # every value as each release stated it
LATEST = "fct_psd_latest"  # the newest release of each dataset's values, with its role
DIM_ATTRIBUTE = "dim_attribute"

# The key of a PSD value, and the vintages' history column (their Iceberg partition).
PSD_KEY = ("commodity_code", "country_code", "market_year", "attribute_id")
RELEASE_MONTH = "release_month"
