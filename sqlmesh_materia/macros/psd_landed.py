"""`@psd_landed(@start_ds, @end_ds)`: the PSD archives landed for those release months.

Expands to a subquery over the verified local CSV of each landed zip (see
`materia.landed`). Only when a model is actually evaluated does it list the landing
area and inflate archives; while SQLMesh loads, plans or tests it is an empty relation
with the same columns, so `plan` stays fast and side-effect free; under `sqlmesh test`
it reads the rows a test gives as `landing.psd_csv`.
"""

from __future__ import annotations

from datetime import date

from sqlglot import exp
from sqlmesh import macro

from materia import landed


def _day(value: exp.Expression | str) -> date:
    text = value.name if isinstance(value, exp.Expression) else str(value)
    return date.fromisoformat(text[:10])


@macro()
def psd_landed(evaluator, start_ds, end_ds) -> exp.Expression:
    stage = evaluator.runtime_stage
    if stage == "testing":
        # YAML unit tests supply these rows as the input table `landing.psd_csv`.
        sql = "SELECT * FROM landing.psd_csv"
    elif stage != "evaluating":
        sql = landed.empty_sql()
    else:
        sql = landed.union_sql(landed.active_settings(), _day(start_ds), _day(end_ds))
    return exp.paren(exp.maybe_parse(sql, dialect="duckdb"), copy=False)
