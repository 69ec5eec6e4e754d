"""materia.workbench.charts: every chart is valid vega-lite, with units, USDA's year labels, the
World dashed and the loaded releases marked (built from the published test releases)."""

from __future__ import annotations

import json

import pytest

from materia.workbench import analysis as an
from materia.workbench import charts, psd_revisions
from materia.workbench import data as wd
from testsupport.lakehouse import fixture as fx

published = fx.published


@pytest.fixture(scope="module")
def corn(published):
    return wd.open_workbench(published).commodity("Corn")


def _data(chart: charts.Chart) -> list[dict]:
    return next(iter(chart.spec["datasets"].values()))


def test_line_chart_labels_years_and_dashes_the_world(corn):
    series = an.time_series(corn, [an.WORLD, "US"], "production", (2020, 2022))
    chart = charts.line_chart(corn.code, series, "Corn: production", "Production (1000 MT)")
    chart.altair.to_dict(validate=True)  # valid vega-lite (raises otherwise)
    spec = chart.spec
    assert spec["encoding"]["y"]["title"] == "Production (1000 MT)"
    assert spec["encoding"]["strokeDash"]["field"] == "world"
    rows = _data(chart)
    assert {r["year"] for r in rows} == {"2020/21", "2021/22", "2022/23"}
    assert [r["world"] for r in rows if r["country_code"] == an.WORLD] == [True] * 3
    assert spec["usermeta"]["embedOptions"]["renderer"] == "svg"
    mime, text = chart._mime_()
    assert mime == "application/vnd.vegalite.v6+json" and json.loads(text) == spec
    stu = charts.line_chart(corn.code, an.stocks_to_use(corn, ["US"]), "t", "Stocks-to-use (%)", percent=True)  # fmt: skip
    assert stu.spec["encoding"]["y"]["axis"]["format"] == ".0%"


def test_bars_leave_out_the_world_and_revisions_mark_the_loaded_releases(corn):
    top = an.top_countries(corn, "production", 2022, n=5)
    bars = charts.bar_chart(top, "Corn: top producers", "Production (1000 MT)")
    bars.altair.to_dict(validate=True)
    assert [r["country_code"] for r in _data(bars)] == top["country_code"].to_list()[:5]
    rev = psd_revisions.revisions(corn, an.WORLD, 2022)
    chart = charts.revision_chart(rev, "Corn, World 2022/23", "Production (1000 MT)")
    chart.altair.to_dict(validate=True)
    line, points = chart.spec["layer"]
    # The axis holds the releases loaded and nothing between them: no step drawn through
    # months that were never loaded.
    assert line["encoding"]["x"]["type"] == "ordinal"
    assert line["encoding"]["x"]["sort"] == ["Oct 2022", "Nov 2022"]
    assert [r["release"] for r in _data(chart)] == ["Oct 2022", "Nov 2022"]
    assert points["encoding"]["fill"]["field"] == "status"
    assert chart.spec["usermeta"]["embedOptions"]["renderer"] == "svg"
