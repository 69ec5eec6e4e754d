import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="materia · commodities report")


@app.cell
def _():
    import marimo as mo
    import polars as pl

    from materia.core.errors import MateriaError
    from materia.core.target import Target
    from materia.reports import build as reports
    from materia.workbench import analysis as an
    from materia.workbench import balance, breakdowns, charts, excel, psd_revisions, tables
    from materia.workbench import data as wd

    return (
        MateriaError,
        an,
        balance,
        breakdowns,
        charts,
        excel,
        mo,
        pl,
        reports,
        Target,
        tables,
        psd_revisions,
        wd,
    )


@app.cell
def _(Target, mo, reports, wd):
    # `materia report commodities` passes these; `marimo run materia/reports/notebook.py --
    # --commodity Corn --country US` works too.
    def _listed(value):
        return [] if value is None else [str(v) for v in (value if isinstance(value, list) else [value])]  # fmt: skip

    _args = mo.cli_args()
    settings = reports.settings_for(_args)
    plan = reports.plan(
        settings,
        Target(str(_args.get("env") or "prod")),
        _listed(_args.get("commodity")),
        _listed(_args.get("country")),
        int(_args.get("years") or reports.DEFAULT_YEARS),
    )
    wb = wd.open_workbench(settings, plan.env)
    return plan, settings, wb


@app.cell
def _(mo, tables):
    mo.Html(
        tables.SHEET_CSS
        + "<h1>Commodities report</h1><p>USDA PSD supply and demand. The world is the sum of "
        "every reporting country of the primary files (the EU and the USSR included, as "
        "USDA counts them); breakdowns (EU member states, Russia's spring and winter wheat) "
        "are shown under their parent, never added to the world; "
        "world stocks-to-use is ending stocks / domestic consumption, a country's "
        "ending stocks / (domestic consumption + exports). Tables list the newest market "
        "years first; each has its data as a CSV download.</p>"
    )
    return


@app.cell
def _(
    MateriaError, an, balance, breakdowns, charts, excel, mo, pl, plan, tables, psd_revisions, wb
):
    def csv(df, *name):
        return mo.download(
            excel.csv_bytes(df),
            filename=excel.file_name(*name, ext="csv"),
            mimetype="text/csv",
            label=f"CSV: {excel.file_name(*name, ext='csv')}",
        )

    def sheet(c, region):
        try:
            bs = balance.balance_sheet(c, region, years=plan.years)
        except MateriaError as e:  # e.g. a series without supply and use
            return [mo.md(f"{e}.")]
        caption = f"{bs.region}: supply and demand {an.in_parens(an.quantity_unit(c))}"
        return [
            mo.Html(tables.sheet_html(bs.table, caption, bs.note)),
            mo.md(bs.compared + ".") if bs.compared else None,
            csv(bs.table, c.name, bs.region, "balance sheet", c.release.strftime("%Y-%m")),
        ]

    def drilldown(c, unit):
        out = []
        for dataset, parent in breakdowns.parents(c):
            b = breakdowns.breakdown(c, dataset, parent, "production", plan.years)
            out += [
                mo.Html(
                    tables.html_table(
                        b.table, f"{b.title}, release {b.release:%B %Y}: production {unit}"
                    )
                ),  # fmt: skip
                mo.md(b.note) if b.note else None,
                csv(b.table, c.name, b.parent_name, "breakdown", b.release.strftime("%Y-%m")),
            ]
        return out

    def section(code):
        c = wb.commodity(code)
        stamp = c.release.strftime("%Y-%m")
        previous = f", previous release {c.previous_release:%B %Y}" if c.previous_release else ""
        parts = [
            mo.md(f"## {c.name}\nPSD release **{c.release:%B %Y}**{previous}."),
            *sheet(c, an.WORLD),
        ]
        for cc in plan.countries:
            if cc in c.country_names:
                parts += sheet(c, cc)
            else:
                parts.append(mo.md(f"No {c.name} data for country {cc}."))
        changed = psd_revisions.what_changed(wb.changes(plan.commodities), [code], n=None)
        since = f"{c.previous_release:%B %Y}" if c.previous_release else ""
        if changed.height:
            shown = changed.select(
                pl.col("country_name").alias("country"),
                pl.col("year").alias("market year"),
                pl.concat_str("attribute_name", pl.lit(" "), "unit").alias("attribute"),
                "previous",
                pl.col("current").alias("this release"),
                "change",
                pl.col("change_pct").alias("change %"),
            )
            parts += [
                mo.Html(
                    tables.html_table(
                        shown.head(10),
                        f"What changed in the {c.release:%B %Y} release since {since} (largest of {changed.height:,})",
                    )
                ),  # fmt: skip
                csv(shown, c.name, "what changed", stamp),
            ]
        elif c.previous_release is None:
            parts.append(
                mo.md(
                    f"Only the {c.release:%B %Y} release of {c.name} is loaded: nothing to compare yet."
                )  # fmt: skip
            )
        else:
            parts.append(mo.md(f"The {c.release:%B %Y} release changed no {c.name} value since {since}."))  # fmt: skip
        metric = "production" if an.has_data(c, "production") else "imports"
        if not an.has_data(c, metric):
            parts.append(mo.md(f"No production or imports of {c.name} to rank."))
            return mo.vstack(parts)
        year = an.latest_year(c, metric)
        label = an.year_label(c.code, year)
        unit = an.quantity_unit(c)
        top = an.top_countries(c, metric, year=year, n=10)
        top_table = top.select(
            "rank",
            pl.col("country_name").alias("country"),
            pl.col("value").alias(an.label(metric, unit)),
            (pl.col("world_share") * 100).alias("share of world %"),
            pl.col("change_pct").alias(f"change on {an.year_label(c.code, year - 1)} %"),
        )
        leaders = top.filter(pl.col("rank").is_not_null())["country_code"].head(5).to_list()
        series = an.time_series(c, leaders, metric, (year - plan.years + 1, year))
        wide = an.wide_series(c, series).rename({"market_year": "market year"})
        parts += [
            charts.bar_chart(
                top,
                f"{c.name}: top {'producers' if metric == 'production' else 'importers'} {label}",
                an.label(metric, unit),
            ),  # fmt: skip
            mo.Html(
                tables.html_table(
                    top_table, f"{an.METRICS[metric]}, {label}: top countries and the world"
                )
            ),  # fmt: skip
            csv(top_table, c.name, "top countries", label, stamp),
            charts.line_chart(
                c.code,
                series,
                f"{c.name}: {an.METRICS[metric].lower()} of the top countries",
                an.label(metric, unit),
            ),  # fmt: skip
            mo.Html(tables.html_table(wide, f"{an.label(metric, unit)}, newest first")),
            csv(wide, c.name, an.METRICS[metric], stamp),
            *drilldown(c, an.in_parens(unit)),
        ]
        return mo.vstack(parts)

    mo.vstack([section(code) for code in plan.commodities])
    return


@app.cell
def _(excel, mo, plan, settings, tables):
    # The WASDE report of the same run (notebooks/wasde.py is its page): the U.S. balance
    # sheets of the report's commodities, farm prices, world tables, what moved.
    from materia.workbench import wasde as _wasde
    from materia.workbench import wasde_charts as _charts
    from materia.workbench import wasde_data as _wd

    def _csv(df, *name):
        return mo.download(
            excel.csv_bytes(df),
            filename=excel.file_name(*name, ext="csv"),
            mimetype="text/csv",
            label=f"CSV: {excel.file_name(*name, ext='csv')}",
        )

    def _section():
        if not _wd.published(settings, plan.env):
            return None  # a PSD-only run: the report is PSD's alone
        w = _wd.open_wasde(settings, plan.env)
        stamp = f"{w.report:%Y-%m}"
        previous = f", compared with {w.previous:%B %Y}" if w.previous else ""
        parts = [mo.md(f"## WASDE {w.report:%B %Y}\nReleased {w.release_date:%d %B %Y}{previous}.")]
        for title, commodity in _wasde.report_sheets(w, plan.commodities):
            sheet = _wasde.us_sheet(w, title, commodity)
            parts += [
                mo.Html(tables.sheet_html(sheet.table, sheet.caption, sheet.note, sheet.decimals)),
                _csv(sheet.table, commodity, "us balance sheet", stamp),
            ]
            year = sheet.year
            moved = _wasde.path(w, title, commodity, _wasde.US, year, "Production")
            if moved.height > 1:
                unit = sheet.table.filter(sheet.table["item"] == "Production")["unit"][0]
                parts.append(_charts.path_chart(moved, f"{commodity}, U.S. {year}: production by report", unit))  # fmt: skip
        prices = _wasde.farm_prices(w)
        parts += [
            mo.Html(tables.html_table(prices, "Season-average farm prices")),
            _csv(prices, "season average farm prices", stamp),
        ]
        for title, commodity in _wasde.report_world_tables(w, plan.commodities):
            table = _wasde.world_table(w, title, commodity)
            parts += [mo.Html(tables.html_table(table, f"{title}, newest market year")), _csv(table, title, stamp)]  # fmt: skip
        changed = _wasde.what_changed(w)
        if w.previous is None:
            parts.append(mo.md(f"Only the {w.report:%B %Y} report is loaded: nothing to compare yet."))  # fmt: skip
        else:
            parts += [
                mo.Html(
                    tables.html_table(
                        changed.head(15),
                        f"What the {w.report:%B %Y} report moved since {w.previous:%B %Y} (largest of {changed.height:,})",
                    )
                ),  # fmt: skip
                _csv(changed, "wasde what changed", stamp),
            ]
        return mo.vstack(parts)

    _section()
    return


@app.cell
def _(mo, pl, settings, tables):
    # How fresh the data is, from the run log (`materia runs` shows the whole of it).
    from materia.core import runlog as _runlog

    _h = _runlog.health_table(settings)
    _rows = _h["rows"]
    mo.vstack(
        [
            mo.md("## Pipeline health"),
            mo.Html(tables.html_table(pl.DataFrame(_rows)))
            if _rows
            else mo.md("No runs logged yet."),  # fmt: skip
            mo.md(f"{len(_h['failures'])} recent failed run(s): see `materia runs --failed`.")
            if _h["failures"]
            else None,
            mo.md(f"Run log unreadable: {_h['error']}") if _h.get("error") else None,
        ]
    )
    return


if __name__ == "__main__":
    app.run()
