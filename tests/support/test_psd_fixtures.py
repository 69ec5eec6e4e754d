"""The generator writes zips in exactly the format the data README describes."""

from __future__ import annotations

import re
import zipfile

import pytest

from testsupport.psd import fixtures as pf

LINE = re.compile(
    r'^\d{7},"[^"]*",[A-Z0-9]{2},"[^"]*",\d{4},\d{4},\d{2},\d{3},"[^"]*",\d{2},"[^"]*",-?\d+\.\d{4}$'
)


def _lines(path):
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        (member,) = zf.namelist()
        raw = zf.read(member)
    return member, raw


def test_release_matches_psd_format(tmp_path):
    path = pf.write_release(tmp_path / "psd_coffee_csv.zip", pf.sample_rows("2022-06"))
    member, raw = _lines(path)
    assert member == "psd_coffee.csv"
    raw.decode("ascii")
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    header, *lines = raw.decode().split("\r\n")[:-1]
    assert header == pf.HEADER and len(header.split(",")) == 12
    assert lines and all(LINE.match(x) for x in lines)
    rows = pf.sample_rows("2022-06")
    assert lines == [r.line() for r in rows]
    assert len({r.key for r in rows}) == len(rows)


def test_sample_has_real_brazil_coffee_and_a_revision():
    june = {r.key: r for r in pf.sample_rows("2022-06")}
    dec = {r.key: r for r in pf.revise(june.values(), "2022-12")}
    br23 = ("0711100", "BR", 2023, "028")
    assert june[br23].value == 64300.0 and (june[br23].calendar_year, june[br23].month) == (
        2022,
        "06",
    )
    assert dec[br23].value == 62600.0 and (dec[br23].calendar_year, dec[br23].month) == (
        2022,
        "12",
    )
    for year in range(2020, 2024):
        assert 58100 <= june[("0711100", "BR", year, "028")].value <= 69900
    assert june[("2631000", "US", 2022, "028")].value == 14031.0
    assert any(r.month == "00" for r in june.values())
    # Only the revised value and the newest market year get the new stamp.
    changed = {k for k in june if june[k] != dec[k]}
    assert br23 in changed
    assert all(k == br23 or k[2] == 2023 for k in changed)


def test_archive_layout_and_names(tmp_path):
    rows = pf.sample_rows()
    out = pf.archive_layout(tmp_path, {"2022-06": rows, "2022-12": pf.revise(rows, "2022-12")})
    assert out["2022-06"] == tmp_path / "archives/2022/06/psd_coffee_csv.zip"
    assert (tmp_path / "archives/2022/12/psd_coffee_csv.zip").is_file()
    assert pf.member_for("psd_alldata_csv.zip") == "psd_alldata.csv"
    assert pf.member_for("psd_grains_pulses_csv.zip") == "psd_grains_pulses.csv"


def test_large_rows_are_valid_and_unique(tmp_path):
    rows = list(pf.large_rows(20_000))
    assert len({r.key for r in rows}) == len(rows)
    assert all(LINE.match(r.line()) for r in rows[:2000])
    path = pf.write_release(tmp_path / "psd_alldata_csv.zip", iter(rows))
    member, raw = _lines(path)
    assert member == "psd_alldata.csv" and raw.count(b"\r\n") == 20_001


def test_faults_are_really_broken(tmp_path):
    good = pf.write_release(tmp_path / "psd_coffee_csv.zip", pf.sample_rows())
    with zipfile.ZipFile(pf.corrupt_zip(good, tmp_path / "corrupt.zip")) as zf:
        assert zf.testzip() == "psd_coffee.csv"  # CRC mismatch
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(pf.truncated_zip(good, tmp_path / "trunc.zip"))
    with zipfile.ZipFile(pf.wrong_header_zip(tmp_path / "x" / "psd_coffee_csv.zip")) as zf:
        assert zf.testzip() is None
        assert not zf.read("psd_coffee.csv").startswith(pf.HEADER.encode())
    with zipfile.ZipFile(pf.two_member_zip(tmp_path / "two.zip", pf.sample_rows())) as zf:
        assert len(zf.namelist()) == 2


def test_an_eu_breakdown_file_built_like_psd_onlines(tmp_path):
    """Member states under the EU row's own commodity codes, adding up to it exactly."""
    from collections import defaultdict

    primary = pf.sample_rows("2022-11")
    members = pf.eu_breakdown_rows(primary)
    eu = {r.key: r.value for r in primary if r.country_code == "E4" and r.attribute_id in ("004", "028")}  # fmt: skip
    sums: dict[tuple, float] = defaultdict(float)
    for r in members:
        if r.attribute_id != "184":
            sums[(r.commodity_code, "E4", r.market_year, r.attribute_id)] += r.value
    assert dict(sums) == eu
    assert {r.commodity_code for r in members} == {k[0] for k in eu}  # the primary codes
    assert "E4" not in {r.country_code for r in members} and "FR" in {r.country_code for r in members}  # fmt: skip
    fr = {r.attribute_id: r.value for r in members if (r.country_code, r.market_year) == ("FR", 2022)}  # fmt: skip
    assert fr["184"] == round(fr["028"] / fr["004"], 2)
    path = pf.write_release(tmp_path / pf.EU_FILE, members)
    member, raw = _lines(path)
    assert member == "psd_eu_area_prod.csv"
    assert all(LINE.match(line) for line in raw.decode().split("\r\n")[1:-1])
