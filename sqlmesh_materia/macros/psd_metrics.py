"""The PSD attributes materia names as metrics.

One mapping, used by the pivot (`@pivot_metrics`) and `dim_attribute` (`@metric_name`),
so a metric is defined in exactly one place.
Keyed on PSD attribute ids, never on their labels (labels drift between releases).
"""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro

# Defined once in materia, where the notebook's logic reads them too.
from materia.sources.psd_codes import METRICS


def _parse(sql: str) -> exp.Expression:
    return exp.maybe_parse(sql, dialect="duckdb")


@macro()
def pivot_metrics(evaluator) -> list[exp.Expression]:
    """`<metric>` DOUBLE and `<metric>_unit` VARCHAR per metric, for a GROUP BY query."""
    out = []
    for name, attr in METRICS.items():
        out.append(_parse(f"max(value) FILTER (WHERE attribute_id = '{attr}') AS \"{name}\""))
        out.append(
            _parse(f"max(unit_description) FILTER (WHERE attribute_id = '{attr}') AS {name}_unit")
        )
    return out


@macro()
def metric_name(evaluator, column) -> exp.Expression:
    """CASE mapping an attribute id column to its metric name (NULL if none)."""
    whens = " ".join(f"WHEN '{a}' THEN '{n}'" for n, a in METRICS.items())
    return _parse(f"CASE {column.sql(dialect='duckdb')} {whens} END")


@macro()
def metric_ids(evaluator) -> exp.Expression:
    """The attribute ids of the metrics, as a tuple for `IN`."""
    return exp.Tuple(expressions=[exp.Literal.string(a) for a in METRICS.values()])
