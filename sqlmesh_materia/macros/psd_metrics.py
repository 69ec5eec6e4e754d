"""The PSD attributes materia names as metrics, and the aggregate pseudo-countries.

One mapping, used by the pivot (`@pivot_metrics`), `dim_attribute` (`@metric_name`) and
the world sums (`@aggregate_countries`), so a metric is defined in exactly one place.
Keyed on PSD attribute ids, never on their labels (labels drift between releases).
"""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro

# Defined once in materia, where the notebook's logic reads them too.
from materia.psd_codes import AGGREGATES, METRICS


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
def metric_columns(evaluator, prefix="") -> list[exp.Expression]:
    """Every pivoted metric column and its unit column, optionally qualified."""
    p = f"{prefix.name}." if isinstance(prefix, exp.Expression) and prefix.name else ""
    return [_parse(f'{p}"{c}"') for n in METRICS for c in (n, f"{n}_unit")]


@macro()
def metric_name(evaluator, column) -> exp.Expression:
    """CASE mapping an attribute id column to its metric name (NULL if none)."""
    whens = " ".join(f"WHEN '{a}' THEN '{n}'" for n, a in METRICS.items())
    return _parse(f"CASE {column.sql(dialect='duckdb')} {whens} END")


@macro()
def aggregate_countries(evaluator) -> exp.Expression:
    return exp.Tuple(expressions=[exp.Literal.string(c) for c in AGGREGATES])
