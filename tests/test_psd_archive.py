"""materia.psd_archive: the one check of an archive, shared by extract and transform."""

from __future__ import annotations

import csv as csv_mod
import zipfile
from datetime import date

import duckdb
import pytest

from materia import psd_archive
from materia.psd_archive import ArchiveError
from testsupport import psd_fixtures as fx

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
        ("Value", "n/a", "Value is not a number"),
        ("Value", "nan", "Value is not a number"),
        ("Value", "", "Value is not a number"),
        ("Market_Year", "0", "Market_Year outside 1960..2025"),
        ("Market_Year", "9999", "Market_Year outside 1960..2025"),
        ("Market_Year", "20x3", "Market_Year is not a year"),
        ("Calendar_Year", "", "Calendar_Year is not a year"),
        ("Month", "13", "Month is not 00..12"),
        ("Commodity_Code", "", "a code is empty"),
        ("Attribute_ID", "", "a code is empty"),
        ("Unit_ID", "  ", "a code is empty"),
    ],
)
def test_each_fault_is_named_with_its_line(tmp_path, field, text, fault):
    rows = fx.sample_rows("2022-12")
    lines = [r.line() for r in rows]
    lines[6] = _bad(rows[6], field, text)
    with pytest.raises(ArchiveError) as err:
        _check(tmp_path, lines)
    assert str(err.value).startswith(f"line 8: {fault}")  # header is line 1


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
    cases = [("Value", "1e5"), ("Value", "-12.5"), ("Market_Year", "1959"), ("Month", "00")]
    names = list(fx.COLUMNS)
    con = duckdb.connect()
    for field, text in cases:
        line = _bad(rows[0], field, text)
        csv = tmp_path / "one.csv"
        csv.write_text(fx.HEADER + "\r\n" + line + "\r\n")
        sql = psd_archive.fault_sql(RELEASE)
        (in_sql,) = con.execute(
            f"SELECT {sql} FROM {psd_archive.read_csv_sql(csv, names)}"
        ).fetchone()
        (row,) = list(csv_mod.reader([line]))
        assert in_sql == psd_archive.row_fault(row, RELEASE, names), (field, text)
