"""The one way materia reads published data: every table at the snapshot a publication
names. `pin` holds one publication, so a reader reading several tables sees them all from
the same successful run; `read_table` reads one table at the newest publication.

All reads go through DuckDB (`materia.lakehouse.duck`), never pyiceberg: a reader needs
the publication log and `iceberg_scan` of the snapshots it names, which DuckDB does on
its own, so the notebook and reports start without pyiceberg's import and memory.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from materia.core.errors import MateriaError, first_line
from materia.core.settings import Settings
from materia.core.target import PROD, Target
from materia.lakehouse import catalogs, duck
from materia.lakehouse.publications import TABLE, Publication, newest

if TYPE_CHECKING:
    import duckdb
    import polars as pl

_connections: dict[tuple[str, ...], duckdb.DuckDBPyConnection] = {}
_lock = threading.Lock()


def _settings(settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    from materia.core import settings as settings_mod

    return settings_mod.load()


def connection(settings: Settings, fresh: bool = False) -> duckdb.DuckDBPyConnection:
    """A cursor on this catalog's shared reading connection (one per catalog). `fresh`:
    reconnect first (an attached REST catalog does not see namespaces created later)."""
    key = catalogs.catalog_key(settings)
    with _lock:
        if fresh and key in _connections:
            _connections.pop(key).close()
        con = _connections.get(key)
        if con is None:
            try:
                con = _connections[key] = duck.connect(settings)
            except Exception as e:
                where = catalogs.where(settings)
                raise MateriaError(f"cannot read {where}: {first_line(e)}") from e
        return con.cursor()


def _hint(env: Target) -> str:
    if env == "prod":
        return "run `uv run materia pipeline run` first"
    return f"run `uv run materia transform --env {env}` first"


def current_publication(settings: Settings | None = None, env: Target = PROD) -> Publication | None:
    """The newest successful run of `env` (None before the first)."""
    settings = _settings(settings)
    ns = catalogs.namespace_for(env)
    source = duck.publications_sql(settings, ns)
    if source is None:
        return None
    for fresh in (False, True):
        cur = connection(settings, fresh)
        try:
            rel = cur.execute(f"SELECT * FROM {source}")
            names = [d[0] for d in rel.description]
            return newest([dict(zip(names, r, strict=True)) for r in rel.fetchall()])
        except Exception as e:
            if settings.iceberg is None or "does not exist" not in str(e):
                raise MateriaError(
                    f"cannot read {ns}.{TABLE} in {catalogs.where(settings)}: {first_line(e)}"
                ) from e
        finally:
            cur.close()
    return None  # the REST catalog has no such namespace or table (even after reconnecting)


@dataclass(frozen=True)
class Pinned:
    """One publication of an environment, held: every table read through it comes from
    that same run, whatever is published meanwhile (`read_table` called once per table
    follows the newest publication each time, so two calls can straddle a publish)."""

    settings: Settings
    env: Target
    publication: Publication

    @property
    def run_id(self) -> str:
        return self.publication.run_id

    @property
    def tables(self) -> list[str]:
        return sorted(self.publication.tables)

    def read_table(
        self, name: str, columns: list[str] | None = None, where: str | None = None
    ) -> pl.DataFrame:
        """A serving table as polars, at this publication's snapshot of it. `where` is a
        DuckDB SQL condition (e.g. "commodity_code = '0440000'"), pushed down to the
        Parquet files."""
        ns = catalogs.namespace_for(self.env)
        ref = self.publication.tables.get(name)
        if ref is None:
            raise MateriaError(
                f"no published table {ns}.{name} in {catalogs.where(self.settings)} (run "
                f"{self.run_id}): {_hint(self.env)}"
            )
        cols = ", ".join('"' + c.replace('"', '""') + '"' for c in columns) if columns else "*"
        sql = f"SELECT {cols} FROM {duck.scan_sql(ref.metadata_location)}"
        if where:
            sql += f" WHERE {where}"
        cur = connection(self.settings)
        try:
            return cur.execute(sql).pl()
        except Exception as e:  # unknown column names, a bad condition
            raise MateriaError(f"cannot read {ns}.{name}: {first_line(e)}") from e
        finally:
            cur.close()


def pin(settings: Settings | None = None, env: Target = PROD) -> Pinned:
    """The newest publication of `env`, held for reading several tables of one run."""
    settings = _settings(settings)
    pub = current_publication(settings, env)
    if pub is None:
        ns = catalogs.namespace_for(env)
        raise MateriaError(f"nothing published in {ns} in {catalogs.where(settings)}: {_hint(env)}")
    return Pinned(settings, env, pub)


def read_table(
    name: str,
    env: Target = PROD,
    settings: Settings | None = None,
    columns: list[str] | None = None,
    where: str | None = None,
) -> pl.DataFrame:
    """One serving table of `env` as polars, at the snapshot of the newest publication.
    For several tables of the same run, `pin` the publication and read them from it."""
    settings = _settings(settings)
    pub = current_publication(settings, env)
    if pub is None or name not in pub.tables:
        raise MateriaError(
            f"no published table {catalogs.namespace_for(env)}.{name} in "
            f"{catalogs.where(settings)}: {_hint(env)}"
        )
    return Pinned(settings, env, pub).read_table(name, columns, where)


def clear_cache() -> None:
    """Close the reading connections (tests; after changing settings)."""
    with _lock:
        for con in _connections.values():
            con.close()
        _connections.clear()


def table_exists(name: str, env: Target = PROD, settings: Settings | None = None) -> bool:
    pub = current_publication(_settings(settings), env)
    return pub is not None and name in pub.tables


def list_envs(settings: Settings) -> list[str]:
    """Environments with a publication: prod first."""
    if settings.iceberg is None:
        namespaces = catalogs.local_namespaces_with(settings, TABLE)
    else:
        cur = connection(settings, fresh=True)  # namespaces created since are seen
        try:
            namespaces = [
                r[0]
                for r in cur.execute(
                    "SELECT DISTINCT schema_name FROM duckdb_tables() "
                    f"WHERE database_name = '{duck.REST}' AND table_name = '{TABLE}'"
                ).fetchall()
            ]
        finally:
            cur.close()
    envs = [e for ns in namespaces if (e := catalogs.env_of(ns)) is not None]
    return sorted(envs, key=lambda e: (e != "prod", e))
