"""DuckDB over published Iceberg snapshots: `iceberg_scan(<metadata file>)` of the snapshot
a publication names, locally or on R2, and the publication log itself.

The `iceberg`, `avro` and `httpfs` extensions come from their PyPI wheels (pinned with
duckdb, see pyproject.toml): `INSTALL` from the network is not possible everywhere
materia runs. R2 credentials become a DuckDB secret of this connection only. Reading
needs no pyiceberg: the embedded catalog's pointer to `publications` is one SQLite row,
and a REST catalog is attached with DuckDB's own Iceberg REST client.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from materia.core.settings import Settings

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


REST = "materia_rest"  # the name a REST catalog is attached under


def connect(settings: Settings, memory_limit: str = "256MB") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that can read this catalog's published snapshots."""
    import duckdb

    con = duckdb.connect(config={"memory_limit": memory_limit})
    con.execute("SET enable_progress_bar = false")
    load_extensions(con, settings)
    ice = settings.iceberg
    if ice is not None:
        q = _quote
        if ice.token:
            auth = f"TOKEN {q(ice.token.get())}"
        else:
            client_id, _, client_secret = (
                ice.credential.get() if ice.credential else ":"
            ).partition(":")
            oauth = f"{ice.rest_uri.rstrip('/')}/v1/oauth/tokens"
            auth = f"CLIENT_ID {q(client_id)}, CLIENT_SECRET {q(client_secret)}, OAUTH2_SERVER_URI {q(oauth)}"
        con.execute(f"CREATE OR REPLACE TEMPORARY SECRET {REST} (TYPE iceberg, {auth})")
        con.execute(
            f"ATTACH {q(ice.warehouse)} AS {REST} "
            f"(TYPE iceberg, ENDPOINT {q(ice.rest_uri.rstrip('/'))}, SECRET {REST}, READ_ONLY)"
        )
    return con


def publications_sql(settings: Settings, namespace: str) -> str | None:
    """A table expression for `<namespace>.publications`, or None when there is none."""
    if settings.iceberg is not None:
        return f'{REST}."{namespace}".publications'
    from materia.lakehouse.catalogs import local_metadata_location

    location = local_metadata_location(settings, namespace, "publications")
    return scan_sql(location) if location else None


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def scan_sql(metadata_location: str, snapshot_id: int | None = None) -> str:
    """A DuckDB table expression reading that metadata file's current snapshot, or the
    snapshot `snapshot_id` it holds."""
    loc = metadata_location.removeprefix("file://")
    at = f", snapshot_from_id => {int(snapshot_id)}" if snapshot_id is not None else ""
    return f"iceberg_scan({_quote(loc)}{at})"
