"""The workbench's charts (altair): units in every axis title, USDA's year labels,
the World drawn dashed, monthly release axes. SVG, so each chart's text is in the page.

Each function returns a `Chart`: the vega-lite JSON made once. marimo would otherwise
run altair's schema validation every time it shows a chart (about 30 ms each, several
per commodity pick); tests/workbench/test_charts.py validates every chart instead.
"""

from __future__ import annotations

import json
import re

import altair as alt
import polars as pl

from materia.workbench import analysis as an

HEIGHT = 300
# SVG keeps titles and labels as text: readable by screen readers, tests and benchmarks.
USERMETA = {"embedOptions": {"renderer": "svg", "actions": False}}


class Chart:
    """A chart as marimo and the report show it (vega-lite JSON); `.altair` is the source."""

    def __init__(self, chart: alt.TopLevelMixin) -> None:
        self.altair = chart
        self.spec = chart.to_dict(validate=False)

    def _mime_(self) -> tuple[str, str]:
        version = re.search(r"/v(\d+)[.\d]*\.json$", self.spec.get("$schema", ""))
        return f"application/vnd.vegalite.v{version[1] if version else 6}+json", json.dumps(
            self.spec
        )


def _chart(df: pl.DataFrame, title: str) -> alt.Chart:
    return alt.Chart(df, title=title).properties(width="container", usermeta=USERMETA)


def line_chart(
    c_code: str, series: pl.DataFrame, title: str, y_title: str, percent: bool = False
) -> Chart:
    """One line per country over market years ("2022/23" on the axis); World dashed."""
    df = series.with_columns(
        an.year_labels(c_code).alias("year"),
        (pl.col("country_code") == an.WORLD).alias("world"),
    )
    fmt = ".1%" if percent else ",.0f"
    return Chart(
        _chart(df, title)
        .mark_line(point=True)
        .encode(
            # "1999/00" < "2000/01" and "1999" < "2000": text order is year order.
            x=alt.X("year:O", title="Market year", axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("value:Q", title=y_title, axis=alt.Axis(format=".0%" if percent else ",.0f")),
            color=alt.Color("country_name:N", title="Country"),
            strokeDash=alt.StrokeDash(
                "world:N",
                legend=None,
                scale=alt.Scale(domain=[False, True], range=[[1, 0], [6, 3]]),
            ),  # fmt: skip
            tooltip=[
                alt.Tooltip("country_name:N", title="Country"),
                alt.Tooltip("year:O", title="Market year"),
                alt.Tooltip("value:Q", title=y_title, format=fmt),
            ],
        )
        .properties(height=HEIGHT)
    )


def bar_chart(top: pl.DataFrame, title: str, x_title: str) -> Chart:
    """Horizontal bars of a ranking (the World row is left out), share in the tooltip."""
    df = top.filter(pl.col("country_code") != an.WORLD)
    return Chart(
        _chart(df, title)
        .mark_bar()
        .encode(
            x=alt.X("value:Q", title=x_title, axis=alt.Axis(format=",.0f")),
            y=alt.Y("country_name:N", sort="-x", title=None),
            tooltip=[
                alt.Tooltip("country_name:N", title="Country"),
                alt.Tooltip("value:Q", title=x_title, format=",.0f"),
                alt.Tooltip("world_share:Q", title="Share of world", format=".1%"),
            ],
        )
        .properties(height=26 * max(df.height, 1))
    )


def revision_chart(rev: pl.DataFrame, title: str, y_title: str) -> Chart:
    """An estimate in each loaded release ("Nov 2022" on the axis, only the releases
    loaded, oldest first): a filled point where the release revised it, a hollow one where
    it carried the earlier estimate."""
    df = rev.sort("release_month").with_columns(
        pl.col("release_month").dt.strftime("%b %Y").alias("release"),
        pl.when(pl.col("revised"))
        .then(pl.lit("revised"))
        .otherwise(pl.lit("unchanged"))
        .alias("status"),  # fmt: skip
    )
    order = df["release"].to_list()
    base = alt.Chart().encode(
        x=alt.X("release:O", title="PSD release loaded", sort=order, axis=alt.Axis(labelAngle=-45)),
        y=alt.Y(
            "value:Q", title=y_title, scale=alt.Scale(zero=False), axis=alt.Axis(format=",.0f")
        ),  # fmt: skip
    )
    points = base.mark_point(size=70, opacity=1).encode(
        fill=alt.Fill(
            "status:N",
            title="Estimate",
            scale=alt.Scale(domain=["revised", "unchanged"], range=["#1f77b4", "white"]),
        ),
        tooltip=[
            alt.Tooltip("release:O", title="Release"),
            alt.Tooltip("value:Q", title=y_title, format=",.0f"),
            alt.Tooltip("change:Q", title="Change", format="+,.0f"),
            alt.Tooltip("status:N", title="Estimate"),
        ],
    )
    layered = alt.layer(base.mark_line(), points, data=df, title=title)
    return Chart(layered.properties(width="container", height=220, usermeta=USERMETA))
