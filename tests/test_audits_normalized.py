"""The audits key on normalized codes: whatever gets past the door (an archive landed by
hand under older rules, a model fed another way), no spelling of a code slips past them.

Run on the compiled project over a real DuckDB, like tests/test_executor.py."""

from __future__ import annotations

import duckdb
import pytest

from materia import executor, sqlmesh_project
from materia import settings as settings_mod

VINTAGES, LATEST = "serving.fct_psd_vintages", "serving.fct_psd_latest"
COLUMNS = (
    "commodity_code VARCHAR, country_code VARCHAR, market_year INTEGER, attribute_id VARCHAR, "
    "unit_id VARCHAR, unit_description VARCHAR, value DOUBLE, release_month DATE, "
    "calendar_year INTEGER, month VARCHAR"
)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    settings = settings_mod.load(environ={"MATERIA_HOME": str(home)}, dotenv=home / "none")
    return sqlmesh_project.compiled(settings)


def _table(name: str, *rows: tuple) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS warehouse")
    con.execute("USE warehouse")
    con.execute("CREATE SCHEMA serving")
    con.execute(f"CREATE TABLE {name} ({COLUMNS})")
    for r in rows:
        con.execute(f"INSERT INTO {name} VALUES (?, 'BR', 2023, ?, ?, 'u', ?, DATE '2023-01-01', 2023, '01')", list(r))  # fmt: skip
    return con


@pytest.mark.parametrize("spelling", ["028", "28", " 028", "0028"])
def test_a_negative_production_fails_however_its_id_is_spelled(compiled, spelling):
    con = _table(VINTAGES, ("0711100", spelling, "02", -5.0))
    with pytest.raises(executor.AuditFailed) as failed:
        executor.audit(con, compiled.model(VINTAGES))
    assert failed.value.audit == "no_negative_production"


def test_two_units_of_one_attribute_fail_however_the_codes_are_spelled(compiled):
    good = _table(LATEST, ("0711100", "028", "02", 1.0), ("711100", "28", "2", 2.0))
    executor.audit(good, compiled.model(LATEST))  # one attribute, one unit: spelled twice
    bad = _table(LATEST, ("0711100", "028", "02", 1.0), ("711100", "28", "08", 2.0))
    with pytest.raises(executor.AuditFailed) as failed:
        executor.audit(bad, compiled.model(LATEST))
    assert failed.value.audit == "units_consistent_per_attribute"
