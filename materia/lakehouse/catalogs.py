"""The Iceberg catalog of these settings, and the namespace of each environment.

The embedded default is a pyiceberg `SqlCatalog` (SQLite + files under
`MATERIA_HOME/lakehouse`); with `ICEBERG_REST_URI` set it is a REST catalog (Cloudflare
R2 Data Catalog in prod, SeaweedFS in tests). Environments are `prod` (namespace
`serving`) and `dev_<name>` (namespace `serving__dev_<name>`).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from materia.core.errors import MateriaError, first_line
from materia.core.settings import Settings
from materia.core.target import Target

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

CATALOG_NAME = "materia"


def check_env(env: Target) -> Target:
    """`env` as a Target (validated once; free for a Target already)."""
    return Target(env)


def namespace_for(env: Target) -> str:
    """Iceberg namespace (= SQLMesh serving schema) of an environment."""
    return Target(env).namespace


def env_of(namespace: str) -> Target | None:
    return Target.of_namespace(namespace)


def catalog_key(settings: Settings) -> tuple[str, ...]:
    """What identifies a catalog (no secrets): for caches and messages."""
    if settings.iceberg is not None:
        return ("rest", settings.iceberg.rest_uri, settings.iceberg.warehouse)
    return ("sql", str(settings.lakehouse_dir))


def where(settings: Settings) -> str:
    key = catalog_key(settings)
    if key[0] == "rest":
        return f"REST catalog {key[1]} (warehouse {key[2] or '-'})"
    return f"local catalog {settings.lakehouse_dir}"


def catalog(settings: Settings) -> Catalog:
    """The Iceberg catalog of these settings: REST when configured, else embedded SQLite."""
    if settings.iceberg is not None:
        return _rest_catalog(settings)
    from pyiceberg.catalog.sql import SqlCatalog

    root = settings.lakehouse_dir
    (root / "warehouse").mkdir(parents=True, exist_ok=True)
    return SqlCatalog(
        CATALOG_NAME,
        uri=f"sqlite:///{root / 'catalog.db'}",
        warehouse=(root / "warehouse").as_uri(),
    )


def s3_properties(settings: Settings) -> dict[str, str]:
    """Object storage for data files (a catalog that vends credentials overrides these)."""
    if settings.r2 is None:
        return {}
    return {
        "s3.endpoint": settings.r2.endpoint,
        "s3.access-key-id": settings.r2.access_key.get(),
        "s3.secret-access-key": settings.r2.secret_key.get(),
        "s3.region": settings.r2.region,
    }


def _rest_catalog(settings: Settings) -> Catalog:
    from pyiceberg.catalog.rest import RestCatalog

    ice = settings.iceberg
    assert ice is not None
    props: dict[str, str] = {"uri": ice.rest_uri}
    if ice.warehouse:
        props["warehouse"] = ice.warehouse
    if ice.token:
        props["token"] = ice.token.get()  # bearer token (R2 Data Catalog)
    elif ice.credential:
        props["credential"] = ice.credential.get()  # OAuth2 client_id:client_secret
        props["oauth2-server-uri"] = f"{ice.rest_uri.rstrip('/')}/v1/oauth/tokens"
    props.update(s3_properties(settings))
    try:
        return RestCatalog(CATALOG_NAME, **props)
    except Exception as e:  # connection refused, 401, bad config: one line, no secrets
        raise MateriaError(f"cannot open {where(settings)}: {first_line(e)}") from e


def local_metadata_location(settings: Settings, namespace: str, table: str) -> str | None:
    """The current metadata file of a table in the embedded catalog, read straight from its
    SQLite file (the JDBC-style `iceberg_tables` layout pyiceberg's SqlCatalog keeps), so a
    run with nothing to do can check the catalog without importing pyiceberg. None for a
    REST catalog, or when the table is not there."""
    if settings.iceberg is not None:
        return None
    import sqlite3

    path = settings.lakehouse_dir / "catalog.db"
    if not path.is_file():
        return None
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        try:
            row = db.execute(
                "SELECT metadata_location FROM iceberg_tables WHERE catalog_name = ? AND "
                "table_namespace = ? AND table_name = ?",
                (CATALOG_NAME, namespace, table),
            ).fetchone()
        except sqlite3.Error:
            return None
    return row[0] if row else None


def local_namespaces_with(settings: Settings, table: str) -> list[str]:
    """Namespaces of the embedded catalog that hold `table` (from its SQLite file)."""
    import sqlite3

    path = settings.lakehouse_dir / "catalog.db"
    if settings.iceberg is not None or not path.is_file():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        try:
            rows = db.execute(
                "SELECT DISTINCT table_namespace FROM iceberg_tables WHERE catalog_name = ? "
                "AND table_name = ?",
                (CATALOG_NAME, table),
            ).fetchall()
        except sqlite3.Error:
            return []
    return sorted(r[0] for r in rows)
