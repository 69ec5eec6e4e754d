"""materia.workbench.balance: WASDE-style balance sheets with every supply and use line PSD reports.

`published` is the generated releases of testsupport/lakehouse/fixture.py through the real
pipeline (expected values summed here in Python); the identity rules are also checked on
the layouts of commodity groups the fixture lacks (fruit, cattle), and on the shared USDA
releases: a sheet says "does not balance" only where USDA's own rows do not add up.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import zipfile
from collections import defaultdict
from concurrent.futures import Future

import polars as pl
import pytest

from materia.core.errors import MateriaError
from materia.workbench import analysis as an
from materia.workbench import balance, units
from materia.workbench import data as wd
from testsupport.lakehouse import fixture as fx

published = fx.published
real_published = fx.real_published


@pytest.fixture(scope="module")
def wb(published):
    return wd.open_workbench(published)


def _rows(bs) -> dict[str, dict]:
    return {r["item"].strip(): r for r in bs.table.iter_rows(named=True)}


def test_world_sheet_has_every_line_and_the_previous_release_beside_this_one(wb):
    corn = wb.commodity("Corn")
    bs = balance.balance_sheet(corn, an.WORLD, years=3)
    assert (bs.region, bs.title) == ("World", "Corn: World supply and demand")
    assert bs.value_columns == ["2020/21", "2021/22", "2022/23 Oct", "2022/23 Nov", "change"]
    assert bs.table["item"].to_list() == [
        "Area harvested", "Yield", "Beginning stocks", "Production", "Imports",
        "Total supply", "Domestic consumption", "  Feed", "Exports", "Ending stocks",
        "Total distribution", "Stocks-to-use", "Exports, trade year",
    ]  # fmt: skip
    rows = _rows(bs)
    prod = rows["Production"]
    assert prod["2022/23 Oct"] == fx.total(fx.CORN, 2022, "028", "2022-10")
    assert prod["2022/23 Nov"] == fx.total(fx.CORN, 2022, "028", "2022-11")
    assert prod["change"] == prod["2022/23 Nov"] - prod["2022/23 Oct"] != 0
    assert prod["2020/21"] == fx.total(fx.CORN, 2020, "028")
    assert rows["Total distribution"]["2021/22"] == fx.total(fx.CORN, 2021, "178")
    stu = rows["Stocks-to-use"]
    assert stu["unit"] == "%"
    assert stu["2022/23 Oct"] == pytest.approx(
        100 * fx.total(fx.CORN, 2022, "176", "2022-10") / fx.total(fx.CORN, 2022, "125", "2022-10")
    )
    assert rows["Yield"]["2021/22"] == pytest.approx(
        fx.total(fx.CORN, 2021, "028") / fx.total(fx.CORN, 2021, "004")
    )
    assert bs.note == ""  # the world's sheet balances
    assert bs.compared == "2022/23: the November 2022 release beside the October 2022 release"
    # The EU member states loaded beside the grains are no part of the world.
    wheat = _rows(balance.balance_sheet(wb.commodity("Wheat"), an.WORLD))
    assert wheat["Production"]["2022/23 Nov"] == fx.total(fx.WHEAT, 2022, "028")


def test_country_sheets_units_and_usdas_own_imbalances_named(wb):
    wheat = wb.commodity("Wheat")
    eu = balance.balance_sheet(wheat, "E4", years=2)
    assert eu.region == "European Union"
    # 2021/22 was revised in the newest release; the sheet shows this release's value.
    assert _rows(eu)["Production"]["2021/22"] == 138_200
    us = fx.sheets()[(fx.WHEAT, "US", 2022)]
    got = _rows(balance.balance_sheet(wheat, "US"))["Stocks-to-use"]["2022/23 Nov"]
    assert got == pytest.approx(100 * us["176"] / (us["125"] + us["088"]))

    bushels = units.by_label(fx.WHEAT, "(1000 MT)", "million bushels")
    in_bu = _rows(balance.balance_sheet(wheat, an.WORLD, unit=bushels))
    in_mt = _rows(balance.balance_sheet(wheat, an.WORLD))
    assert in_bu["Production"]["unit"] == "million bushels"
    assert in_bu["Production"]["2021/22"] == pytest.approx(
        in_mt["Production"]["2021/22"] * 1000 / (60 * 0.45359237) / 1000
    )
    assert in_bu["Yield"]["2021/22"] == in_mt["Yield"]["2021/22"]  # a world yield stays MT/HA

    corn = wb.commodity("Corn")
    argentina = balance.balance_sheet(corn, "AR", years=5)
    assert argentina.note == (
        "Does not balance in USDA's numbers: 2019/20: total distribution is -3.0 from "
        "Domestic consumption + Exports + Ending stocks (1000 MT)."
    )
    faults = balance.imbalances(corn)
    assert faults.select("country_code", "market_year").rows() == [("AR", 2019)]
    with pytest.raises(MateriaError, match="no Corn data for country 'XX'"):
        balance.balance_sheet(corn, "XX")


def test_a_us_sheet_in_bushels_shows_acres_and_bushels_per_acre(wb):
    corn = wb.commodity("Corn")
    bushels = units.by_label(fx.CORN, "(1000 MT)", "million bushels")
    rows = _rows(balance.balance_sheet(corn, "US", years=2, unit=bushels))
    us = fx.sheets()[(fx.CORN, "US", 2021)]
    acres_per_ha = 1 / 0.40468564224
    bu_per_mt = 1000 / (56 * 0.45359237)
    assert (rows["Area harvested"]["unit"], rows["Yield"]["unit"]) == ("million acres", "bushels per acre")  # fmt: skip
    assert rows["Area harvested"]["2021/22"] == pytest.approx(us["004"] * acres_per_ha / 1000)
    assert rows["Yield"]["2021/22"] == pytest.approx(us["184"] * bu_per_mt / acres_per_ha)
    assert 150 < rows["Yield"]["2021/22"] < 200  # US corn is 170-odd bushels per acre
    metric = _rows(balance.balance_sheet(corn, "US", years=2))
    assert metric["Area harvested"]["unit"] == "1000 HA"  # hectares unless bushels


def test_one_release_or_a_year_new_in_this_release_has_no_previous_column(wb):
    beef = balance.balance_sheet(wb.commodity("Meat, Beef and Veal"), an.WORLD, years=2)
    assert beef.value_columns == ["2022", "2023"]  # calendar years, no "change"
    assert "Yield" not in beef.table["item"].to_list()
    assert (beef.previous_release, beef.compared) == (None, "")
    # The previous release did not have 2022/23 yet: no blank column, a sentence instead.
    corn = wb.commodity("Corn")
    older = corn.vintages.filter(~((pl.col("market_year") == 2022) & (pl.col("release_month") < corn.release)))  # fmt: skip
    done: Future = Future()
    done.set_result(older)
    new_year = dataclasses.replace(corn, pending_vintages=done, derived={})
    bs = balance.balance_sheet(new_year, an.WORLD, years=2)
    assert bs.value_columns == ["2021/22", "2022/23"] and bs.previous_release is None
    assert bs.compared == (
        "2022/23 is new in the November 2022 release: the October 2022 release has no "
        "estimate to compare"
    )


# --- every line of each group enters the identity ------------------------------------------
@pytest.mark.parametrize(
    ("group", "values"),
    [
        # Oranges: no domestic consumption line; fresh use and processing are the use.
        (
            "oranges",
            {
                "028": 48741.0,
                "057": 500.0,
                "086": 49241.0,
                "088": 500.0,
                "133": 30000.0,
                "132": 18741.0,
                "178": 49241.0,
            },
        ),  # fmt: skip
        # Apples: withdrawal from market is use too.
        (
            "apples",
            {
                "028": 200000.0,
                "057": 100.0,
                "086": 200100.0,
                "088": 100.0,
                "133": 61500.0,
                "169": 138500.0,
                "178": 200100.0,
            },
        ),  # fmt: skip
        # Cattle numbers: slaughter and loss are use; cows in the herd are part of stocks.
        (
            "cattle",
            {
                "020": 900.0,
                "025": 200.0,
                "028": 300.0,
                "057": 3.0,
                "086": 1203.0,
                "088": 4.0,
                "117": 250.0,
                "118": 60.0,
                "172": 45.0,
                "176": 904.0,
                "178": 1203.0,
            },
        ),  # fmt: skip
        # Cotton: domestic use and loss are parts of domestic consumption, not added twice.
        (
            "cotton",
            {
                "020": 7250.0,
                "028": 14608.0,
                "057": 2.0,
                "086": 21860.0,
                "125": 2358.0,
                "142": 2400.0,
                "150": -42.0,
                "088": 16352.0,
                "176": 3150.0,
                "178": 21860.0,
            },
        ),  # fmt: skip
    ],
)
def test_every_line_of_the_group_enters_the_balance(group, values):
    assert balance.imbalance(values, set(values)) == []


def test_a_real_imbalance_names_the_lines_it_compared():
    v = {"028": 100.0, "057": 10.0, "086": 110.0, "088": 5.0, "133": 60.0, "132": 40.0, "178": 110.0}  # fmt: skip
    labels = {"132": "For Processing", "133": "Fresh Dom. Consumption"}
    assert balance.imbalance(v, set(v), labels) == [
        "total distribution is +5.0 from For Processing + Fresh Dom. Consumption + Exports"
    ]
    v["178"] = 105.0  # now USDA's totals themselves differ
    assert balance.imbalance(v, set(v), labels) == ["total supply minus total distribution is +5.0"]


# --- the shared USDA releases ----------------------------------------------------------------
# What adds up in USDA's files, written out here independently: total supply is beginning
# stocks + production + imports; total distribution is the use lines of each group.
USE = {
    "0011000": ("088", "117", "172", "176"),  # cattle numbers
    "0013000": ("088", "117", "172", "176"),  # swine numbers
}
USE_DEFAULT = ("125", "088", "176")


def _csv_unbalanced(shared) -> set[tuple[str, str, int]]:
    """(commodity, country, market year) whose USDA rows do not add up, in the newest
    release of each shared file (coffee 2022-12, livestock 2022-10, cotton and grains
    2022-11), read with the csv module."""
    rows: dict[tuple[str, str, int], dict[str, float]] = defaultdict(dict)
    for path in sorted((shared / "archives" / "2022").glob("1[012]/*.zip")):
        with zipfile.ZipFile(path) as zf, zf.open(zf.namelist()[0]) as raw:
            for r in csv.DictReader(io.TextIOWrapper(raw, "ascii")):
                key = (r["Commodity_Code"], r["Country_Code"], int(r["Market_Year"]))
                rows[key][r["Attribute_ID"]] = float(r["Value"])
    out = set()
    for key, v in rows.items():
        if "086" not in v:
            continue
        supply = sum(v.get(a, 0.0) for a in ("020", "028", "057"))
        use = sum(v.get(a, 0.0) for a in USE.get(key[0], USE_DEFAULT))
        if abs(v["086"] - supply) > 0.005 or abs(v.get("178", v["086"]) - use) > 0.005 or abs(v["086"] - v.get("178", v["086"])) > 0.005:  # fmt: skip
            out.add(key)
    return out


@pytest.mark.slow
def test_shared_releases_say_does_not_balance_only_where_usdas_rows_do_not_add_up(
    real_published, shared_psd_dir
):
    real = wd.open_workbench(real_published)
    unbalanced = _csv_unbalanced(shared_psd_dir)
    flagged = set()
    for code in real.commodities()["commodity_code"]:
        c = real.commodity(code)
        # Country sheets: their notes come from these country-years.
        flagged |= {(code, cc, y) for cc, _, y, _ in balance.imbalances(c).iter_rows()}
        # The world's sheet shown by default (the 3 newest years) balances, unless some
        # country's own rows in those years do not.
        bs = balance.balance_sheet(c, an.WORLD, years=3)
        years = {int(y[:4]) for y in bs.value_columns if y[:4].isdigit()}
        own = {k for k in unbalanced if k[0] == code and k[2] in years}
        assert (bs.note != "") == bool(own), (c.name, bs.note)
    assert flagged == unbalanced
    # Before, every cattle and swine sheet read "does not balance" (slaughter left out).
    assert not [k for k in flagged if k[0] in USE and k[2] >= 2000]
