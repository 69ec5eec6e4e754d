"""The Iceberg serving layer: publish SQLMesh serving tables, and the one read API.

SQLMesh builds in the DuckDB warehouse file (its virtual layer exposes an environment's
serving tables as views in schema `serving`, or `serving__<env>` for a dev env);
`publish` copies each into the Iceberg namespace of the same name as ONE atomic
snapshot per table, and skips tables whose content has not changed. `read_table` is the
only way notebooks read data: it returns a polars DataFrame, cached per snapshot.

Catalogs: the embedded default is a pyiceberg `SqlCatalog` (SQLite + files under
`MATERIA_HOME/lakehouse`); with `ICEBERG_REST_URI` set it is a REST catalog (Cloudflare
R2 Data Catalog in prod, SeaweedFS in tests).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from materia.errors import MateriaError
from materia.settings import Settings

if TYPE_CHECKING:
    import duckdb
    import polars as pl
    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table, Transaction

log = logging.getLogger(__name__)

CATALOG_NAME = "materia"
SERVING = "serving"
# Snapshot-summary key holding the content fingerprint; stored with the data it
# describes, so the comparison can never be out of step with the snapshot.
FINGERPRINT_KEY = "materia.fingerprint"
# Bump when the fingerprint recipe changes: every table then republishes once.
_FINGERPRINT_VERSION = "1"
_ENV_RE = re.compile(r"^(prod|dev_[a-z0-9_]+)$")
_RUN_FIRST = "run `uv run materia pipeline run` first"

# DuckDB types Iceberg has no equivalent for, cast on the way out (column type → SQL type).
_CASTS = {
    "TINYINT": "INTEGER",
    "SMALLINT": "INTEGER",
    "UTINYINT": "INTEGER",
    "USMALLINT": "INTEGER",
    "UINTEGER": "BIGINT",
    "UBIGINT": "DECIMAL(38,0)",
    "HUGEINT": "DECIMAL(38,0)",
    "UHUGEINT": "DECIMAL(38,0)",
    "TIMESTAMP_S": "TIMESTAMP",
    "TIMESTAMP_MS": "TIMESTAMP",
    "TIMESTAMP_NS": "TIMESTAMP",
    "JSON": "VARCHAR",
}


# --- environments and namespaces ------------------------------------------------------
def check_env(env: str) -> str:
    """`env` if it is `prod` or `dev_<lowercase letters, digits, _>`, else MateriaError."""
    if not isinstance(env, str) or not _ENV_RE.match(env):
        raise MateriaError(
            f"environment {env!r} is not valid: use 'prod' or 'dev_<name>' "
            "(lowercase letters, digits and _)"
        )
    return env


def namespace_for(env: str) -> str:
    """Iceberg namespace (= SQLMesh serving schema) of an environment."""
    return SERVING if check_env(env) == "prod" else f"{SERVING}__{env}"


def _env_of(namespace: str) -> str | None:
    if namespace == SERVING:
        return "prod"
    prefix = f"{SERVING}__"
    if namespace.startswith(prefix) and _ENV_RE.match(env := namespace[len(prefix) :]):
        return env
    return None


# --- catalogs --------------------------------------------------------------------------
def _catalog_key(settings: Settings) -> tuple[str, ...]:
    """What identifies a catalog (no secrets): for caches and messages."""
    if settings.iceberg is not None:
        return ("rest", settings.iceberg.rest_uri, settings.iceberg.warehouse)
    return ("sql", str(settings.lakehouse_dir))


def _where(settings: Settings) -> str:
    key = _catalog_key(settings)
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
    # Object storage for data files; a catalog that vends credentials overrides these.
    if settings.r2 is not None:
        props.update(
            {
                "s3.endpoint": settings.r2.endpoint,
                "s3.access-key-id": settings.r2.access_key.get(),
                "s3.secret-access-key": settings.r2.secret_key.get(),
                "s3.region": settings.r2.region,
            }
        )
    try:
        return RestCatalog(CATALOG_NAME, **props)
    except Exception as e:  # connection refused, 401, bad config: one line, no secrets
        raise MateriaError(f"cannot open {_where(settings)}: {_first_line(e, settings)}") from e


# --- fingerprints ------------------------------------------------------------------------
def _qualified(schema: str, table: str) -> str:
    return f'"{schema}"."{table}"'


def _serving_relations(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    """Tables and views of `schema` in the connection's current database, sorted."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = ? AND table_catalog = current_database() ORDER BY 1",
        [schema],
    ).fetchall()
    return [r[0] for r in rows]


def _select_sql(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[str, str]:
    """SELECT with Iceberg-compatible column types, and the source schema as text."""
    cols = con.execute(f"DESCRIBE {relation}").fetchall()
    parts, signature = [], []
    for name, typ, *_ in cols:
        quoted = '"' + name.replace('"', '""') + '"'
        base = typ.split("(")[0].upper()
        cast = "VARCHAR" if base == "ENUM" else _CASTS.get(base)
        parts.append(f"CAST({quoted} AS {cast}) AS {quoted}" if cast else quoted)
        signature.append(f"{name}:{typ}")
    return f"SELECT {', '.join(parts)} FROM {relation}", ",".join(signature)


def _fingerprint(con: duckdb.DuckDBPyConnection, select: str, signature: str) -> str:
    """Content fingerprint: schema + row count + order-independent sum of row hashes.

    One DuckDB pass over the data; duplicate rows count (a sum, not an xor).
    """
    count, total = con.execute(
        f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0)::VARCHAR FROM ({select}) t"
    ).fetchone()
    raw = f"{_FINGERPRINT_VERSION}|{signature}|{count}|{total}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _current_fingerprint(table: Table) -> str | None:
    snap = table.current_snapshot()
    if snap is None or snap.summary is None:
        return None
    return snap.summary.additional_properties.get(FINGERPRINT_KEY)


# --- writing --------------------------------------------------------------------------------
def _iceberg_schema(arrow_schema: pa.Schema) -> Schema:
    from pyiceberg.catalog import Catalog

    return Catalog._convert_schema_if_needed(arrow_schema)


def _shape(schema: Schema) -> list[tuple[str, str]]:
    return [(f.name, str(f.field_type)) for f in schema.fields]


def _evolve_schema(tx: Transaction, new: Schema) -> None:
    """Make the table's schema match `new` (names, types, order) inside `tx`.

    Old data files are all replaced in the same commit, so incompatible changes are safe:
    a column whose type changed is dropped and added again.
    """
    old = tx.table_metadata.schema()
    if _shape(old) == _shape(new):
        return
    wanted = dict(_shape(new))
    stale = [f.name for f in old.fields if wanted.get(f.name) != str(f.field_type)]
    if stale:
        with tx.update_schema(allow_incompatible_changes=True) as up:
            for name in stale:
                up.delete_column(name)
    with tx.update_schema() as up:
        up.union_by_name(new)
    names = [f.name for f in new.fields]
    if [f.name for f in tx.table_metadata.schema().fields] != names:
        with tx.update_schema() as up:
            up.move_first(names[0])
            for prev, name in zip(names, names[1:], strict=False):
                up.move_after(name, prev)


def _replace_all(tx: Transaction, data: pa.RecordBatchReader, props: dict[str, str]) -> int:
    """One OVERWRITE snapshot: every current data file out, the new ones in; rows written.

    One data file per batch of `data`: only that batch is in memory at a time (pyiceberg
    would materialise a whole stream before writing it).
    """
    import itertools

    import pyarrow as pa
    from pyiceberg.io.pyarrow import _dataframe_to_data_files

    io = tx._table.io  # the (possibly staged) table's FileIO
    snap = tx.table_metadata.current_snapshot()
    rows = 0
    names = itertools.count(0)  # data file numbers, unique within this commit
    with tx.update_snapshot(snapshot_properties=props).overwrite() as ow:
        if snap is not None:
            for manifest in snap.manifests(io):
                for entry in manifest.fetch_manifest_entry(io, discard_deleted=True):
                    ow.delete_data_file(entry.data_file)
        for batch in data:
            if not batch.num_rows:
                continue
            for f in _dataframe_to_data_files(
                table_metadata=tx.table_metadata,
                write_uuid=ow.commit_uuid,
                df=pa.Table.from_batches([batch]),
                io=io,
                counter=names,
            ):
                rows += f.record_count
                ow.append_data_file(f)
    return rows


# Rows per data file, streamed from DuckDB one at a time: bounds publish memory (a
# full-size table is a few hundred MB as Arrow) at a handful of files per table.
_BATCH_ROWS = 512 * 1024


def _stage(
    cat: Catalog,
    ident: tuple[str, str],
    table: Table | None,
    con: duckdb.DuckDBPyConnection,
    select: str,
    fp: str,
) -> tuple[Transaction, int]:
    """Write the table's new data files; nothing is visible until the transaction commits."""
    reader = con.execute(select).to_arrow_reader(_BATCH_ROWS)
    new_schema = _iceberg_schema(reader.schema)
    if table is not None:
        tx = table.transaction()
        _evolve_schema(tx, new_schema)
    else:
        # Staged create: the table appears together with its first snapshot.
        tx = cat.create_table_transaction(ident, schema=new_schema)
    return tx, _replace_all(tx, reader, {FINGERPRINT_KEY: fp})


def publish(
    settings: Settings,
    env: str,
    warehouse_con: duckdb.DuckDBPyConnection,
    tables: list[str] | None = None,
) -> dict[str, int | None]:
    """Publish the env's SQLMesh serving tables to its Iceberg namespace.

    Returns table → new snapshot id, or None when its content was unchanged (then no
    snapshot is added). Every table is read and fingerprinted before anything is written,
    so a table that fails to compute changes nothing; each write is one atomic commit, so
    readers see either the previous snapshot or the new one. With `tables=None` the
    namespace mirrors the schema: Iceberg tables no longer in the warehouse are dropped.
    """
    schema = namespace_for(env)
    found = _serving_relations(warehouse_con, schema)
    if tables is not None:
        missing = sorted(set(tables) - set(found))
        if missing:
            raise MateriaError(
                f"no serving table {', '.join(missing)} in warehouse schema {schema!r}"
            )
        found = [t for t in found if t in set(tables)]
    if not found:
        raise MateriaError(
            f"warehouse has no tables in schema {schema!r}: plan the SQLMesh environment "
            f"{env!r} first (uv run materia transform --env {env})"
        )

    # Phase 1: check every table's types and compute its fingerprint (one full pass, so
    # a table that fails to compute fails here) before writing anything.
    plans: list[tuple[str, str, str]] = []
    for name in found:
        relation = _qualified(schema, name)
        try:
            select, signature = _select_sql(warehouse_con, relation)
            _iceberg_schema(warehouse_con.execute(f"{select} LIMIT 0").to_arrow_table().schema)
            plans.append((name, select, _fingerprint(warehouse_con, select, signature)))
        except Exception as e:
            raise MateriaError(
                f"cannot read warehouse table {schema}.{name}: {_first_line(e)}"
            ) from e

    # Phase 2: compare with the current snapshots; stage (write the data files of) the
    # changed tables two at a time, each on its own DuckDB cursor (export and Parquet
    # encoding release the GIL), then commit them one by one: one atomic snapshot each.
    from concurrent.futures import ThreadPoolExecutor

    from pyiceberg.exceptions import NoSuchTableError

    cat = catalog(settings)
    try:
        cat.create_namespace_if_not_exists(schema)
    except Exception as e:
        raise MateriaError(
            f"cannot create namespace {schema} in {_where(settings)}: {_first_line(e, settings)}"
        ) from e

    def failed(name: str, e: BaseException) -> MateriaError:
        return MateriaError(
            f"publishing {schema}.{name} to {_where(settings)} failed "
            f"(readers keep its previous snapshot): {_first_line(e, settings)}"
        )

    result: dict[str, int | None] = {}
    todo: list[tuple[str, str, str, Table | None]] = []
    for name, select, fp in plans:
        try:
            table: Table | None = cat.load_table((schema, name))
        except NoSuchTableError:
            table = None
        except Exception as e:
            raise failed(name, e) from e
        if table is not None and _current_fingerprint(table) == fp:
            result[name] = None
            log.info("publish %s.%s: unchanged", schema, name)
        else:
            todo.append((name, select, fp, table))

    def stage(job: tuple[str, str, str, Table | None]) -> tuple[Transaction, int]:
        name, select, fp, table = job
        cursor = warehouse_con.cursor()
        try:
            return _stage(cat, (schema, name), table, cursor, select, fp)
        finally:
            cursor.close()

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="materia-publish") as pool:
        futures = [(job[0], pool.submit(stage, job)) for job in todo]
        # Tables commit independently (in order): one that failed to stage keeps its
        # previous snapshot and does not hold back the others.
        error: MateriaError | None = None
        for name, future in futures:
            try:
                tx, rows = future.result()
                snap = tx.commit_transaction().current_snapshot()  # nothing visible before
            except Exception as e:
                error = error or failed(name, e)
                if error.__cause__ is None:
                    error.__cause__ = e
                continue
            assert snap is not None
            result[name] = snap.snapshot_id
            log.info("publish %s.%s: %d rows, snapshot %s", schema, name, rows, snap.snapshot_id)
    if error is not None:
        raise error

    if tables is None:
        # The namespace mirrors the environment: a serving model that is gone goes too.
        for ns, name in cat.list_tables(schema):
            if name not in result:
                log.warning("publish %s.%s: no longer in the warehouse, dropped", ns, name)
                cat.drop_table((ns, name))
    return result


def _first_line(e: BaseException, settings: Settings | None = None) -> str:
    lines = str(e).strip().splitlines()
    text = f"{type(e).__name__}: {lines[0]}" if lines else type(e).__name__
    for secret in settings.secret_values() if settings else []:
        text = text.replace(secret, "***")
    return text


# --- reading --------------------------------------------------------------------------------
_CACHE_SIZE = 32
_frames: OrderedDict[tuple, pl.DataFrame] = OrderedDict()
_catalogs: dict[tuple[str, ...], Catalog] = {}
_lock = threading.Lock()


def _cached_catalog(settings: Settings) -> Catalog:
    key = _catalog_key(settings)
    with _lock:
        cat = _catalogs.get(key)
    if cat is None:
        cat = catalog(settings)
        with _lock:
            _catalogs[key] = cat
    return cat


def _load(settings: Settings, env: str, name: str) -> Table:
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    ns = namespace_for(env)
    try:
        return _cached_catalog(settings).load_table((ns, name))
    except (NoSuchTableError, NoSuchNamespaceError) as e:
        hint = _RUN_FIRST if env == "prod" else f"run `uv run materia transform --env {env}` first"
        raise MateriaError(f"no Iceberg table {ns}.{name} in {_where(settings)}: {hint}") from e


def read_table(
    name: str,
    env: str = "prod",
    settings: Settings | None = None,
    columns: list[str] | None = None,
) -> pl.DataFrame:
    """A serving table of an environment as polars, at its current snapshot.

    Cached by (catalog, namespace, table, snapshot, columns): a repeated read costs one
    metadata lookup. Treat the result as read-only (polars frames are immutable anyway).
    """
    import polars as pl

    if settings is None:
        from materia import settings as settings_mod

        settings = settings_mod.load()
    table = _load(settings, env, name)
    snap = table.current_snapshot()
    key = (
        _catalog_key(settings),
        namespace_for(env),
        name,
        snap.snapshot_id if snap else None,
        tuple(columns) if columns else None,
    )
    with _lock:
        if key in _frames:
            _frames.move_to_end(key)
            return _frames[key]
    scan = table.scan(selected_fields=tuple(columns) if columns else ("*",))
    try:
        frame = pl.from_arrow(scan.to_arrow())
    except ValueError as e:  # unknown column names
        raise MateriaError(f"cannot read {namespace_for(env)}.{name}: {_first_line(e)}") from e
    assert isinstance(frame, pl.DataFrame)
    with _lock:
        _frames[key] = frame
        while len(_frames) > _CACHE_SIZE:
            _frames.popitem(last=False)
    return frame


def clear_cache() -> None:
    """Forget cached frames and catalogs (tests; a notebook after changing settings)."""
    with _lock:
        _frames.clear()
        _catalogs.clear()


def table_exists(name: str, env: str = "prod", settings: Settings | None = None) -> bool:
    if settings is None:
        from materia import settings as settings_mod

        settings = settings_mod.load()
    return _cached_catalog(settings).table_exists((namespace_for(env), name))


def list_envs(settings: Settings) -> list[str]:
    """Environments with a published serving namespace holding tables: prod first."""
    cat = _cached_catalog(settings)
    envs = []
    for ns in cat.list_namespaces():
        env = _env_of(".".join(ns))
        if env is not None and cat.list_tables(ns):
            envs.append(env)
    return sorted(envs, key=lambda e: (e != "prod", e))


def snapshot_ids(settings: Settings, env: str, name: str) -> list[int]:
    """Every snapshot id of a table, oldest first (history; for tests and audits)."""
    table = _load(settings, env, name)
    return [s.snapshot_id for s in table.snapshots()]
