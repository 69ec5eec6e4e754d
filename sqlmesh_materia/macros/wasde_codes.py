"""What WASDE's tables and units mean (materia/sources/wasde_tables.py, materia/sources/wasde_units.py)
as SQL the WASDE models and audits read: one definition, in materia, rendered here as
portable VALUES tables.
"""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro

from materia.sources import wasde_tables, wasde_units

# Plain rows (SQLMesh stores a macro's globals by their repr, so no objects here).
_UNIT_ROWS = wasde_units.unit_rows()
_FIX_ROWS = wasde_units.fix_rows()
_AGGREGATE_ROWS = [(r,) for r in wasde_tables.AGGREGATES]
_BALANCE_ROWS = wasde_tables.balance_rows()
_PSD_ROWS = wasde_tables.psd_matches()
_RESIDUALS = list(wasde_tables.RESIDUALS)


def _literal(value) -> exp.Expression:
    if value is None:
        return exp.cast(exp.null(), "VARCHAR")
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(value)


def _values(rows: list[tuple], alias: str, columns: list[str]) -> exp.Expression:
    return exp.Values(
        expressions=[exp.Tuple(expressions=[_literal(v) for v in row]) for row in rows],
        alias=exp.TableAlias(
            this=exp.to_identifier(alias), columns=[exp.to_identifier(c) for c in columns]
        ),
    )


@macro()
def wasde_units(evaluator) -> exp.Expression:
    """units (unit, unit_code, unit_label, measure): every spelling of a unit USDA prints."""
    return _values(_UNIT_ROWS, "units", ["unit", "unit_code", "unit_label", "measure"])


@macro()
def wasde_unit_fixes(evaluator) -> exp.Expression:
    """fixes (attribute, unit, unit_code, unit_label, measure): lines printed with another
    line's unit, with their real one."""
    return _values(_FIX_ROWS, "fixes", ["attribute", "unit", "unit_code", "unit_label", "measure"])


@macro()
def wasde_aggregates(evaluator) -> exp.Expression:
    """aggregates (region): regions that are groups of countries, never to be summed."""
    return _values(_AGGREGATE_ROWS, "aggregates", ["region"])


@macro()
def wasde_balance(evaluator) -> exp.Expression:
    """balance (report_title, commodity, attribute, role, total, parts): the identities
    of every U.S. supply-and-use table (materia/sources/wasde_tables.py)."""
    return _values(
        _BALANCE_ROWS,
        "balance",
        ["report_title", "commodity", "attribute", "role", "total", "parts"],
    )


@macro()
def wasde_psd_matches(evaluator) -> exp.Expression:
    """matches (report_title, commodity, region, attribute, psd_commodity_code,
    psd_attribute_id, factor, half_unit): WASDE figures PSD also holds, how to convert
    them to PSD's unit, and half their printed precision in it."""
    columns = ["report_title", "commodity", "region", "attribute", "psd_commodity_code"]
    columns += ["psd_attribute_id", "factor", "half_unit"]
    return _values(_PSD_ROWS, "matches", columns)


@macro()
def wasde_residuals(evaluator) -> exp.Expression:
    """The balancing lines USDA lets go negative, as a tuple for `IN`."""
    return exp.Tuple(expressions=[exp.Literal.string(a) for a in _RESIDUALS])
