"""materia.lakehouse.publish and read: DuckDB relations → Iceberg, made visible in one
commit of `publications`, read back at the published snapshots.

Real parts: DuckDB, pyiceberg's SqlCatalog in a temporary MATERIA_HOME, SeaweedFS's
Iceberg REST catalog on loopback.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pyarrow as pa
import pytest

from materia import lakehouse as lh
from materia.core.errors import MateriaError
from materia.lakehouse.publish import Output, publish
from testsupport.lakehouse import published

OUTPUTS = [
    Output("obt", "run.obt", "market_year"),
    Output("fct_psd_vintages", "run.vintages", "value", partition_by="release_month"),
]


@pytest.fixture(autouse=True)
def _fresh_cache():
    lh.clear_cache()
    yield
    lh.clear_cache()


def _run(months: list[str], production: float = 1.0) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA run")
    con.execute(
        "CREATE TABLE run.obt AS SELECT (2000 + range)::INTEGER AS market_year, "
        f"range * {production} AS production, range::UTINYINT AS small FROM range(50)"
    )
    values = ", ".join(f"(DATE '{m}-01', {i}.0)" for i, m in enumerate(months))
    con.execute(
        "CREATE TABLE run.vintages (release_month DATE, value DOUBLE)"
        + (f"; INSERT INTO run.vintages VALUES {values}" if months else "")
    )
    return con


def _outputs(replace_from: date | None) -> list[Output]:
    return [
        OUTPUTS[0],
        Output("fct_psd_vintages", "run.vintages", "value", replace_from, "release_month"),
    ]


def _publish(settings, con, replace_from=None, env="prod", **kw):
    return publish(settings, env, con, _outputs(replace_from), {"archives": []}, **kw)


def test_a_run_is_visible_only_through_its_publication(local_settings):
    first = _publish(local_settings, _run(["2022-06", "2022-12"]))
    cat = published.local_catalog(local_settings.home)
    run = published.newest_run(cat)
    assert run == {t: r.snapshot_id for t, r in first.publication.tables.items()}
    assert len(published.read(cat, "obt")) == 50
    assert published.read(cat, "obt")[0]["small"] == 0  # UTINYINT cast to INTEGER
    pub = lh.current_publication(local_settings)
    assert (pub.sequence, pub.tables["obt"].rows) == (1, 50)
    assert lh.read_table("obt", settings=local_settings).height == 50
    filtered = lh.read_table("obt", settings=local_settings, where="market_year = 2003")
    assert filtered["production"].to_list() == [3.0]


def test_unchanged_tables_get_no_new_snapshot_and_the_run_names_the_old_one(local_settings):
    first = _publish(local_settings, _run(["2022-06"]))
    second = _publish(local_settings, _run(["2022-06"]))
    assert second.changed == {"obt": None, "fct_psd_vintages": None}
    assert second.publication.sequence == 2
    assert second.publication.tables == first.publication.tables
    third = _publish(local_settings, _run(["2022-06"], production=2.0))
    assert third.changed["obt"] not in (None, first.changed["obt"])
    assert third.changed["fct_psd_vintages"] is None


def test_vintages_replace_only_the_months_the_run_recomputed(local_settings):
    _publish(local_settings, _run(["2022-06", "2022-09"]))
    con = _run([])  # the run recomputed 2022-09 on and found no vintage there
    con.execute("INSERT INTO run.vintages VALUES (DATE '2022-12-01', 7.0)")
    done = _publish(local_settings, con, replace_from=date(2022, 9, 1), allow_shrink=True)
    rows = lh.read_table("fct_psd_vintages", settings=local_settings).sort("release_month")
    assert rows.rows() == [(date(2022, 6, 1), 0.0), (date(2022, 12, 1), 7.0)]
    assert done.publication.tables["fct_psd_vintages"].rows == 2
    assert "fct_psd_vintages would lose release month(s) 2022-09" in done.allowed[0]
    # A pure append (the usual new release) deletes nothing and writes one small file.
    con = _run([])
    con.execute("INSERT INTO run.vintages VALUES (DATE '2023-01-01', 8.0)")
    done = _publish(local_settings, con, replace_from=date(2023, 1, 1))
    assert done.appended_rows["fct_psd_vintages"] == 1
    assert lh.read_table("fct_psd_vintages", settings=local_settings).height == 3


def test_an_export_out_of_memory_is_retried_alone(local_settings, monkeypatch):
    """Two sorted exports at once can outgrow the run's DuckDB memory limit, depending on
    how they interleave: that table is exported again after the others, and published."""
    from materia.lakehouse import publish as publish_mod

    real, calls = publish_mod._export_one, []

    def export_one(job, *args):
        calls.append(job.out.name)
        if calls.count(job.out.name) == 1 and job.out.name == "obt":
            raise duckdb.OutOfMemoryException("Out of Memory Error: failed to pin block")
        return real(job, *args)

    monkeypatch.setattr(publish_mod, "_export_one", export_one)
    done = _publish(local_settings, _run(["2022-06", "2022-12"]))
    assert calls.count("obt") == 2 and calls.index("fct_psd_vintages") < len(calls) - 1
    assert set(done.changed) == {"obt", "fct_psd_vintages"}
    assert lh.read_table("obt", settings=local_settings).height == 50
    assert lh.read_table("fct_psd_vintages", settings=local_settings).height == 2


def test_a_collapse_is_refused_before_anything_is_written(local_settings):
    _publish(local_settings, _run(["2022-06", "2022-09"]))
    cat = published.local_catalog(local_settings.home)
    before = published.read_all(cat)
    con = _run(["2022-06", "2022-09"])
    con.execute("DELETE FROM run.obt WHERE market_year > 2010")
    with pytest.raises(
        MateriaError, match=r"obt would shrink by 78% \(50 rows published now → 11\)"
    ):
        _publish(local_settings, con)
    con = _run(["2022-06", "2022-09"])
    con.execute("DELETE FROM run.obt")
    with pytest.raises(MateriaError, match=r"obt would be empty \(50 rows published now → 0\)"):
        _publish(local_settings, con)
    con = _run(["2022-06"])  # 2022-09 vanished from history although nothing withdrew it
    with pytest.raises(MateriaError, match="would lose release month.s. 2022-09"):
        _publish(local_settings, con, replace_from=date(2022, 9, 1))
    assert published.read_all(cat) == before
    assert lh.current_publication(local_settings).sequence == 1
    done = _publish(
        local_settings, con, replace_from=date(2022, 9, 1), withdrawn_months={date(2022, 9, 1)}
    )
    assert done.allowed == []


def test_leftovers_of_a_run_that_died_before_its_publication_are_discarded(local_settings):
    _publish(local_settings, _run(["2022-06"]))
    cat = published.local_catalog(local_settings.home)
    table = cat.load_table("serving.fct_psd_vintages")
    table.append(pa.table({"release_month": [date(2030, 1, 1)], "value": [99.0]}))  # orphan
    assert len(published.read(cat, "fct_psd_vintages")) == 1  # readers never saw it
    con = _run([])
    con.execute("INSERT INTO run.vintages VALUES (DATE '2023-01-01', 5.0)")
    _publish(local_settings, con, replace_from=date(2023, 1, 1))
    rows = published.read(cat, "fct_psd_vintages")
    assert sorted(r["value"] for r in rows) == [0.0, 5.0]  # the orphan row is gone


def test_old_snapshots_expire_with_their_files(local_settings):
    for production in (1.0, 2.0, 3.0):
        _publish(local_settings, _run(["2022-06"], production=production))
    data = local_settings.lakehouse_dir / "warehouse" / "serving" / "obt" / "data"
    assert len(list(data.glob("*.parquet"))) == 3
    _publish(local_settings, _run(["2022-06"], production=4.0), retention=timedelta(0))
    cat = published.local_catalog(local_settings.home)
    table = cat.load_table("serving.obt")
    assert [s.snapshot_id for s in table.snapshots()] == [table.current_snapshot().snapshot_id]
    assert len(list(data.glob("*.parquet"))) == 1  # only the file the newest run reads
    assert [r["production"] for r in published.read(cat, "obt")][:3] == [0.0, 4.0, 8.0]


def test_a_schema_change_is_published_in_the_same_commit(local_settings):
    _publish(local_settings, _run(["2022-06"]))
    con = _run(["2022-06"])
    con.execute("ALTER TABLE run.obt ALTER COLUMN market_year TYPE VARCHAR")
    con.execute("ALTER TABLE run.obt ADD COLUMN unit VARCHAR DEFAULT 'MT'")
    _publish(local_settings, con)
    rows = published.read(published.local_catalog(local_settings.home), "obt")
    assert list(rows[0]) == ["market_year", "production", "small", "unit"]
    assert {r["market_year"] for r in rows} >= {"2000", "2049"}


def test_dev_namespaces_are_apart_from_prod(local_settings):
    _publish(local_settings, _run(["2022-06"]))
    _publish(local_settings, _run(["2022-06"], production=2.0), env="dev_x")
    assert lh.list_envs(local_settings) == ["prod", "dev_x"]
    prod = lh.read_table("obt", settings=local_settings)["production"].to_list()
    dev = lh.read_table("obt", "dev_x", settings=local_settings)["production"].to_list()
    assert sorted(dev) == sorted(2 * p for p in prod)


def test_reading_before_any_publication_says_what_to_run(local_settings):
    with pytest.raises(MateriaError, match="no published table serving.obt .* pipeline run"):
        lh.read_table("obt", settings=local_settings)
    with pytest.raises(MateriaError, match="materia transform --env dev_y"):
        lh.read_table("obt", "dev_y", settings=local_settings)


@pytest.mark.s3
def test_rest_catalog_end_to_end(r2_settings, seaweed):
    env = "dev_publish_rest"
    _publish(r2_settings, _run(["2022-06"]), env=env)
    done = _publish(r2_settings, _run(["2022-06"], production=2.0), env=env)
    plain = seaweed.catalog()  # plain pyiceberg, not through materia
    rows = published.read(plain, "obt", f"serving__{env}")
    assert sorted(r["production"] for r in rows)[:3] == [0.0, 2.0, 4.0]
    table = plain.load_table(f"serving__{env}.obt")
    assert table.metadata_location.startswith("s3://lakehouse/")
    assert done.publication.tables["obt"].snapshot_id == table.current_snapshot().snapshot_id
    assert not r2_settings.lakehouse_dir.exists()  # nothing went to the local catalog


@pytest.mark.s3
def test_rest_catalog_wrong_credential_is_one_line_without_the_secret(seaweed, tmp_path):
    from materia.core import settings

    env = {**seaweed.iceberg_env(), "ICEBERG_CREDENTIAL": "materia-test-key:wrong-secret-value"}
    s = settings.load({"MATERIA_HOME": str(tmp_path), **env}, dotenv=tmp_path / "no.env")
    with pytest.raises(MateriaError) as err:
        lh.catalog(s)
    assert "cannot open REST catalog" in str(err.value)
    assert "wrong-secret-value" not in str(err.value) and "\n" not in str(err.value)
