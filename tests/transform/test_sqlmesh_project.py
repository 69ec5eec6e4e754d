"""materia.transform.sqlmesh_project: the project compiled for the executor, and every feature the
executor does not run refused in one line that names the model and the feature."""

from __future__ import annotations

from datetime import date

import pytest

from materia.core import settings as settings_mod
from materia.transform import compiled as compiled_mod
from materia.transform import sqlmesh_project
from testsupport.psd.project import add, copy_project, edit

OBT = "models/serving/obt_commodity_metrics.sql"


@pytest.fixture
def settings(tmp_path):
    return settings_mod.load({"MATERIA_HOME": str(tmp_path / "home")}, dotenv=tmp_path / "no.env")


def test_the_vintages_compile_as_sqlmesh_runs_them_one_month_per_batch(settings):
    c = sqlmesh_project.compiled(settings)
    v = c.model("serving.fct_psd_vintages")
    assert (v.kind, v.batch_size, v.time_column) == (
        "INCREMENTAL_BY_TIME_RANGE",
        1,
        "release_month",
    )
    assert v.reads == compiled_mod.READS_MONTHS and v.published and v.start == "2006-01-01"
    # The template, filled with a batch's dates, is SQLMesh's own rendering of that batch.
    sql = compiled_mod.fill(v.sql, date(2022, 12, 1), date(2022, 12, 31))
    assert "BETWEEN CAST('2022-12-01' AS DATE) AND CAST('2022-12-31' AS DATE)" in sql
    assert "\"release_month\" < CAST('2022-12-01' AS DATE)" in sql  # the prior, from itself
    assert {a.name for a in v.audits} == {"not_null", "unique_grain", "no_negative_production"}
    # What reads the landing reads only what the loader gives it.
    reads = {m.name: m.reads for m in c.models}
    assert reads["cleaned.cln_psd_latest"] == compiled_mod.READS_NEWEST
    assert reads["serving.dim_dataset"] == ""  # reads only the registry
    # Through fct_psd_latest (a view, read by its obt_primary_only audit) the OBT reaches
    # the newest archives; an OBT-only edit reads both as published (test_recompute).
    assert reads["serving.obt_commodity_metrics"] == compiled_mod.READS_NEWEST
    published = {m.published_name for m in c.published()}
    assert published >= {
        "fct_psd_vintages", "fct_psd_latest", "obt_commodity_metrics", "dim_commodity",
        "dim_country", "dim_attribute", "cleaned__cln_psdalldata__commodity_pivoted",
    }  # fmt: skip


REFUSED = {
    "a pre-statement": (
        OBT,
        "SELECT\n  p.*,",
        "SET threads = 1;\n\nSELECT\n  p.*,",
        "a pre- or post-statement",
    ),
    "an unfiltered read of the landing": (
        "models/serving/obt_commodity_metrics.sql",
        "FROM cleaned.cln_psdalldata__commodity_pivoted AS p\n",
        "FROM cleaned.cln_psdalldata__commodity_pivoted AS p\n"
        "JOIN (SELECT DISTINCT commodity_code FROM staging.stg_psdalldata__commodity) AS s\n"
        "  ON s.commodity_code = p.commodity_code\n",
        "reading the landing without `WHERE newest` or its batch's months",
    ),
    "a kind it does not run": (
        "models/serving/dim_country.sql",
        "kind FULL,",
        "kind INCREMENTAL_BY_UNIQUE_KEY (unique_key country_code),",
        "kind INCREMENTAL_BY_UNIQUE_KEY",
    ),
    "an incremental model that waits for a month's end": (
        "models/serving/fct_psd_vintages.sql",
        "allow_partials TRUE,",
        "allow_partials FALSE,\n  cron '@monthly',",
        "an incremental model without allow_partials",
    ),
    "the execution time": (
        "models/serving/dim_country.sql",
        "FROM cleaned.cln_psd_latest\n",
        "FROM cleaned.cln_psd_latest\nWHERE\n  release_month <= @execution_date\n",
        "a query that depends on the execution time",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_what_the_executor_does_not_run_is_refused_in_one_line(settings, tmp_path, case):
    rel, old, new, feature = REFUSED[case]
    project = copy_project(tmp_path)
    edit(project, rel, old, new)
    with pytest.raises(sqlmesh_project.Unsupported) as refused:
        sqlmesh_project.compile_project(settings, project)
    line = str(refused.value)
    model = "serving." + rel.rsplit("/", 1)[1].removesuffix(".sql")
    assert line.startswith(f"model {model}: {feature}"), line
    assert "is not run by `materia transform`" in line and "\n" not in line


def test_a_non_blocking_audit_is_compiled_not_dropped(settings, tmp_path):
    project = copy_project(tmp_path)
    edit(
        project,
        OBT,
        "  audits (\n",
        "  audits (\n    big_production,\n",
    )
    add(
        project,
        "audits/big_production.sql",
        "AUDIT (\n  name big_production,\n  blocking FALSE\n);\n\n"
        "SELECT\n  *\nFROM @this_model\nWHERE\n  production > 100000\n",
    )
    obt = sqlmesh_project.compile_project(settings, project).model("serving.obt_commodity_metrics")
    (audit,) = [a for a in obt.audits if a.name == "big_production"]
    assert audit.blocking is False and "production" in audit.sql
