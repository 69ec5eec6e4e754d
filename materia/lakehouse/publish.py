"""Publish a run's serving tables to the environment's Iceberg namespace, all or nothing
for readers.

1. Measure every output in DuckDB (row count, content fingerprint) and check the plan
   against what is published (`guard`): nothing is written before all of it passes.
2. Reset each table to the snapshot readers were last given (a run that died after its
   table commits but before step 4 leaves snapshots no reader was ever sent to).
3. For each changed table, DuckDB writes Parquet and one Iceberg commit swaps it in:
   replace-all for most tables; for the vintages, replace only the release months this
   run recomputed (normally none: it is a pure append of the new release's revisions).
   Unchanged tables get no new snapshot.
4. Append the run to `publications` (see publications.py): the one commit that makes the
   run what readers see. Then expire snapshots past the retention.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from materia import failpoints, scratch
from materia.errors import MateriaError, first_line
from materia.lakehouse import catalogs as cat_mod
from materia.lakehouse import duck, guard, iceberg_io, publications
from materia.lakehouse.publications import Publication, TableRef
from materia.settings import Settings

if TYPE_CHECKING:
    import duckdb
    from pyiceberg.table import Table

log = logging.getLogger(__name__)

# Bump when the fingerprint recipe changes: every table then republishes once.
_FINGERPRINT_VERSION = "2"
VINTAGES = "fct_psd_vintages"
# DuckDB types Iceberg has no equivalent for, cast on the way out.
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
    "ENUM": "VARCHAR",
}


@dataclass(frozen=True)
class Output:
    """One serving table of a run: `relation` in the DuckDB connection.

    `replace_from`: the table holds release-month history (the vintages) and the run
    recomputed the months from this one on: those rows are replaced, older ones kept.
    """

    name: str
    relation: str
    order_by: str = ""
    replace_from: date | None = None


@dataclass
class Published:
    publication: Publication
    changed: dict[str, int | None] = field(default_factory=dict)  # table → new snapshot id
    appended_rows: dict[str, int] = field(default_factory=dict)
    bytes_written: dict[str, int] = field(default_factory=dict)
    allowed: list[str] = field(default_factory=list)  # collapses --allow-shrink let through

    @property
    def rows_published(self) -> int:
        return sum(self.appended_rows.values())


@dataclass
class _Job:
    out: Output
    select: str
    fingerprint: str
    rows: int  # rows the relation holds
    table: Table | None = None
    published: TableRef | None = None
    deleted: int = 0  # vintages: published rows the run replaces
    total: int = 0  # rows of the table after the run
    changed: bool = True


def _select(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[str, str]:
    """SELECT with Iceberg-compatible column types, and the source schema as text."""
    parts, signature = [], []
    for name, typ, *_ in con.execute(f"DESCRIBE {relation}").fetchall():
        quoted = '"' + name.replace('"', '""') + '"'
        cast = _CASTS.get(typ.split("(")[0].upper())
        parts.append(f"CAST({quoted} AS {cast}) AS {quoted}" if cast else quoted)
        signature.append(f"{name}:{typ}")
    return f"SELECT {', '.join(parts)} FROM {relation}", ",".join(signature)


def _measure(con: duckdb.DuckDBPyConnection, out: Output) -> _Job:
    """Row count and an order-independent content fingerprint, in one DuckDB pass."""
    select, signature = _select(con, out.relation)
    count, total = con.execute(
        f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0)::VARCHAR FROM ({select}) t"
    ).fetchone()
    raw = f"{_FINGERPRINT_VERSION}|{signature}|{count}|{total}"
    return _Job(out, select, hashlib.sha256(raw.encode()).hexdigest(), count)


def _vintage_months(con, ref: TableRef) -> dict[date, int]:
    sql = f"SELECT release_month, count(*) FROM {duck.scan_sql(ref.metadata_location)} GROUP BY 1"
    return dict(con.execute(sql).fetchall())


def publish(
    settings: Settings,
    env: str,
    con: duckdb.DuckDBPyConnection,
    outputs: list[Output],
    inputs: dict,
    *,
    withdrawn_months: set[date] = frozenset(),
    allow_shrink: bool = False,
    before_commit: Callable[[], None] = lambda: None,
    retention: timedelta = timedelta(days=7),
) -> Published:
    """Publish `outputs` as one run of `env` (see the module doc); MateriaError if the plan
    fails the guard or a write fails (readers then stay on the previous run)."""
    from pyiceberg.exceptions import NoSuchTableError

    ns = cat_mod.namespace_for(env)
    where = cat_mod.where(settings)
    cat = cat_mod.catalog(settings)
    try:
        cat.create_namespace_if_not_exists(ns)
        pub_table = publications.load(cat, ns)
        prev = publications.current(pub_table)
    except MateriaError:
        raise
    except Exception as e:
        raise MateriaError(f"cannot read {ns}.publications in {where}: {first_line(e)}") from e

    # 1. measure and check, before writing anything
    jobs = [_measure(con, out) for out in outputs]
    plan = guard.Planned(rows={}, withdrawn_months=set(withdrawn_months))
    plan.baseline = guard.baseline_of(pub_table)  # issue 19: the most rows of recent runs
    duck.load_extensions(con, settings)
    for job in jobs:
        name = job.out.name
        job.published = prev.tables.get(name) if prev else None
        try:
            job.table = cat.load_table((ns, name))
        except NoSuchTableError:
            job.table = None
        if job.published is not None:
            plan.published_rows[name] = job.published.rows
        if name == VINTAGES and job.published is not None and job.out.replace_from is not None:
            months = _vintage_months(con, job.published)
            plan.vintage_months_now = set(months)
            kept = {m: n for m, n in months.items() if m < job.out.replace_from}
            job.deleted = job.published.rows - sum(kept.values())
            new = con.execute(f"SELECT DISTINCT release_month FROM {job.out.relation}").fetchall()
            plan.vintage_months_after = set(kept) | {r[0] for r in new}
            job.total = job.published.rows - job.deleted + job.rows
            job.changed = bool(job.rows or job.deleted)
        else:
            job.deleted = job.published.rows if job.published else 0
            job.total = job.rows
            job.changed = (
                job.table is None
                or job.published is None
                or (
                    iceberg_io.fingerprint_of(job.table, job.published.snapshot_id)
                    != job.fingerprint
                )
            )
        plan.rows[name] = job.total
    allowed = guard.check(plan, allow_shrink)
    failpoints.hit("publish:checked")

    # 2.–3. reset, write, commit each changed table
    result = Published(publication=prev)  # type: ignore[arg-type]
    result.allowed = allowed
    refs: dict[str, TableRef] = {}
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    settings.tmp_dir.mkdir(parents=True, exist_ok=True)
    # issue 19: named after this process, so a killed run's folder is cleaned by the next
    with tempfile.TemporaryDirectory(prefix=scratch.prefix("publish"), dir=settings.tmp_dir) as td:
        exported = _export([j for j in jobs if j.changed], con, Path(td))
        for job in jobs:
            name = job.out.name
            if not job.changed:
                refs[name] = job.published  # type: ignore[assignment]
                result.changed[name] = None
                continue
            try:
                local = _exported(exported, name, job, con, Path(td))
                ref, nbytes = _write(cat, ns, job, con, local, run_id)
            except MateriaError:
                raise
            except Exception as e:
                raise MateriaError(
                    f"publishing {ns}.{name} to {where} failed (readers keep the previous "
                    f"run): {first_line(e)}"
                ) from e
            failpoints.hit(f"publish:after:{name}")
            refs[name] = ref
            result.changed[name] = ref.snapshot_id
            result.appended_rows[name] = job.rows
            result.bytes_written[name] = nbytes
            log.info("publish %s.%s: %d rows, snapshot %s", ns, name, job.rows, ref.snapshot_id)

    # 4. the commit readers follow
    before_commit()
    failpoints.hit("publish:before-commit")
    sequence = (prev.sequence + 1) if prev else 1
    if allowed:  # issue 19: an allowed shrink starts the guard's new baseline
        inputs = {**inputs, guard.SHRINK_ALLOWED: allowed}
    try:
        result.publication = publications.append(cat, ns, pub_table, run_id, sequence, refs, inputs)
    except Exception as e:
        raise MateriaError(
            f"recording run {run_id} in {ns}.publications failed (readers keep the previous "
            f"run): {first_line(e)}"
        ) from e
    failpoints.hit("publish:after-commit")
    _after(cat, ns, refs, outputs, retention)
    return result


def _export(jobs: list[_Job], con, scratch: Path) -> dict[str, Future]:
    """Every changed table as a local Parquet file, two at a time on their own cursors
    (DuckDB writes one file on one core); returns when all are done: table name → the
    future of its file (its exception, if that export failed)."""
    from concurrent.futures import ThreadPoolExecutor

    where = _where(con)
    with ThreadPoolExecutor(2, thread_name_prefix="materia-export") as pool:
        return {job.out.name: pool.submit(_export_one, job, con, where, scratch) for job in jobs}


def _exported(exported: dict[str, Future], name: str, job: _Job, con, scratch: Path) -> Path:
    """The table's Parquet file. Two sorts at once can outgrow the run's memory limit
    (rarely: it depends on how they interleave); then the table is exported again, alone
    (`_export` has returned, so no other export runs)."""
    import duckdb

    try:
        return exported[name].result()
    except duckdb.OutOfMemoryException:
        log.info("export of %s retried alone (memory)", name)
        return _export_one(job, con, _where(con), scratch)


def _where(con) -> str:
    """`con`'s current database and schema (a new cursor starts in the default one)."""
    database, schema = con.execute("SELECT current_database(), current_schema()").fetchone()
    return f'"{database}"."{schema}"'


def _export_one(job: _Job, con, where: str, scratch: Path) -> Path:
    local = scratch / f"{job.out.name}.parquet"
    order = f" ORDER BY {job.out.order_by}" if job.out.order_by else ""
    cur = con.cursor()
    try:
        cur.execute(f"USE {where}")
        cur.execute(
            f"COPY ({job.select}{order}) TO '{local}' "
            "(FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 100000)"
        )
    finally:
        cur.close()
    return local


def _write(cat, ns: str, job: _Job, con, local: Path, run_id: str) -> tuple[TableRef, int]:
    """Commit one table's new Parquet file; (its new ref, bytes of Parquet)."""
    import pyarrow as pa
    from pyiceberg.expressions import AlwaysTrue, GreaterThanOrEqual

    name = job.out.name
    arrow_schema = con.execute(f"{job.select} LIMIT 0").arrow().schema
    schema = iceberg_io.iceberg_schema(pa.schema(arrow_schema))
    props = {iceberg_io.FINGERPRINT_KEY: job.fingerprint, "materia.run_id": run_id}
    appending = job.out.replace_from is not None and job.published is not None
    if job.table is None:
        tx = cat.create_table_transaction((ns, name), schema=schema)
    else:
        table = iceberg_io.reset_to(job.table, job.published.snapshot_id if job.published else None)
        tx = table.transaction()
        iceberg_io.evolve_schema(tx, schema, replacing_all=not appending)
        if table.current_snapshot() is not None:
            predicate = (
                GreaterThanOrEqual("release_month", job.out.replace_from.isoformat())
                if appending
                else AlwaysTrue()
            )
            if not appending or job.deleted:
                iceberg_io.delete_where(tx, predicate, props)
    nbytes = 0
    if job.rows:
        nbytes = local.stat().st_size
        path = iceberg_io.upload(tx, local, iceberg_io.table_location(tx))
        iceberg_io.add_files(tx, [path], props)
    committed = tx.commit_transaction()
    snap = committed.current_snapshot()
    if snap is None:  # a brand-new table with no rows: give it an (empty) first snapshot
        committed.append(pa.Table.from_batches([], schema=arrow_schema), props)
        committed = committed.refresh()
        snap = committed.current_snapshot()
    return TableRef(snap.snapshot_id, committed.metadata_location, job.total), nbytes


def _after(cat, ns: str, refs: dict[str, TableRef], outputs: list[Output], retention) -> None:
    """Retention and the namespace mirror; best effort (the run is already published)."""
    keep_before = datetime.now(UTC) - retention
    names = {o.name for o in outputs} | {publications.TABLE}
    for name in sorted(names):
        try:
            table = cat.load_table((ns, name))
            keep = {refs[name].snapshot_id} if name in refs else set()
            iceberg_io.expire(table, keep_before, keep)
        except Exception as e:  # noqa: BLE001 - never fail a published run on cleanup
            log.warning("retention of %s.%s skipped: %s", ns, name, first_line(e))
    for ident in cat.list_tables(ns):
        if ident[-1] not in names:
            log.warning("publish %s.%s: no longer a serving table, dropped", ns, ident[-1])
            cat.drop_table(ident)
