"""Downloads of the workbench's tables: .xlsx (xlsxwriter, through polars) and CSV,
with file names that say what they hold ("corn-world-balance-sheet-2022-11.xlsx")."""

from __future__ import annotations

import io
import re

import polars as pl

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def file_name(*parts: object, ext: str = "xlsx") -> str:
    """Lowercase words and digits joined by "-": file_name("Corn", "World", "balance
    sheet", "2022-11") -> "corn-world-balance-sheet-2022-11.xlsx"."""
    words = re.findall(r"[a-z0-9]+", " ".join(str(p) for p in parts if p).lower())
    return f"{'-'.join(words) or 'table'}.{ext}"


def xlsx_bytes(sheets: dict[str, pl.DataFrame]) -> bytes:
    """One worksheet per frame (names cut to Excel's 31 characters), headers bold,
    columns fitted to their content."""
    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    for name, df in sheets.items():
        clean = re.sub(r"[\[\]:*?/\\]", " ", name)[:31] or "Sheet"
        df.write_excel(workbook=book, worksheet=clean, autofit=True, header_format={"bold": True})
    book.close()
    return buf.getvalue()


def csv_bytes(df: pl.DataFrame) -> bytes:
    return df.write_csv().encode("utf-8")
