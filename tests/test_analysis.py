"""materia.analysis on a published lakehouse (testsupport/lakehouse_fixture.py)."""

from __future__ import annotations

import polars as pl
import pytest

from materia import analysis as an
from materia.errors import MateriaError
from testsupport import lakehouse_fixture

published = lakehouse_fixture.published
empty_home = lakehouse_fixture.empty_home
CORN, COFFEE, WHEAT = "0440000", "0711100", "0410000"


@pytest.fixture(scope="module")
def wb(published):
    return an.load(published, "prod")


def test_envs_and_empty(published, empty_home):
    assert an.envs(published) == ["prod", "dev_alice"]
    assert not an.is_empty(published)
    assert an.is_empty(empty_home)
    with pytest.raises(MateriaError, match="materia pipeline run"):
        an.load(empty_home, "prod")


def test_pickers(wb):
    names = an.commodities(wb)["commodity_name"].to_list()
    assert names == sorted(names) and "Corn" in names
    assert an.default_commodity(wb) == CORN
    assert an.commodity_code(wb, "coffee, green") == COFFEE
    assert an.commodity_code(wb, WHEAT) == WHEAT
    with pytest.raises(MateriaError, match="no commodity named 'Cocoa'"):
        an.commodity_code(wb, "Cocoa")
    assert an.market_years(wb, COFFEE) == (2014, 2023)
    assert an.unit(wb, COFFEE, "production") == "(1000 60 KG BAGS)"
    assert an.unit(wb, CORN, "yield") == "(MT/HA)"
    assert an.label("production", "(1000 MT)") == "Production (1000 MT)"
    with pytest.raises(MateriaError, match="unknown metric 'price'"):
        an.time_series(wb, CORN, ["US"], "price")


def test_top_producers_exclude_aggregates_and_shares_sum_to_one(wb):
    top = an.top_countries(wb, CORN, "production", n=50)
    assert "E4" not in top["country_code"].to_list()  # EU is bigger than AR, but an aggregate
    assert top["rank"].to_list() == list(range(1, top.height + 1))
    assert top["value"].is_sorted(descending=True)
    assert top["world_share"].sum() == pytest.approx(1.0)
    assert set(top["unit"]) == {"(1000 MT)"}
    assert an.default_countries(wb, CORN, n=3) == ["US", "CH", "BR"]
    # The world share matches the serving table's own share_of_world_production.
    us = wb.commodity(CORN).filter(country_code="US", market_year=top["market_year"][0])
    assert top["world_share"][0] == pytest.approx(us["share_of_world_production"][0])
    exporters = an.top_countries(wb, WHEAT, "exports", n=3)
    assert exporters["country_code"].to_list()[0] == "RS"
    assert "UR" not in an.top_countries(wb, WHEAT, "production", year=1990)["country_code"]


def test_time_series_brazil_coffee(wb):
    ts = an.time_series(wb, COFFEE, ["BR", "VM"], "production", years=(2020, 2023))
    br = ts.filter(country_code="BR")
    assert br["market_year"].to_list() == [2020, 2021, 2022, 2023]
    assert br["value"].is_between(58100, 69900).all()  # the data README's check
    assert br["value"][-1] == 62600
    assert set(ts["unit"]) == {"(1000 60 KG BAGS)"}
    assert set(ts["country_name"]) == {"Brazil", "Vietnam"}


def test_balance_sheet_brazil_coffee_2023_balances(wb):
    bs = an.balance_sheet(wb, COFFEE, "BR", 2023)
    values = dict(zip(bs.table["item"], bs.table["value"], strict=True))
    assert values["+ Production"] == 62600
    assert values["= Total supply"] == 540 + 62600 + 75 == 63215
    assert values["Domestic consumption"] + values["+ Exports"] + values["+ Ending stocks"] == 63215
    assert set(bs.table["unit"]) == {"(1000 60 KG BAGS)"}
    assert bs.balanced and bs.supply_gap == 0 and bs.distribution_gap == 0
    assert bs.note == "USDA's numbers balance."


def test_balance_sheet_flags_usdas_own_imbalance(wb):
    bs = an.balance_sheet(wb, CORN, "AR", 2019)
    assert not bs.balanced
    assert bs.supply_gap == 0 and bs.distribution_gap == -3.0
    assert "does not balance" in bs.note.lower() and "(1000 MT)" in bs.note
    flagged = an.imbalances(wb, CORN)
    assert flagged.select("country_code", "market_year").rows() == [("AR", 2019)]
    with pytest.raises(MateriaError, match="no balance sheet .* 'XX'"):
        an.balance_sheet(wb, CORN, "XX", 2019)


def test_stocks_to_use(wb):
    stu = an.stocks_to_use(wb, CORN, ["US"], years=(2020, 2022))
    us = stu.filter(country_name="United States")
    row = wb.commodity(CORN).filter(country_code="US", market_year=2021).row(0, named=True)
    expected = row["ending_stocks"] / (row["domestic_consumption"] + row["exports"])
    assert us.filter(market_year=2021)["stocks_to_use"][0] == pytest.approx(expected)
    world = stu.filter(country_name="World")
    assert world["market_year"].to_list() == [2020, 2021, 2022]
    nonagg = wb.commodity(CORN).filter(~pl.col("is_aggregate"), market_year=2022)
    expected = nonagg["ending_stocks"].sum() / (
        nonagg["domestic_consumption"].sum() + nonagg["exports"].sum()
    )
    assert world.filter(market_year=2022)["stocks_to_use"][0] == pytest.approx(expected)


def test_revisions_brazil_coffee_2023(wb):
    rev = an.revisions(wb, COFFEE, "BR", 2023, "production")
    assert rev["value"].to_list() == [64300, 62600]
    assert [d.isoformat() for d in rev["release_month"]] == ["2022-06-01", "2022-12-01"]
    assert rev["change"].to_list() == [None, -1700]
    assert rev["unit"][0] == "(1000 60 KG BAGS)"
    moved = an.most_revised(wb, COFFEE)
    assert moved["change"].abs().is_sorted(descending=True)
    br = moved.filter(country_code="BR", market_year=2023).row(0, named=True)
    assert (br["first"], br["latest"], br["change"], br["releases"]) == (64300, 62600, -1700, 2)


def test_dev_vs_prod(published):
    diff = an.compare_envs(published, "dev_alice")
    counts = dict(zip(diff.row_counts["table"], diff.row_counts.iter_rows(), strict=True))
    assert counts["obt_commodity_metrics"][1:] == (175, 174)
    assert counts["fct_psd_vintages"][1] == counts["fct_psd_vintages"][2]
    d = diff.differences
    assert d.filter(status="only in prod").select(*an.KEY).rows() == [(WHEAT, "UR", 1987)]
    changed = d.filter(status="changed")
    assert changed.select(*an.KEY, "metric").rows() == [(CORN, "US", 2022, "production")]
    assert changed["dev"][0] - changed["prod"][0] == 1000
    assert diff.summary == "dev_alice vs prod: 1 changed, 1 only in prod."
    same = an.metric_differences(an.load(published).metrics, an.load(published).metrics)
    assert same.height == 0


def test_charts_carry_units_in_axis_titles(wb):
    ts = an.time_series(wb, CORN, an.default_countries(wb, CORN), "production")
    spec = an.line_chart(ts, "Corn", an.label("production", "(1000 MT)")).to_dict()
    assert spec["encoding"]["y"]["title"] == "Production (1000 MT)"
    assert len(spec["datasets"][next(iter(spec["datasets"]))]) == ts.height


# --- the real shared releases, through the real pipeline (values from the data README) ------
real_published = lakehouse_fixture.real_published


@pytest.fixture(scope="module")
def real(real_published):
    return an.load(real_published, "prod")


@pytest.mark.slow
def test_real_brazil_coffee(real):
    ts = an.time_series(real, COFFEE, ["BR"], "production", years=(2020, 2023))
    assert ts["market_year"].to_list() == [2020, 2021, 2022, 2023]
    assert ts["value"].is_between(58100, 69900).all()
    assert ts["value"][-1] == 62600  # the latest view shows the 2022-12 value
    assert an.unit(real, COFFEE, "production") == "(1000 60 KG BAGS)"
    rev = an.revisions(real, COFFEE, "BR", 2023)
    assert rev["value"].to_list() == [64300, 62600]
    assert [d.isoformat() for d in rev["release_month"]] == ["2022-06-01", "2022-12-01"]
    bs = an.balance_sheet(real, COFFEE, "BR", 2023)
    assert bs.balanced and bs.table["value"][3] == 63215  # USDA's own total supply
    top = an.top_countries(real, COFFEE, "production", year=2023, n=3)
    assert top["country_code"][0] == "BR" and top["world_share"][0] < 0.5
    assert not top["country_code"].is_in(["E4", "E2", "UR"]).any()


@pytest.mark.slow
def test_real_us_cotton_2022(real):
    cotton = an.commodity_code(real, "Cotton")
    ts = an.time_series(real, cotton, ["US"], "production", years=(2022, 2022))
    assert ts["value"].to_list() == [14031]
    assert "480" in ts["unit"][0]
    assert an.label("production", ts["unit"][0]) == "Production (1000 480 lb. Bales)"


@pytest.mark.slow
def test_real_dev_environment_matches_prod(real_published):
    """What the notebook's dev panel does: plan dev_<user>, publish, compare with prod."""
    from materia import transform

    result = transform.run(real_published, "dev_pytest")
    assert result.env == "dev_pytest"
    assert "dev_pytest" in an.envs(real_published)
    diff = an.compare_envs(real_published, "dev_pytest")
    counts = diff.row_counts
    assert counts.height >= 3 and (counts["prod"] == counts["dev_pytest"]).all()
    assert diff.differences.height == 0
    assert diff.summary == "dev_pytest matches prod: no key or metric differs."
