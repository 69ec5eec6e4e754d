"""materia.workbench.psd_revisions (WASDE-style revisions computed from PSD's vintages) on the
generated releases, published by the real pipeline: how an estimate moved across the
loaded releases, and what each commodity's newest release changed since the one before
it. Expected values come from testsupport/lakehouse/fixture.py's rows, summed in Python."""

from __future__ import annotations

import pytest

from materia.core.errors import MateriaError
from materia.workbench import analysis as an
from materia.workbench import data as wd
from materia.workbench import psd_revisions
from testsupport.lakehouse import fixture as fx

published = fx.published


@pytest.fixture(scope="module")
def wb(published):
    return wd.open_workbench(published)


def test_revisions_of_a_country_and_of_the_world(wb):
    coffee = wb.commodity("Coffee, Green")
    rev = psd_revisions.revisions(coffee, "BR", 2023)
    assert rev["value"].to_list() == [64_300, 62_600]
    assert [d.isoformat() for d in rev["release_month"]] == ["2022-06-01", "2022-12-01"]
    assert rev["change"].to_list() == [None, -1_700]
    world = psd_revisions.revisions(wb.commodity("Corn"), an.WORLD, 2022)
    assert world["value"].to_list() == [
        fx.total(fx.CORN, 2022, "028", "2022-10"),
        fx.total(fx.CORN, 2022, "028", "2022-11"),
    ]
    most = psd_revisions.most_revised(wb.commodity("Wheat"))
    assert most["change"].abs().is_sorted(descending=True)
    top = most.row(0, named=True)
    assert (top["country_name"], top["year"], top["latest"]) == ("European Union", "2021/22", 138_200)  # fmt: skip
    with pytest.raises(MateriaError, match="derived"):
        psd_revisions.revisions(coffee, "BR", 2023, "stocks_to_use")


def test_revisions_mark_every_loaded_release_even_one_that_changed_nothing(wb):
    # China's wheat is not revised in November: the estimate is carried, marked unchanged.
    wheat = wb.commodity("Wheat")
    rev = psd_revisions.revisions(wheat, "CH", 2022)
    assert [d.isoformat() for d in rev["release_month"]] == ["2022-10-01", "2022-11-01"]
    assert rev["revised"].to_list() == [True, False]
    assert rev["change"].to_list() == [None, 0.0]
    assert [r.month.isoformat() for r in wheat.releases] == ["2022-10-01", "2022-11-01"]
    assert wheat.releases[-1].datasets == ("psd_grains_pulses_csv",)
    # The EU member states (a breakdown file of 2022-11) are no release of wheat's own.
    beef = wb.commodity("Meat, Beef and Veal")
    assert [r.month.isoformat() for r in beef.releases] == ["2022-10-01"]
    assert beef.previous_release is None


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

    # By default the largest absolute change in the commodity's unit comes first; the
    # percentage is a choice (it puts small series first).
    by_abs = psd_revisions.what_changed(changes, n=3)
    assert by_abs.height == 3 and by_abs["change"].abs().is_sorted(descending=True)
    assert by_abs["change"].abs()[0] == max(abs(b - a) for a, b in got.values())
    by_pct = psd_revisions.what_changed(changes, by="pct", n=None)
    assert by_pct["change_pct"].abs().is_sorted(descending=True)
    only = psd_revisions.what_changed(changes, [fx.COFFEE], ["028"], by="pct", n=None)
    coffee = sorted(
        ((cc, a, b) for (c, cc, _, at), (a, b) in got.items() if (c, at) == (fx.COFFEE, "028")),
        key=lambda t: -abs(t[2] / t[1] - 1),
    )
    assert only.select("country_code", "previous", "current").rows() == coffee
    # PSD's coffee Market_Year 2023 is USDA's 2022/23.
    assert set(only["year"]) == {"2022/23"} and len(coffee) == 2
    with pytest.raises(MateriaError, match="sort what changed by 'abs' or 'pct'"):
        psd_revisions.what_changed(changes, by="size")


def test_what_changed_of_some_commodities_only(wb):
    some = wb.changes([fx.COFFEE])
    assert set(some["commodity_code"]) == {fx.COFFEE}
    assert some.equals(wb.changes().filter(commodity_code=fx.COFFEE))
    assert wb.changes([]).height == 0
    # Beef has one release loaded: nothing to compare, so nothing "changed".
    assert wb.changes([fx.BEEF]).height == 0
    assert {code for code, *_ in wb.compared()} == {fx.CORN, fx.WHEAT, fx.COFFEE}
    # The EU member states loaded beside the grains are not revisions of wheat or corn.
    assert not set(wb.changes()["country_code"]) & {"FR", "GM", "PL"}
