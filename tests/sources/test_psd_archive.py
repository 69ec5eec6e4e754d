"""materia.sources.psd_archive: the one check of an archive, shared by extract and transform."""

from __future__ import annotations

import csv as csv_mod
import zipfile
from datetime import date

import duckdb
import pytest

from materia.sources import psd_archive
from materia.sources.psd_archive import ArchiveError
from testsupport.psd import fixtures as fx

RELEASE = date(2022, 12, 1)


def _zip(tmp_path, lines: list[str], header: str = fx.HEADER):
    return fx.write_lines(tmp_path / "psd_coffee_csv.zip", lines, "psd_coffee.csv", header)


def _check(tmp_path, lines, header=fx.HEADER, release=RELEASE) -> int:
    return psd_archive.check_archive(_zip(tmp_path, lines, header), tmp_path / "s", release)


def test_a_real_format_release_passes_with_its_row_count(tmp_path):
    rows = fx.sample_rows("2022-12")
    assert _check(tmp_path, [r.line() for r in rows]) == len(rows)


def test_extra_columns_usda_might_add_are_read_past(tmp_path):
    rows = fx.sample_rows("2022-12")
    lines = [r.line() + ',"new"' for r in rows]
    assert _check(tmp_path, lines, fx.HEADER + ",Surprise") == len(rows)


def _bad(row: fx.PsdRow, field: str, text: str) -> str:
    """The row's CSV line with one field's raw text replaced."""
    parts = row.line().split(",")
    # Text columns are quoted and coffee's name has a comma: index from the right.
    index = {
        "Commodity_Code": 0,
        "Country_Code": -10,
        "Country_Name": -9,
        "Market_Year": -8,
        "Calendar_Year": -7,
        "Month": -6,
        "Attribute_ID": -5,
        "Unit_ID": -3,
        "Value": -1,
    }[field]
    parts[index] = text
    return ",".join(parts)


@pytest.mark.parametrize(
    "field, text, fault",
    [
        ("Value", "n/a", "Value must be a number with 4 decimals"),
        ("Value", "nan", "Value must be a number with 4 decimals"),
        ("Value", "", "Value must be a number with 4 decimals"),
        ("Value", "1e5", "Value must be a number with 4 decimals"),
        ("Value", "12.5", "Value must be a number with 4 decimals"),
        ("Value", "9" * 401 + ".0000", "Value must be a number with 4 decimals"),  # infinity
        ("Value", "99999999.0000", "Value 99999999.0000 is beyond 10,000,000, the bound of"),
        ("Market_Year", "0", "Market_Year must be 4 digits"),
        ("Market_Year", "9999", "Market_Year 9999 outside 1960..2025"),
        ("Market_Year", "20x3", "Market_Year must be 4 digits"),
        ("Calendar_Year", "", "Calendar_Year must be 4 digits"),
        ("Calendar_Year", "2023", "Calendar_Year/Month 2023-12 is not a stamp of this release"),
        ("Month", "13", "Month 13 is not 00..12"),
        ("Commodity_Code", "", "Commodity_Code must be 7 digits"),
        ("Commodity_Code", "711100", "Commodity_Code must be 7 digits, got '711100'"),
        ("Commodity_Code", '"0711100 "', "Commodity_Code must be 7 digits, got '\"0711100 \"'"),
        ("Commodity_Code", '"0711100"', "Commodity_Code must be 7 digits"),  # quoted code
        ("Country_Code", "Br", "Country_Code must be 2 capital letters or digits"),
        ("Country_Name", '" Brazil"', "Country_Name must be quoted ASCII text without"),
        ("Country_Name", "Brazil", "Country_Name must be quoted ASCII text"),
        ("Attribute_ID", "", "Attribute_ID must be 3 digits"),
        ("Attribute_ID", "28", "Attribute_ID must be 3 digits, got '28'"),
        ("Attribute_ID", "999", "Attribute_ID 999 is not a PSD attribute materia knows"),
        ("Unit_ID", "  ", "Unit_ID must be 2 digits"),
        ("Unit_ID", "8", "Unit_ID must be 2 digits"),
    ],
)
def test_each_fault_is_named_with_its_line_and_field(tmp_path, field, text, fault):
    rows = fx.sample_rows("2022-12")
    lines = [r.line() for r in rows]
    lines[6] = _bad(rows[6], field, text)
    with pytest.raises(ArchiveError) as err:
        _check(tmp_path, lines)
    assert str(err.value).startswith(f"line 8: {fault}")  # header is line 1


def test_a_byte_that_is_not_ascii_is_named_with_its_line_and_field(tmp_path):
    lines = [r.line().encode() for r in fx.sample_rows("2022-12")]
    lines[2] = lines[2].replace(b'"Brazil"', b'"Bra\xffzil"')
    data = fx.HEADER.encode() + b"\r\n" + b"".join(x + b"\r\n" for x in lines)
    path = fx.write_raw(tmp_path / "psd_coffee_csv.zip", data)
    with pytest.raises(ArchiveError, match=r"^line 4: byte 0xff in Country_Name is not printable ASCII"):  # fmt: skip
        psd_archive.check_archive(path, tmp_path / "s", RELEASE)


def test_the_header_is_plain_column_names(tmp_path):
    rows = [r.line() for r in fx.sample_rows("2022-12")]
    for header in (fx.HEADER.replace("Value", '"Value"'), "\ufeff" + fx.HEADER):
        with pytest.raises(ArchiveError, match="line 1: the PSD header must be plain column names"):  # fmt: skip
            psd_archive.check_archive(
                fx.write_raw(
                    tmp_path / "psd_coffee_csv.zip", (header + "\r\n" + "\r\n".join(rows)).encode()
                ),  # fmt: skip
                tmp_path / "s",
                RELEASE,
            )


def test_every_real_release_passes(shared_psd_dir, tmp_path):
    """Every real USDA file, the Russia breakdown included, passes under the month it was
    published in, with its row count (README)."""
    expected = {
        "2022/06/psd_coffee_csv.zip": 77_957,
        "2022/12/psd_coffee_csv.zip": 77_957,
        "2022/11/psd_cotton_csv.zip": 94_107,
        "2022/11/psd_grains_pulses_csv.zip": 544_710,
        "2022/10/psd_livestock_csv.zip": 150_487,
        "2025/11/psd_russiabreakdown_area_prod_csv.zip": 156,
    }
    found = {}
    for path in sorted((shared_psd_dir / "archives").glob("**/*.zip")):
        y, m = path.parent.parts[-2:]
        rel = f"{y}/{m}/{path.name}"
        found[rel] = psd_archive.check_archive(path, tmp_path, date(int(y), int(m), 1))
    assert found == expected | {k: v for k, v in found.items() if k not in expected}
    assert set(expected) <= set(found)


def test_every_official_attribute_id_is_known(shared_psd_dir):
    from materia.sources import psd_format

    with open(shared_psd_dir / "lookups" / "commodityAttributes.csv", newline="") as f:
        official = {f"{int(r['attributeId']):03d}" for r in csv_mod.DictReader(f)}
    assert len(official) == 85
    assert official <= psd_format.ATTRIBUTE_IDS
    assert psd_format.ATTRIBUTE_IDS - official == {"219", "220", "221"}  # in real files only


@pytest.mark.parametrize(
    "line, fault",
    [
        ("garbage row here", "line 3: expected 12 fields, found 1"),
        ('0711100,"Coffee, Green,BR,"Brazil",2023,2022,12,028,"P",02,"U",1.0000', "line 3: "),
    ],
)
def test_malformed_rows_are_named_with_their_line(tmp_path, line, fault):
    good = [r.line() for r in fx.sample_rows("2022-12")]
    with pytest.raises(ArchiveError, match=fault):
        _check(tmp_path, [good[0], line, *good[1:]])


def test_header_only_and_empty_and_foreign_files_are_refused(tmp_path):
    with pytest.raises(ArchiveError, match="line 2: header but no data rows"):
        _check(tmp_path, [])
    with pytest.raises(ArchiveError, match="lacks column.s. Value"):
        _check(tmp_path, ["1,2"], header=fx.HEADER.rsplit(",", 1)[0])
    with pytest.raises(ArchiveError, match="line 1: not the PSD header"):
        _check(tmp_path, ["1,2"], header="code,value")
    empty = tmp_path / "e.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("psd_coffee.csv", b"")
    with pytest.raises(ArchiveError, match="line 1: empty CSV file"):
        psd_archive.check_archive(empty, tmp_path / "s", RELEASE)


def test_zip_faults(tmp_path):
    good = fx.write_release(tmp_path / "psd_coffee_csv.zip", fx.sample_rows())
    faults = {
        "CRC check failed": fx.corrupt_zip(good, tmp_path / "c.zip"),
        "not a readable zip": fx.truncated_zip(good, tmp_path / "t.zip"),
        "exactly one CSV member": fx.two_member_zip(tmp_path / "2.zip", fx.sample_rows()),
    }
    for message, path in faults.items():
        with pytest.raises(ArchiveError, match=message):
            psd_archive.check_archive(path, tmp_path / "s", RELEASE)


def test_sql_and_python_rules_agree_on_every_fault(tmp_path):
    """The fast DuckDB pass and the line scan that names the line apply the same rules."""
    rows = fx.sample_rows("2022-12")
    cases = [
        ("Value", "1e5"),
        ("Value", "-12.5000"),
        ("Value", "99999999.0000"),
        ("Market_Year", "1959"),
        ("Month", "00"),
        ("Month", "13"),
        ("Calendar_Year", "2023"),
        ("Calendar_Year", "1949"),
        ("Attribute_ID", "999"),
        ("Commodity_Code", "711100"),
        ("Unit_ID", "99"),
    ]
    names = list(fx.COLUMNS)
    con = duckdb.connect()
    for field, text in cases:
        line = _bad(rows[0], field, text)
        csv = tmp_path / "one.csv"
        csv.write_text(fx.HEADER + "\r\n" + line + "\r\n")
        (_, bad) = con.execute(psd_archive.format_sql(csv, names)).fetchone()
        if bad:
            in_sql = "format"
        else:
            (facts,) = con.execute(psd_archive.facts_sql(csv, names)).fetchall()
            in_sql = psd_archive.facts_fault(facts, RELEASE)
        in_python = psd_archive.line_fault(line, names, RELEASE)
        assert in_sql == (in_python and in_python[0]), (field, text)
