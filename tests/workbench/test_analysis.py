"""materia.workbench.analysis: world totals by USDA's rule, rankings, series, labels.

`published` is the generated releases of testsupport/lakehouse/fixture.py, landed and
transformed by the real pipeline; expected values are computed here from those rows
with plain Python. `real_published` is the shared USDA releases: the world figures of
../shared/data/psd/README.md, recomputed with the csv module.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections import defaultdict

import polars as pl
import pytest

from materia.core.errors import MateriaError
from materia.workbench import analysis as an
from materia.workbench import data as wd
from testsupport.lakehouse import fixture as fx

published = fx.published
real_published = fx.real_published


@pytest.fixture(scope="module")
def wb(published):
    return wd.open_workbench(published)


def _world(commodity: str, year: int, attr: str, release: str | None = None) -> float:
    return sum(
        s[attr] for (c, _, y), s in fx.sheets(release).items() if (c, y) == (commodity, year)
    )


def test_world_is_the_sum_of_every_reporting_country(wb):
    wheat = wb.commodity("Wheat")
    world = an.world(wheat)
    # Before 1987 the USSR reports (UR), before 1999 the EU-15 (E2), after them their
    # successors: each counts, none twice.
    for year in (1985, 1995, 2005, 2022):
        row = world.filter(market_year=year).row(0, named=True)
        assert row["production"] == _world(fx.WHEAT, year, "028"), year
        assert row["ending_stocks"] == _world(fx.WHEAT, year, "176"), year
    reporting_1985 = {cc for (c, cc, y) in fx.sheets() if (c, y) == (fx.WHEAT, 1985)}
    assert "UR" in reporting_1985 and "RS" not in reporting_1985


def test_rankings_include_the_eu_and_the_ussr_and_end_with_the_world(wb):
    wheat = wb.commodity(fx.WHEAT)
    top = an.top_countries(wheat, "production", 2022, n=50)
    countries = [cc for cc in top["country_code"] if cc != an.WORLD]
    expected = sorted(
        ((s["028"], cc) for (c, cc, y), s in fx.sheets().items() if (c, y) == (fx.WHEAT, 2022)),
        reverse=True,
    )
    assert countries == [cc for _, cc in expected]
    assert countries[1] == "E4"  # the EU is the world's second wheat producer here
    world_row = top.row(-1, named=True)
    assert (world_row["country_code"], world_row["rank"]) == (an.WORLD, None)
    assert world_row["value"] == _world(fx.WHEAT, 2022, "028") and world_row["world_share"] == 1
    shares = top.filter(top["rank"].is_not_null())["world_share"]
    assert shares.sum() == pytest.approx(1.0)
    china = top.row(0, named=True)
    assert china["world_share"] == pytest.approx(
        fx.sheets()[(fx.WHEAT, "CH", 2022)]["028"] / _world(fx.WHEAT, 2022, "028")
    )
    prev = fx.sheets()[(fx.WHEAT, "CH", 2021)]["028"]
    assert china["change_pct"] == pytest.approx((china["value"] / prev - 1) * 100)
    in_1985 = an.top_countries(wheat, "production", 1985)["country_code"].to_list()
    assert "UR" in in_1985 and "E2" in in_1985
    assert an.default_countries(wheat, 2) == countries[:2]


def test_world_stocks_to_use_is_ending_stocks_over_domestic_consumption(wb):
    corn = wb.commodity("Corn")
    stu = an.stocks_to_use(corn, ["US"], (2021, 2022))
    world = stu.filter(country_code=an.WORLD)["value"].to_list()
    assert world == pytest.approx(
        [_world(fx.CORN, y, "176") / _world(fx.CORN, y, "125") for y in (2021, 2022)]
    )
    us = fx.sheets()[(fx.CORN, "US", 2022)]
    got = stu.filter(country_code="US", market_year=2022)["value"][0]
    assert got == pytest.approx(us["176"] / (us["125"] + us["088"]))  # a country counts exports


def test_series_labels_and_metrics_the_commodity_has(wb):
    corn, beef = wb.commodity("Corn"), wb.commodity("Meat, Beef and Veal")
    ts = an.time_series(corn, [an.WORLD, "US"], "production", (2020, 2022))
    wide = an.wide_series(corn, ts)
    assert wide.columns == ["market_year", "World", "United States"]
    assert wide["market_year"].to_list() == ["2022/23", "2021/22", "2020/21"]  # newest first
    assert wide["World"][0] == _world(fx.CORN, 2022, "028")
    assert an.year_label(beef.code, 2022) == "2022"  # livestock: calendar years
    assert "yield" in an.available_metrics(corn)
    assert "yield" not in an.available_metrics(beef)
    assert "area_harvested" not in an.available_metrics(beef)
    with pytest.raises(MateriaError, match="no data for yield of Meat, Beef and Veal"):
        an.latest_year(beef, "yield")
    assert an.time_series(beef, ["US"], "yield").height == 0  # nothing drawn as zero
    assert an.unit(corn, "yield") == "(MT/HA)" and an.quantity_unit(beef) == "(1000 MT CWE)"
    assert an.label("production", "1000 480 lb. Bales") == "Production (1000 480 lb. Bales)"
    with pytest.raises(MateriaError, match="unknown metric 'price'"):
        an.time_series(corn, ["US"], "price")
    with pytest.raises(MateriaError, match="does not add up"):
        an.top_countries(corn, "yield")


def test_workbench_reads_one_commodity_from_the_newest_publication(wb, published):
    names = wb.commodities()
    assert names["commodity_name"].to_list() == sorted(names["commodity_name"])
    releases = dict(zip(names["commodity_code"], names["release_month"], strict=True))
    assert {k: v.isoformat() for k, v in releases.items()} == {
        fx.CORN: "2022-11-01",
        fx.WHEAT: "2022-11-01",
        fx.COFFEE: "2022-12-01",
        fx.BEEF: "2022-10-01",
    }
    coffee = wb.commodity("coffee, green")
    assert coffee is wb.commodity(fx.COFFEE)  # cached per pick
    assert set(coffee.metrics["commodity_code"]) == {fx.COFFEE}  # only what the pick needs
    assert set(coffee.vintages["release_month"].cast(str)) == {"2022-06-01", "2022-12-01"}
    assert coffee.previous_release.isoformat() == "2022-06-01"
    assert wb.commodity("Meat, Beef and Veal").previous_release is None  # one release landed
    with pytest.raises(MateriaError, match="no commodity named 'Cocoa'"):
        wb.commodity("Cocoa")
    assert wd.open_workbench(published) is wb  # same publication, same workbench
    assert wd.envs(published)[0] == "prod"


def test_an_empty_lakehouse_names_the_command(empty_home):
    assert wd.envs(empty_home) == []
    with pytest.raises(MateriaError, match="materia pipeline run"):
        wd.open_workbench(empty_home)


empty_home = fx.empty_home


# --- the real shared releases, through the real pipeline --------------------------------------
def _csv_world(shared, commodity: str, year: str) -> dict[str, float]:
    """attribute id -> sum over every row of the 2022-11 grains release (csv module)."""
    path = shared / "archives" / "2022" / "11" / "psd_grains_pulses_csv.zip"
    totals: dict[str, float] = defaultdict(float)
    with zipfile.ZipFile(path) as zf, zf.open(zf.namelist()[0]) as raw:
        for r in csv.DictReader(io.TextIOWrapper(raw, "ascii")):
            if r["Commodity_Code"] == commodity and r["Market_Year"] == year:
                totals[r["Attribute_ID"]] += float(r["Value"])
                if r["Attribute_ID"] == "028":
                    totals["028:" + r["Country_Code"]] = float(r["Value"])
    return totals


@pytest.mark.slow
def test_real_world_totals_are_usdas(real_published, shared_psd_dir):
    real = wd.open_workbench(real_published)
    for code in ("0410000", "0440000"):
        expected = _csv_world(shared_psd_dir, code, "2022")
        row = an.world(real.commodity(code)).filter(market_year=2022).row(0, named=True)
        assert row["production"] == pytest.approx(expected["028"])
        assert row["domestic_consumption"] == pytest.approx(expected["125"])
        assert row["ending_stocks"] == pytest.approx(expected["176"])
        assert row["stocks_to_use"] == pytest.approx(expected["176"] / expected["125"])
    # The data README's figures: wheat 782,675; corn stocks-to-use 25.7 %.
    wheat = an.top_countries(real.commodity("Wheat"), "production", 2022, n=4)
    assert wheat["value"][-1] == 782_675
    assert wheat["country_name"].to_list() == [
        "China", "European Union", "India", "Russia", "World",
    ]  # fmt: skip
    assert wheat["value"].to_list()[:4] == [138_000, 134_300, 103_000, 91_000]
    assert round(wheat["world_share"][0] * 100, 1) == 17.6
    corn = an.world(real.commodity("Corn")).filter(market_year=2022)
    assert round(corn["stocks_to_use"][0] * 100, 1) == 25.7


@pytest.mark.slow
def test_real_brazil_coffee_and_us_cotton(real_published):
    real = wd.open_workbench(real_published)
    coffee = real.commodity("Coffee, Green")
    ts = an.time_series(coffee, ["BR"], "production", (2020, 2023))
    assert ts["market_year"].to_list() == [2020, 2021, 2022, 2023]
    assert ts["value"].is_between(58_100, 69_900).all()
    assert ts["value"][-1] == 62_600  # the 2022-12 release's value
    cotton = real.commodity("Cotton")
    assert an.time_series(cotton, ["US"], "production", (2022, 2022))["value"].to_list() == [14_031]  # fmt: skip
    assert an.quantity_unit(cotton) == "1000 480 lb. Bales"


def test_market_year_labels_follow_each_groups_rule(wb):
    # PSD's coffee Market_Year 2023 is USDA's 2022/23; grains' 2022 is 2022/23; livestock
    # and dairy are calendar years (materia/sources/psd_commodities.py cites USDA for each).
    coffee = wb.commodity("Coffee, Green")
    ts = an.time_series(coffee, ["BR"], "production", (2022, 2023))
    assert an.wide_series(coffee, ts)["market_year"].to_list() == ["2022/23", "2021/22"]
    labels = {
        ("0711100", 2023): "2022/23",  # coffee
        ("0410000", 2022): "2022/23",  # wheat
        ("0412000", 2025): "2025/26",  # spring wheat, a breakdown of wheat
        ("2631000", 2022): "2022/23",  # cotton
        ("2222000", 2022): "2022/23",  # soybeans
        ("0612000", 2022): "2022/23",  # sugar
        ("0111000", 2022): "2022",  # beef
        ("0011000", 2023): "2023",  # cattle numbers
        ("0223000", 2022): "2022",  # fluid milk
        ("0571120", 2022): "2022/23",  # oranges
    }
    assert {k: an.year_label(*k) for k in labels} == labels


def test_a_breakdown_beside_the_grains_changes_no_world_and_drills_down_under_its_parent(wb):
    # The fixture lands EU member states (psd_eu_area_prod_csv.zip, 2022-11) under the EU's
    # wheat and corn codes; the world and the EU's share are as if it were not there.
    from materia.workbench import breakdowns

    wheat = wb.commodity("Wheat")
    assert set(wheat.metrics["country_code"]) == {cc for (c, cc, _) in fx.sheets() if c == fx.WHEAT}
    top = an.top_countries(wheat, "production", 2022, n=100)
    assert "France" not in top["country_name"].to_list()
    assert top.row(-1, named=True)["value"] == _world(fx.WHEAT, 2022, "028")
    eu = top.filter(country_code="E4").row(0, named=True)
    assert eu["world_share"] == pytest.approx(
        fx.sheets()[(fx.WHEAT, "E4", 2022)]["028"] / _world(fx.WHEAT, 2022, "028")
    )
    assert breakdowns.parents(wheat) == [("psd_eu_area_prod_csv", "E4")]
    b = breakdowns.breakdown(wheat, "psd_eu_area_prod_csv", "E4", "production", years=2)
    rows = {r["part"]: r for r in b.table.iter_rows(named=True)}
    eu_2022 = fx.sheets()[(fx.WHEAT, "E4", 2022)]["028"]
    assert rows["Sum of the parts"]["2022/23"] == rows["European Union (Nov 2022)"]["2022/23"] == eu_2022  # fmt: skip
    assert {"France", "Germany", "Poland"} <= set(rows)
    assert b.note == ""  # the parts and the parent come from the same release
    assert b.title == "EU member states: area and production"
    with pytest.raises(MateriaError, match="breakdowns hold"):
        breakdowns.breakdown(wheat, "psd_eu_area_prod_csv", "E4", "exports")


# --- the real shared releases, continued --------------------------------------------------------
@pytest.mark.slow
def test_real_coffee_label_cotton_and_rice_world_yields(real_published, shared_psd_dir):
    real = wd.open_workbench(real_published)
    # The June 2022 coffee release can only hold 2022/23 forecasts: its Market_Year 2023
    # sums to USDA's June 2022 world figures for 2022/23 (consumption 167.04, exports
    # 141.56, ending stocks 34.70 million bags) and holds Brazil's 64.3 million.
    path = shared_psd_dir / "archives" / "2022" / "06" / "psd_coffee_csv.zip"
    sums: dict[str, float] = defaultdict(float)
    with zipfile.ZipFile(path) as zf, zf.open(zf.namelist()[0]) as raw:
        for r in csv.DictReader(io.TextIOWrapper(raw, "ascii")):
            if r["Market_Year"] == "2023":
                sums[r["Attribute_ID"]] += float(r["Value"])
                if (r["Country_Code"], r["Attribute_ID"]) == ("BR", "028"):
                    sums["BR"] = float(r["Value"])
    assert (sums["125"], sums["088"], sums["176"], sums["BR"]) == (167_040, 141_564, 34_704, 64_300)
    assert an.year_label("0711100", 2023) == "2022/23"
    coffee = real.commodity("Coffee, Green")
    assert an.wide_series(coffee, an.time_series(coffee, ["BR"], "production", (2023, 2023)))["market_year"].to_list() == ["2022/23"]  # fmt: skip
    # Cotton: the world's yield in kg/ha, production (480-lb bales) x 217.72 kg / area.
    cotton = real.commodity("Cotton")
    w = an.world(cotton).filter(market_year=2022).row(0, named=True)
    assert w["yield"] == pytest.approx(w["production"] * 217.72 / w["area_harvested"], rel=0.01)
    assert 700 < w["yield"] < 900 and an.unit(cotton, "yield") == "(KG/HA)"
    us = cotton.metrics.filter(country_code="US", market_year=2022).row(0, named=True)
    assert us["yield"] == 959 and us["yield_unit"] == "(KG/HA)"
    # Rice: the world's yield on the rough basis of the country yields (not milled).
    rice = real.commodity("Rice, Milled")
    wr = an.world(rice).filter(market_year=2022).row(0, named=True)
    rough = rice.lines.filter((pl.col("attribute_id") == "054") & (pl.col("market_year") == 2022))["value"].sum()  # fmt: skip
    assert wr["yield"] == pytest.approx(rough / wr["area_harvested"])
    assert wr["yield"] > 1.4 * wr["production"] / wr["area_harvested"]  # milled would be ~2/3
    assert an.unit(rice, "yield") == "(MT/HA, rough basis)"


@pytest.mark.slow
def test_real_russia_breakdown_beside_the_shared_releases(real_published):
    """The real 2025-11 Russia breakdown loads beside the 2022 releases: world wheat and
    Russia unchanged, spring and winter wheat reachable under Russia's wheat."""
    from materia.workbench import breakdowns

    real = wd.open_workbench(real_published)
    assert "Wheat, Spring" not in real.commodities()["commodity_name"].to_list()
    wheat = real.commodity("Wheat")
    assert an.world(wheat).filter(market_year=2022)["production"][0] == 782_675
    assert wheat.metrics.filter(country_code="RS", market_year=2022)["production"][0] == 91_000
    assert breakdowns.parents(wheat) == [("psd_russiabreakdown_area_prod_csv", "RS")]
    b = breakdowns.breakdown(wheat, "psd_russiabreakdown_area_prod_csv", "RS", years=4)
    rows = {r["part"]: r for r in b.table.iter_rows(named=True)}
    assert (rows["Wheat, Spring"]["2025/26"], rows["Wheat, Winter"]["2025/26"]) == (25_000, 61_500)
    assert rows["Sum of the parts"]["2025/26"] == 86_500
    assert rows["Russia (Nov 2022)"]["2022/23"] == 91_000  # the parent's own release
    assert "November 2025 release" in b.note and "November 2022 release" in b.note


@pytest.mark.parametrize("code", ["0440000", "0711100", "0011000", "0224200", "2631000"])
def test_year_labels_are_year_label_for_every_year(code):
    years = pl.DataFrame({"market_year": [1999, 2000, 2009, 2022, 2023, None]})
    got = years.select(an.year_labels(code))["market_year"].to_list()
    assert got == [an.year_label(code, y) if y is not None else None for y in years["market_year"]]


def test_a_commodity_evicted_from_the_cache_is_freed_after_every_view_of_it(published):
    """What a pick draws keeps no reference to the commodity: once the workbench's cache
    lets it go, its frames are freed (a closure in a polars expression kept every picked
    commodity alive in the notebook, ~40 MB a pick)."""
    import gc
    import weakref

    from materia.workbench import balance, breakdowns, charts, psd_revisions

    wb = wd.Workbench(published, "prod", wd.publication(published), wd.Reader(published))
    c = wb.commodity("Wheat")
    series = an.time_series(c, [an.WORLD], "production")
    charts.line_chart(c.code, series, "t", "y")
    an.wide_series(c, series)
    psd_revisions.most_revised(c, "production")
    psd_revisions.revisions(c, an.WORLD, an.market_years(c)[1], "production")
    balance.balance_sheet(c)
    for dataset, parent in breakdowns.parents(c):
        breakdowns.breakdown(c, dataset, parent, "production", 5, None)
    gone = weakref.ref(c)
    del c
    others = [n for n in wb.commodities()["commodity_name"] if n != "Wheat"]
    assert len(others) >= wd.CACHED_COMMODITIES
    for name in others[: wd.CACHED_COMMODITIES]:  # the cache lets Wheat go
        wb.commodity(name)
    gc.collect()
    assert gone() is None
