"""materia.workbench.tables and materia.workbench.excel: how tables read, and their downloads."""

from __future__ import annotations

import io
import re
import zipfile

import polars as pl

from materia.workbench import excel, tables


def test_numbers_years_and_blanks():
    assert tables.number(1234567.0) == "1,234,567"
    assert tables.number(-0.001) == "0"  # never "-0"
    assert tables.number(2.5, 2, sign=True) == "+2.50"
    assert tables.number(None) == "" and tables.number(float("nan")) == ""
    df = pl.DataFrame(
        {
            "market_year": [1997, 2022],
            "rank": [1, None],
            "production (1000 MT)": [782675.0, None],
            "share of world %": [17.63, 100.0],
            "change": [-1500.0, 0.0],
            "country": ["  ", None],
        }
    )
    f = tables.formats(df)
    shown = [{c: f[c](v) for c, v in row.items()} for row in df.iter_rows(named=True)]
    assert shown[0] == {
        "market_year": "1997",  # a year, not 1,997
        "rank": "1",
        "production (1000 MT)": "782,675",
        "share of world %": "17.6",
        "change": "-1,500",
        "country": "",  # no stray blanks
    }
    assert shown[1]["rank"] == "" and shown[1]["production (1000 MT)"] == ""
    assert shown[1]["country"] == "" and shown[1]["change"] == "0"


def test_sheet_and_plain_html():
    sheet = pl.DataFrame(
        {
            "item": ["Production", "Stocks-to-use"],
            "unit": ["1000 MT", "%"],
            "2022/23 Oct": [931682.0, 33.31],
            "2022/23 Nov": [920051.0, 33.59],
            "change": [-11631.0, 0.28],
        }
    )
    page = tables.sheet_html(sheet, "Corn & more", note="Does not balance")
    assert "<caption>Corn &amp; more</caption>" in page
    assert re.search(r"<th scope=\"row\">Production</th>.*?931,682.*?920,051.*?-11,631", page)
    assert re.search(r"Stocks-to-use</th><td class=\"unit\">%</td><td class=\"num\">33.3</td>", page)  # fmt: skip
    assert '<td class="num">+0.3</td>' in page and "Does not balance" in page
    plain = tables.html_table(pl.DataFrame({"year": ["2022/23"], "value": [1.5]}), "T")
    assert "<td>2022/23</td><td class=num>1.50</td>" in plain


def test_xlsx_holds_every_sheet_with_its_values():
    a = pl.DataFrame({"country": ["China", "World"], "production": [138000.0, 782675.0]})
    b = pl.DataFrame({"x": [1]})
    data = excel.xlsx_bytes({"Top producers": a, "What changed: [all]": b})
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        book = zf.read("xl/workbook.xml").decode()
        strings = zf.read("xl/sharedStrings.xml").decode()
        sheet1 = zf.read("xl/worksheets/sheet1.xml").decode()
    assert 'name="Top producers"' in book and 'name="What changed   all "' in book
    assert all(s in strings for s in ("country", "production", "China", "World"))
    assert "<v>782675</v>" in sheet1
    assert excel.file_name("Corn", "World", "balance sheet", "2022-11") == (
        "corn-world-balance-sheet-2022-11.xlsx"
    )
    assert excel.file_name("Coffee, Green", ext="csv") == "coffee-green.csv"
    assert excel.csv_bytes(a).decode().splitlines() == [
        "country,production", "China,138000.0", "World,782675.0",
    ]  # fmt: skip
