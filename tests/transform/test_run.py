"""materia.transform end to end: landed archives → the models → one published run, read
back with plain pyiceberg the way outside readers do (testsupport/lakehouse/published.py).

The first part never skips: releases from the project's own generator, landed out of
order, with known revisions, against expectations computed here with plain Python. The
second part checks the values the data README lists on the real USDA releases.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from materia.sources.psd_codes import METRICS
from materia.transform import run as transform
from testsupport.lakehouse import published
from testsupport.psd import fixtures as fx

ALL, COFFEE = "psd_alldata_csv", "psd_coffee_csv"
BR23 = ("0711100", "BR", 2023, "028")


def land(home: Path, src: Path, stem: str, month: str, etag: str) -> str:
    """Put a zip where the extractor lands it: psd/<stem>/<YYYY>/<MM>/<etag>.zip."""
    y, m = month.split("-")
    key = f"psd/{stem}/{y}/{m}/{etag}.zip"
    dest = home / "landing" / key
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return key


# --- the reference: what the tables must hold, computed independently ----------------------
def expected_vintages(releases: dict[tuple[str, str], list[fx.PsdRow]]) -> set[tuple]:
    """(key, release month, value, unit_id, stamp) each time a value first appears or
    changes, walking the landed releases in month order."""
    by_month: dict[str, dict[tuple, fx.PsdRow]] = defaultdict(dict)
    for (_, month), rows in releases.items():
        for r in rows:  # the datasets of one month agree on the values they share
            by_month[month][r.key] = r
    last: dict[tuple, float] = {}
    out = set()
    for month in sorted(by_month):
        for key, r in by_month[month].items():
            if last.get(key) != r.value:
                out.add((*key, f"{month}-01", r.value, r.unit_id, r.calendar_year, r.month))
            last[key] = r.value
    return out


def expected_latest(releases: dict[tuple[str, str], list[fx.PsdRow]]) -> dict[tuple, tuple]:
    """Each commodity from the newest month among each dataset's newest release."""
    newest: dict[str, str] = {}
    for stem, month in releases:
        newest[stem] = max(newest.get(stem, month), month)
    month_of: dict[str, str] = {}
    for stem, month in newest.items():
        for r in releases[(stem, month)]:
            month_of[r.commodity_code] = max(month_of.get(r.commodity_code, month), month)
    out = {}
    for stem, month in newest.items():
        for r in releases[(stem, month)]:
            if month_of[r.commodity_code] == month:
                out[r.key] = (r.value, f"{month}-01", r.calendar_year, r.month, r.country_name)
    return out


def expected_obt(latest_rows: dict[tuple, tuple]) -> dict[tuple, dict]:
    metric_of = {a: m for m, a in METRICS.items()}
    rows: dict[tuple, dict] = defaultdict(dict)
    for (c, k, y, a), (value, *_) in latest_rows.items():
        if a in metric_of:
            rows[(c, k, y)][metric_of[a]] = value
    world = defaultdict(float)
    for (c, _, y), m in rows.items():
        world[(c, y)] += m.get("production") or 0.0
    for (c, k, y), m in rows.items():
        prev = rows.get((c, k, y - 1), {}).get("production")
        p = m.get("production")
        m["production_yoy_pct"] = 100.0 * (p / prev - 1) if p is not None and prev else None
        m["share_of_world_production"] = (
            p / world[(c, y)] if p is not None and world[(c, y)] else None
        )
    return rows


# --- generated releases, landed out of order ------------------------------------------------
def _series() -> dict[tuple[str, str], list[fx.PsdRow]]:
    r06 = fx.sample_rows("2022-06")
    r09 = fx.revise(r06, "2022-09", {BR23: 62000.0, ("2631000", "US", 2022, "088"): 5100.0})
    r12 = fx.revise(r09, "2022-12", {BR23: 62600.0})
    gone = ("2631000", "CH", 2020, "004")  # a series USDA dropped
    new = [
        r._replace(country_code="AR", country_name="Argentina", value=round(r.value + 1, 4))
        for r in r12
        if r.commodity_code == "0410000" and r.country_code == "US"
    ]
    r12 = [r for r in r12 if r.key != gone] + new
    coffee = [r for r in r12 if r.commodity_code == "0711100"]
    c01 = fx.revise(coffee, "2023-01", {("0711100", "BR", 2022, "028"): 58200.0})
    return {
        (ALL, "2022-06"): r06,
        (ALL, "2022-09"): r09,
        (ALL, "2022-12"): r12,
        (COFFEE, "2023-01"): c01,
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Run 1: alldata 2022-06 and 2022-12. Run 2: alldata 2022-09 lands late. Run 3: a
    coffee-only 2023-01 release. Run 4: nothing new. Tables are read after each run."""
    from materia.core import settings

    tmp = tmp_path_factory.mktemp("generated")
    home = tmp / "home"
    s = settings.load({"MATERIA_HOME": str(home)}, dotenv=tmp / "no.env")
    series = _series()
    zips = {k: fx.write_release(tmp / f"{k[0]}-{k[1]}.zip", rows) for k, rows in series.items()}
    cat = published.local_catalog
    states, results, landed = [], [], {}

    def step(*keys):
        for k in keys:
            land(home, zips[k], k[0], k[1], f"etag{k[1].replace('-', '')}")
            landed[k] = series[k]
        results.append(transform.run(s))
        states.append(
            (dict(landed), published.read_all(cat(home)), published.newest_run(cat(home)))
        )

    step((ALL, "2022-06"), (ALL, "2022-12"))
    step((ALL, "2022-09"))
    step((COFFEE, "2023-01"))
    step()
    return {"states": states, "results": results, "home": home}


def _vintage_set(rows: list[dict]) -> set[tuple]:
    return {
        (
            r["commodity_code"],
            r["country_code"],
            r["market_year"],
            r["attribute_id"],
            r["release_month"].isoformat(),
            r["value"],
            r["unit_id"],
            r["calendar_year"],
            r["month"],
        )
        for r in rows
    }


@pytest.mark.parametrize("run", [0, 1, 2])
def test_vintages_are_exactly_the_revisions(generated, run):
    landed, tables, _ = generated["states"][run]
    assert _vintage_set(tables["fct_psd_vintages"]) == expected_vintages(landed)


def test_a_late_release_slots_into_history(generated):
    (_, first, _), (_, late, _) = generated["states"][:2]
    series = lambda t: sorted(  # noqa: E731
        (r["release_month"].isoformat(), r["value"])
        for r in t["fct_psd_vintages"]
        if (r["commodity_code"], r["country_code"], r["market_year"], r["attribute_id"]) == BR23
    )
    assert series(first) == [("2022-06-01", 64300.0), ("2022-12-01", 62600.0)]
    assert series(late) == [
        ("2022-06-01", 64300.0),
        ("2022-09-01", 62000.0),
        ("2022-12-01", 62600.0),
    ]
    assert generated["results"][1].months == ["2022-09", "2022-12"]


@pytest.mark.parametrize("run", [0, 2])
def test_latest_is_each_commodity_from_its_newest_release(generated, run):
    landed, tables, _ = generated["states"][run]
    got = {
        (r["commodity_code"], r["country_code"], r["market_year"], r["attribute_id"]): (
            r["value"],
            r["release_month"].isoformat(),
            r["calendar_year"],
            r["month"],
            r["country_name"],
        )
        for r in tables["fct_psd_latest"]
    }
    assert len(got) == len(tables["fct_psd_latest"])
    assert got == expected_latest(landed)


def test_obt_values_and_world_shares(generated):
    landed, tables, _ = generated["states"][2]
    want = expected_obt(expected_latest(landed))
    got = {
        (r["commodity_code"], r["country_code"], r["market_year"]): r
        for r in tables["obt_commodity_metrics"]
    }
    assert set(got) == set(want)
    for key, metrics in want.items():
        for name, value in metrics.items():
            if value is None:
                assert got[key][name] is None, (key, name)
            else:
                assert got[key][name] == pytest.approx(value, rel=1e-9), (key, name)
    assert got[("0711100", "BR", 2023)]["release_month"].isoformat() == "2023-01-01"
    assert got[("2631000", "US", 2022)]["release_month"].isoformat() == "2022-12-01"


def test_dims_carry_every_code_of_the_latest_data(generated):
    _, tables, _ = generated["states"][2]
    countries = {r["country_code"]: r["country_name"] for r in tables["dim_country"]}
    assert countries["AR"] == "Argentina" and countries["E4"] == "European Union"
    assert "is_aggregate" not in tables["dim_country"][0]
    attrs = {r["attribute_id"]: r["metric_name"] for r in tables["dim_attribute"]}
    assert attrs["028"] == "production" and attrs["184"] == "yield"


def test_unchanged_tables_keep_their_snapshot_and_nothing_new_publishes_nothing(generated):
    (_, _, run1), (_, _, run2), (_, _, run3), (_, _, run4) = generated["states"]
    # The late 2022-09 release changes history only: latest, OBT and dims are as they were.
    for table in ("fct_psd_latest", "obt_commodity_metrics", "dim_country"):
        assert run2[table] == run1[table]
    assert run2["fct_psd_vintages"] != run1["fct_psd_vintages"]
    assert run3["fct_psd_latest"] != run2["fct_psd_latest"]
    assert run4 == run3
    assert generated["results"][3].skipped


# --- the real USDA releases (data README checks) ---------------------------------------------
def _arrow(home: Path, table: str):
    """A published table as one Arrow table (columnar: the real tables are large)."""
    cat = published.local_catalog(home)
    snapshot = published.newest_run(cat)[table]
    return cat.load_table(f"serving.{table}").scan(snapshot_id=snapshot).to_arrow()


@pytest.fixture(scope="module")
def real(shared_psd_dir, tmp_path_factory):
    """Run 1: coffee 2022-12, cotton and grains 2022-11. Run 2: coffee 2022-06 lands late,
    and the real Russia breakdown (2025-11) beside them."""
    from materia.core import settings

    tmp = tmp_path_factory.mktemp("real")
    home = tmp / "home"
    s = settings.load({"MATERIA_HOME": str(home)}, dotenv=tmp / "no.env")
    arch = shared_psd_dir / "archives" / "2022"
    land(home, arch / "12" / "psd_coffee_csv.zip", "psd_coffee_csv", "2022-12", "cof12")
    land(home, arch / "11" / "psd_cotton_csv.zip", "psd_cotton_csv", "2022-11", "cot11")
    land(home, arch / "11" / "psd_grains_pulses_csv.zip", "psd_grains_pulses_csv", "2022-11", "g11")
    transform.run(s)
    out = {"latest_before": _arrow(home, "fct_psd_latest")}
    out["runs_before"] = published.newest_run(published.local_catalog(home))
    land(home, arch / "06" / "psd_coffee_csv.zip", "psd_coffee_csv", "2022-06", "cof06")
    russia = shared_psd_dir / "archives" / "2025" / "11" / "psd_russiabreakdown_area_prod_csv.zip"
    land(home, russia, "psd_russiabreakdown_area_prod_csv", "2025-11", "rb11")
    out["late"] = transform.run(s)
    out["tables"] = published.read_all(published.local_catalog(home))
    out["latest_after"] = _arrow(home, "fct_psd_latest")
    out["runs_after"] = published.newest_run(published.local_catalog(home))
    return out


def _pick(rows, **match):
    return [r for r in rows if all(r[k] == v for k, v in match.items())]


def test_real_brazil_coffee_both_vintages_and_latest(real):
    t = real["tables"]
    br = _pick(
        t["fct_psd_vintages"], commodity_code="0711100", country_code="BR", attribute_id="028"
    )
    assert sorted(
        (r["market_year"], r["release_month"].isoformat(), r["value"])
        for r in br
        if r["market_year"] == 2023
    ) == [
        (2023, "2022-06-01", 64300.0),
        (2023, "2022-12-01", 62600.0),
    ]
    assert all(58100 <= r["value"] <= 69900 for r in br if 2020 <= r["market_year"] <= 2023)
    (obt,) = _pick(
        t["obt_commodity_metrics"], commodity_code="0711100", country_code="BR", market_year=2023
    )
    assert obt["production"] == 62600 and obt["production_unit"] == "(1000 60 KG BAGS)"
    # 681 values changed between the two coffee releases (data README).
    coffee12 = _pick(t["fct_psd_vintages"], commodity_code="0711100")
    assert len([r for r in coffee12 if r["release_month"].isoformat() == "2022-12-01"]) == 681
    assert real["late"].months == ["2022-06", "2022-11", "2022-12", "2025-11"]


def test_real_us_cotton_and_world_wheat_and_corn(real):
    t = real["tables"]
    (cotton,) = _pick(
        t["fct_psd_latest"],
        commodity_code="2631000",
        country_code="US",
        market_year=2022,
        attribute_id="028",
    )
    assert cotton["value"] == 14031
    obt = t["obt_commodity_metrics"]
    for code, production, consumption, stocks in (
        ("0410000", 782675, 785101, 267822),
        ("0440000", 1168385, 1170167, 300759),
    ):
        rows = _pick(obt, commodity_code=code, market_year=2022)
        assert sum(r["production"] or 0 for r in rows) == pytest.approx(production)
        assert sum(r["domestic_consumption"] or 0 for r in rows) == pytest.approx(consumption)
        assert sum(r["ending_stocks"] or 0 for r in rows) == pytest.approx(stocks)
    shares = {
        r["country_code"]: r["share_of_world_production"]
        for r in _pick(obt, commodity_code="0410000", market_year=2022)
    }
    assert round(shares["CH"], 3) == 0.176 and shares["E4"] == pytest.approx(134300 / 782675)


def test_real_russia_breakdown_loads_beside_the_shared_releases_changing_no_value(real):
    """The real 2025-11 breakdown beside the 2022 releases (with coffee's June release,
    which revises history only): every primary value as it was (the OBT is not even
    rewritten), spring and winter wheat reachable under Russia."""
    import pyarrow.compute as pc

    before, after = real["latest_before"], real["latest_after"]
    key = [(c, "ascending") for c in ("commodity_code", "country_code", "market_year", "attribute_id")]  # fmt: skip
    primary = after.filter(pc.equal(after["dataset_role"], "primary")).select(before.column_names)
    assert primary.sort_by(key).equals(before.sort_by(key))
    runs_before, runs_after = real["runs_before"], real["runs_after"]
    assert runs_after["obt_commodity_metrics"] == runs_before["obt_commodity_metrics"]
    parts = after.filter(pc.equal(after["dataset_role"], "breakdown")).to_pylist()
    assert len(parts) == 156  # every row of the file
    assert {
        (r["dataset"], r["parent_country_code"], r["parent_commodity_code"]) for r in parts
    } == {("psd_russiabreakdown_area_prod_csv", "RS", "0410000")}
    y2025 = {r["commodity_code"]: r["value"] for r in parts if (r["market_year"], r["attribute_id"]) == (2025, "028")}  # fmt: skip
    assert y2025 == {"0412000": 25_000, "0413000": 61_500}  # 86,500: Russia's wheat in 2025


# --- a breakdown newer than the primary release hides nothing ---------------------------------
EU = "psd_eu_area_prod_csv"


def _primary_with_eu_rows() -> list[fx.PsdRow]:
    """A primary release whose wheat, cotton and soybeans have an EU row (E4)."""
    rows = fx.sample_rows("2022-11")
    eu_cotton = [
        r._replace(country_code="E4", country_name="European Union", value=round(r.value / 20))
        for r in rows
        if (r.commodity_code, r.country_code) == ("2631000", "US")
    ]
    soybeans = [
        r._replace(commodity_code="2222000", commodity_description="Oilseed, Soybean")
        for r in rows
        if r.commodity_code == "0410000"
    ]
    return rows + eu_cotton + soybeans


@pytest.fixture(scope="module")
def with_eu(tmp_path_factory):
    """Alldata 2022-11, and the EU member states of its EU rows in a 2023-02 breakdown file
    (a breakdown is not revised every month: its newest release can be the newest of all)."""
    from materia.core import settings

    tmp = tmp_path_factory.mktemp("with_eu")
    home = tmp / "home"
    s = settings.load({"MATERIA_HOME": str(home)}, dotenv=tmp / "no.env")
    primary = _primary_with_eu_rows()
    members = fx.eu_breakdown_rows(primary)
    land(home, fx.write_release(tmp / "all.zip", primary), ALL, "2022-11", "all11")
    land(home, fx.write_release(tmp / f"{EU}.zip", members), EU, "2023-02", "eu02")
    transform.run(s)
    return {"primary": primary, "members": members, "tables": published.read_all(published.local_catalog(home))}  # fmt: skip


def test_an_eu_breakdown_changes_no_world_and_every_commodity_keeps_every_country(with_eu):
    primary, tables = with_eu["primary"], with_eu["tables"]
    # The OBT (whose rows sum to the world) is exactly the primary release's.
    want = expected_obt(expected_latest({(ALL, "2022-11"): primary}))
    got = {(r["commodity_code"], r["country_code"], r["market_year"]): r for r in tables["obt_commodity_metrics"]}  # fmt: skip
    assert set(got) == set(want)
    for key, metrics in want.items():
        for name, value in metrics.items():
            assert got[key][name] == (pytest.approx(value) if value is not None else None), (key, name)  # fmt: skip
    for code in ("0410000", "2631000", "2222000"):  # wheat, cotton, soybeans
        countries = {r["country_code"] for r in tables["obt_commodity_metrics"] if r["commodity_code"] == code}  # fmt: skip
        assert countries == {r.country_code for r in primary if r.commodity_code == code}, code
        world = sum(r["production"] or 0 for r in tables["obt_commodity_metrics"] if (r["commodity_code"], r["market_year"]) == (code, 2022))  # fmt: skip
        assert world == sum(r.value for r in primary if r.key[0] == code and r.key[2:] == (2022, "028"))  # fmt: skip
    # The member states are published as the breakdown they are, under the EU.
    parts = [r for r in tables["fct_psd_latest"] if r["dataset_role"] == "breakdown"]
    assert len(parts) == len(with_eu["members"])
    assert {(r["dataset"], r["parent_country_code"]) for r in parts} == {(EU, "E4")}
    assert {r["release_month"].isoformat() for r in parts} == {"2023-02-01"}
    cotton = {r["country_code"] for r in parts if r["commodity_code"] == "2631000"}
    assert cotton == {"GR", "SP", "BU"}
    assert {r["role"] for r in tables["dim_dataset"] if r["dataset"] == EU} == {"breakdown"}


def test_an_unregistered_dataset_is_refused_naming_the_archive(tmp_path):
    from materia.core import settings
    from materia.core.errors import MateriaError

    home = tmp_path / "home"
    s = settings.load({"MATERIA_HOME": str(home)}, dotenv=tmp_path / "no.env")
    zip_ = fx.write_release(tmp_path / "psd_mystery_csv.zip", fx.sample_rows("2022-11"))
    key = land(home, zip_, "psd_mystery_csv", "2022-11", "m11")
    with pytest.raises(MateriaError) as refused:
        transform.run(s)
    line = str(refused.value)
    assert "\n" not in line and key in line
    assert "psd_mystery_csv.zip is not a registered PSD dataset" in line
    assert "nothing was published" in line
    from materia import lakehouse

    assert lakehouse.current_publication(s, "prod") is None
