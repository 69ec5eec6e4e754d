"""The WASDE page's chart: how one projection moved across the reports loaded."""

from __future__ import annotations

import altair as alt
import polars as pl

from materia.workbench.charts import USERMETA, Chart


def path_chart(path: pl.DataFrame, title: str, y_title: str) -> Chart:
    """A figure in each report loaded ("Sep 2025" on the axis, oldest first): a filled
    point where the report moved it, a hollow one where it carried the earlier figure."""
    df = path.sort("release_month").with_columns(
        pl.col("release_month").dt.strftime("%b %Y").alias("report"),
        pl.when(pl.col("revised"))
        .then(pl.lit("moved"))
        .otherwise(pl.lit("unchanged"))
        .alias("status"),  # fmt: skip
    )
    small = bool(df.height) and df["value"].abs().max() < 1000
    fmt = ",.2f" if small else ",.0f"
    order = df["report"].to_list()
    base = alt.Chart().encode(
        x=alt.X("report:O", title="WASDE report", sort=order, axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False), axis=alt.Axis(format=fmt)),
    )
    points = base.mark_point(size=70, opacity=1).encode(
        fill=alt.Fill(
            "status:N",
            title="Projection",
            scale=alt.Scale(domain=["moved", "unchanged"], range=["#1f77b4", "white"]),
        ),
        tooltip=[
            alt.Tooltip("report:O", title="Report"),
            alt.Tooltip("value:Q", title=y_title, format=fmt),
            alt.Tooltip("change:Q", title="Change", format="+" + fmt),
            alt.Tooltip("status:N", title="Projection"),
        ],
    )
    layered = alt.layer(base.mark_line(), points, data=df, title=title)
    return Chart(layered.properties(width="container", height=220, usermeta=USERMETA))
