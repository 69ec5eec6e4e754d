"""Every pyiceberg call below the table API lives here, so a pyiceberg upgrade touches one
module: schema conversion and evolution, a table's layout (partition spec, sort order),
data files from Parquet files DuckDB wrote (with field ids), one overwrite snapshot,
tags, staging a table's next metadata file, committing several tables at once, and
expiring snapshots with their files.

Several tables commit as one (`commit_all`): the embedded SqlCatalog in one SQLite
transaction, a REST catalog through its multi-table commit (`POST …/transactions/commit`)
where it offers one; otherwise one table after the other, in the order given.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from pyiceberg.manifest import DataFile
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table, Transaction

log = logging.getLogger(__name__)

# Snapshot-summary key holding the content fingerprint; stored with the data it
# describes, so the comparison can never be out of step with the snapshot.
FINGERPRINT_KEY = "materia.fingerprint"
RUN_KEY = "materia.run_id"
TAG_PREFIX = "run-"  # every table's tag for a published run: run-<run id>


def iceberg_schema(arrow_schema: pa.Schema) -> Schema:
    from pyiceberg.catalog import Catalog

    return Catalog._convert_schema_if_needed(arrow_schema)


def _shape(schema: Schema) -> list[tuple[str, str]]:
    return [(f.name, str(f.field_type)) for f in schema.fields]


def evolve_schema(tx: Transaction, new: Schema, replacing_all: bool) -> None:
    """Make the table's schema match `new` (names, types, order) inside `tx`.

    When every data file is replaced in the same commit, incompatible changes are safe:
    a column whose type changed is dropped and added again. Otherwise only compatible
    changes (new columns, widening) are allowed and anything else is an error.
    """
    old = tx.table_metadata.schema()
    if _shape(old) == _shape(new):
        return
    wanted = dict(_shape(new))
    stale = [f.name for f in old.fields if wanted.get(f.name) != str(f.field_type)]
    if stale and replacing_all:
        _unlayout(tx, set(stale))
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


def _unlayout(tx: Transaction, columns: set[str]) -> None:
    """Stop sorting and partitioning by `columns` (about to be dropped and added again)."""
    meta = tx.table_metadata
    name = meta.schema().find_column_name
    if columns & {name(f.source_id) for f in meta.sort_order().fields}:
        with tx.update_sort_order():
            pass  # no fields: unsorted, until set_layout sorts again
    if columns & {name(f.source_id) for f in meta.spec().fields}:
        with tx.update_spec() as up:
            for f in meta.spec().fields:
                up.remove_field(f.name)


def field_ids(tx: Transaction) -> dict[str, int]:
    """Column name → Iceberg field id, as the table's schema has it in `tx`."""
    return {f.name: f.field_id for f in tx.table_metadata.schema().fields}


# --- layout: partitioning by a month column, sorting -------------------------------------
def create_table(
    cat: Catalog,
    ident: tuple[str, str],
    schema: Schema,
    partition_by: str | None,
    sort_by: list[str],
) -> Table:
    """An empty table (no snapshot: nothing for readers) laid out for its data, created
    in one commit."""
    tx = cat.create_table_transaction(ident, schema=schema)
    set_layout(tx, partition_by, sort_by)
    return tx.commit_transaction()


def set_layout(tx: Transaction, partition_by: str | None, sort_by: list[str]) -> None:
    """Identity-partition on `partition_by` (one file per value, so a value's rows are
    replaced by whole files) and sort by it then `sort_by` (neither: unsorted), if the
    table is not yet."""
    from pyiceberg.transforms import IdentityTransform

    meta = tx.table_metadata
    wanted = [partition_by] if partition_by else []
    spec = [meta.schema().find_column_name(f.source_id) for f in meta.spec().fields]
    if spec != wanted:
        with tx.update_spec() as up:
            for f in meta.spec().fields:
                up.remove_field(f.name)
            for column in wanted:
                up.add_identity(column)
    order = [c for c in [*wanted, *sort_by] if c in field_ids(tx)]
    current = [meta.schema().find_column_name(f.source_id) for f in meta.sort_order().fields]
    if current != order:
        with tx.update_sort_order() as up:  # no fields: unsorted
            for column in order:
                up.asc(column, IdentityTransform())


# --- data files --------------------------------------------------------------------------
def table_location(tx: Transaction) -> str:
    return tx.table_metadata.location


def upload(tx: Transaction, local: Path) -> str:
    """Copy a finished local Parquet file to `<table>/data/`; its URI there."""
    dest = f"{table_location(tx).rstrip('/')}/data/{uuid.uuid4().hex}.parquet"
    out = tx._table.io.new_output(dest)
    with open(local, "rb") as src, out.create(overwrite=False) as sink:
        while chunk := src.read(8 << 20):
            sink.write(chunk)
    return dest


def data_file(tx: Transaction, local: Path, remote: str) -> DataFile:
    """The data-file entry for `remote` (a copy of `local`, written with the table's field
    ids): statistics and partition value read from the local file's footer."""
    import pyarrow.parquet as pq
    from pyiceberg.io.pyarrow import (
        compute_statistics_plan,
        data_file_statistics_from_parquet_metadata,
        parquet_path_to_id_mapping,
    )
    from pyiceberg.manifest import DataFile, DataFileContent, FileFormat

    meta = tx.table_metadata
    schema = meta.schema()
    stats = data_file_statistics_from_parquet_metadata(
        parquet_metadata=pq.read_metadata(local),
        stats_columns=compute_statistics_plan(schema, meta.properties),
        parquet_column_mapping=parquet_path_to_id_mapping(schema),
    )
    return DataFile.from_args(
        content=DataFileContent.DATA,
        file_path=remote,
        file_format=FileFormat.PARQUET,
        partition=stats.partition(meta.spec(), schema),
        file_size_in_bytes=local.stat().st_size,
        sort_order_id=meta.default_sort_order_id,
        spec_id=meta.default_spec_id,
        equality_ids=None,
        key_metadata=None,
        **stats.to_serialized_dict(),
    )


def live_files(tx: Transaction) -> list[DataFile]:
    """The data files of the table's current snapshot (in `tx`)."""
    meta = tx.table_metadata
    snap = meta.current_snapshot()
    if snap is None:
        return []
    io = tx._table.io
    return [
        e.data_file
        for m in snap.manifests(io)
        for e in m.fetch_manifest_entry(io, discard_deleted=True)
    ]


def partition_date(f: DataFile):
    """The first partition value of a data file as a date (None: unpartitioned)."""
    from datetime import date, timedelta

    if not len(f.partition):
        return None
    days = f.partition[0]
    return date(1970, 1, 1) + timedelta(days=days) if isinstance(days, int) else days


def overwrite(tx: Transaction, deleted: list[DataFile], added: list[DataFile], props: dict) -> int:
    """One snapshot that removes `deleted` and adds `added` (Iceberg's overwrite; an
    append when nothing is removed); its id."""
    producer = tx.update_snapshot(snapshot_properties=props)
    with producer.overwrite() if deleted else producer.fast_append() as op:
        for f in deleted:
            op.delete_data_file(f)
        for f in added:
            op.append_data_file(f)
    return tx.table_metadata.current_snapshot().snapshot_id


def tag(tx: Transaction, snapshot_id: int, name: str) -> None:
    from pyiceberg.table.update.snapshot import ManageSnapshots

    ManageSnapshots(tx).create_tag(snapshot_id=snapshot_id, tag_name=name).commit()


def current_snapshot_id(tx: Transaction) -> int | None:
    snap = tx.table_metadata.current_snapshot()
    return snap.snapshot_id if snap else None


def fingerprint_of(table: Table, snapshot_id: int | None) -> str | None:
    snap = table.snapshot_by_id(snapshot_id) if snapshot_id is not None else None
    if snap is None or snap.summary is None:
        return None
    return snap.summary.additional_properties.get(FINGERPRINT_KEY)


def reset_to(table: Table, snapshot_id: int | None) -> Table:
    """Point `main` back at `snapshot_id` (what readers were last given), dropping what a
    run committed table by table (a catalog without multi-table commits) before it died."""
    current = table.current_snapshot()
    if snapshot_id is None or (current is not None and current.snapshot_id == snapshot_id):
        return table
    log.warning(
        "%s: resetting to published snapshot %s (leftover %s from an unfinished run)",
        ".".join(table.name()),
        snapshot_id,
        current.snapshot_id if current else None,
    )
    table.manage_snapshots().set_current_snapshot(snapshot_id=snapshot_id).commit()
    return table.refresh()


# --- committing ----------------------------------------------------------------------------
def stage(table: Table, tx: Transaction) -> tuple[object, str]:
    """The table's next metadata (`tx` applied) and a new file for it, written now: the
    file a publication names for engines that read one (it is also what the embedded
    catalog commits to)."""
    from pyiceberg.serializers import ToOutputFile
    from pyiceberg.table.locations import load_location_provider
    from pyiceberg.table.update import update_table_metadata

    meta = update_table_metadata(
        table.metadata, tx._updates, metadata_location=table.metadata_location
    )
    found = re.match(
        r"(\d+)-[0-9a-f-]{36}\.metadata\.json$", table.metadata_location.rsplit("/")[-1]
    )
    version = int(found[1]) + 1 if found else 0
    provider = load_location_provider(meta.location, meta.properties)
    location = provider.new_table_metadata_file_location(version)
    ToOutputFile.table_metadata(meta, table.io.new_output(location))
    return meta, location


def commit_all(cat: Catalog, changes: list[tuple[Table, Transaction, str]]) -> str:
    """Commit every (table, transaction, staged metadata file) as one, where the catalog
    can; how it went: "atomic" or "one by one" (in the order given)."""
    from pyiceberg.catalog.rest import RestCatalog
    from pyiceberg.catalog.sql import SqlCatalog

    changes = [c for c in changes if c[1]._updates]
    if isinstance(cat, SqlCatalog):
        _commit_sql(cat, changes)
        return "atomic"
    if isinstance(cat, RestCatalog) and _commit_rest(cat, changes):
        return "atomic"
    for _, tx, _ in changes:
        tx.commit_transaction()
    return "one by one"


def _commit_sql(cat, changes) -> None:
    """Every table's pointer moves to its staged file in one SQLite transaction, each
    only if nobody moved it since it was loaded."""
    from pyiceberg.catalog.sql import IcebergTables
    from pyiceberg.exceptions import CommitFailedException
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    with Session(cat.engine) as session:
        for table, _, location in changes:
            ns, name = table.name()[-2], table.name()[-1]
            done = session.execute(
                update(IcebergTables)
                .where(
                    IcebergTables.catalog_name == cat.name,
                    IcebergTables.table_namespace == ns,
                    IcebergTables.table_name == name,
                    IcebergTables.metadata_location == table.metadata_location,
                )
                .values(
                    metadata_location=location, previous_metadata_location=table.metadata_location
                )
            )
            if done.rowcount < 1:
                session.rollback()
                raise CommitFailedException(f"{ns}.{name} was changed by another process")
        session.commit()


def _commit_rest(cat, changes) -> bool:
    """The REST catalog's multi-table commit; False when the catalog does not offer it."""
    from pyiceberg.catalog.rest import CommitTableRequest, TableIdentifier
    from pyiceberg.exceptions import CommitFailedException

    body = {
        "table-changes": [
            json.loads(
                CommitTableRequest(
                    identifier=TableIdentifier(namespace=t.name()[:-1], name=t.name()[-1]),
                    requirements=tx._requirements,
                    updates=tx._updates,
                ).model_dump_json()
            )
            for t, tx, _ in changes
        ]
    }
    response = cat._session.post(cat.url("transactions/commit"), json=body)
    if response.status_code in (404, 405, 406, 501):
        log.info("the REST catalog has no multi-table commit (%s)", response.status_code)
        return False
    if response.status_code == 409:
        raise CommitFailedException(response.text[:300])
    response.raise_for_status()
    return True


# --- retention -----------------------------------------------------------------------------
def files_of(table: Table, snapshot_ids: Iterable[int]) -> set[str]:
    """Data files, manifests and manifest lists reachable from these snapshots."""
    io = table.io
    out: set[str] = set()
    for sid in snapshot_ids:
        snap = table.snapshot_by_id(sid)
        if snap is None:
            continue
        out.add(snap.manifest_list)
        for manifest in snap.manifests(io):
            out.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(io, discard_deleted=True):
                out.add(entry.data_file.file_path)
    return out


def expire(table: Table, snapshot_ids: set[int], tags: list[str]) -> Table:
    """Remove `tags`, then expire `snapshot_ids` (never a branch head), in one commit."""
    from pyiceberg.table.update.snapshot import ExpireSnapshots, ManageSnapshots

    tx = table.transaction()
    if tags:
        ms = ManageSnapshots(tx)
        for name in tags:
            ms.remove_tag(name)
        ms.commit()
    heads = {r.snapshot_id for r in tx.table_metadata.refs.values()}
    doomed = sorted(snapshot_ids - heads)
    if doomed:
        ExpireSnapshots(tx).by_ids(doomed).commit()
    return tx.commit_transaction() if tx._updates else table


def tags_of(table: Table) -> dict[str, int]:
    """The table's `run-<id>` tags: name → snapshot id."""
    return {
        name: ref.snapshot_id
        for name, ref in table.metadata.refs.items()
        if name.startswith(TAG_PREFIX)
    }


def delete(table: Table, paths: Iterable[str]) -> None:
    """Delete files (one already gone is no trouble: an earlier cleanup got it)."""
    for path in sorted(paths):
        try:
            table.io.delete(path)
        except FileNotFoundError:
            continue
        except OSError as e:
            if "No such file" in str(e) or "NoSuchKey" in str(e):
                continue
            log.warning("retention: could not delete %s: %s", path, e)
