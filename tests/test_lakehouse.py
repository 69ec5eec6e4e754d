"""materia.lakehouse: publish DuckDB serving tables to Iceberg, read them back.

Real parts only: a DuckDB warehouse, pyiceberg's SqlCatalog on SQLite in a temporary
MATERIA_HOME, SeaweedFS's Iceberg REST catalog on loopback, and one tiny SQLMesh project
for the virtual-layer schema names.
"""

from __future__ import annotations

import json
import shutil
import urllib.parse
import urllib.request
from pathlib import Path

import duckdb
import pytest
from pyiceberg.catalog import load_catalog
from pyiceberg.catalog.sql import SqlCatalog

from materia import lakehouse as lh
from materia import settings as settings_mod
from materia.errors import MateriaError


def _settings(home: Path, **env: str) -> settings_mod.Settings:
    return settings_mod.load({"MATERIA_HOME": str(home), **env}, dotenv=home.parent / "absent.env")


@pytest.fixture(autouse=True)
def _fresh_cache():
    lh.clear_cache()
    yield
    lh.clear_cache()


@pytest.fixture
def local(tmp_path: Path) -> settings_mod.Settings:
    return _settings(tmp_path / "home")


def _warehouse(schema: str = "serving") -> duckdb.DuckDBPyConnection:
    """A warehouse whose `schema` looks like SQLMesh's virtual layer: views over tables."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA phys")
    con.execute(f"CREATE SCHEMA {schema}")
    con.execute(
        "CREATE TABLE phys.metrics AS SELECT lpad((range % 7)::VARCHAR, 7, '0') AS commodity_code,"
        " 'BR' AS country_code, (2000 + range)::INTEGER AS market_year,"
        " range * 100.0 AS production, DATE '2022-06-01' AS release_month FROM range(50)"
    )
    con.execute("CREATE TABLE phys.dim AS SELECT 'BR' AS country_code, false AS is_aggregate")
    con.execute(f"CREATE VIEW {schema}.obt AS SELECT * FROM phys.metrics")
    con.execute(f"CREATE VIEW {schema}.dim_country AS SELECT * FROM phys.dim")
    return con


def _plain_catalog(settings: settings_mod.Settings) -> SqlCatalog:
    """The local catalog opened with plain pyiceberg, as any other reader would."""
    root = settings.home / "lakehouse"
    return SqlCatalog(
        "materia", uri=f"sqlite:///{root / 'catalog.db'}", warehouse=(root / "warehouse").as_uri()
    )


def _snapshots(cat, ident: str) -> list[int]:
    return [s.snapshot_id for s in cat.load_table(ident).snapshots()]


# --- environments -------------------------------------------------------------------------
def test_namespace_for_envs():
    assert lh.namespace_for("prod") == "serving"
    assert lh.namespace_for("dev_x") == "serving__dev_x"
    assert lh.namespace_for("dev_ana_2") == "serving__dev_ana_2"
    for bad in ("", "dev", "dev_", "Dev_x", "dev_X", "dev-x", "staging", "prod ", "dev_a.b"):
        with pytest.raises(MateriaError, match="not valid"):
            lh.namespace_for(bad)


def test_local_catalog_lives_under_materia_home(local):
    cat = lh.catalog(local)
    assert isinstance(cat, SqlCatalog)
    assert cat.name == "materia"
    assert cat.properties["uri"] == f"sqlite:///{local.home}/lakehouse/catalog.db"
    assert cat.properties["warehouse"] == f"file://{local.home}/lakehouse/warehouse"


# --- publish ---------------------------------------------------------------------------------
def test_publish_then_read_back_with_plain_pyiceberg(local):
    con = _warehouse()
    result = lh.publish(local, "prod", con)
    assert set(result) == {"obt", "dim_country"}
    assert all(isinstance(v, int) for v in result.values())

    table = _plain_catalog(local).load_table("serving.obt")
    assert table.current_snapshot().snapshot_id == result["obt"]
    got = table.scan().to_arrow().sort_by("market_year")
    assert got.num_rows == 50
    assert got.column("commodity_code")[3].as_py() == "0000003"  # codes stay strings
    assert got.column("production")[49].as_py() == 4900.0
    assert str(got.schema.field("release_month").type) == "date32[day]"
    assert str(got.schema.field("market_year").type) == "int32"


def test_unchanged_tables_get_no_new_snapshot(local):
    con = _warehouse()
    lh.publish(local, "prod", con)
    cat = _plain_catalog(local)
    before = {t: _snapshots(cat, f"serving.{t}") for t in ("obt", "dim_country")}

    assert lh.publish(local, "prod", con) == {"obt": None, "dim_country": None}
    assert {t: _snapshots(cat, f"serving.{t}") for t in before} == before


def test_one_changed_row_makes_one_snapshot_for_that_table_only(local):
    con = _warehouse()
    first = lh.publish(local, "prod", con)
    con.execute("UPDATE phys.metrics SET production = -1 WHERE market_year = 2010")

    second = lh.publish(local, "prod", con)
    assert second["dim_country"] is None
    cat = _plain_catalog(local)
    assert _snapshots(cat, "serving.dim_country") == [first["dim_country"]]
    table = cat.load_table("serving.obt")
    assert _snapshots(cat, "serving.obt") == [first["obt"], second["obt"]]
    snap = table.current_snapshot()
    assert snap.parent_snapshot_id == first["obt"]
    assert snap.summary.operation.value == "overwrite"  # one snapshot, not delete + append
    rows = table.scan(row_filter="market_year = 2010").to_arrow()
    assert rows.column("production").to_pylist() == [-1.0]
    assert table.scan().to_arrow().num_rows == 50  # replaced, not appended


def test_duplicated_rows_count_in_the_fingerprint(local):
    con = _warehouse()
    con.execute("INSERT INTO phys.dim VALUES ('XX', true), ('XX', true)")
    lh.publish(local, "prod", con)
    # Same row count, and an xor of row hashes would not change (duplicates cancel out).
    con.execute("UPDATE phys.dim SET country_code = 'YY' WHERE country_code = 'XX'")
    assert lh.publish(local, "prod", con)["dim_country"] is not None
    got = lh.read_table("dim_country", settings=local)["country_code"].sort().to_list()
    assert got == ["BR", "YY", "YY"]


def test_schema_changes_are_published_atomically(local):
    con = _warehouse()
    lh.publish(local, "prod", con)
    con.execute("ALTER TABLE phys.metrics ADD COLUMN production_unit VARCHAR DEFAULT '(1000 MT)'")
    con.execute("ALTER TABLE phys.metrics ALTER COLUMN market_year TYPE VARCHAR")
    con.execute("ALTER TABLE phys.metrics DROP COLUMN release_month")
    con.execute("CREATE OR REPLACE VIEW serving.obt AS SELECT * FROM phys.metrics")

    assert lh.publish(local, "prod", con)["obt"] is not None
    got = _plain_catalog(local).load_table("serving.obt").scan().to_arrow()
    assert got.column_names == [
        "commodity_code",
        "country_code",
        "market_year",
        "production",
        "production_unit",
    ]
    assert str(got.schema.field("market_year").type) in ("string", "large_string")
    assert set(got.column("production_unit").to_pylist()) == {"(1000 MT)"}
    assert lh.publish(local, "prod", con)["obt"] is None


def test_an_empty_table_is_published_and_read(local):
    con = _warehouse()
    con.execute("CREATE TABLE phys.none AS SELECT * FROM phys.metrics LIMIT 0")
    con.execute("CREATE VIEW serving.empty AS SELECT * FROM phys.none")
    assert lh.publish(local, "prod", con)["empty"] is not None
    assert lh.publish(local, "prod", con)["empty"] is None
    got = lh.read_table("empty", settings=local)
    assert got.height == 0 and got.columns[:3] == ["commodity_code", "country_code", "market_year"]
    con.execute("INSERT INTO phys.none SELECT * FROM phys.metrics LIMIT 2")
    assert lh.publish(local, "prod", con)["empty"] is not None
    con.execute("DELETE FROM phys.none")
    assert lh.publish(local, "prod", con)["empty"] is not None
    assert lh.read_table("empty", settings=local).height == 0


def test_types_iceberg_lacks_are_cast(local):
    con = duckdb.connect()
    con.execute("CREATE SCHEMA serving")
    con.execute(
        "CREATE TABLE serving.t AS SELECT 7::UTINYINT AS u8, 5::HUGEINT AS big,"
        " TIMESTAMP_NS '2022-06-01 10:00:00' AS ts, 3::SMALLINT AS small"
    )
    lh.publish(local, "prod", con)
    row = lh.read_table("t", settings=local).row(0, named=True)
    assert row["u8"] == 7 and int(row["big"]) == 5 and row["small"] == 3
    assert str(row["ts"]) == "2022-06-01 10:00:00"


def test_a_table_failing_midway_changes_nothing(local):
    con = _warehouse()
    first = lh.publish(local, "prod", con)
    con.execute("UPDATE phys.metrics SET production = 0")  # a real change to obt…
    # …and a dim view that fails on its 2nd row: both are computed before any write.
    con.execute("INSERT INTO phys.dim VALUES ('XX', true)")
    con.execute(
        "CREATE OR REPLACE VIEW serving.dim_country AS SELECT * REPLACE "
        "(CASE WHEN country_code = 'XX' THEN error('boom at XX') ELSE country_code END "
        "AS country_code) FROM phys.dim"
    )

    with pytest.raises(MateriaError, match=r"serving\.dim_country.*boom at XX"):
        lh.publish(local, "prod", con)
    cat = _plain_catalog(local)
    assert _snapshots(cat, "serving.obt") == [first["obt"]]
    assert _snapshots(cat, "serving.dim_country") == [first["dim_country"]]
    assert lh.read_table("obt", settings=local)["production"].sum() == sum(range(50)) * 100.0


def test_a_write_failing_midway_leaves_the_previous_snapshot(local):
    con = _warehouse()
    first = lh.publish(local, "prod", con)
    con.execute("UPDATE phys.metrics SET production = 0")
    con.execute("UPDATE phys.dim SET is_aggregate = true")
    # Block the new data file of `obt` (written second, alphabetically after dim_country).
    data_dir = Path(_plain_catalog(local).load_table("serving.obt").location()[7:]) / "data"
    shutil.move(data_dir, data_dir.with_name("data.aside"))
    data_dir.write_text("not a directory")
    try:
        with pytest.raises(MateriaError, match=r"publishing serving\.obt .* previous snapshot"):
            lh.publish(local, "prod", con)
    finally:
        data_dir.unlink()
        shutil.move(data_dir.with_name("data.aside"), data_dir)

    cat = _plain_catalog(local)
    assert _snapshots(cat, "serving.obt") == [first["obt"]]
    assert lh.read_table("obt", settings=local)["production"].sum() == sum(range(50)) * 100.0
    # dim_country was already committed on its own (one atomic snapshot per table).
    assert lh.read_table("dim_country", settings=local)["is_aggregate"].to_list() == [True]
    assert lh.publish(local, "prod", con)["obt"] is not None  # and the next run catches up


def test_a_serving_table_gone_from_the_warehouse_is_dropped(local):
    con = _warehouse()
    lh.publish(local, "prod", con)
    con.execute("DROP VIEW serving.dim_country")
    assert lh.publish(local, "prod", con) == {"obt": None}
    assert not lh.table_exists("dim_country", settings=local)
    assert lh.table_exists("obt", settings=local)


def test_publish_without_the_serving_schema_is_a_clear_error(local):
    with pytest.raises(MateriaError, match=r"no tables in schema 'serving__dev_zz'"):
        lh.publish(local, "dev_zz", duckdb.connect())
    with pytest.raises(MateriaError, match="no serving table nope"):
        lh.publish(local, "prod", _warehouse(), tables=["nope"])


# --- environments are isolated ------------------------------------------------------------------
def test_dev_namespace_is_isolated_from_prod(local):
    con = _warehouse()
    con.execute("CREATE SCHEMA serving__dev_ana")
    con.execute(
        "CREATE VIEW serving__dev_ana.obt AS SELECT * REPLACE (production * 2 AS production) "
        "FROM phys.metrics"
    )
    prod = lh.publish(local, "prod", con)
    dev = lh.publish(local, "dev_ana", con)
    assert set(dev) == {"obt"}

    cat = _plain_catalog(local)
    assert _snapshots(cat, "serving.obt") == [prod["obt"]]
    assert _snapshots(cat, "serving__dev_ana.obt") == [dev["obt"]]
    total = sum(range(50)) * 100.0
    assert lh.read_table("obt", settings=local)["production"].sum() == total
    assert lh.read_table("obt", env="dev_ana", settings=local)["production"].sum() == 2 * total
    assert lh.list_envs(local) == ["prod", "dev_ana"]
    assert lh.table_exists("obt", "dev_ana", local)
    assert not lh.table_exists("dim_country", "dev_ana", local)
    with pytest.raises(MateriaError, match=r"materia transform --env dev_ana"):
        lh.read_table("dim_country", env="dev_ana", settings=local)


# --- read_table -----------------------------------------------------------------------------------
def test_read_table_is_cached_per_snapshot(local):
    con = _warehouse()
    lh.publish(local, "prod", con)
    a = lh.read_table("obt", settings=local)
    assert lh.read_table("obt", settings=local) is a  # same snapshot: served from cache
    cols = lh.read_table("obt", settings=local, columns=["market_year", "production"])
    assert cols.columns == ["market_year", "production"]

    con.execute("UPDATE phys.metrics SET production = 1")
    lh.publish(local, "prod", con)
    b = lh.read_table("obt", settings=local)
    assert b is not a and set(b["production"]) == {1.0}
    assert lh.read_table("obt", settings=local) is b


def test_read_table_before_any_publish_says_what_to_run(local):
    with pytest.raises(MateriaError, match=r"no Iceberg table serving\.obt.*pipeline run"):
        lh.read_table("obt", settings=local)
    assert lh.list_envs(local) == []
    with pytest.raises(MateriaError, match="not valid"):
        lh.read_table("obt", env="production", settings=local)


def test_read_table_unknown_column_is_a_clear_error(local):
    lh.publish(local, "prod", _warehouse())
    with pytest.raises(MateriaError, match=r"serving\.obt"):
        lh.read_table("obt", settings=local, columns=["no_such_column"])


# --- REST catalog (SeaweedFS, the session `seaweed` fixture of conftest.py) -----------------------
def _oauth_token(sw) -> str:
    body = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": sw.access_key,
            "client_secret": sw.secret_key,
            "scope": "catalog",
        }
    ).encode()
    with urllib.request.urlopen(f"{sw.iceberg_uri}/v1/oauth/tokens", data=body, timeout=10) as r:
        return json.loads(r.read())["access_token"]


@pytest.mark.s3
def test_rest_catalog_end_to_end_with_oauth2_credential(seaweed, tmp_path, caplog):
    caplog.set_level("DEBUG")
    s = _settings(tmp_path / "home", **seaweed.iceberg_env(), **seaweed.r2_env())
    con = _warehouse("serving__dev_rest")
    first = lh.publish(s, "dev_rest", con)
    assert lh.publish(s, "dev_rest", con) == {"obt": None, "dim_country": None}
    con.execute("UPDATE phys.metrics SET production = 5 WHERE market_year = 2001")
    second = lh.publish(s, "dev_rest", con)
    assert second["dim_country"] is None and second["obt"] not in (None, first["obt"])

    plain = seaweed.catalog()  # plain pyiceberg, not through materia
    table = plain.load_table("serving__dev_rest.obt")
    assert table.metadata_location.startswith("s3://lakehouse/")
    assert [s.snapshot_id for s in table.snapshots()] == [first["obt"], second["obt"]]
    got = table.scan(row_filter="market_year = 2001").to_arrow()
    assert got.column("production").to_pylist() == [5.0]
    assert lh.read_table("obt", "dev_rest", s).height == 50

    # Schema evolution goes through the REST commit too (drop, add, reorder in one commit).
    con.execute("ALTER TABLE phys.metrics ALTER COLUMN market_year TYPE VARCHAR")
    con.execute("ALTER TABLE phys.metrics ADD COLUMN unit VARCHAR DEFAULT 'MT'")
    con.execute("CREATE OR REPLACE VIEW serving__dev_rest.obt AS SELECT * FROM phys.metrics")
    third = lh.publish(s, "dev_rest", con)["obt"]
    table = plain.load_table("serving__dev_rest.obt")
    assert table.current_snapshot().snapshot_id == third
    got = table.scan().to_arrow()
    assert got.column_names[2:] == ["market_year", "production", "release_month", "unit"]
    assert "2001" in got.column("market_year").to_pylist()
    assert "dev_rest" in lh.list_envs(s)
    assert not (tmp_path / "home" / "lakehouse").exists()  # nothing went to the local catalog
    assert seaweed.secret_key not in caplog.text
    assert seaweed.secret_key not in repr(lh.catalog(s))


@pytest.mark.s3
def test_rest_catalog_with_bearer_token(seaweed, tmp_path):
    env = {**seaweed.iceberg_env(), **seaweed.r2_env(), "ICEBERG_TOKEN": _oauth_token(seaweed)}
    del env["ICEBERG_CREDENTIAL"]
    s = _settings(tmp_path / "home", **env)
    assert s.iceberg.token and not s.iceberg.credential
    lh.publish(s, "dev_token", _warehouse("serving__dev_token"))
    plain = load_catalog("check", **seaweed.pyiceberg_properties())
    assert plain.load_table("serving__dev_token.dim_country").scan().to_arrow().num_rows == 1


@pytest.mark.s3
def test_rest_catalog_wrong_credential_is_one_line_without_the_secret(seaweed, tmp_path):
    env = {**seaweed.iceberg_env(), "ICEBERG_CREDENTIAL": "materia-test-key:wrong-secret-value"}
    s = _settings(tmp_path / "home", **env)
    with pytest.raises(MateriaError) as err:
        lh.catalog(s)
    assert "cannot open REST catalog" in str(err.value)
    assert "wrong-secret-value" not in str(err.value) and "\n" not in str(err.value)


# --- a real SQLMesh virtual layer ----------------------------------------------------------------
@pytest.mark.slow
def test_publish_from_a_real_sqlmesh_project(tmp_path, local):
    sqlmesh = pytest.importorskip("sqlmesh")
    project = tmp_path / "proj"
    (project / "models").mkdir(parents=True)
    (project / "config.yaml").write_text(
        "gateways:\n  local:\n    connection:\n      type: duckdb\n"
        f"      database: {tmp_path / 'warehouse.duckdb'}\n"
        "default_gateway: local\n"
        "model_defaults:\n  dialect: duckdb\n  start: 2024-01-01\n  cron: '@monthly'\n"
    )
    model = project / "models" / "obt.sql"
    model.write_text(
        "MODEL (name serving.obt, kind FULL, grain market_year);\n"
        "SELECT range::INT AS market_year, range * 1.0 AS production FROM range(3)\n"
    )
    ctx = sqlmesh.Context(paths=str(project))
    ctx.plan("prod", auto_apply=True, no_prompts=True)
    model.write_text(model.read_text().replace("* 1.0", "* 2.0"))
    ctx.load()
    ctx.plan("dev_x", auto_apply=True, no_prompts=True)
    con = ctx.engine_adapter.connection

    assert set(lh.publish(local, "prod", con)) == {"obt"}
    assert set(lh.publish(local, "dev_x", con)) == {"obt"}
    assert lh.read_table("obt", settings=local)["production"].to_list() == [0.0, 1.0, 2.0]
    dev = lh.read_table("obt", env="dev_x", settings=local)
    assert sorted(dev["production"].to_list()) == [0.0, 2.0, 4.0]
