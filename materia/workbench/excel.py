"""Downloads of the workbench's tables: .xlsx an analyst can forward, and CSV, with file
names that say what they hold ("corn-world-balance-sheet-2022-11.xlsx").

Every worksheet opens with a header block (source, then what the caller says: commodity,
dataset, release, unit, ...), then the table with a number format by unit: whole numbers
for quantities in thousands, one decimal for quantities in millions (MMT, million
bushels), two decimals for yields (whole numbers for kg/ha), percent for shares and
ratios, a sign on changes; years, ranks and codes as they are. A column's unit is the
frame's `unit` column when it has one (a balance sheet: one unit per line), else the
parenthesised end of its name ("production (1000 MT)", "share of world %"), else the
header's "Unit". CSV stays plain: one header line, the numbers as they are.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping

import polars as pl

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SOURCE = "USDA FAS PSD Online (apps.fas.usda.gov/psdonline), via materia"
PLAIN = ("rank", "market_year", "releases", "year", "market year")


def file_name(*parts: object, ext: str = "xlsx") -> str:
    """Lowercase words and digits joined by "-": file_name("Corn", "World", "balance
    sheet", "2022-11") -> "corn-world-balance-sheet-2022-11.xlsx"."""
    words = re.findall(r"[a-z0-9]+", " ".join(str(p) for p in parts if p).lower())
    return f"{'-'.join(words) or 'table'}.{ext}"


def column_unit(name: str, default: str = "") -> str:
    """The unit a column's name ends with: "production (1000 MT)" -> "1000 MT",
    "share of world %" -> "%"; `default` otherwise."""
    if name.rstrip().endswith("%"):
        return "%"
    m = re.search(r"\(([^()]*)\)\s*$", name)
    return m[1] if m else default


def number_format(unit: str, signed: bool = False) -> tuple[str, float]:
    """(Excel number format, factor applied to the value) for a unit."""
    u = unit.upper()
    if "%" in u:
        return ("+0.0%;-0.0%;0.0%" if signed else "0.0%"), 0.01
    if "KG/HA" in u:
        body = "#,##0"
    elif "/HA" in u or "PER ACRE" in u or "RATE" in u:
        body = "0.00"
    elif "MILLION" in u or "MMT" in u:
        body = "#,##0.0"
    else:
        body = "#,##0"
    return (f"+{body};-{body};0" if signed else body), 1.0


def xlsx_bytes(
    sheets: Mapping[str, pl.DataFrame], header: Mapping[str, str] | None = None
) -> bytes:
    """One worksheet per frame (names cut to Excel's 31 characters), each with the header
    block and number formats by unit (see the module doc)."""
    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    bold = book.add_format({"bold": True})
    formats: dict[str, object] = {}

    def fmt(spec: str):
        if spec not in formats:
            formats[spec] = book.add_format({"num_format": spec})
        return formats[spec]

    lines = {"Source": SOURCE, **(header or {})}
    for name, df in sheets.items():
        ws = book.add_worksheet(re.sub(r"[\[\]:*?/\\]", " ", name)[:31] or "Sheet")
        for r, (k, v) in enumerate(lines.items()):
            ws.write_string(r, 0, f"{k}:", bold)
            ws.write_string(r, 1, str(v))
        top = len(lines) + 1
        widths = [len(c) for c in df.columns]
        for j, col in enumerate(df.columns):
            ws.write_string(top, j, col, bold)
        units = df["unit"].to_list() if "unit" in df.columns else None
        for i, row in enumerate(df.iter_rows()):
            for j, (col, value) in enumerate(zip(df.columns, row, strict=True)):
                widths[j] = max(widths[j], len(str(value)) if value is not None else 0)
                if value is None or (isinstance(value, float) and value != value):
                    continue
                if isinstance(value, bool) or not isinstance(value, int | float):
                    ws.write_string(top + 1 + i, j, str(value).strip())
                elif col.lower() in PLAIN or col.lower().endswith("year"):
                    ws.write_number(top + 1 + i, j, value)
                else:
                    unit = (
                        units[i] if units is not None else column_unit(col, lines.get("Unit", ""))
                    )
                    spec, factor = number_format(unit or "", signed=col.startswith("change"))
                    ws.write_number(top + 1 + i, j, value * factor, fmt(spec))
        for j, w in enumerate(widths):
            ws.set_column(j, j, min(max(w + 2, 8), 60))
    book.close()
    return buf.getvalue()


def csv_bytes(df: pl.DataFrame) -> bytes:
    return df.write_csv().encode("utf-8")
