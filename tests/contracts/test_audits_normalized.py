"""The audits key on normalized codes: whatever gets past the door (an archive landed by
hand under older rules, a model fed another way), no spelling of a code slips past them.

Each audit's SQL as the compiled project renders it, over a real DuckDB table (only the
audit under test: the models' other audits read columns these rows need not carry)."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from materia.core import settings as settings_mod
from materia.transform import compiled as compiled_mod
from materia.transform import sqlmesh_project

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


def _fails(con, compiled, model: str, audit: str) -> int:
    """Rows the model's audit `audit` returns (0: it passes); an incremental model's audit
    is run on the batch holding the rows (January 2023)."""
    (found,) = [a for a in compiled.model(model).audits if a.name == audit]
    sql = compiled_mod.fill(found.sql, date(2023, 1, 1), date(2023, 1, 31))
    return con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]


@pytest.mark.parametrize("spelling", ["028", "28", " 028", "0028"])
def test_a_negative_production_fails_however_its_id_is_spelled(compiled, spelling):
    con = _table(VINTAGES, ("0711100", spelling, "02", -5.0))
    assert _fails(con, compiled, VINTAGES, "no_negative_production") == 1
    con = _table(VINTAGES, ("0711100", spelling, "02", 5.0))
    assert _fails(con, compiled, VINTAGES, "no_negative_production") == 0


def test_two_units_of_one_attribute_fail_however_the_codes_are_spelled(compiled):
    audit = "units_consistent_per_attribute"
    good = _table(LATEST, ("0711100", "028", "02", 1.0), ("711100", "28", "2", 2.0))
    assert _fails(good, compiled, LATEST, audit) == 0  # one attribute, one unit: spelled twice
    bad = _table(LATEST, ("0711100", "028", "02", 1.0), ("711100", "28", "08", 2.0))
    assert _fails(bad, compiled, LATEST, audit) == 1
