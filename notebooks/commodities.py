import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="materia · commodities")


@app.cell
def _():
    import getpass
    import re

    import marimo as mo
    import polars as pl

    from materia import analysis as an
    from materia import settings as settings_mod
    from materia.errors import MateriaError

    return MateriaError, an, getpass, mo, pl, re, settings_mod


@app.cell
def _(mo):
    mo.md(r"""
    # Commodities workbench

    USDA PSD supply and demand, read from the published serving tables
    (`obt_commodity_metrics`, `fct_psd_vintages`). Pick an environment, a commodity,
    countries, market years and a metric; everything below follows.
    """)
    return


@app.cell
def _(mo, settings_mod):
    settings = settings_mod.load()
    # Bumped after a pipeline or dev run publishes, so the environment list is re-read.
    get_published, set_published = mo.state(0)
    return get_published, set_published, settings


@app.cell
def _(an, get_published, settings):
    get_published()
    envs = an.envs(settings)
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
def _(mo, run_pipeline, set_published, settings):
    mo.stop(not run_pipeline.value)
    from materia import transform
    from materia.extract import psd

    with mo.status.spinner(title="Landing PSD releases…") as _spinner:
        if psd.main(settings) != 0:
            raise RuntimeError("extract failed: see the log above")
        _spinner.update(title="Transforming and publishing prod…")
        _result = transform.run(settings, "prod", progress=lambda m: _spinner.update(subtitle=m))
    set_published(lambda n: n + 1)
    mo.md(f"Done: {_result.summary()}")
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
def _(an, env_picker, settings):
    wb = an.load(settings, env_picker.value)
    return (wb,)


@app.cell
def _(an, mo, wb):
    _c = an.commodities(wb)
    _options = dict(zip(_c["commodity_name"], _c["commodity_code"], strict=True))
    _default = an.default_commodity(wb)
    commodity_picker = mo.ui.dropdown(
        options=_options,
        value=next(k for k, v in _options.items() if v == _default),
        label="Commodity",
    )
    metric_picker = mo.ui.dropdown(
        options={an.METRICS[m]: m for m in an.SERIES_METRICS},
        value=an.METRICS["production"],
        label="Metric",
    )
    return commodity_picker, metric_picker


@app.cell
def _(an, commodity_picker, mo, wb):
    code = commodity_picker.value
    commodity_name = commodity_picker.selected_key
    _options: dict[str, str] = {}
    for _cc, _name, _agg in an.countries(wb, code).iter_rows():
        _label = f"{_name} (aggregate)" if _agg else _name
        _options[_label if _label not in _options else f"{_label} [{_cc}]"] = _cc
    _defaults = an.default_countries(wb, code)
    countries_picker = mo.ui.multiselect(
        options=_options,
        value=[k for k, v in _options.items() if v in _defaults],
        label="Countries",
    )
    _lo, _hi = an.market_years(wb, code)
    years_picker = mo.ui.range_slider(
        start=_lo,
        stop=_hi,
        step=1,
        value=[max(_lo, _hi - 25), _hi],
        label="Market years",
        show_value=True,
    )
    return code, commodity_name, countries_picker, years_picker


@app.cell
def _(commodity_picker, countries_picker, env_picker, metric_picker, mo, years_picker):
    mo.vstack(
        [
            mo.hstack([env_picker, commodity_picker, metric_picker], justify="start"),
            mo.hstack([countries_picker, years_picker], justify="start"),
        ]
    )
    return


@app.cell
def _(an, code, commodity_name, countries_picker, metric_picker, mo, pl, wb, years_picker):
    metric = metric_picker.value
    years = (int(years_picker.value[0]), int(years_picker.value[1]))
    selected = list(countries_picker.value)
    unit_text = an.unit(wb, code, metric)
    series = an.time_series(wb, code, selected, metric, years)
    series_chart = an.line_chart(
        series, f"{commodity_name}: {an.METRICS[metric]} by country", an.label(metric, unit_text)
    )
    _table = (
        series.pivot(on="country_name", index="market_year", values="value", sort_columns=True)
        .sort("market_year")
        .with_columns(pl.col("market_year").cast(pl.String), pl.lit(unit_text).alias("unit"))
        if series.height
        else series
    )
    mo.vstack(
        [
            mo.md(f"## {an.label(metric, unit_text)}"),
            series_chart,
            mo.ui.table(_table, selection=None, label=an.label(metric, unit_text)),
        ]
    )
    return metric, selected, series, unit_text, years


@app.cell
def _(an, code, commodity_name, mo, pl, wb, years):
    _year = min(years[1], an.latest_year(wb, code))
    _parts = []
    for _m in ("production", "exports"):
        _top = an.top_countries(wb, code, _m, year=_year, n=10)
        _title = f"Top {'producers' if _m == 'production' else 'exporters'} {_year}"
        _unit = an.unit(wb, code, _m)
        _parts.append(
            mo.vstack(
                [
                    an.bar_chart(_top, f"{commodity_name}: {_title}", an.label(_m, _unit)),
                    mo.ui.table(
                        an.units_row(_top.drop("country_code", "market_year"))
                        .with_columns((pl.col("world_share") * 100).round(1).alias("world_share"))
                        .rename({"world_share": "world share (%)"}),
                        selection=None,
                    ),
                ]
            ).style({"min-width": "0", "overflow-x": "auto"})  # side by side, no overlap
        )
    mo.vstack(
        [
            mo.md(
                f"## Top producers and exporters, market year {_year}\n"
                "World share is of the sum over countries; aggregates such as the EU "
                "or the USSR are not ranked and not counted twice."
            ),
            mo.hstack(_parts, widths="equal"),
        ]
    )
    return


@app.cell
def _(an, code, commodity_name, mo, selected, wb, years):
    _stu = an.stocks_to_use(wb, code, selected, years)
    mo.vstack(
        [
            mo.md("## Stocks-to-use\nEnding stocks / (domestic consumption + exports)."),
            an.line_chart(
                _stu,
                f"{commodity_name}: stocks-to-use",
                an.label("stocks_to_use", "(ratio)"),
                value="stocks_to_use",
            ),
        ]
    )
    return


@app.cell
def _(an, code, mo, selected, wb, years):
    _names = dict(an.countries(wb, code).select("country_name", "country_code").iter_rows())
    _options = {n: c for n, c in _names.items() if c in selected} or _names
    # Default: the biggest producer among the picked countries.
    _ranked = an.default_countries(wb, code, n=len(_names))
    _first = min(_options.values(), key=lambda c: _ranked.index(c) if c in _ranked else 1e9)
    bs_country = mo.ui.dropdown(
        options=_options,
        value=next(n for n, c in _options.items() if c == _first),
        label="Country",
    )
    _years = [str(y) for y in range(years[1], years[0] - 1, -1)]
    bs_year = mo.ui.dropdown(options=_years, value=_years[0], label="Market year")
    return bs_country, bs_year


@app.cell
def _(MateriaError, an, bs_country, bs_year, code, mo, wb):
    mo.stop(bs_country.value is None or bs_year.value is None)
    try:
        _bs = an.balance_sheet(wb, code, bs_country.value, int(bs_year.value))
    except MateriaError as _e:
        _out = mo.md(str(_e))
    else:
        _out = mo.vstack(
            [
                mo.callout(mo.md(_bs.note), kind="success" if _bs.balanced else "warn"),
                mo.ui.table(_bs.table, selection=None, pagination=False),
            ]
        )
    mo.vstack(
        [
            mo.md(
                "## Balance sheet\nbeginning stocks + production + imports = total supply"
                " = domestic consumption + exports + ending stocks"
            ),
            mo.hstack([bs_country, bs_year], justify="start"),
            _out,
        ]
    )
    return


@app.cell
def _(an, bs_country, bs_year, code, commodity_name, metric, mo, unit_text, wb):
    _rev = an.revisions(wb, code, bs_country.value, int(bs_year.value), metric)
    _most = an.most_revised(wb, code, metric)
    _title = f"{commodity_name}, {bs_country.selected_key} {bs_year.value}: {an.METRICS[metric]}"
    _view = (
        [
            an.revision_chart(_rev, _title, an.label(metric, unit_text)),
            mo.ui.table(_rev, selection=None),
        ]
        if _rev.height > 1
        else [mo.md(f"{_title}: {_rev.height} release(s), no revision.")]
    )
    mo.vstack(
        [
            mo.md("## Revisions\nHow the estimate moved across releases (`fct_psd_vintages`)."),
            *_view,
            mo.md(f"Most revised {an.METRICS[metric].lower()} estimates"),
            mo.ui.table(_most, selection=None)
            if _most.height
            else mo.md("No estimate changed across the landed releases."),
        ]
    )
    return


@app.cell
def _(getpass, mo, re):
    _user = re.sub(r"[^a-z0-9_]", "_", getpass.getuser().lower())
    dev_name = mo.ui.text(value=f"dev_{_user}", label="Dev environment")
    dev_run = mo.ui.run_button(label="Plan and apply")
    # A static report cannot plan anything: it leaves the panel out.
    None if mo.cli_args().get("report") else mo.vstack(
        [
            mo.md(
                "## Dev environment\nPlans the SQLMesh project into your own environment, "
                "publishes it to `serving__<name>`, then compares it with prod. "
                "Prod is never touched."
            ),
            mo.hstack([dev_name, dev_run], justify="start"),
        ]
    )
    return dev_name, dev_run


@app.cell
def _(mo):
    # The last dev run survives the refresh its own publish triggers (which rebuilds the
    # pickers below the environment selector).
    get_dev_run, set_dev_run = mo.state(None)
    return get_dev_run, set_dev_run


@app.cell
def _(MateriaError, an, dev_name, dev_run, mo, set_dev_run, set_published, settings):
    mo.stop(not dev_run.value)
    from materia import lakehouse
    from materia import transform as _transform

    _env = lakehouse.check_env(dev_name.value.strip())
    if _env == "prod":
        raise MateriaError("the dev panel never plans prod: use a dev_<name> environment")
    _log: list[str] = []

    def _step(msg: str) -> None:
        _log.append(msg)
        _spinner.update(subtitle=msg)

    with mo.status.spinner(title=f"Planning {_env}…") as _spinner:
        _result = _transform.run(settings, _env, progress=_step)
        _spinner.update(title=f"Comparing {_env} with prod…")
        _diff = an.compare_envs(settings, _env) if not an.is_empty(settings) else None
    set_dev_run((_result, _diff, _log))
    set_published(lambda n: n + 1)
    return


@app.cell
def _(get_dev_run, mo):
    mo.stop(get_dev_run() is None)
    _result, _diff, _log = get_dev_run()
    _plan = "\n".join(f"- {m}" for m in _result.changed_models) or "- none"
    _intervals = sum(len(v) for v in _result.backfilled.values())
    _compare = (
        [
            mo.md(f"### {_diff.summary}\nRow counts per serving table:"),
            mo.ui.table(_diff.row_counts, selection=None),
            mo.md("Keys and metrics whose values differ (first 1,000):"),
            mo.ui.table(_diff.differences.head(1000), selection=None),
        ]
        if _diff is not None
        else [mo.md("Prod is not published yet: nothing to compare with.")]
    )
    mo.vstack(
        [
            mo.md(
                f"**{_result.summary()}**\n\nChanged models:\n{_plan}\n\n"
                f"Intervals backfilled: {_intervals}"
            ),
            mo.accordion({"Progress log": mo.md("\n".join(f"- {m}" for m in _log))}),
            *_compare,
        ]
    )
    return


@app.cell
def _(mo, settings):
    # Pipeline health, from the run log (`materia runs` shows the whole of it).
    from materia import runlog as _runlog

    try:
        _h = _runlog.health(settings)
    except Exception as _e:  # the log lives on R2 in prod: unreachable is not fatal here
        _h = {"last_success": {}, "newest_release": {}, "failures": [], "error": str(_e)}
    _rows = [
        *(
            {"what": f"last successful {k}", "value": v[:16].replace("T", " ")}
            for k, v in _h["last_success"].items()
        ),
        *({"what": f"newest release of {k}", "value": v} for k, v in _h["newest_release"].items()),
    ]
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
