"""materia.workbench.excel: workbooks an analyst can forward: a header block on every sheet, number
formats by unit (read back from the .xlsx XML itself), and file names that say what they
hold."""

from __future__ import annotations

import io
import re
import zipfile

import polars as pl

from materia.workbench import excel


def _cells(data: bytes, sheet: int = 1) -> dict[str, tuple[str, str]]:
    """Cell reference -> (text, number format) of one worksheet of an .xlsx."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        xml = zf.read(f"xl/worksheets/sheet{sheet}.xml").decode()
        styles = zf.read("xl/styles.xml").decode()
        shared = re.findall(r"<t[^>]*>([^<]*)</t>", zf.read("xl/sharedStrings.xml").decode())
    custom = dict(re.findall(r'<numFmt numFmtId="(\d+)" formatCode="([^"]*)"', styles))
    xfs = re.search(r"<cellXfs[^>]*>(.*?)</cellXfs>", styles, re.S)[1]
    fmt_of = [custom.get(n, "General") for n in re.findall(r'<xf numFmtId="(\d+)"', xfs)]
    out = {}
    for ref, attrs, body in re.findall(r'<c r="([A-Z]+\d+)"([^>]*)>(.*?)</c>', xml):
        value = re.search(r"<v>([^<]*)</v>", body)[1]
        style = re.search(r's="(\d+)"', attrs)
        text = shared[int(value)] if 't="s"' in attrs else value
        out[ref] = (text, fmt_of[int(style[1])] if style else "General")
    return out


def test_every_sheet_has_a_header_block_and_formats_by_unit():
    sheet = pl.DataFrame(
        {
            "item": ["Area harvested", "Yield", "Production", "Stocks-to-use"],
            "unit": ["1000 HA", "MT/HA", "1000 MT", "%"],
            "2021/22": [126594.0, 7.2677, 920051.0, 25.7],
            "change": [-1283.0, -0.018, -11631.0, 0.3],
        }
    )
    top = pl.DataFrame(
        {
            "rank": [1],
            "country": ["China"],
            "production (MMT)": [138.0],
            "share of world %": [17.6],
            "yield (KG/HA)": [959.0],
        }
    )
    header = {"Commodity": "Corn (0440000)", "Dataset": "psd_grains_pulses_csv.zip", "Release": "November 2022", "Unit": "1000 MT"}  # fmt: skip
    data = excel.xlsx_bytes({"balance sheet": sheet, "top": top}, header)
    cells = _cells(data)
    # The header block: source, then what the caller says; the table below it.
    assert [cells[f"A{i}"][0] for i in range(1, 6)] == ["Source:", "Commodity:", "Dataset:", "Release:", "Unit:"]  # fmt: skip
    assert "PSD Online" in cells["B1"][0] and cells["B4"][0] == "November 2022"
    assert cells["A7"][0] == "item" and cells["C7"][0] == "2021/22"
    # One unit per line: whole numbers, yields to 2 decimals, percent as a percent.
    assert cells["C8"] == ("126594", "#,##0") and cells["C10"] == ("920051", "#,##0")
    assert cells["C9"] == ("7.2677", "0.00")
    assert cells["C11"][1] == "0.0%" and float(cells["C11"][0]) == 0.257
    assert cells["D8"][1] == "+#,##0;-#,##0;0"  # changes carry their sign
    # Units from the column names: millions to one decimal, shares as percent, kg/ha whole.
    second = _cells(data, 2)
    assert second["A1"][0] == "Source:" and second["A7"][0] == "rank"
    assert second["A8"] == ("1", "General") and second["B8"][0] == "China"
    assert second["C8"] == ("138", "#,##0.0")
    assert second["D8"][1] == "0.0%" and float(second["D8"][0]) == 0.176
    assert second["E8"] == ("959", "#,##0")


def test_file_names_say_what_they_hold_and_csv_stays_plain():
    assert excel.file_name("Corn", "World", "balance sheet", "2022-11") == "corn-world-balance-sheet-2022-11.xlsx"  # fmt: skip
    df = pl.DataFrame({"item": ["Production"], "2022/23": [1.5]})
    assert excel.csv_bytes(df).decode() == "item,2022/23\nProduction,1.5\n"
