"""Retention keyed on publications: what a reader may still be reading stays.

A publication's snapshots (and the metadata files it names) stay readable while it is
the newest, and for `MATERIA_SNAPSHOT_RETENTION_DAYS` after the run that superseded it:
a reader that opened a run just before the next one was published has that long to
finish, however old the run itself was. Everything else is expired after each publish:
snapshots no kept publication names (with the files only they reference), the
`run-<id>` tags of runs no longer kept, and old metadata files. Best effort: the run is
already published when this runs, so a failure here is a warning, never an error.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from materia.core.errors import first_line
from materia.lakehouse import iceberg_io, publications
from materia.lakehouse.publications import Publication

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

log = logging.getLogger(__name__)


def kept(runs: list[Publication], period: timedelta, now: datetime) -> list[Publication]:
    """The newest run, and every run superseded less than `period` ago."""
    out = runs[-1:]
    for run, successor in zip(runs, runs[1:], strict=False):
        if now - successor.published_at < period:
            out.append(run)
    return sorted(out, key=lambda p: p.sequence)


def after_publish(
    cat: Catalog, ns: str, tables: set[str], retention_period: timedelta, superseded: set[str]
) -> None:
    """Drop the tables the run no longer publishes, then expire, and delete the metadata
    files the run's commit superseded that no kept publication names (best effort)."""
    for ident in cat.list_tables(ns):
        if ident[-1] not in tables | {publications.TABLE}:
            log.warning("publish %s.%s: no longer a published table, dropped", ns, ident[-1])
            try:
                cat.drop_table(ident)
            except Exception as e:  # noqa: BLE001 - the run is published
                log.warning("could not drop %s.%s: %s", ns, ident[-1], first_line(e))
    try:
        expire(cat, ns, retention_period, publications.clock(), superseded)
    except Exception as e:  # noqa: BLE001 - never fail a published run on cleanup
        log.warning("retention of %s skipped: %s", ns, first_line(e))


def expire(
    cat: Catalog, ns: str, period: timedelta, now: datetime, superseded: set[str] = frozenset()
) -> dict[str, int]:
    """Expire in every table of `ns` what no kept publication names; table → snapshots
    expired. Metadata files go as they are superseded (`superseded`: by the run's commit;
    here, by the expiry's own), or when the last publication naming one expires."""
    runs = publications.runs(publications.rows_of(publications.load(cat, ns)))
    if not runs:
        return {}
    keep = kept(runs, period, now)
    keep_runs = {p.run_id for p in keep}
    keep_files = {ref.metadata_location for p in keep for ref in p.tables.values()}
    old_files = {r.metadata_location for p in runs for r in p.tables.values()} - keep_files
    old_files |= set(superseded) - keep_files
    done = {}
    for ident in cat.list_tables(ns):
        name = ident[-1]
        try:
            done[name] = _expire_table(cat, ident, keep, keep_runs, keep_files, old_files)
        except Exception as e:  # noqa: BLE001 - one table's trouble must not stop the rest
            log.warning("retention of %s.%s skipped: %s", ns, name, first_line(e))
    return done


def _expire_table(cat, ident, keep, keep_runs, keep_files, old_files) -> int:
    table = cat.load_table(ident)
    name = ident[-1]
    current = table.current_snapshot()
    if name == publications.TABLE:  # the log's own snapshots: one per run
        wanted = {
            s.snapshot_id
            for s in table.snapshots()
            if s.summary and s.summary.additional_properties.get(iceberg_io.RUN_KEY) in keep_runs
        }
    else:
        wanted = {p.tables[name].snapshot_id for p in keep if name in p.tables}
    wanted |= {current.snapshot_id} if current else set()
    every = {s.snapshot_id for s in table.snapshots()}
    doomed = every - wanted
    tags = [
        t for t in iceberg_io.tags_of(table) if t[len(iceberg_io.TAG_PREFIX) :] not in keep_runs
    ]
    unused = set()
    if doomed:
        unused = iceberg_io.files_of(table, doomed) - iceberg_io.files_of(table, every - doomed)
    before = table.metadata_location
    if doomed or tags:
        table = iceberg_io.expire(table, doomed, tags)
    # After the commit: no reader can be sent to them any more.
    location = table.metadata.location.rstrip("/") + "/"
    stale = {f for f in old_files if f.startswith(location)}
    if table.metadata_location != before:
        stale.add(before)
    iceberg_io.delete(table, unused | (stale - keep_files - {table.metadata_location}))
    return len(doomed)
