"""Publish a run's tables to the environment's Iceberg namespace, all or nothing, for
readers of the publication log and for readers of table heads alike.

1. Measure every output in DuckDB (row count, content fingerprint) and check the plan
   against what is published (`guard`): nothing is written before all of it passes.
2. For each changed table, DuckDB writes Parquet carrying the table's field ids (a
   table with a history column, the vintages: one file per release month, the table
   partitioned by it), and one Iceberg snapshot swaps the files in: an overwrite that
   removes the replaced files (all of them, or the months the run recomputed) and adds
   the new ones, or an append when nothing is replaced. Unchanged tables get no new
   snapshot. Every table, changed or not, gets the tag `run-<run id>`.
3. The run is appended to `publications`, and every table's change is committed with it
   in one commit where the catalog can (`iceberg_io.commit_all`): the embedded catalog
   and a REST catalog with multi-table commits; otherwise table by table, the log last.
   Nothing before that commit is visible anywhere (only unreferenced files remain).
4. Expire what no kept publication names (`retention`).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from materia.core import failpoints, scratch
from materia.core.errors import MateriaError, first_line
from materia.core.settings import Settings
from materia.core.target import Target
from materia.lakehouse import catalogs as cat_mod
from materia.lakehouse import duck, guard, iceberg_io, publications
from materia.lakehouse import retention as retention_mod
from materia.lakehouse.publications import Publication, TableRef

if TYPE_CHECKING:
    import duckdb
    from pyiceberg.table import Table, Transaction

log = logging.getLogger(__name__)

# Bump when the fingerprint recipe changes: every table then republishes once.
_FINGERPRINT_VERSION = "2"
SORTED_ROWS = 1_000_000  # a table with more rows is written unsorted (`_sort_by`)
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
    """One table of a run: `relation` in the DuckDB connection.

    `partition_by`: a history column (the vintages' release_month): the table is
    partitioned by it, and with `replace_from` only the rows from that value on are
    replaced (the run recomputed those months), older ones kept.
    """

    name: str
    relation: str
    order_by: str = ""
    replace_from: date | None = None
    partition_by: str | None = None


@dataclass
class Published:
    publication: Publication
    changed: dict[str, int | None] = field(default_factory=dict)  # table → new snapshot id
    appended_rows: dict[str, int] = field(default_factory=dict)
    bytes_written: dict[str, int] = field(default_factory=dict)
    allowed: list[str] = field(default_factory=list)  # collapses --allow-shrink let through
    commit: str = ""  # "atomic" or "one by one"

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
    deleted: int = 0  # published rows the run replaces
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


def _months(con, ref: TableRef, column: str) -> dict[date, int]:
    sql = f'SELECT "{column}", count(*) FROM {duck.scan_sql(ref.metadata_location, ref.snapshot_id)} GROUP BY 1'
    return dict(con.execute(sql).fetchall())


def publish(
    settings: Settings,
    env: Target,
    con: duckdb.DuckDBPyConnection,
    outputs: list[Output],
    inputs: dict,
    *,
    tables: list[str] | None = None,
    withdrawn_months: set[date] | dict[str, set[date]] = frozenset(),
    allow_shrink: bool = False,
    before_commit: Callable[[], None] = lambda: None,
    retention: timedelta = timedelta(days=7),
) -> Published:
    """Publish `outputs` as one run of `env` (see the module doc); MateriaError if the plan
    fails the guard or a write fails (readers then stay on the previous run). `tables`:
    every table of the run (default: the outputs'); a published table not among them is
    carried over unchanged when the run did not recompute it. `withdrawn_months`: the
    release months a history table may lose (no archive of its source left), per table
    or the same for every table."""
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

    jobs, allowed = _plan(
        settings, cat, ns, con, outputs, prev, pub_table, withdrawn_months, allow_shrink
    )
    if allowed:  # an allowed shrink starts the guard's new baseline
        inputs = {**inputs, guard.SHRINK_ALLOWED: allowed}
    failpoints.hit("publish:checked")
    run_id = publications.new_run_id()
    result = Published(publication=prev, allowed=allowed)  # type: ignore[arg-type]
    names = set(tables or [o.name for o in outputs]) | {j.out.name for j in jobs}
    carried = {n: r for n, r in (prev.tables if prev else {}).items() if n in names}
    try:
        staged, refs = _stage_all(cat, ns, con, jobs, carried, run_id, settings, result)
        pub_table = pub_table or cat.create_table((ns, publications.TABLE), publications.schema())
        sequence = (prev.sequence + 1) if prev else 1
        pub_tx, recorded = publications.stage(pub_table, run_id, sequence, refs, inputs)
        _, location = iceberg_io.stage(pub_table, pub_tx)
        staged.append((pub_table, pub_tx, location))
    except MateriaError:
        raise
    except Exception as e:
        raise MateriaError(
            f"publishing to {ns} in {where} failed (readers keep the previous run): {first_line(e)}"
        ) from e

    # the commit readers follow: every table and the log at once where the catalog can
    failpoints.hit("publish:before-commit")
    before_commit()
    try:
        result.commit = iceberg_io.commit_all(cat, staged)
    except Exception as e:
        raise MateriaError(
            f"committing run {run_id} to {ns} in {where} failed (readers keep the previous "
            f"run): {first_line(e)}"
        ) from e
    result.publication = recorded
    failpoints.hit("publish:after-commit")
    superseded = {t.metadata_location for t, _, _ in staged}
    retention_mod.after_publish(cat, ns, set(refs), retention, superseded)
    return result


def _plan(
    settings, cat, ns, con, outputs, prev, pub_table, withdrawn_months, allow_shrink
) -> tuple[list[_Job], list[str]]:
    """Measure every output and check the plan (nothing is written before); the jobs, and
    what --allow-shrink let through."""
    from pyiceberg.exceptions import NoSuchTableError

    jobs = [_measure(con, out) for out in outputs]
    if not isinstance(withdrawn_months, dict):  # the same months for every table
        withdrawn_months = {o.name: set(withdrawn_months) for o in outputs}
    plan = guard.Planned(rows={}, withdrawn_months=withdrawn_months)
    plan.baseline = guard.baseline_of(pub_table)  # the most rows of recent runs
    duck.load_extensions(con, settings)
    for job in jobs:
        out = job.out
        job.published = prev.tables.get(out.name) if prev else None
        try:
            job.table = cat.load_table((ns, out.name))
        except NoSuchTableError:
            job.table = None
        if job.table is not None and job.published is not None:  # a run that died half way
            job.table = iceberg_io.reset_to(job.table, job.published.snapshot_id)
        if job.published is not None:
            plan.published_rows[out.name] = job.published.rows
        if out.partition_by and job.published is not None and out.replace_from is not None:
            months = _months(con, job.published, out.partition_by)
            plan.vintage_months_now[out.name] = set(months)
            kept = {m: n for m, n in months.items() if m < out.replace_from}
            job.deleted = job.published.rows - sum(kept.values())
            new = con.execute(
                f'SELECT DISTINCT "{out.partition_by}" FROM {out.relation}'
            ).fetchall()
            plan.vintage_months_after[out.name] = set(kept) | {r[0] for r in new}
            job.total = job.published.rows - job.deleted + job.rows
            job.changed = bool(job.rows or job.deleted)
        else:
            job.deleted = job.published.rows if job.published else 0
            job.total = job.rows
            job.changed = (
                job.table is None
                or job.published is None
                or iceberg_io.fingerprint_of(job.table, job.published.snapshot_id)
                != job.fingerprint
            )
        plan.rows[out.name] = job.total
    return jobs, guard.check(plan, allow_shrink)


def _stage_all(cat, ns, con, jobs, carried, run_id, settings, result):
    """Every table's change staged (files written, snapshot and tag in a transaction, its
    next metadata file written), nothing committed; (staged, refs of the run)."""
    from pyiceberg.exceptions import NoSuchTableError

    refs: dict[str, TableRef] = dict(carried)
    staged: list[tuple[Table, Transaction, str]] = []
    changed = [j for j in jobs if j.changed]
    txs = {j.out.name: _begin(cat, ns, con, j) for j in changed}
    settings.tmp_dir.mkdir(parents=True, exist_ok=True)
    # named after this process, so a killed run's folder is cleaned by the next
    with tempfile.TemporaryDirectory(prefix=scratch.prefix("publish"), dir=settings.tmp_dir) as td:
        exported = _export(changed, txs, con, Path(td))
        for job in changed:
            name = job.out.name
            files = _exported(exported, job, txs[name], con, Path(td))
            table, tx = job.table, txs[name]
            ref, nbytes = _write(table, tx, job, files, run_id)
            refs[name] = ref
            result.changed[name] = ref.snapshot_id
            result.appended_rows[name] = job.rows
            result.bytes_written[name] = nbytes
            staged.append((table, tx, ref.metadata_location))
            failpoints.hit(f"publish:after:{name}")
            log.info("publish %s.%s: %d rows, snapshot %s", ns, name, job.rows, ref.snapshot_id)
    for name, ref in sorted(carried.items()):
        if name in result.changed:
            continue
        result.changed[name] = None
        try:
            table = cat.load_table((ns, name))
        except NoSuchTableError:
            raise MateriaError(f"{ns}.{name} is gone, but the publication names it") from None
        tx = table.transaction()
        iceberg_io.tag(tx, ref.snapshot_id, f"{iceberg_io.TAG_PREFIX}{run_id}")
        staged.append((table, tx, iceberg_io.stage(table, tx)[1]))
    return staged, refs


def _begin(cat, ns, con, job: _Job) -> Transaction:
    """The table (created, empty, if new) and a transaction with its schema and layout."""
    import pyarrow as pa

    out = job.out
    schema = iceberg_io.iceberg_schema(
        pa.schema(con.execute(f"{job.select} LIMIT 0").arrow().schema)
    )
    sort = _sort_by(job)
    if job.table is None:
        job.table = iceberg_io.create_table(cat, (ns, out.name), schema, out.partition_by, sort)
    tx = job.table.transaction()
    appending = out.replace_from is not None and job.published is not None
    iceberg_io.evolve_schema(tx, schema, replacing_all=not appending)
    iceberg_io.set_layout(tx, out.partition_by, sort)
    return tx


def _sort_by(job: _Job) -> list[str]:
    """The columns a table's files are sorted by: its grain, unless it is long. A long
    table's rows are written in the order the run computed them (a sort of its ~2M wide
    rows cost 1.5-2 s of a release's 4 s publish); they arrive in the order of the
    archives, which USDA groups by commodity, so a reader's filter on a commodity still
    skips most row groups. A partitioned table is sorted by its partition column (the
    table says so), which each of its files holds one value of anyway."""
    if job.rows > SORTED_ROWS:
        return []
    return [c.strip() for c in job.out.order_by.split(",") if c.strip()]


def _export(jobs: list[_Job], txs: dict, con, scratch: Path) -> dict[str, Future]:
    """Every changed table as local Parquet files, two tables at a time on their own
    cursors (DuckDB writes one file on one core); returns when all are done: table name
    → the future of its files (its exception, if that export failed)."""
    from concurrent.futures import ThreadPoolExecutor

    where = _where(con)
    ids = {j.out.name: iceberg_io.field_ids(txs[j.out.name]) for j in jobs}
    with ThreadPoolExecutor(2, thread_name_prefix="materia-export") as pool:
        return {
            j.out.name: pool.submit(_export_one, j, ids[j.out.name], con, where, scratch)
            for j in jobs
        }


def _exported(exported: dict[str, Future], job: _Job, tx, con, scratch: Path) -> list[Path]:
    """The table's Parquet files. Two sorts at once can outgrow the run's memory limit
    (rarely: it depends on how they interleave); then the table is exported again, alone
    (`_export` has returned, so no other export runs)."""
    import duckdb

    try:
        return exported[job.out.name].result()
    except duckdb.OutOfMemoryException:
        log.info("export of %s retried alone (memory)", job.out.name)
        return _export_one(job, iceberg_io.field_ids(tx), con, _where(con), scratch)


def _where(con) -> str:
    """`con`'s current database and schema (a new cursor starts in the default one)."""
    database, schema = con.execute("SELECT current_database(), current_schema()").fetchone()
    return f'"{database}"."{schema}"'


def _export_one(job: _Job, ids: dict[str, int], con, where: str, scratch: Path) -> list[Path]:
    """Parquet with the table's field ids (any engine matches columns by id); a table
    partitioned by a column gets one file per value of it."""
    out = job.out
    dest = scratch / out.name
    order = [c for c in ([out.partition_by] if out.partition_by else []) if c]
    order += _sort_by(job)
    order_sql = f" ORDER BY {', '.join(order)}" if order else ""
    field_ids = "{" + ", ".join(f'"{n}": {i}' for n, i in ids.items()) + "}"
    options = f"FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 100000, FIELD_IDS {field_ids}"
    if out.partition_by:
        options += f', PARTITION_BY ("{out.partition_by}"), WRITE_PARTITION_COLUMNS true'
    else:
        dest = dest.with_suffix(".parquet")
    cur = con.cursor()
    try:
        cur.execute(f"USE {where}")
        if job.rows:
            cur.execute(f"COPY ({job.select}{order_sql}) TO '{dest}' ({options})")
    finally:
        cur.close()
    if not job.rows:
        return []
    return sorted(dest.rglob("*.parquet")) if out.partition_by else [dest]


def _write(table, tx, job: _Job, files: list[Path], run_id: str) -> tuple[TableRef, int]:
    """Stage the table's new snapshot (files uploaded) and the run's tag; (ref, bytes)."""
    out = job.out
    props = {iceberg_io.FINGERPRINT_KEY: job.fingerprint, iceberg_io.RUN_KEY: run_id}
    live = iceberg_io.live_files(tx)
    if out.replace_from is not None and job.published is not None:
        months = {f.file_path: iceberg_io.partition_date(f) for f in live}
        if None in months.values():
            raise MateriaError(f"{out.name} has files not partitioned by {out.partition_by}")
        live = [f for f in live if months[f.file_path] >= out.replace_from]
    added = [iceberg_io.data_file(tx, f, iceberg_io.upload(tx, f)) for f in files]
    snapshot = iceberg_io.overwrite(tx, live, added, props)
    iceberg_io.tag(tx, snapshot, f"{iceberg_io.TAG_PREFIX}{run_id}")
    _, location = iceberg_io.stage(table, tx)
    return TableRef(snapshot, location, job.total), sum(f.stat().st_size for f in files)
