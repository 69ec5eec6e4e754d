"""Retention keyed on publications: every snapshot a publication names stays readable
until that publication has been superseded for the retention period, however old the
run itself is; a reader that opened a run keeps reading it across the next publish and
its expiry. (Keyed on the snapshots' own age, run 1 published ten days ago was deleted
the moment run 2 was published: `IO Error: Cannot open file …`.)"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from materia.lakehouse import duck, publications
from materia.lakehouse.publish import Output, publish
from testsupport.lakehouse import published

WEEK = timedelta(days=7)


def _run(value: float) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA run")
    con.execute(f"CREATE TABLE run.t AS SELECT range AS k, range * {value} AS v FROM range(100)")
    return con


def _publish(settings, value: float):
    return publish(settings, "prod", _run(value), [Output("t", "run.t", "k")], {}, retention=WEEK)


@pytest.fixture
def clock(monkeypatch):
    """Publication times and retention follow `clock.now`, moved by the test."""
    real = publications.clock

    class Clock:
        offset = timedelta(0)

        def __call__(self):
            return real() + self.offset

    c = Clock()
    monkeypatch.setattr(publications, "clock", c)
    return c


def test_a_reader_keeps_its_run_across_a_publish_and_an_expiry(local_settings, clock):
    clock.offset = -timedelta(days=10)  # run 1 is ten days old when run 2 supersedes it
    run1 = _publish(local_settings, 1.0).publication.tables["t"]
    # A reader opens run 1: the files its scan will read are planned now, read later.
    table = published.local_catalog(local_settings.home).load_table("serving.t")
    reader = table.scan(snapshot_id=run1.snapshot_id)
    tasks = list(reader.plan_files())
    clock.offset = timedelta(0)
    run2 = _publish(local_settings, 2.0).publication.tables["t"]  # expiry runs here
    from pyiceberg.io.pyarrow import ArrowScan

    rows = ArrowScan(table.metadata, table.io, table.schema(), reader.row_filter).to_table(tasks)
    assert sorted(rows.column("v").to_pylist())[-1] == 99.0  # run 1's rows, all there
    con = duckdb.connect()
    duck.load_extensions(con, local_settings)
    assert con.execute(
        f"SELECT max(v) FROM {duck.scan_sql(run1.metadata_location, run1.snapshot_id)}"
    ).fetchone() == (99.0,)

    # A week and a day after run 2 superseded it, the next publish expires run 1 with its
    # files; run 2, superseded just now, stays.
    clock.offset = WEEK + timedelta(days=1)
    _publish(local_settings, 3.0)
    table = published.local_catalog(local_settings.home).load_table("serving.t")
    assert table.snapshot_by_id(run1.snapshot_id) is None
    assert not any(
        (local_settings.lakehouse_dir / p.file.file_path.split("/lakehouse/", 1)[1]).exists()
        for p in tasks
    )
    assert not (
        local_settings.lakehouse_dir / run1.metadata_location.split("/lakehouse/", 1)[1]
    ).exists()
    assert con.execute(
        f"SELECT max(v) FROM {duck.scan_sql(run2.metadata_location, run2.snapshot_id)}"
    ).fetchone() == (198.0,)
    assert f"run-{_run_id(local_settings, 1)}" not in {
        ref for ref in table.metadata.refs
    }  # run 1's tag went with it


def _run_id(settings, sequence: int) -> str:
    cat = published.local_catalog(settings.home)
    rows = publications.rows_of(cat.load_table("serving.publications"))
    return next(r["run_id"] for r in rows if r["sequence"] == sequence)


def test_the_newest_run_is_kept_however_old(local_settings, clock):
    clock.offset = -timedelta(days=30)
    first = _publish(local_settings, 1.0).publication
    clock.offset = timedelta(0)
    second = _publish(local_settings, 1.0).publication  # the same rows: no new snapshot
    assert second.tables["t"].snapshot_id == first.tables["t"].snapshot_id
    table = published.local_catalog(local_settings.home).load_table("serving.t")
    assert table.snapshot_by_id(first.tables["t"].snapshot_id) is not None
    assert published.read(published.local_catalog(local_settings.home), "t")
