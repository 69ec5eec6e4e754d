"""materia.transform.executor: the audits that end-to-end runs cannot reach on their own.

A negative production is stopped by the vintages' audit before the OBT is built, and no
loaded row can carry a NULL key; these audits guard the models against a future change
of their SQL, so each is shown to fire here, on the compiled project and a real DuckDB.
"""

from __future__ import annotations

import duckdb
import pytest

from materia.core import settings as settings_mod
from materia.transform import executor, sqlmesh_project

OBT = "serving.obt_commodity_metrics"
GOOD = {
    "commodity_code": "'0440000'",
    "country_code": "'US'",
    "market_year": "2022",
    "release_month": "DATE '2022-12-01'",
    "production": "348750.0",
    "yield": "10.8",
    "yield_unit": "'(MT/HA)'",
}


@pytest.fixture(scope="module")
def obt(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    settings = settings_mod.load(environ={"MATERIA_HOME": str(home)}, dotenv=home / "none")
    return sqlmesh_project.compiled(settings).model(OBT)


def _table(**bad: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS warehouse")
    con.execute("USE warehouse")
    con.execute("CREATE SCHEMA serving")
    # What obt_primary_only compares the OBT with (no breakdown rows here).
    con.execute(
        "CREATE TABLE serving.fct_psd_latest (commodity_code VARCHAR, country_code VARCHAR, "
        "market_year INTEGER, dataset VARCHAR, dataset_role VARCHAR)"
    )
    row = {**GOOD, **bad}
    con.execute(f"CREATE TABLE {OBT} AS SELECT " + ", ".join(f"{v} AS {k}" for k, v in row.items()))
    return con


def test_a_good_row_passes_every_audit(obt):
    executor.audit(_table(), obt)


@pytest.mark.parametrize(
    ("audit", "bad"),
    [
        ("no_negative_production_obt", {"production": "-1.0"}),
        ("not_null", {"country_code": "NULL::VARCHAR"}),
        ("yield_in_range", {"yield": "250.0"}),
    ],
)
def test_each_obt_audit_fires_on_the_row_that_breaks_it(obt, audit, bad):
    assert audit in {a.name for a in obt.audits}
    with pytest.raises(executor.AuditFailed) as failed:
        executor.audit(_table(**bad), obt)
    assert (failed.value.audit, failed.value.rows) == (audit, 1)
    assert f"audit {audit} failed on {OBT}: 1 row(s)" in str(failed.value)


def _held(con) -> int:
    return con.execute(
        "SELECT sum(memory_usage_bytes) FROM duckdb_memory() WHERE tag = 'IN_MEMORY_TABLE'"
    ).fetchone()[0]


def test_the_run_database_is_compressed_once_it_holds_more_than_the_threshold(monkeypatch):
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS warehouse (COMPRESS)")  # as materia.transform.inputs.connect
    con.execute("USE warehouse")
    con.execute("CREATE TABLE t AS SELECT range AS a, range % 7 AS b FROM range(2000000)")
    big, before = _held(con), con.execute("SELECT count(*), sum(b) FROM t").fetchone()
    monkeypatch.setattr(executor, "COMPRESS_AT", big + 1)
    executor.compress(con)
    assert _held(con) == big  # below the threshold: left as it is
    monkeypatch.setattr(executor, "COMPRESS_AT", big // 2)
    executor.compress(con)
    assert _held(con) < big // 2  # above: compressed
    assert con.execute("SELECT count(*), sum(b) FROM t").fetchone() == before
