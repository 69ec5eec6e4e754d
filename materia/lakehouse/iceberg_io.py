"""Every pyiceberg call below the table API lives here, so a pyiceberg upgrade touches one
module: schema conversion, schema evolution, resetting a table to a snapshot, adding
Parquet files DuckDB wrote, and expiring old snapshots together with their files.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table, Transaction

log = logging.getLogger(__name__)

# Snapshot-summary key holding the content fingerprint; stored with the data it
# describes, so the comparison can never be out of step with the snapshot.
FINGERPRINT_KEY = "materia.fingerprint"


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


def reset_to(table: Table, snapshot_id: int | None) -> Table:
    """Point `main` back at `snapshot_id` (what readers were last given), dropping what a
    run that died before its publication commit had added on top."""
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


def data_file_path(table_location: str) -> str:
    return f"{table_location.rstrip('/')}/data/{uuid.uuid4().hex}.parquet"


def upload(table: Table | Transaction, local: Path, location: str) -> str:
    """Copy a finished local Parquet file to `<table>/data/`; its URI there."""
    io = table._table.io if hasattr(table, "_table") else table.io
    dest = data_file_path(location)
    out = io.new_output(dest)
    with open(local, "rb") as src, out.create(overwrite=False) as sink:
        while chunk := src.read(8 << 20):
            sink.write(chunk)
    return dest


def add_files(tx: Transaction, paths: list[str], props: dict[str, str]) -> None:
    """Register Parquet files (matched to the schema by column name) in `tx`."""
    if paths:
        tx.add_files(paths, snapshot_properties=props, check_duplicate_files=False)


def delete_where(tx: Transaction, predicate: BooleanExpression, props: dict[str, str]) -> None:
    tx.delete(predicate, snapshot_properties=props)


def fingerprint_of(table: Table, snapshot_id: int | None) -> str | None:
    snap = table.snapshot_by_id(snapshot_id) if snapshot_id is not None else None
    if snap is None or snap.summary is None:
        return None
    return snap.summary.additional_properties.get(FINGERPRINT_KEY)


def table_location(tx: Transaction) -> str:
    return tx.table_metadata.location


def create_table(cat: Catalog, ident: tuple[str, str], schema: Schema) -> Table:
    return cat.create_table(ident, schema=schema)


# --- retention ---------------------------------------------------------------------------
def _files_of(table: Table, snapshot_ids: Iterable[int]) -> set[str]:
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


def expire(table: Table, older_than: datetime, keep: set[int]) -> int:
    """Expire snapshots older than `older_than` (never one in `keep` or the current one)
    and delete the files only they referenced; the number of snapshots expired."""
    current = table.current_snapshot()
    keep = set(keep) | ({current.snapshot_id} if current else set())
    cutoff = older_than.timestamp() * 1000
    old = [
        s.snapshot_id
        for s in table.snapshots()
        if s.timestamp_ms < cutoff and s.snapshot_id not in keep
    ]
    if not old:
        return 0
    remaining = [s.snapshot_id for s in table.snapshots() if s.snapshot_id not in set(old)]
    doomed = _files_of(table, old) - _files_of(table, remaining)
    table.maintenance.expire_snapshots().by_ids(old).commit()
    for path in sorted(doomed):  # after the commit: no reader can be sent to them any more
        try:
            table.io.delete(path)
        except (FileNotFoundError, OSError) as e:
            log.warning("retention: could not delete %s: %s", path, e)
    return len(old)
