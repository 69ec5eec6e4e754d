"""materia.transform.sqlmesh_dev and materia.transform.envs: the dev panel's real SQLMesh plan (SQLMesh's
categorization of each change, what it recomputes, table_diff against prod), and
environments listed, dropped and expired."""

from __future__ import annotations

from datetime import timedelta

import pytest

from materia import lakehouse
from materia.lakehouse import publications
from materia.transform import envs, sqlmesh_dev
from materia.transform import run as transform
from testsupport.psd import fixtures as fx
from testsupport.psd.project import copy_project, edit

ALL = "psd_alldata_csv"
OBT = "models/serving/obt_commodity_metrics.sql"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A project copy and prod published from two generated releases."""
    from materia.core import settings as settings_mod

    project = copy_project(tmp_path, monkeypatch)
    settings = settings_mod.load(
        {"MATERIA_HOME": str(tmp_path / "home")}, dotenv=tmp_path / "no.env"
    )
    r06 = fx.sample_rows("2022-06")
    for month, rows in (("2022-06", r06), ("2022-12", fx.revise(r06, "2022-12"))):
        fx.write_release(
            settings.home / "landing" / f"psd/{ALL}/{month.replace('-', '/')}/e.zip", rows
        )
    transform.run(settings)
    return settings, project


@pytest.mark.slow
def test_the_dev_panel_plans_with_sqlmesh_and_shows_its_categorization(home):
    settings, project = home
    assert "Not planned" not in sqlmesh_dev.panel(settings, "dev_t", say=lambda m: None).summary
    # Two changes: a new OBT column (SQLMesh: non-breaking), a description (metadata).
    edit(project, OBT, "  p.exports - p.imports AS net_exports,\n",
         "  p.exports - p.imports AS net_exports,\n  p.production * 2 AS double_production,\n")  # fmt: skip
    edit(
        project,
        "models/serving/dim_country.sql",
        "description 'PSD country codes",
        "description 'The PSD country codes",
    )
    said: list[str] = []
    plan = sqlmesh_dev.panel(settings, "dev_t", say=said.append)
    assert not any(line.startswith("seeding") for line in said)  # prod's run is seeded
    assert plan.changes == [
        {"model": "serving.dim_country", "change": "metadata only", "recomputes": "nothing"},
        {"model": "serving.obt_commodity_metrics", "change": "non-breaking", "recomputes": "the whole table"},
    ]  # fmt: skip
    (diff,) = plan.diffs
    assert diff["model"] == "serving.obt_commodity_metrics"
    assert (
        diff["prod rows"] == diff["dev_t rows"] > 0 and diff["columns added"] == "double_production"
    )
    assert (diff["only in prod"], diff["only in dev_t"]) == (0, 0)
    assert plan.summary == (
        "dev_t: 1 metadata only, 1 non-breaking; 1 model(s) recomputed, the rest read from prod."
    )

    # Environments: prod and dev_x in Iceberg, prod and dev_t in SQLMesh.
    ran = transform.run(settings, "dev_x")
    found = {(e.name, e.where) for e in envs.list_envs(settings)}
    assert {
        ("prod", "iceberg"),
        ("dev_x", "iceberg"),
        ("prod", "sqlmesh"),
        ("dev_t", "sqlmesh"),
    } <= found
    (dev_x,) = [e for e in envs.list_envs(settings) if e.name == "dev_x"]
    assert dev_x.expires == dev_x.updated + settings.dev_ttl
    folder = settings.lakehouse_dir / "warehouse" / "serving__dev_x"
    assert any(folder.rglob("*.parquet"))
    tables = sum(s is not None for s in ran.published.values()) + 1  # and publications
    assert envs.drop(settings, "dev_x") == [
        f"Iceberg namespace serving__dev_x ({tables} tables, with their files)"
    ]
    assert not any(folder.rglob("*.parquet")) and "dev_x" not in lakehouse.list_envs(settings)
    assert envs.drop(settings, "dev_t")[0].startswith("SQLMesh environment dev_t")
    assert "dev_t" not in {e.name for e in envs.list_envs(settings)}


def test_the_panel_says_plainly_why_it_did_not_plan(home):
    settings, project = home
    edit(project, OBT, "  p.exports - p.imports AS net_exports,\n",
         "  p.exports - p.imports AS net_exports,\n  p.production * 2 AS double_production,\n")  # fmt: skip
    plan = sqlmesh_dev.panel(settings, "dev_t", say=lambda m: None)
    assert plan.changes == [] and plan.summary.startswith(
        "Not planned: the models differ from what prod published (serving.obt_commodity_metrics):"
    )
    assert "git stash" in plan.summary


def test_an_idle_dev_namespace_expires_with_the_next_prod_run(home, monkeypatch):
    settings, _ = home
    real = publications.clock
    monkeypatch.setattr(publications, "clock", lambda: real() - timedelta(days=8))
    transform.run(settings, "dev_old")
    monkeypatch.setattr(publications, "clock", real)
    transform.run(settings, "dev_new")
    fx.write_release(
        settings.home / "landing" / f"psd/{ALL}/2023/01/e.zip",
        fx.revise(fx.revise(fx.sample_rows("2022-06"), "2022-12"), "2023-01"),
    )
    said: list[str] = []
    transform.run(settings, progress=said.append)
    assert "dev_old" not in lakehouse.list_envs(settings)
    assert "dev_new" in lakehouse.list_envs(settings)
    assert any(line.startswith("expired Iceberg namespace serving__dev_old") for line in said)
