"""Iceberg tables any engine reads alike: field ids in every Parquet file, the vintages
partitioned by release month, a revision as one overwrite snapshot, a `run-<id>` tag per
published run on every table (pyiceberg, DuckDB and polars read the same rows at it),
table heads that are the last complete run, and old metadata files cleaned.

Real parts: the transform on generated releases, pyiceberg's SqlCatalog, SeaweedFS's
Iceberg REST catalog (its multi-table commit), DuckDB's iceberg_scan, polars.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from materia.core.storage import LandingStore
from materia.lakehouse import duck, iceberg_io, publications
from materia.transform import run as transform
from testsupport.lakehouse import published
from testsupport.psd import fixtures as fx

ALL = "psd_alldata_csv"
# polars plans with pyiceberg here (its own planner is another package): same rows.
pytestmark = pytest.mark.filterwarnings("ignore:Iceberg scan planning")
BR23 = ("0711100", "BR", 2023, "028")


def _land(settings, month: str, rows) -> None:
    fx.land(LandingStore.from_settings(settings), rows, month)


def _releases():
    r06 = fx.sample_rows("2022-06")
    r09 = fx.revise(r06, "2022-09", {BR23: 62000.0})
    return r06, r09, fx.revise(r09, "2022-12", {BR23: 62600.0})


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Run 1: 2022-06 and 2022-12. Run 2: 2022-09 lands late (a revision of history)."""
    from materia.core import settings as settings_mod

    tmp = tmp_path_factory.mktemp("iceberg")
    s = settings_mod.load({"MATERIA_HOME": str(tmp / "home")}, dotenv=tmp / "no.env")
    r06, r09, r12 = _releases()
    _land(s, "2022-06", r06)
    _land(s, "2022-12", r12)
    first = transform.run(s)
    _land(s, "2022-09", r09)
    second = transform.run(s)
    return s, first, second


def test_every_parquet_file_carries_the_tables_field_ids(two_runs):
    s, *_ = two_runs
    cat = published.local_catalog(s.home)
    for name in published.newest_run(cat):
        table = cat.load_table(f"serving.{name}")
        ids = {f.name: f.field_id for f in table.schema().fields}
        for task in table.scan().plan_files():
            schema = pq.read_schema(task.file.file_path.removeprefix("file://"))
            found = {f.name: int(f.metadata[b"PARQUET:field_id"]) for f in schema}
            assert found == ids, (name, task.file.file_path)


def test_vintages_are_partitioned_by_release_month_and_a_revision_is_one_overwrite(two_runs):
    s, first, second = two_runs
    table = published.local_catalog(s.home).load_table("serving.fct_psd_vintages")
    (field,) = table.spec().fields
    assert (table.schema().find_column_name(field.source_id), str(field.transform)) == (
        "release_month",
        "identity",
    )
    assert [table.schema().find_column_name(f.source_id) for f in table.sort_order().fields][0] == (
        "release_month"
    )
    months = {}
    for task in table.scan().plan_files():
        rows = pq.read_table(task.file.file_path.removeprefix("file://"))
        (month,) = set(rows.column("release_month").to_pylist())  # one month per file
        months[month.isoformat()] = task.file.record_count
    assert sorted(months) == ["2022-06-01", "2022-09-01", "2022-12-01"]
    # Run 2 recomputed 2022-09 on: one snapshot, an overwrite of 2022-12's file by two.
    mine = [
        snap
        for snap in table.snapshots()
        if snap.summary.additional_properties.get(iceberg_io.RUN_KEY) == second.run_id
    ]
    (snap,) = mine
    assert snap.summary.operation.value == "overwrite"
    assert snap.parent_snapshot_id == first.published["fct_psd_vintages"]
    assert (snap.summary["deleted-data-files"], snap.summary["added-data-files"]) == ("1", "2")


def test_every_table_is_tagged_per_run_and_engines_read_the_same_rows_at_a_tag(two_runs):
    s, first, second = two_runs
    cat = published.local_catalog(s.home)
    runs = published.newest_run(cat)
    con = duckdb.connect()
    duck.load_extensions(con, s)
    for name in [*runs, "publications"]:
        table = cat.load_table(f"serving.{name}")
        tags = iceberg_io.tags_of(table)
        assert {f"run-{first.run_id}", f"run-{second.run_id}"} <= set(tags), name
        for run in (first, second):
            tag = f"run-{run.run_id}"
            # Any engine: the tag's snapshot, as the table's metadata file names it.
            meta = json.loads(Path(table.metadata_location.removeprefix("file://")).read_text())
            snapshot = meta["refs"][tag]["snapshot-id"]
            assert snapshot == tags[tag]
            by_pyiceberg = table.scan(snapshot_id=snapshot).to_arrow().to_pylist()
            by_duckdb = _rows(con, duck.scan_sql(table.metadata_location, snapshot))
            by_polars = pl.scan_iceberg(table, snapshot_id=snapshot).collect().to_dicts()
            assert _sorted(by_pyiceberg) == _sorted(by_duckdb) == _sorted(by_polars), (name, tag)
    # The tag is the publication's snapshot of the run.
    vintages = cat.load_table("serving.fct_psd_vintages")
    assert iceberg_io.tags_of(vintages)[f"run-{second.run_id}"] == runs["fct_psd_vintages"]


def _rows(con, scan: str) -> list[dict]:
    cur = con.execute(f"SELECT * FROM {scan}")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _sorted(rows: list[dict]) -> list[tuple]:
    return sorted(tuple((k, str(v)) for k, v in sorted(r.items())) for r in rows)


def test_old_metadata_files_are_cleaned(two_runs):
    """A table's folder keeps its current metadata file and those its kept publications
    name (run 1 stays readable for a week after run 2 superseded it), nothing else: not
    the files of its creation, layout, tags or expiries."""
    s, *_ = two_runs
    cat = published.local_catalog(s.home)
    runs = publications.runs(publications.rows_of(publications.load(cat, "serving")))
    for name in [*published.newest_run(cat), "publications"]:
        table = cat.load_table(f"serving.{name}")
        folder = Path(table.metadata_location.removeprefix("file://")).parent
        files = {p.name for p in folder.glob("*.metadata.json")}
        named = {Path(p.tables[name].metadata_location).name for p in runs if name in p.tables}
        assert files <= named | {Path(table.metadata_location).name}, (name, files)
