"""DuckDB over published Iceberg snapshots: `iceberg_scan(<metadata file>)` of the snapshot
a publication names, locally or on R2.

The `iceberg`, `avro` and `httpfs` extensions come from their PyPI wheels (pinned with
duckdb, see pyproject.toml): `INSTALL` from the network is not possible everywhere
materia runs. R2 credentials become a DuckDB secret of this connection only.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from materia.settings import Settings

if TYPE_CHECKING:
    import duckdb

# Load order matters: iceberg needs avro.
_EXTENSIONS = ("avro", "iceberg", "httpfs")


def _extension_file(name: str) -> str:
    import duckdb

    mod = importlib.import_module(f"duckdb_extension_{name}")
    path = Path(mod.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    return str(path / f"{name}.duckdb_extension")


def load_extensions(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    for name in _EXTENSIONS:
        if name == "httpfs" and settings.r2 is None:
            continue
        con.execute(f"LOAD '{_extension_file(name)}'")
    if settings.r2 is not None:
        r2 = settings.r2
        endpoint = r2.endpoint.split("://", 1)[-1].rstrip("/")
        # Parameters cannot be bound in CREATE SECRET; quote the values instead.
        q = _quote
        con.execute(
            "CREATE OR REPLACE TEMPORARY SECRET materia_r2 (TYPE s3, "
            f"KEY_ID {q(r2.access_key.get())}, SECRET {q(r2.secret_key.get())}, "
            f"REGION {q(r2.region)}, ENDPOINT {q(endpoint)}, URL_STYLE 'path', "
            f"USE_SSL {'true' if r2.endpoint.startswith('https') else 'false'})"
        )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def scan_sql(metadata_location: str) -> str:
    """A DuckDB table expression reading exactly the snapshot of that metadata file."""
    loc = metadata_location.removeprefix("file://")
    return f"iceberg_scan({_quote(loc)})"
