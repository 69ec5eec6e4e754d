"""Recompute only what changed: SQLMesh's own fingerprints of each model decide.

A description edit (SQLMesh: metadata only) publishes nothing new; an edit of the OBT
alone recomputes the OBT alone, from the published table above it, and the run says so;
a non-blocking audit that finds rows is a warning in the run's output and its run-log
record, never a silent drop.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from materia.core import runlog
from materia.core import settings as settings_mod
from materia.landing import manifest as landed
from materia.ops import pipelines
from materia.transform import batch, recompute, sqlmesh_project
from materia.transform import run as transform
from testsupport.lakehouse import published
from testsupport.psd import fixtures as fx
from testsupport.psd.project import add, copy_project, edit

OBT = "models/serving/obt_commodity_metrics.sql"
ALL = "psd_alldata_csv"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A project copy, and its first publication of two generated releases."""
    project = copy_project(tmp_path, monkeypatch)
    home = tmp_path / "home"
    r06 = fx.sample_rows("2022-06")
    for month, rows in (("2022-06", r06), ("2022-12", fx.revise(r06, "2022-12"))):
        fx.write_release(home / "landing" / f"psd/{ALL}/{month.replace('-', '/')}/e.zip", rows)
    settings = settings_mod.load({"MATERIA_HOME": str(home)}, dotenv=tmp_path / "no.env")
    first = transform.run(settings)
    assert not first.skipped and first.archives_read == 2
    return settings, project


def _state(settings) -> dict[str, int]:
    return published.newest_run(published.local_catalog(settings.home))


def test_a_description_edit_publishes_nothing_new(home):
    settings, project = home
    before = _state(settings)
    edit(project, OBT, "description 'Newest key metrics", "description 'The newest key metrics")
    yaml = project / "tests" / "test_dims.yaml"
    yaml.write_text("# a comment in a YAML test\n" + yaml.read_text())
    said: list[str] = []
    result = transform.run(settings, progress=said.append)
    assert result.skipped and result.metadata_only == ["serving.obt_commodity_metrics"]
    assert said[-1].startswith(
        "transform prod: nothing new; metadata only (serving.obt_commodity_metrics): "
        "nothing to recompute"
    )
    assert _state(settings) == before  # no new run, not a single new snapshot


def test_an_obt_only_edit_recomputes_only_the_obt_from_the_published_tables(home):
    """Its parent, and what its audits read (here a new non-blocking one reading
    serving.fct_psd_latest), are read as published."""
    settings, project = home
    before = _state(settings)
    edit(
        project,
        OBT,
        "  p.exports - p.imports AS net_exports,\n",
        "  p.exports - p.imports AS net_exports,\n  p.production * 2 AS double_production,\n",
    )
    edit(
        project,
        OBT,
        "  audits (\n",
        "  audits (\n    seen,\n",
    )
    add(
        project,
        "audits/seen.sql",
        "AUDIT (\n  name seen,\n  blocking FALSE\n);\n\nSELECT\n  l.*\nFROM @this_model AS o\n"
        "JOIN serving.fct_psd_latest AS l\n  ON l.commodity_code = o.commodity_code\n"
        "WHERE\n  l.attribute_id = '028' AND l.country_code = 'BR' AND l.market_year = 2023\n",
    )
    said: list[str] = []
    result = transform.run(settings, progress=said.append)
    assert result.models_run == ["serving.obt_commodity_metrics"]
    assert result.archives_read == 0 and result.months == []  # no archive was read
    seen = [w for w in result.warnings if w.startswith("audit seen (non-blocking)")]
    assert len(seen) == 1  # the audit ran, on the published fct_psd_latest
    assert "models run: serving.obt_commodity_metrics;" in said[-1]
    after = _state(settings)
    assert after["obt_commodity_metrics"] != before["obt_commodity_metrics"]
    assert {t: s for t, s in after.items() if t != "obt_commodity_metrics"} == {
        t: s for t, s in before.items() if t != "obt_commodity_metrics"
    }
    obt = published.read(published.local_catalog(settings.home), "obt_commodity_metrics")
    assert obt and all(
        r["double_production"] == (None if r["production"] is None else 2 * r["production"])
        for r in obt
    )
    # Run again: the publication records the new fingerprint, so nothing is left to do.
    assert transform.run(settings).skipped


def test_what_recomputes_below_an_upstream_edit(home):
    """The decision alone, on the real project: an edit of the pivot recomputes it and the
    OBT below it, from the landing (the pivot reads it through views); one of the OBT
    recomputes only the OBT, reading the published pivot."""
    settings, _ = home
    c = sqlmesh_project.compiled(settings)
    pub = {m.name for m in c.published()}
    items = [landed.Landed.parse(k) for k in _landed(settings.home)]
    every = batch.plan(items, set(), None, None, "", "landing")
    pivot = recompute.decide(c, ["cleaned.cln_psdalldata__commodity_pivoted"], None, every, pub)
    assert pivot.models == [
        "cleaned.cln_psdalldata__commodity_pivoted",
        "serving.obt_commodity_metrics",
    ]
    assert pivot.newest and not pivot.incremental
    assert all(m.published and m.name not in pivot.models for m in pivot.from_publication)
    obt = recompute.decide(c, ["serving.obt_commodity_metrics"], None, every, pub)
    assert obt.models == ["serving.obt_commodity_metrics"] and obt.newest == []
    # The pivot it selects from, and fct_psd_latest its obt_primary_only audit reads.
    assert sorted(m.name for m in obt.from_publication) == [
        "cleaned.cln_psdalldata__commodity_pivoted",
        "serving.fct_psd_latest",
    ]


def _landed(home: Path) -> list[str]:
    root = home / "landing"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.zip"))


def test_a_non_blocking_audit_warns_in_the_output_and_the_run_log(home, capsys):
    """Adding an audit is metadata (SQLMesh recomputes nothing for it): it runs with the
    next release, and warns there."""
    settings, project = home
    edit(
        project,
        OBT,
        "  audits (\n",
        "  audits (\n    big,\n",
    )
    add(
        project,
        "audits/big.sql",
        "AUDIT (\n  name big,\n  blocking FALSE\n);\n\n"
        "SELECT\n  *\nFROM @this_model\nWHERE\n  production > 50000\n",
    )
    r01 = fx.revise(fx.revise(fx.sample_rows("2022-06"), "2022-12"), "2023-01")
    fx.write_release(settings.home / "landing" / f"psd/{ALL}/2023/01/e.zip", r01)
    assert pipelines.main(settings, "transform") == 0
    out = capsys.readouterr().out
    assert "warning: audit big (non-blocking) on serving.obt_commodity_metrics:" in out
    assert "1 warning(s)" in out
    (record,) = [r for r in runlog.fold(runlog.read(settings)) if r["pipeline"] == "transform"]
    assert record["status"] == "ok"
    assert any(
        w.startswith("audit big (non-blocking) on serving.obt_commodity_metrics: ")
        for w in record["warnings"]
    ), record["warnings"]
