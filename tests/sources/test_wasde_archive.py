"""The WASDE file check (materia.sources.wasde_archive): the header, every field's format, the
flags, the release month and the report number, each fault one line naming the field."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from materia.sources import wasde_archive
from materia.sources.check import ArchiveError
from testsupport.psd import wasde_fixtures as wf

NOV = date(2025, 11, 1)


def check(tmp_path: Path, text: str, release: date = NOV) -> int:
    path = tmp_path / "r.csv"
    path.write_bytes(text.encode("latin-1"))
    return wasde_archive.check_archive(path, tmp_path, release)


def first_replaced(**fields) -> str:
    rows = wf.sample_rows()
    return wf.csv_text([rows[0]._replace(**fields), *rows[1:]])


def test_a_report_passes_with_its_row_count(tmp_path):
    rows = wf.sample_rows()
    assert check(tmp_path, wf.csv_text(rows)) == len(rows)
    small = [
        rows[0]._replace(Value=".64"),
        rows[1]._replace(Value="-.03"),
        rows[2]._replace(Value=""),
    ]
    assert check(tmp_path, wf.csv_text(small)) == 3  # USDA's own spellings of numbers


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"Value": "1,234"}, "line 2: Value must be empty or a number, got '\"1,234\"'"),
        ({"Value": "n/a"}, "line 2: Value must be empty or a number"),
        ({"ProjEstFlag": "Forecast"}, "line 2: ProjEstFlag must be empty or one of Est., Proj."),
        ({"AnnualQuarterFlag": "V"}, "line 2: AnnualQuarterFlag must be one of Annual, I, II"),
        ({"MarketYear": "2025/27"}, "line 2: MarketYear 2025/27 is not two consecutive years"),
        ({"MarketYear": "25/26"}, "line 2: MarketYear must be empty, a year (2025)"),
        ({"ForecastMonth": "10"}, "line 2: ForecastYear/ForecastMonth 2025-10 is not the release"),
        (
            {"ReleaseDate": "2025-12-01"},
            "line 2: ReleaseDate 2025-12-01 is not in the release month",
        ),
        ({"WasdeNumber": "664"}, "line 3: WasdeNumber 665 beside 664: one file holds one report"),
        ({"Unit": " Million Bushels"}, "line 2: Unit must be text"),
        ({"Region": "Côte d'Ivoire"}, "line 2: byte 0xf4 in Region is not printable ASCII"),
    ],
)
def test_a_bad_line_is_named_with_its_field(tmp_path, fields, message):
    with pytest.raises(ArchiveError) as e:
        check(tmp_path, first_replaced(**fields))
    assert str(e.value).startswith(message), str(e.value)


def test_shape_faults(tmp_path):
    rows = wf.sample_rows()[:2]
    text = wf.csv_text(rows)
    cases = {
        text.replace('"Annual","', '"Annual",', 1): "line 2: expected 16 fields, found",
        text.replace('"Corn"', "Corn", 1): "line 2: Commodity must be one double-quoted field",
        wf.HEADER + "\r\n": "line 2: header but no data rows",
        "": "line 1: empty CSV file",
        wf.wrong_header_text(): "line 1: not the WASDE header",
        text.replace('"Unit",', "", 1): "line 1: the WASDE header lacks column(s) Unit",
        text.replace('"WasdeNumber"', "WasdeNumber", 1): "line 1: the WASDE header must be quoted",
    }
    for body, message in cases.items():
        with pytest.raises(ArchiveError, match=message.replace("(", r"\(").replace(")", r"\)")):
            check(tmp_path, body)


def test_an_extra_column_is_read_past(tmp_path):
    rows = wf.sample_rows()[:3]
    header = wf.HEADER + ',"Note"'
    text = header + "\r\n" + "".join(r.line() + ',"x"\r\n' for r in rows)
    assert check(tmp_path, text) == 3


def test_the_rules_have_a_version_that_records_carry(tmp_path):
    data = wasde_archive.record(5, sha256="x")
    assert wasde_archive.recorded_rows(data) == 5
    assert wasde_archive.recorded_rows(data.replace(b'"rules": "', b'"rules": "old')) is None
