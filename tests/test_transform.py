"""materia.transform end to end: landed archives → SQLMesh → Iceberg, read back with plain
pyiceberg. Real USDA releases from ../shared/data/psd, and PSD-format drift cases.

Runs in-process (one SQLMesh import for the module); each `transform.run` is a real
plan + apply on a DuckDB warehouse file and a real publish to a SqlCatalog.
"""

from __future__ import annotations

import shutil
import zipfile
from datetime import date
from pathlib import Path

import pytest

from materia import settings as settings_mod
from materia import transform
from materia.errors import MateriaError
from testsupport import psd_fixtures as fx

BR_COFFEE_PRODUCTION_2023 = ("0711100", "BR", 2023, "028")


def make_settings(home: Path, monkeypatch: pytest.MonkeyPatch):
    # The SQLMesh CLI path reads os.environ; keep it consistent with the settings object.
    for name in ("MATERIA_ENV", "R2_ENDPOINT", "R2_BUCKET", "ICEBERG_REST_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MATERIA_HOME", str(home))
    return settings_mod.load({"MATERIA_HOME": str(home)}, dotenv=home / "no.env")


def land(home: Path, src: Path, stem: str, month: str, etag: str) -> str:
    """Put a zip where the extractor lands it: psd/<stem>/<YYYY>/<MM>/<etag>.zip."""
    y, m = month.split("-")
    key = f"psd/{stem}/{y}/{m}/{etag}.zip"
    dest = home / "landing" / key
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return key


def iceberg(home: Path):
    """The local catalog opened with plain pyiceberg, not through materia."""
    from pyiceberg.catalog.sql import SqlCatalog

    lake = home / "lakehouse"
    return SqlCatalog(
        "materia",
        uri=f"sqlite:///{lake / 'catalog.db'}",
        warehouse=f"file://{lake / 'warehouse'}",
    )


def snapshots(home: Path, namespace: str = "serving") -> dict[str, int | None]:
    cat = iceberg(home)
    out = {}
    for ident in cat.list_tables(namespace):
        snap = cat.load_table(ident).current_snapshot()
        out[ident[-1]] = snap.snapshot_id if snap else None
    return out


def read(home: Path, table: str, namespace: str = "serving"):
    return iceberg(home).load_table((namespace, table)).scan().to_arrow().to_pylist()


def series(rows, key, value="value"):
    c, k, y, a = key
    return sorted(
        (r["release_month"].isoformat(), r[value])
        for r in rows
        if (r["commodity_code"], r["country_code"], r["market_year"], r["attribute_id"])
        == (c, k, y, a)
    )


# --- the real releases -------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_run(shared_psd_dir, tmp_path_factory):
    """Cotton 2022-11 and coffee 2022-12 first, then coffee 2022-06 landing late, then a
    run with nothing new. Returns the home and each run's result."""
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("real") / "home"
    s = make_settings(home, mp)
    arch = shared_psd_dir / "archives" / "2022"
    land(home, arch / "11" / "psd_cotton_csv.zip", "psd_cotton_csv", "2022-11", "cot11")
    land(home, arch / "12" / "psd_coffee_csv.zip", "psd_coffee_csv", "2022-12", "cof12")
    first = transform.run(s, "prod")
    snaps_first = snapshots(home)
    land(home, arch / "06" / "psd_coffee_csv.zip", "psd_coffee_csv", "2022-06", "cof06")
    late = transform.run(s, "prod")
    snaps_late = snapshots(home)
    vintages_late = len(read(home, "fct_psd_vintages"))
    again = transform.run(s, "prod")
    yield {
        "home": home,
        "settings": s,
        "first": first,
        "late": late,
        "again": again,
        "snaps_first": snaps_first,
        "snaps_late": snaps_late,
        "vintages_late": vintages_late,
    }
    mp.undo()


def test_done_when_coffee_values_read_with_plain_pyiceberg(real_run):
    home = real_run["home"]
    obt = read(home, "obt_commodity_metrics")
    br = [
        r
        for r in obt
        if (r["commodity_code"], r["country_code"], r["market_year"]) == ("0711100", "BR", 2023)
    ]
    assert len(br) == 1
    assert br[0]["production"] == 62600
    assert br[0]["production_unit"] == "(1000 60 KG BAGS)"
    assert br[0]["release_month"].isoformat() == "2022-12-01"
    assert series(read(home, "fct_psd_vintages"), BR_COFFEE_PRODUCTION_2023) == [
        ("2022-06-01", 64300.0),
        ("2022-12-01", 62600.0),
    ]


def test_us_cotton_production_2022(real_run):
    latest = read(real_run["home"], "fct_psd_latest")
    assert series(latest, ("2631000", "US", 2022, "028")) == [("2022-11-01", 14031.0)]


def test_brazil_coffee_production_in_range_in_both_releases(real_run):
    vintages = read(real_run["home"], "fct_psd_vintages")
    for year in range(2020, 2024):
        values = [v for _, v in series(vintages, ("0711100", "BR", year, "028"))]
        assert values and all(58100 <= v <= 69900 for v in values), (year, values)


def test_late_release_is_restated_and_the_revision_count_matches(real_run):
    late = real_run["late"]
    assert late.restated_from == "2022-06-01"
    # Between the two coffee releases 681 values changed (data README); the late 2022-06
    # release makes every coffee value appear there first, so 2022-12 holds exactly those.
    vintages = read(real_run["home"], "fct_psd_vintages")
    coffee_12 = [
        r
        for r in vintages
        if r["commodity_code"] == "0711100" and r["release_month"].isoformat() == "2022-12-01"
    ]
    assert len(coffee_12) == 681


def test_second_run_with_nothing_new_adds_nothing(real_run):
    again = real_run["again"]
    assert again.skipped
    assert snapshots(real_run["home"]) == real_run["snaps_late"]
    assert len(read(real_run["home"], "fct_psd_vintages")) == real_run["vintages_late"]


def test_unchanged_tables_get_no_new_snapshot(real_run):
    # The late 2022-06 coffee release adds vintages, but the newest coffee release is
    # still 2022-12, so obt and the dims keep their snapshots.
    late = real_run["late"]
    assert late.published["obt_commodity_metrics"] is None
    assert late.published["dim_country"] is None
    assert late.published["fct_psd_vintages"] is not None
    assert (
        real_run["snaps_late"]["obt_commodity_metrics"]
        == (real_run["snaps_first"]["obt_commodity_metrics"])
    )


# --- drift and bad input -------------------------------------------------------------------
def _rows(release: str):
    return fx.sample_rows(release, commodities=["0711100"])


def _write(path: Path, header: str, lines: list[str]) -> Path:
    return fx.write_lines(path, lines, "psd_coffee.csv", header=header)


@pytest.fixture(scope="module")
def drift_run(tmp_path_factory):
    """A clean release, then one with a renamed label, an extra column, a new country and
    duplicated rows, transformed together."""
    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("drift")
    home = tmp / "home"
    s = make_settings(home, mp)
    base = _rows("2022-06")
    fx.write_release(tmp / "a.zip", base)
    land(home, tmp / "a.zip", "psd_coffee_csv", "2022-06", "a")

    nxt = fx.revise(base, "2022-12")
    renamed = [
        r._replace(attribute_description="Output") if r.attribute_id == "028" else r for r in nxt
    ]
    new_country = [
        r._replace(country_code="ZZ", country_name="Newland")
        for r in renamed
        if r.country_code == renamed[0].country_code
    ]
    lines = [r.line() + ",extra" for r in renamed + new_country]
    lines += lines[:5]  # duplicated rows
    _write(tmp / "b.zip", fx.HEADER + ",Surprise", lines)
    # Landed this month: it must be processed today, not when the month is complete.
    this_month = date.today().strftime("%Y-%m")
    land(home, tmp / "b.zip", "psd_coffee_csv", this_month, "b")
    result = transform.run(s, "prod")
    yield {
        "home": home,
        "settings": s,
        "tmp": tmp,
        "result": result,
        "rows": renamed,
        "this_month": this_month,
    }
    mp.undo()


def test_drift_is_handled_label_column_country_duplicates(drift_run):
    home = drift_run["home"]
    attrs = {r["attribute_id"]: r for r in read(home, "dim_attribute")}
    assert attrs["028"]["attribute_name"] == "Output"  # newest label, same id
    assert attrs["028"]["metric_name"] == "production"
    countries = {r["country_code"]: r["country_name"] for r in read(home, "dim_country")}
    assert countries["ZZ"] == "Newland"
    latest = read(home, "fct_psd_latest")
    keys = [(r["country_code"], r["market_year"], r["attribute_id"]) for r in latest]
    assert len(keys) == len(set(keys))  # duplicates collapsed
    assert len(latest) == 2 * len(drift_run["rows"]) - len(
        [r for r in drift_run["rows"] if r.country_code != drift_run["rows"][0].country_code]
    )
    obt = read(home, "obt_commodity_metrics")
    assert all(r["production"] is not None for r in obt)
    assert {r["release_month"].isoformat()[:7] for r in obt} == {drift_run["this_month"]}


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing_column", "lacks column(s) Value"),
        ("empty_file", "empty CSV file"),
        ("header_only", "no data rows"),
        ("non_numeric", "Could not convert"),
    ],
)
def test_bad_input_is_a_clear_error_and_prod_is_untouched(drift_run, case, expected):
    home, tmp, s = drift_run["home"], drift_run["tmp"], drift_run["settings"]
    before = snapshots(home)
    rows = fx.revise(_rows("2022-06"), "2023-01")
    bad = tmp / f"{case}.zip"
    if case == "missing_column":
        header = fx.HEADER.rsplit(",", 1)[0]
        _write(bad, header, [r.line().rsplit(",", 1)[0] for r in rows])
    elif case == "empty_file":
        with zipfile.ZipFile(bad, "w") as zf:
            zf.writestr("psd_coffee.csv", b"")
    elif case == "header_only":
        _write(bad, fx.HEADER, [])
    else:
        lines = [r.line() for r in rows]
        lines[3] = lines[3].rsplit(",", 1)[0] + ",n/a"
        _write(bad, fx.HEADER, lines)
    key = land(home, bad, "psd_coffee_csv", "2023-01", case)  # late for a processed month
    try:
        with pytest.raises(MateriaError) as err:
            transform.run(s, "prod")
        message = str(err.value)
        assert "\n" not in message
        assert expected in message
        if case != "non_numeric":  # caught before SQLMesh, so it can name the landing key
            assert key in message
        assert snapshots(home) == before
    finally:
        (home / "landing" / key).unlink()
