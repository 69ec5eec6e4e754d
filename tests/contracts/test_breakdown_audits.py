"""The audits that keep breakdown files out of every world total, each shown to fire on the
rows that break it (and to pass the rows that do not), on the compiled project and a real
DuckDB: end-to-end runs of USDA's files never break them, so they are proven here."""

from __future__ import annotations

import duckdb
import pytest

from materia.core import settings as settings_mod
from materia.transform import executor, sqlmesh_project

LATEST = "serving.fct_psd_latest"
OBT = "serving.obt_commodity_metrics"
COLUMNS = (
    "commodity_code", "country_code", "market_year", "attribute_id", "unit_id", "value",
    "release_month", "dataset", "dataset_role", "parent_country_code", "parent_commodity_code",
)  # fmt: skip
EU, RUSSIA, GRAINS = "psd_eu_area_prod_csv", "psd_russiabreakdown_area_prod_csv", "psd_grains_pulses_csv"  # fmt: skip


def primary(country, value, year=2022, attr="028", release="2022-11-01", code="0410000"):
    return (code, country, year, attr, "08", value, release, GRAINS, "primary", None, None)


def part(country, value, year=2022, attr="028", release="2022-11-01", code="0410000", parent="E4", dataset=EU):  # fmt: skip
    return (code, country, year, attr, "08", value, release, dataset, "breakdown", parent, "0410000")  # fmt: skip


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    settings = settings_mod.load(environ={"MATERIA_HOME": str(home)}, dotenv=home / "none")
    return sqlmesh_project.compiled(settings)


def _db(rows) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS warehouse")
    con.execute("USE warehouse")
    for schema in ("serving", "cleaned"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute(
        f"CREATE TABLE {LATEST} (commodity_code VARCHAR, country_code VARCHAR, market_year INTEGER, "
        "attribute_id VARCHAR, unit_id VARCHAR, value DOUBLE, release_month DATE, dataset VARCHAR, "
        "dataset_role VARCHAR, parent_country_code VARCHAR, parent_commodity_code VARCHAR)"
    )
    if rows:
        con.executemany(f"INSERT INTO {LATEST} VALUES ({', '.join('?' * len(COLUMNS))})", rows)
    return con


def _fires(con, model, audit) -> dict:
    with pytest.raises(executor.AuditFailed) as failed:
        executor.audit(con, model)
    assert failed.value.audit == audit, str(failed.value)
    return failed.value.sample


GOOD = [
    primary("E4", 134300.0), primary("E4", 25000.0, attr="004"), primary("RS", 91000.0),
    part("FR", 34000.0), part("GM", 22000.0), part("PL", 78300.0),  # add up to the EU
    part("FR", 5000.0, attr="004"), part("GM", 3000.0, attr="004"),
    # Russia's 2025 file beside a 2022 release: more than Russia's 2022 wheat, and years
    # the 2022 release does not have yet; neither is compared.
    part("RS", 24000.0, release="2025-11-01", code="0412000", parent="RS", dataset=RUSSIA),
    part("RS", 68000.0, release="2025-11-01", code="0413000", parent="RS", dataset=RUSSIA),
    part("RS", 25000.0, year=2025, release="2025-11-01", code="0412000", parent="RS", dataset=RUSSIA),  # fmt: skip
    primary("HR", 0.0, code="0711100"), primary("E4", 0.0, code="0711100"),  # USDA's zero rows
]  # fmt: skip


def test_breakdowns_as_usda_publishes_them_pass_every_audit(compiled):
    executor.audit(_db(GOOD), compiled.model(LATEST))


def test_a_breakdown_adding_up_to_more_than_its_parent_fails(compiled):
    # Beyond rounding (half a unit per part): 10 more than the EU over four member states.
    sample = _fires(_db([*GOOD, part("IT", 10.0)]), compiled.model(LATEST), "breakdown_within_parent")  # fmt: skip
    assert (sample["parent_country_code"], sample["parts_value"], sample["parent_value"]) == ("E4", 134310.0, 134300.0)  # fmt: skip


def test_a_breakdown_row_without_its_parent_fails(compiled):
    # A member state in a year its union does not report: the world would miss it.
    sample = _fires(_db([*GOOD, part("PL", 900.0, year=1995)]), compiled.model(LATEST), "breakdown_has_parent")  # fmt: skip
    assert (sample["country_code"], sample["market_year"]) == ("PL", 1995)


def test_a_member_state_beside_the_eu_among_primary_rows_fails(compiled):
    # The EU file registered as primary by mistake: France would be counted twice.
    rows = [*GOOD, primary("E4", 138200.0, year=2021), primary("FR", 34000.0, year=2021)]
    sample = _fires(_db(rows), compiled.model(LATEST), "no_member_beside_union")
    assert (sample["country_code"], sample["union_code"]) == ("FR", "E4")


def test_an_unregistered_dataset_fails_not_null(compiled):
    bad = (*part("FR", 1.0)[:7], "psd_mystery_csv", None, None, None)
    sample = _fires(_db([*GOOD, bad]), compiled.model(LATEST), "not_null")
    assert sample["dataset"] == "psd_mystery_csv"


def test_the_obt_holds_primary_rows_only(compiled):
    con = _db(GOOD)
    obt = compiled.model(OBT)
    audit = next(a for a in obt.audits if a.name == "obt_primary_only")
    con.execute(
        f"CREATE TABLE {OBT} AS SELECT '0410000' AS commodity_code, 'FR' AS country_code, "
        "2022 AS market_year"
    )
    assert con.execute(f"SELECT count(*) FROM ({audit.sql})").fetchone()[0] == 1
    con.execute(f"DELETE FROM {OBT}")
    con.execute(f"INSERT INTO {OBT} VALUES ('0410000', 'E4', 2022)")
    assert con.execute(f"SELECT count(*) FROM ({audit.sql})").fetchone()[0] == 0
