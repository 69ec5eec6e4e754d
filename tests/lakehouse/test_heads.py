"""Table heads (what an engine reading a table's current snapshot sees) are the last
complete run: the run's tables and its publication commit at once where the catalog
offers it (the embedded catalog in one SQLite transaction; a REST catalog's multi-table
commit, which SeaweedFS offers), so a run killed before its commit leaves every head on
the previous run. Where a REST catalog offers none, tables commit one by one, the log
last (readers of the log still see whole runs; docs/READING.md says what heads show)."""

from __future__ import annotations

import uuid

import pytest

from materia import lakehouse
from materia.core.storage import LandingStore
from materia.lakehouse import iceberg_io
from materia.transform import run as transform
from testsupport.lakehouse import published
from testsupport.psd import fixtures as fx

ALL = "psd_alldata_csv"
BR23 = ("0711100", "BR", 2023, "028")


def _land(store: LandingStore, month: str, rows) -> None:
    fx.land(store, rows, month)


def _heads(cat, ns: str) -> dict[str, int]:
    return {
        ident[-1]: cat.load_table(ident).current_snapshot().snapshot_id
        for ident in cat.list_tables(ns)
        if ident[-1] != "publications"
    }


def _killed_publish(cli, env: dict, store: LandingStore, target: str, point: str) -> None:
    r06 = fx.sample_rows("2022-06")
    _land(store, "2022-06", r06)
    done = cli("transform", "--env", target, env=env)
    assert done.returncode == 0, done.stderr
    _land(store, "2022-12", fx.revise(r06, "2022-12", {BR23: 61000.0}))
    killed = cli("transform", "--env", target, env={**env, "MATERIA_FAILPOINT": point})
    assert killed.returncode == -9, killed.stderr


@pytest.mark.parametrize("point", ["publish:after:fct_psd_vintages", "publish:before-commit"])
def test_a_run_killed_before_its_commit_leaves_every_head_on_the_last_run(
    cli, materia_env, local_settings, point
):
    from materia.core import settings as settings_mod

    s = settings_mod.load(materia_env, dotenv=local_settings.home / "no.env")
    _killed_publish(cli, materia_env, LandingStore.from_settings(s), "prod", point)
    cat = published.local_catalog(s.home)
    assert _heads(cat, "serving") == published.newest_run(cat)


@pytest.mark.s3
def test_rest_heads_move_with_the_publication_in_one_multi_table_commit(cli, seaweed, tmp_path):
    env_name = f"dev_heads_{uuid.uuid4().hex[:6]}"
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    seaweed.s3fs().mkdir(bucket)
    from testsupport import clean_env

    env = {
        **clean_env(tmp_path / "home"),
        "MATERIA_ENV": "prod",
        **seaweed.r2_env(),
        "R2_BUCKET": bucket,
        **seaweed.iceberg_env(),
    }
    from materia.core import settings as settings_mod

    s = settings_mod.load(env, dotenv=tmp_path / "no.env")
    _killed_publish(cli, env, LandingStore.from_settings(s), env_name, "publish:before-commit")
    cat = seaweed.catalog()
    ns = f"serving__{env_name}"
    assert _heads(cat, ns) == published.newest_run(cat, ns)  # the killed run left nothing
    said: list[str] = []
    result = transform.run(s, env=env_name, progress=said.append)
    assert _heads(cat, ns) == published.newest_run(cat, ns)
    assert published.newest_run(cat, ns)["fct_psd_vintages"] == result.published["fct_psd_vintages"]
    pub = lakehouse.current_publication(s, env_name)
    assert pub.run_id == result.run_id


@pytest.mark.s3
def test_without_a_multi_table_commit_tables_commit_one_by_one_the_log_last(
    r2_settings, seaweed, monkeypatch
):
    env_name = f"dev_onebyone_{uuid.uuid4().hex[:6]}"
    monkeypatch.setattr(iceberg_io, "_commit_rest", lambda cat, changes: False)
    store = LandingStore.from_settings(r2_settings)
    r06 = fx.sample_rows("2022-06")
    _land(store, "2022-06", r06)
    _land(store, "2022-12", fx.revise(r06, "2022-12"))
    from materia.lakehouse import publish as publish_mod

    modes = []
    real = iceberg_io.commit_all
    monkeypatch.setattr(
        publish_mod.iceberg_io, "commit_all", lambda *a: modes.append(real(*a)) or modes[-1]
    )
    transform.run(r2_settings, env=env_name)
    assert modes == ["one by one"]
    cat = seaweed.catalog()
    ns = f"serving__{env_name}"
    assert _heads(cat, ns) == published.newest_run(cat, ns)
    br = [
        r
        for r in published.read(cat, "fct_psd_vintages", ns)
        if (r["commodity_code"], r["country_code"], r["market_year"], r["attribute_id"]) == BR23
    ]
    assert sorted(r["value"] for r in br) == [62600.0, 64300.0]
