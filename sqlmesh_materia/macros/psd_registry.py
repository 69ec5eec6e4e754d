"""The dataset registry (materia/sources/psd_datasets.py) and the commodity hierarchy
(materia/sources/psd_commodities.py) as SQL the models and audits read: one definition, in
materia, rendered here as portable VALUES tables and CASE expressions.
"""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro

from materia.sources.psd_commodities import PARENT_COMMODITY
from materia.sources.psd_datasets import DATASETS, UNIONS

# Plain rows (SQLMesh stores a macro's globals by their repr, so no registry objects here).
_DATASET_ROWS = [(d.stem, d.file, d.title, d.role, d.parent_country) for d in DATASETS]
_UNION_ROWS = [(u, m) for u, members in UNIONS.items() for m in members]


def _text(value: str | None) -> exp.Expression:
    return exp.cast(exp.null(), "VARCHAR") if value is None else exp.Literal.string(value)


def _values(rows: list[tuple], alias: str, columns: list[str]) -> exp.Expression:
    return exp.Values(
        expressions=[exp.Tuple(expressions=[_text(v) for v in row]) for row in rows],
        alias=exp.TableAlias(
            this=exp.to_identifier(alias), columns=[exp.to_identifier(c) for c in columns]
        ),
    )


@macro()
def dataset_registry(evaluator) -> exp.Expression:
    """(dataset, file, title, role, parent_country_code): every registered PSD file;
    `dataset` is the landing stem the raw rows carry."""
    return _values(
        _DATASET_ROWS, "registry", ["dataset", "file", "title", "role", "parent_country_code"]
    )


@macro()
def union_members(evaluator) -> exp.Expression:
    """(union_code, member_code): reporting units and their members (E2, E4, UR)."""
    return _values(_UNION_ROWS, "unions", ["union_code", "member_code"])


@macro()
def parent_commodity(evaluator, column) -> exp.Expression:
    """The primary commodity a breakdown commodity splits (the code itself otherwise)."""
    case = exp.Case(this=column)
    for child, parent in sorted(PARENT_COMMODITY.items()):
        case = case.when(exp.Literal.string(child), exp.Literal.string(parent))
    return case.else_(column)
