import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="materia · commodities")


@app.cell
def _():
    import getpass
    import re

    import marimo as mo
    import polars as pl

    from materia.core import settings as settings_mod
    from materia.core.errors import MateriaError
    from materia.workbench import analysis as an
    from materia.workbench import balance, breakdowns, charts, excel, psd_revisions, tables, units
    from materia.workbench import data as wd

    def show(df, label=""):
        """A small table as plain HTML: formatted numbers, blanks for missing values, a
        scroll box when long (cheap to redraw on every pick)."""
        return mo.Html(f'<div class="wb-table">{tables.html_table(df, label)}</div>')

    def browse(df, label=""):
        """A large table to sort, search and page through."""
        return mo.ui.table(
            df,
            selection=None,
            format_mapping=tables.formats(df),
            show_column_summaries=False,
            show_data_types=False,
            show_download=False,
            label=label,
        )

    def downloads(name, frames, header=None):
        """Excel (one sheet per frame, each with the header block: source, dataset,
        release, unit) and CSV (the first frame), built on click."""
        first = next(iter(frames.values()))
        return mo.hstack(
            [
                mo.download(
                    lambda: excel.xlsx_bytes(frames, header),
                    filename=excel.file_name(*name),
                    mimetype=excel.XLSX_MIME,
                    label="Excel",
                ),
                mo.download(
                    lambda: excel.csv_bytes(first),
                    filename=excel.file_name(*name, ext="csv"),
                    mimetype="text/csv",
                    label="CSV",
                ),
            ],
            justify="start",
        )

    return (
        MateriaError,
        an,
        balance,
        breakdowns,
        browse,
        charts,
        downloads,
        getpass,
        mo,
        pl,
        re,
        settings_mod,
        show,
        tables,
        units,
        psd_revisions,
        wd,
    )


@app.cell
def _(mo, tables):
    mo.Html(tables.SHEET_CSS)  # styles for the plain tables and the balance sheet
    return


@app.cell
def _(mo):
    mo.md(r"""
    # Commodities workbench

    USDA PSD supply and demand from the newest published run. The world is the sum of
    every reporting country of the primary files (the EU and the USSR included, as USDA
    counts them); breakdown files (EU member states, Russia's spring and winter wheat) are
    shown under their parent, never added to the world.
    """)
    return


@app.cell
def _(mo, settings_mod):
    settings = settings_mod.load()
    # Bumped after a pipeline or dev run publishes, so the environment list is re-read.
    get_published, set_published = mo.state(0)
    return get_published, set_published, settings


@app.cell
def _(get_published, settings, wd):
    get_published()
    envs = wd.envs(settings)
    empty = "prod" not in envs
    return empty, envs


@app.cell
def _(empty, mo):
    run_pipeline = mo.ui.run_button(label="Run the local pipeline", kind="success")
    (
        mo.vstack(
            [
                mo.md(
                    "The lakehouse is empty: run `uv run materia pipeline run` "
                    "(or press the button) to land the PSD releases and publish them."
                ),
                run_pipeline,
            ]
        )
        if empty
        else None
    )
    return (run_pipeline,)


@app.cell
def _(MateriaError, mo, run_pipeline, set_published, settings):
    mo.stop(not run_pipeline.value)
    from materia.ops import pipelines

    # The same pipeline as `materia pipeline run`: recorded in the run log (the health
    # panel below shows it), its failure one line.
    with mo.status.spinner(title="Landing and publishing PSD releases…") as _spinner:
        _code = pipelines.main(settings, "all", progress=lambda m: _spinner.update(subtitle=m))
    set_published(lambda n: n + 1)
    if _code != 0:
        raise MateriaError("the local pipeline failed: `materia runs` shows why")
    mo.md("Done: landed and published; the pipeline health below lists the run.")
    return


@app.cell
def _(empty, envs, mo):
    mo.stop(empty)
    _wanted = mo.cli_args().get("env") or "prod"
    env_picker = mo.ui.dropdown(
        options=envs, value=_wanted if _wanted in envs else "prod", label="Environment"
    )
    return (env_picker,)


@app.cell
def _(env_picker, settings, wd):
    wb = wd.open_workbench(settings, env_picker.value)
    return (wb,)


@app.cell
def _(mo, wb):
    _c = wb.commodities()
    _options = dict(zip(_c["commodity_name"], _c["commodity_code"], strict=True))
    _wanted = mo.cli_args().get("commodity") or "Corn"
    _default = next((n for n in _options if n.lower() == str(_wanted).lower()), next(iter(_options)))  # fmt: skip
    commodity_picker = mo.ui.dropdown(options=_options, value=_default, label="Commodity")
    return (commodity_picker,)


@app.cell
def _(commodity_picker, wb):
    c = wb.commodity(commodity_picker.value)
    return (c,)


@app.cell
def _(an, c, mo, units):
    metric_picker = mo.ui.dropdown(
        options={an.METRICS[m]: m for m in an.available_metrics(c)},
        value=an.METRICS["production"] if an.has_data(c, "production") else None,
        label="Metric",
    )
    unit_picker = mo.ui.dropdown(
        options=[u.label for u in units.choices(c.code, an.quantity_unit(c))],
        value=units.choices(c.code, an.quantity_unit(c))[0].label,
        label="Unit",
    )
    _names = dict(an.countries(c).select("country_name", "country_code").iter_rows())
    _defaults = an.default_countries(c)
    countries_picker = mo.ui.multiselect(
        options={an.WORLD_NAME: an.WORLD, **_names},
        # The world first, then the biggest producers.
        value=[an.WORLD_NAME, *(n for n, cc in _names.items() if cc in _defaults)],
        label="Countries",
    )
    _lo, _hi = an.market_years(c)
    _years = {an.year_label(c.code, y): y for y in range(_hi, _lo - 1, -1)}
    _labels = list(_years)
    from_year = mo.ui.dropdown(_years, value=_labels[min(24, len(_labels) - 1)], label="From")
    to_year = mo.ui.dropdown(_years, value=_labels[0], label="to")
    return countries_picker, from_year, metric_picker, to_year, unit_picker


@app.cell
def _(
    c,
    commodity_picker,
    countries_picker,
    env_picker,
    from_year,
    metric_picker,
    mo,
    to_year,
    unit_picker,
):
    mo.vstack(
        [
            mo.hstack(
                [env_picker, commodity_picker, metric_picker, unit_picker],
                justify="start",
                wrap=True,
            ),
            mo.hstack([countries_picker, from_year, to_year], justify="start", wrap=True),
            mo.md(
                f"**{c.name}**: PSD release {c.release:%b %Y}"
                + (
                    f", compared with {c.previous_release:%b %Y}."
                    if c.previous_release
                    else ", the only release loaded: nothing to compare yet."
                )
            ),
        ]
    )
    return


@app.cell
def _(c, env_picker, mo, settings):
    # The WASDE report of this PSD release's month, when one is published beside it
    # (notebooks/wasde.py is the WASDE page).
    from materia.workbench import wasde as _wasde

    _link = _wasde.psd_link(settings, env_picker.value, c.code, c.release)
    mo.md(_link) if _link else None
    return


@app.cell
def _(an, c, from_year, to_year, unit_picker, units):
    years = tuple(sorted((from_year.value, to_year.value)))
    unit = units.by_label(c.code, an.quantity_unit(c), unit_picker.value)

    def in_unit(metric, df, col="value"):
        """Quantities in the chosen unit (the frame untouched for other metrics)."""
        if metric not in an.QUANTITIES or unit.factor == 1.0:
            return df
        return df.with_columns(df[col] * unit.factor)

    def unit_of(metric):
        if metric in an.QUANTITIES:
            return unit.label
        return "%" if metric == "stocks_to_use" else an.unit(c, metric).strip("()")

    return in_unit, unit, unit_of, years


@app.cell
def _(an, c, charts, countries_picker, downloads, in_unit, metric_picker, mo, show, unit_of, years):  # fmt: skip
    mo.stop(metric_picker.value is None, mo.callout(mo.md(f"No data for {c.name}."), kind="warn"))
    metric = metric_picker.value
    selected = list(countries_picker.value)
    _series = in_unit(metric, an.time_series(c, selected, metric, years))
    _title = an.label(metric, unit_of(metric))
    _span = f"{an.year_label(c.code, years[0])}–{an.year_label(c.code, years[1])}"
    if _series.height == 0:
        _out = mo.callout(
            mo.md(
                f"No data for {an.METRICS[metric].lower()} of {c.name} in the chosen countries, {_span}."
            ),  # fmt: skip
            kind="warn",
        )
    else:
        _wide = an.wide_series(c, _series).rename({"market_year": "market year"})
        _out = mo.vstack(
            [
                charts.line_chart(
                    c.code,
                    _series,
                    f"{c.name}: {an.METRICS[metric].lower()} by country",
                    _title,
                    percent=metric == "stocks_to_use",
                ),
                show(_wide, label=_title),
                downloads(
                    (c.name, an.METRICS[metric], _span, f"{c.release:%Y-%m}"),
                    {_title: _wide},
                    c.header(unit_of(metric)),
                ),
            ]
        )
    mo.vstack([mo.md(f"## {_title}"), _out])
    return metric, selected


@app.cell
def _(an, c, charts, downloads, in_unit, mo, pl, show, unit, years):
    _year = min(years[1], an.latest_year(c, "production" if an.has_data(c, "production") else "imports"))  # fmt: skip
    _label = an.year_label(c.code, _year)
    _charts, _tabs, _frames = [], {}, {}
    for _m in ("production", "exports"):
        if not an.has_data(c, _m):
            continue
        _top = in_unit(_m, an.top_countries(c, _m, year=_year, n=10))
        _name = "Top producers" if _m == "production" else "Top exporters"
        _table = _top.select(
            "rank",
            pl.col("country_name").alias("country"),
            pl.col("value").alias(f"{an.METRICS[_m].lower()} ({unit.label})"),
            (pl.col("world_share") * 100).alias("share of world %"),
            pl.col("change_pct").alias(f"change on {an.year_label(c.code, _year - 1)} %"),
        )
        _frames[_name] = _table
        _charts.append(charts.bar_chart(_top, f"{c.name}: {_name.lower()} {_label}", an.label(_m, unit.label)))  # fmt: skip
        _tabs[f"{_name} {_label}"] = show(_table, f"{_name} {_label}")
    mo.vstack(
        [
            mo.md(
                f"## Top producers and exporters, {_label}\n"
                "Shares are of the world: the sum over every reporting country of the "
                "primary files. The last row of each table is the world."
            ),
            mo.hstack(_charts, widths="equal", align="start"),
            mo.hstack(list(_tabs.values()), widths="equal", align="start", wrap=True),
            downloads(
                (c.name, "top countries", _label, f"{c.release:%Y-%m}"),
                _frames,
                c.header(unit.label),
            )
            if _frames
            else None,
        ]
    )
    return


@app.cell
def _(an, c, charts, mo, selected, years):
    mo.stop(not an.has_data(c, "stocks_to_use"))
    _stu = an.stocks_to_use(c, [s for s in selected if s != an.WORLD], years)
    mo.vstack(
        [
            mo.md(
                "## Stocks-to-use\nA country's ending stocks / (domestic consumption + "
                "exports); the world's ending stocks / domestic consumption, as USDA's."
            ),
            charts.line_chart(
                c.code, _stu, f"{c.name}: stocks-to-use", "Stocks-to-use (%)", percent=True
            ),  # fmt: skip
        ]
    )
    return


@app.cell
def _(breakdowns, c, downloads, mo, show, unit):
    # Breakdown files under their parent: the parts, their sum and the parent's own value.
    _parts = breakdowns.parents(c)
    mo.stop(not _parts)
    _out = []
    for _dataset, _parent in _parts:
        _b = breakdowns.breakdown(c, _dataset, _parent, "production", 5, unit)
        _caption = f"{_b.title}, release {_b.release:%b %Y}: production ({unit.label})"
        _out += [
            show(_b.table, _caption),
            mo.md(_b.note) if _b.note else None,
            downloads(
                (c.name, _b.parent_name, "breakdown", f"{_b.release:%Y-%m}"),
                {"breakdown": _b.table},
                c.header(unit.label, Dataset=f"{_dataset}.zip", Release=f"{_b.release:%B %Y}"),
            ),
        ]
    mo.vstack(
        [
            mo.md(
                "## Breakdowns\nParts of a reporting unit, from PSD's breakdown files: shown "
                "under their parent, never added to the world."
            ),
            *_out,
        ]
    )
    return


@app.cell
def _(an, c, mo):
    _ranked = an.default_countries(c, n=200)
    _names = c.country_names
    bs_region = mo.ui.dropdown(
        options={an.WORLD_NAME: an.WORLD, **{_names[cc]: cc for cc in _ranked}},
        value=an.WORLD_NAME,
        label="Balance sheet of",
    )
    bs_years = mo.ui.dropdown(
        {f"{n} years": n for n in (2, 3, 5)}, value="3 years", label="Showing"
    )
    return bs_region, bs_years


@app.cell
def _(MateriaError, balance, bs_region, bs_years, c, downloads, mo, tables, unit):
    try:
        _bs = balance.balance_sheet(c, bs_region.value, years=bs_years.value, unit=unit)
    except MateriaError as _e:
        _out = mo.callout(mo.md(str(_e)), kind="warn")
    else:
        _previous = f" beside {_bs.previous_release:%b %Y}" if _bs.previous_release else ""
        _caption = f"{_bs.title}, PSD release {_bs.release:%b %Y}{_previous}"
        _out = mo.vstack(
            [
                mo.Html(tables.sheet_html(_bs.table, _caption, _bs.note)),
                mo.md(_bs.compared + ".") if _bs.compared else None,
                downloads(
                    (c.name, _bs.region, "balance sheet", f"{c.release:%Y-%m}"),
                    {"balance sheet": _bs.table},
                    c.header(unit.label, Region=_bs.region),
                ),  # fmt: skip
            ]
        )
    mo.vstack(
        [
            mo.md(
                "## Balance sheet\nEvery supply and use line PSD reports for the commodity: "
                "supply (beginning stocks, production, imports) = total supply, use "
                "(domestic consumption, exports, ending stocks, ...) = total distribution; "
                "parts indented under their line. The newest year shows the previous "
                "release's estimate beside this one's, and the change."
            ),
            mo.hstack([bs_region, bs_years], justify="start"),
            _out,
        ]
    )
    return


@app.cell
def _(an, bs_region, c, charts, metric, mo, pl, show, to_year, unit_of, psd_revisions):
    _m = metric if metric in c.attribute_ids else "production"
    _year = to_year.value
    _rev = psd_revisions.revisions(c, bs_region.value, _year, _m)
    _who = bs_region.selected_key
    _title = f"{c.name}, {_who} {an.year_label(c.code, _year)}: {an.METRICS[_m].lower()} by release"
    _most = psd_revisions.most_revised(c, _m)
    _loaded = ", ".join(f"{r.month:%b %Y}" for r in c.releases) or "none"
    mo.vstack(
        [
            mo.md(
                "## Revisions\nHow the estimate moved across the releases loaded "
                f"({_loaded}): a filled point where a release revised it."
            ),
            charts.revision_chart(_rev, _title, an.label(_m, an.unit(c, _m)))
            if _rev.height > 1
            else mo.md(
                f"{_title}: only the {c.release:%B %Y} release is loaded, nothing to compare yet."
            ),
            mo.md(
                f"Most revised {an.METRICS[_m].lower()} estimates ({unit_of(_m) if _m not in an.QUANTITIES else an.unit(c, _m).strip('()')})"
            ),  # fmt: skip
            show(
                _most.select(
                    pl.col("country_name").alias("country"),
                    pl.col("year").alias("market year"),
                    pl.col("first_release").dt.strftime("%b %Y").alias("first release"),
                    "first",
                    pl.col("latest_release").dt.strftime("%b %Y").alias("latest release"),
                    "latest",
                    "change",
                    "releases",
                )
            )
            if _most.height
            else mo.md("No estimate changed across the landed releases."),
        ]
    )
    return


@app.cell
def _(c, mo, wb):
    _all = wb.changes()
    _commodities = dict(_all.select("commodity_name", "commodity_code").unique().sort("commodity_name").iter_rows())  # fmt: skip
    _attributes = dict(_all.select("attribute_name", "attribute_id").unique().sort("attribute_name").iter_rows())  # fmt: skip
    changes_commodity = mo.ui.multiselect(_commodities, label="Commodities (all when empty)")
    changes_attribute = mo.ui.multiselect(_attributes, label="Attributes (all when empty)")
    changes_by = mo.ui.radio({"largest absolute": "abs", "largest %": "pct"}, value="largest absolute", label="Sort by", inline=True)  # fmt: skip
    return changes_attribute, changes_by, changes_commodity


@app.cell
def _(
    browse, changes_attribute, changes_by, changes_commodity, downloads, mo, pl, psd_revisions, wb
):
    _top = psd_revisions.what_changed(
        wb.changes(),
        list(changes_commodity.value),
        list(changes_attribute.value),
        changes_by.value,
        n=None,  # fmt: skip
    )
    _newest = wb.commodities()["release_month"].max()
    _shown = _top.select(
        pl.col("commodity_name").alias("commodity"),
        pl.col("country_name").alias("country"),
        pl.col("year").alias("market year"),
        pl.concat_str("attribute_name", pl.lit(" "), "unit").alias("attribute"),
        pl.concat_str(
            pl.col("previous_release").dt.strftime("%b %Y"),
            pl.lit(" → "),
            pl.col("release").dt.strftime("%b %Y"),
        ).alias("releases"),
        "previous",
        pl.col("current").alias("this release"),
        "change",
        pl.col("change_pct").alias("change %"),
    )
    _names = dict(wb.commodities().select("commodity_code", "commodity_name").iter_rows())
    _pairs = {code: (new, old) for code, new, old in wb.compared()}
    _which = "; ".join(f"{_names[k]}: {n:%b %Y} against {o:%b %Y}" for k, (n, o) in sorted(_pairs.items(), key=lambda kv: _names[kv[0]]))  # fmt: skip
    _alone = sorted(n for k, n in _names.items() if k not in _pairs)
    mo.vstack(
        [
            mo.md(
                "## What changed in this release\nEvery value each commodity's newest release "
                f"revised since the release before it ({_top.height:,}), largest first in the "
                f"commodity's unit, across every commodity and country. Releases compared: "
                f"{_which or 'none'}."
                + (
                    f" Only one release loaded, nothing to compare yet: {', '.join(_alone)}."
                    if _alone
                    else ""
                )
            ),
            mo.hstack(
                [changes_commodity, changes_attribute, changes_by], justify="start", wrap=True
            ),  # fmt: skip
            browse(_shown.drop("releases"))  # named above; in the downloads on each row
            if _top.height
            else mo.md("No value changed between the releases compared."),  # fmt: skip
            downloads(
                ("what changed", wb.env, f"{_newest:%Y-%m}"),
                {"what changed": _shown},
                {"Releases compared": _which or "none"},
            ),
        ]
    )
    return


@app.cell
def _(getpass, mo, re):
    _user = re.sub(r"[^a-z0-9_]", "_", getpass.getuser().lower())
    dev_name = mo.ui.text(value=f"dev_{_user}", label="Dev environment")
    dev_run = mo.ui.run_button(label="Plan with SQLMesh")
    mo.accordion(
        {
            "Dev environment (a SQLMesh plan of your model changes)": mo.vstack(
                [
                    mo.md(
                        "Runs `sqlmesh plan <name>` on your checkout of `sqlmesh_materia/`, "
                        "against SQLMesh's prod seeded from prod's newest publication "
                        "(`materia dev seed`, in `$MATERIA_HOME/warehouse.duckdb`): SQLMesh "
                        "categorizes each change (breaking, non-breaking, metadata only), "
                        "recomputes only what it must and reads the rest from prod, and "
                        "`table_diff` compares each recomputed model with prod. Nothing is "
                        "published; prod is never touched."
                    ),
                    mo.hstack([dev_name, dev_run], justify="start"),
                ]
            )
        }
    )
    return dev_name, dev_run


@app.cell
def _(dev_name, dev_run, mo, settings):
    mo.stop(not dev_run.value)
    from materia.transform import sqlmesh_dev

    _log: list[str] = []
    with mo.status.spinner(title=f"Planning {dev_name.value.strip()}…") as _spinner:

        def _step(msg: str) -> None:
            _log.append(msg)
            _spinner.update(subtitle=msg)

        dev_plan = sqlmesh_dev.panel(settings, dev_name.value.strip(), say=_step)
    mo.vstack(
        [
            mo.md(f"**{dev_plan.summary}**"),
            mo.ui.table(
                dev_plan.changes, selection=None, label="What changed, as SQLMesh categorizes it"
            ),
            mo.ui.table(dev_plan.diffs, selection=None, label="table_diff against prod"),
            mo.accordion({"Progress log": mo.md("\n".join(f"- {m}" for m in _log))}),
        ]
    )
    return


@app.cell
def _(mo, settings):
    # Pipeline health, from the run log (`materia runs` shows the whole of it).
    from materia.core import runlog as _runlog

    _h = _runlog.health_table(settings)
    _rows = _h["rows"]
    mo.vstack(
        [
            mo.md("## Pipeline health"),
            mo.ui.table(_rows, selection=None) if _rows else mo.md("No runs logged yet."),
            *(
                [mo.md("Recent failures:"), mo.ui.table(_h["failures"], selection=None)]
                if _h["failures"]
                else []
            ),
            *([mo.md(f"Run log unreadable: {_h['error']}")] if _h.get("error") else []),
        ]
    )
    return


if __name__ == "__main__":
    app.run()
