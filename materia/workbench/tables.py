"""How the workbench's tables read: numbers with separators, years without, blanks
for missing values, units in the headers; the WASDE-style sheet as static HTML.

`formats(df)` is a `format_mapping` for `mo.ui.table` (applied to the shown cells, the
data keeps its types, so sorting stays numeric); `sheet_html(...)` renders a balance
sheet the way USDA prints one, for the notebook and the report alike.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import polars as pl

# Integer columns that are codes or counts, never quantities with separators.
PLAIN_INTEGERS = ("rank", "market_year", "releases", "year")


def number(value: float | None, decimals: int = 0, sign: bool = False) -> str:
    """ "1,234", "-2.50", "+3.1"; "" for a missing value."""
    if value is None or value != value:  # None or NaN
        return ""
    value = round(value, decimals) or 0.0  # no "-0"
    return f"{value:{'+' if sign and value else ''},.{decimals}f}"


def decimals_for(values: list[float | None], unit: str = "") -> int:
    """0 for big quantities and kg/ha, 2 below 1,000 (MMT, yields), 1 for percentages."""
    if "%" in unit:
        return 1
    if "KG/HA" in unit.upper():
        return 0
    present = [abs(v) for v in values if v is not None and v == v]
    return 2 if present and max(present) < 1000 else 0


def formats(df: pl.DataFrame, signed: tuple[str, ...] = ()) -> dict[str, Callable]:
    """A format per column: numbers with separators (signed where a change), integer
    codes and years as they are, and "" wherever a value is missing."""
    out: dict[str, Callable] = {}
    for name, dtype in df.schema.items():
        if dtype.is_float():
            d = decimals_for(df[name].to_list(), "%" if name.endswith("%") else "")
            plus = name in signed or name.startswith("change")
            out[name] = lambda v, d=d, plus=plus: number(v, d, plus)
        elif dtype.is_integer() and (name in PLAIN_INTEGERS or name.endswith("year")):
            out[name] = lambda v: "" if v is None else str(v)
        elif dtype.is_integer():
            out[name] = lambda v: number(v)
        else:
            out[name] = lambda v: "" if v is None else str(v).strip()
    return out


def sheet_html(
    table: pl.DataFrame, caption: str, note: str = "", decimals: dict[str, int] | None = None
) -> str:
    """A balance sheet (item, unit, value columns…) as an HTML table; each line keeps
    one number format (percent to 1 decimal, small values to 2, the rest whole, or
    `decimals` by item); an item indented with two spaces is a part of the line above it."""
    cols = [c for c in table.columns if c not in ("item", "unit")]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["", "", *cols])
    body = []
    for row in table.iter_rows(named=True):
        values = [row[c] for c in cols]
        d = (decimals or {}).get(row["item"].strip(), decimals_for(values, row["unit"]))
        cells = "".join(
            f'<td class="num">{number(v, d, sign=(c == "change"))}</td>'
            for c, v in zip(cols, values, strict=True)
        )
        item = row["item"]
        indent = ' class="part"' if item.startswith("  ") else ""  # a part of the line above
        body.append(
            f'<tr><th scope="row"{indent}>{html.escape(item.strip())}</th>'
            f'<td class="unit">{html.escape(row["unit"])}</td>{cells}</tr>'
        )
    foot = f'<p class="sheet-note">{html.escape(note)}</p>' if note else ""
    return (
        f'<table class="sheet"><caption>{html.escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{foot}"
    )


SHEET_CSS = """
<style>
table.sheet,table.plain{border-collapse:collapse;font-size:.9rem;margin:.4rem 0}
table.sheet caption,table.plain caption{text-align:left;font-weight:600;padding:.3rem 0}
table.sheet th,table.sheet td,table.plain th,table.plain td{padding:.2rem .7rem;border-bottom:1px solid #d0d7de;white-space:nowrap}
table.sheet th{text-align:left;font-weight:500} table.sheet thead th{font-weight:600}
table.sheet td.num,table.plain td.num{text-align:right;font-variant-numeric:tabular-nums}
table.plain th.num{text-align:right}
table.sheet td.unit{color:#57606a} .sheet-note{color:#9a6700}
table.sheet th.part{padding-left:1.6rem;font-weight:400;color:#57606a}
.wb-table{max-height:420px;overflow:auto} .wb-table table.plain{width:100%}
</style>
"""


def html_table(df: pl.DataFrame, caption: str = "") -> str:
    """Any frame as a static HTML table with the same formats as the notebook's tables."""
    fmt = formats(df)
    numeric = {n for n, t in df.schema.items() if t.is_numeric() and n not in PLAIN_INTEGERS}
    head = "".join(
        f"<th{' class=num' if c in numeric else ''}>{html.escape(c)}</th>" for c in df.columns
    )
    rows = []
    for row in df.iter_rows(named=True):
        cells = "".join(
            f"<td{' class=num' if c in numeric else ''}>{html.escape(str(fmt[c](v)))}</td>"
            for c, v in row.items()
        )
        rows.append(f"<tr>{cells}</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f'<table class="plain">{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
