"""materia.wasde on the generated releases, published by the real pipeline: balance sheets
with the previous release beside this one, revisions, and what a release changed.
Expected values come from testsupport/lakehouse_fixture.py's rows, summed in Python."""

from __future__ import annotations

import pytest

from materia import analysis as an
from materia import units, wasde
from materia import workbench_data as wd
from materia.errors import MateriaError
from testsupport import lakehouse_fixture as fx

published = fx.published


@pytest.fixture(scope="module")
def wb(published):
    return wd.open_workbench(published)


def _sum(commodity, year, attr, release=None, country=None):
    return sum(
        s.get(attr, 0.0)
        for (c, cc, y), s in fx.sheets(release).items()
        if (c, y) == (commodity, year) and country in (None, cc)
    )


def _rows(bs) -> dict[str, dict]:
    return {r["item"]: r for r in bs.table.iter_rows(named=True)}


def test_world_balance_sheet_has_the_previous_release_beside_this_one(wb):
    corn = wb.commodity("Corn")
    bs = wasde.balance_sheet(corn, an.WORLD, years=3)
    assert (bs.region, bs.title) == ("World", "Corn: World supply and demand")
    assert bs.value_columns == ["2020/21", "2021/22", "2022/23 Oct", "2022/23 Nov", "change"]
    rows = _rows(bs)
    assert list(rows) == [
        "Area harvested", "Yield", "Beginning stocks", "Production", "Imports",
        "Total supply", "Feed", "Domestic consumption", "Exports", "Ending stocks",
        "Stocks-to-use",
    ]  # fmt: skip
    prod = rows["Production"]
    assert prod["2022/23 Oct"] == _sum(fx.CORN, 2022, "028", "2022-10")
    assert prod["2022/23 Nov"] == _sum(fx.CORN, 2022, "028", "2022-11")
    assert prod["change"] == prod["2022/23 Nov"] - prod["2022/23 Oct"] != 0
    assert prod["2020/21"] == _sum(fx.CORN, 2020, "028")
    stu = rows["Stocks-to-use"]
    assert stu["unit"] == "%"
    assert stu["2022/23 Oct"] == pytest.approx(
        100 * _sum(fx.CORN, 2022, "176", "2022-10") / _sum(fx.CORN, 2022, "125", "2022-10")
    )
    assert rows["Yield"]["2021/22"] == pytest.approx(
        _sum(fx.CORN, 2021, "028") / _sum(fx.CORN, 2021, "004")
    )
    assert bs.note == ""  # the world's sheet balances


def test_country_sheets_units_and_usdas_own_imbalances(wb):
    wheat = wb.commodity("Wheat")
    eu = wasde.balance_sheet(wheat, "E4", years=2)
    rows = _rows(eu)
    assert eu.region == "European Union"
    # 2021/22 was revised in the newest release; the sheet shows this release's value.
    assert rows["Production"]["2021/22"] == 138_200
    us = fx.sheets()[(fx.WHEAT, "US", 2022)]
    got = _rows(wasde.balance_sheet(wheat, "US"))["Stocks-to-use"]["2022/23 Nov"]
    assert got == pytest.approx(100 * us["176"] / (us["125"] + us["088"]))

    bushels = units.by_label(fx.WHEAT, "(1000 MT)", "million bushels")
    in_bu = _rows(wasde.balance_sheet(wheat, an.WORLD, unit=bushels))
    in_mt = _rows(wasde.balance_sheet(wheat, an.WORLD))
    assert in_bu["Production"]["unit"] == "million bushels"
    assert in_bu["Production"]["2021/22"] == pytest.approx(
        in_mt["Production"]["2021/22"] * 1000 / (60 * 0.45359237) / 1000
    )
    assert in_bu["Yield"]["2021/22"] == in_mt["Yield"]["2021/22"]  # not a quantity

    corn = wb.commodity("Corn")
    argentina = wasde.balance_sheet(corn, "AR", years=5)
    assert "Does not balance in USDA's numbers: 2019/20" in argentina.note
    assert "supply minus distribution is -3.0" in argentina.note and "(1000 MT)" in argentina.note
    assert wasde.imbalances(corn).select("country_code", "market_year").rows() == [("AR", 2019)]
    with pytest.raises(MateriaError, match="no Corn data for country 'XX'"):
        wasde.balance_sheet(corn, "XX")


def test_a_commodity_with_one_release_has_no_previous_column(wb):
    beef = wasde.balance_sheet(wb.commodity("Meat, Beef and Veal"), an.WORLD, years=2)
    assert beef.value_columns == ["2022", "2023"]  # calendar years, no "change"
    assert "Yield" not in beef.table["item"].to_list()


def test_revisions_of_a_country_and_of_the_world(wb):
    coffee = wb.commodity("Coffee, Green")
    rev = wasde.revisions(coffee, "BR", 2023)
    assert rev["value"].to_list() == [64_300, 62_600]
    assert [d.isoformat() for d in rev["release_month"]] == ["2022-06-01", "2022-12-01"]
    assert rev["change"].to_list() == [None, -1_700]
    world = wasde.revisions(wb.commodity("Corn"), an.WORLD, 2022)
    assert world["value"].to_list() == [
        _sum(fx.CORN, 2022, "028", "2022-10"),
        _sum(fx.CORN, 2022, "028", "2022-11"),
    ]
    most = wasde.most_revised(wb.commodity("Wheat"))
    assert most["change"].abs().is_sorted(descending=True)
    top = most.row(0, named=True)
    assert (top["country_name"], top["year"], top["latest"]) == ("European Union", "2021/22", 138_200)  # fmt: skip
    with pytest.raises(MateriaError, match="derived"):
        wasde.revisions(coffee, "BR", 2023, "stocks_to_use")


def _changed_in_python() -> dict[tuple, tuple[float, float]]:
    """key -> (previous, current) for every value the newest release of its dataset changed."""
    out = {}
    for dataset, months in fx.RELEASES.items():
        if len(months) < 2:
            continue
        before, after = fx.rows(dataset, months[-2]), fx.rows(dataset, months[-1])
        old = {r.key: r.value for r in before}
        for r in after:
            if r.key in old and old[r.key] != r.value:
                out[r.key] = (old[r.key], r.value)
    return out


def test_what_changed_lists_every_revision_of_the_newest_releases(wb):
    changes = wb.changes()
    got = {
        (r["commodity_code"], r["country_code"], r["market_year"], r["attribute_id"]): (
            r["previous"],
            r["current"],
        )
        for r in changes.iter_rows(named=True)
    }
    assert got == _changed_in_python()
    row = changes.filter(commodity_code=fx.COFFEE, country_code="BR", attribute_id="028").row(0, named=True)  # fmt: skip
    assert (row["previous_release"].isoformat(), row["release"].isoformat()) == ("2022-06-01", "2022-12-01")  # fmt: skip
    assert (row["commodity_name"], row["country_name"], row["attribute_name"], row["unit"]) == (
        "Coffee, Green", "Brazil", "Production", "(1000 60 KG BAGS)",
    )  # fmt: skip

    by_pct = wasde.what_changed(changes, n=None)
    assert by_pct["change_pct"].abs().is_sorted(descending=True)
    by_abs = wasde.what_changed(changes, by="abs", n=3)
    assert by_abs.height == 3 and by_abs["change"].abs().is_sorted(descending=True)
    assert by_abs["change"].abs()[0] == max(abs(b - a) for a, b in got.values())
    only = wasde.what_changed(changes, [fx.COFFEE], ["028"], n=None)
    coffee = sorted(
        ((cc, a, b) for (c, cc, _, at), (a, b) in got.items() if (c, at) == (fx.COFFEE, "028")),
        key=lambda t: -abs(t[2] / t[1] - 1),
    )
    assert only.select("country_code", "previous", "current").rows() == coffee
    assert set(only["year"]) == {"2023/24"} and len(coffee) == 2
    with pytest.raises(MateriaError, match="sort what changed by 'abs' or 'pct'"):
        wasde.what_changed(changes, by="size")


def test_what_changed_of_some_commodities_only(wb):
    some = wb.changes([fx.COFFEE])
    assert set(some["commodity_code"]) == {fx.COFFEE}
    assert some.equals(wb.changes().filter(commodity_code=fx.COFFEE))
    assert wb.changes([]).height == 0
