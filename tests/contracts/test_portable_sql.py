"""Every model and audit renders to valid Trino and Spark SQL, so the project can move to
a distributed engine as written: SQLMesh renders each one for the dialect (what `sqlmesh
render MODEL --dialect D` prints), sqlglot must generate it without an unsupported
construct and parse it back in that dialect, and it must call no function that dialect
does not know. DuckDB-only SQL lives in the raw layer's reader (materia/transform/inputs.py) only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from materia.core import settings as settings_mod
from materia.transform import sqlmesh_project

ROOT = Path(__file__).resolve().parents[2]
DIALECTS = ("trino", "spark")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """(what, expression) for every model and every audit attached to one."""
    tmp = tmp_path_factory.mktemp("render")
    s = settings_mod.load({"MATERIA_HOME": str(tmp)}, dotenv=tmp / "no.env")
    ctx = sqlmesh_project.context(s, tmp / "warehouse.duckdb")
    out = []
    try:
        for model in ctx.models.values():
            if model.kind.is_external:
                continue
            window = {"start": "2022-12-01", "end": "2022-12-31"}
            out.append((model.name, ctx.render(model.name, **window)))
            for audit, args in model.audits_with_args:
                out.append(
                    (
                        f"{model.name} audit {audit.name}",
                        model.render_audit_query(audit, **window, **args),
                    )
                )
    finally:
        ctx.close()
    assert len(out) > 20  # 10 models and their audits
    return out


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_model_and_audit_is_valid_sql_in(dialect, rendered):
    for what, expression in rendered:
        sql = expression.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE)
        parsed = sqlglot.parse_one(sql, read=dialect, error_level=ErrorLevel.RAISE)
        assert faults(parsed) == [], f"{what} in {dialect}: {faults(parsed)}\n{sql}"


def faults(tree: exp.Expression) -> list[str]:
    """What sqlglot passes through although the dialect has no such thing (its parsers
    are lenient): DuckDB's own syntax, unknown functions, a column from outside scope."""
    from sqlglot.optimizer.scope import traverse_scope

    found = [f"function {f.name}" for f in tree.find_all(exp.Anonymous)]
    found += ["UNION … BY NAME" for u in tree.find_all(exp.SetOperation) if u.args.get("by_name")]
    found += [
        "a CTE AS [NOT] MATERIALIZED"
        for c in tree.find_all(exp.CTE)
        if c.args.get("materialized") is not None
    ]
    found += [
        "SELECT * EXCLUDE/REPLACE"
        for s in tree.find_all(exp.Star)
        if s.args.get("except") or s.args.get("replace")
    ]
    found += ["QUALIFY" for _ in tree.find_all(exp.Qualify)]
    for scope in traverse_scope(tree):
        if scope.is_correlated_subquery:
            continue
        found += [
            f"column {c.sql()} of no source in scope"
            for c in scope.columns
            if c.table and c.table not in scope.sources
        ]
    return found


def test_sqlmesh_render_prints_the_vintages_in_trino_sql(materia_env):
    sqlmesh = shutil.which("sqlmesh", path=str(Path(sys.executable).parent))
    done = subprocess.run(
        [sqlmesh, "-p", "sqlmesh_materia", "render", "serving.fct_psd_vintages", "--dialect", "trino",
         "--start", "2022-12-01", "--end", "2022-12-31"],  # fmt: skip
        cwd=ROOT, env=materia_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sql = done.stdout[done.stdout.index("WITH") :]  # after SQLMesh's note on a new state
    parsed = sqlglot.parse_one(sql, read="trino", error_level=ErrorLevel.RAISE)
    assert "MAX_BY(" in parsed.sql("trino")  # DuckDB's ARG_MAX, in Trino's words
