import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="materia · WASDE")


@app.cell
def _():
    import marimo as mo
    import polars as pl

    from materia.core import settings as settings_mod
    from materia.core.errors import MateriaError
    from materia.workbench import data as workbench_data
    from materia.workbench import excel, tables, wasde, wasde_charts
    from materia.workbench import wasde_data as wd

    def downloads(name, frames, header):
        """Excel (one sheet per frame, each with the header block) and CSV (the first
        frame), built on click."""
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
        downloads,
        mo,
        pl,
        settings_mod,
        tables,
        wasde,
        wasde_charts,
        wd,
        workbench_data,
    )


@app.cell
def _(mo, tables):
    mo.Html(
        tables.SHEET_CSS
        + "<h1>WASDE</h1><p>USDA's World Agricultural Supply and Demand Estimates from the "
        "newest published run, as the report prints them: the U.S. balance sheets in U.S. "
        "units, the season-average farm prices, the world and regional tables, how a "
        "projection moved report by report, and what the newest report changed. Regions are "
        "countries and groups side by side (World, Major Exporters, ...): never add them up. "
        "PSD's figures of the same month are on the commodities page "
        "(<code>notebooks/commodities.py</code>).</p>"
    )
    return


@app.cell
def _(mo, settings_mod, workbench_data):
    settings = settings_mod.load()
    _envs = workbench_data.envs(settings)
    _wanted = mo.cli_args().get("env") or mo.query_params().get("env") or "prod"
    env_picker = mo.ui.dropdown(
        options=_envs or ["prod"],
        value=_wanted if _wanted in _envs else "prod",
        label="Environment",
    )
    return env_picker, settings


@app.cell
def _(MateriaError, env_picker, mo, settings, wd):
    try:
        w = wd.open_wasde(settings, env_picker.value)
    except MateriaError as _e:
        w = None
        _why = str(_e)
    mo.stop(w is None, mo.callout(mo.md(_why if w is None else ""), kind="warn"))
    return (w,)


@app.cell
def _(env_picker, mo, w, wasde):
    _sheets = wasde.sheets(w)
    _options = {f"{c} ({t.removeprefix('U.S. ')})": (t, c) for t, c in _sheets}
    _wanted = str(mo.cli_args().get("commodity") or mo.query_params().get("commodity") or "Corn")
    try:
        _default = wasde.find_sheet(w, _wanted)
    except Exception:
        _default = _sheets[0]
    sheet_picker = mo.ui.dropdown(
        options=_options,
        value=next(k for k, v in _options.items() if v == _default),
        label="U.S. balance sheet",
    )
    _previous = f", compared with {w.previous:%B %Y}" if w.previous else ", the only report loaded"
    mo.vstack(
        [
            mo.hstack([env_picker, sheet_picker], justify="start"),
            mo.md(
                f"**WASDE {w.report:%B %Y}**, released {w.release_date:%d %B %Y}{_previous}. "
                f"Reports loaded: {', '.join(f'{m:%b %Y}' for m in w.reports)}."
            ),
        ]
    )
    return (sheet_picker,)


@app.cell
def _(downloads, mo, sheet_picker, tables, w, wasde):
    _title, _commodity = sheet_picker.value
    sheet = wasde.us_sheet(w, _title, _commodity)
    mo.vstack(
        [
            mo.md(
                "## U.S. balance sheet\nAs WASDE prints it, in U.S. units; the newest market "
                "year shows the previous report's projection beside this one's, and the change."
            ),
            mo.Html(tables.sheet_html(sheet.table, sheet.caption, sheet.note, sheet.decimals)),
            downloads(
                (_commodity, "us balance sheet", f"{w.report:%Y-%m}"),
                {"balance sheet": sheet.table},
                wasde.export_header(w, Table=_title, Commodity=_commodity),
            ),
        ]
    )
    return (sheet,)


@app.cell
def _(downloads, mo, tables, w, wasde):
    _prices = wasde.farm_prices(w)
    mo.vstack(
        [
            mo.md("## Season-average farm prices\nEvery U.S. commodity WASDE prices."),
            mo.Html(
                tables.html_table(_prices, f"Season-average farm price, WASDE {w.report:%B %Y}")
            ),  # fmt: skip
            downloads(
                ("season average farm prices", f"{w.report:%Y-%m}"),
                {"farm prices": _prices},
                wasde.export_header(w),
            ),
        ]
    )
    return


@app.cell
def _(mo, sheet):
    _lines = [i.strip() for i in sheet.table["item"].to_list()]
    line_picker = mo.ui.dropdown(
        options=_lines,
        value="Production" if "Production" in _lines else _lines[0],
        label="Line",
    )
    return (line_picker,)


@app.cell
def _(line_picker, mo, sheet, w, wasde, wasde_charts):
    _year = w.latest.filter(
        (w.latest["report_title"] == sheet.title) & (w.latest["commodity"] == sheet.commodity)
    )["market_year"].max()
    _path = wasde.path(w, sheet.title, sheet.commodity, wasde.US, _year, line_picker.value)
    _unit = dict(zip(sheet.table["item"].str.strip_chars(), sheet.table["unit"], strict=True))
    _name = f"{sheet.commodity}, U.S. {_year}: {line_picker.value.lower()}"
    mo.vstack(
        [
            mo.md(
                "## Projection path\nThe figure in every WASDE report loaded: a filled point "
                "where the report moved it."
            ),
            line_picker,
            wasde_charts.path_chart(_path, _name, _unit.get(line_picker.value, ""))
            if _path.height > 1
            else mo.md(f"{_name}: only one report holds it, nothing to draw yet."),
        ]
    )
    return


@app.cell
def _(mo, sheet, w, wasde):
    _tables = wasde.world_tables(w)
    _options = {f"{t} ({c})": (t, c) for t, c in _tables}
    _match = next((k for k, (t, c) in _options.items() if c == sheet.commodity and t.startswith("World ") and "U.S." not in t), next(iter(_options)))  # fmt: skip
    world_picker = mo.ui.dropdown(options=_options, value=_match, label="World table")
    return (world_picker,)


@app.cell
def _(downloads, mo, tables, w, wasde, world_picker):
    _title, _commodity = world_picker.value
    _table = wasde.world_table(w, _title, _commodity)
    _unit = w.latest.filter(w.latest["report_title"] == _title)["unit_label"][0]
    mo.vstack(
        [
            mo.md(
                "## World and regional supply and use\nThe newest market year, as printed; "
                "rows marked as groups (World, World Less China, Major Exporters, ...) are "
                "never sums of the rows shown."
            ),
            world_picker,
            mo.Html(tables.html_table(_table, f"{_title} ({_unit}), WASDE {w.report:%B %Y}")),
            downloads(
                (_title, f"{w.report:%Y-%m}"),
                {"world table": _table},
                wasde.export_header(w, Table=_title, Unit=_unit),
            ),
        ]
    )
    return


@app.cell
def _(downloads, mo, pl, tables, w, wasde):
    _changed = wasde.what_changed(w)
    _shown = _changed.select(
        pl.col("report_title").alias("table"),
        "commodity",
        "region",
        pl.col("market_year").alias("market year"),
        "attribute",
        "unit",
        "previous",
        pl.col("current").alias("this report"),
        "change",
        pl.col("change_pct").alias("change %"),
    )
    _what = (
        f"Every figure the {w.report:%B %Y} report moved since {w.previous:%B %Y} "
        f"({_changed.height:,}), largest change in percent first."
        if w.previous
        else f"Only the {w.report:%B %Y} report is loaded: nothing to compare yet."
    )
    mo.vstack(
        [
            mo.md(f"## What changed\n{_what}"),
            mo.Html(f'<div class="wb-table">{tables.html_table(_shown)}</div>')
            if _changed.height
            else None,
            downloads(
                ("wasde what changed", f"{w.report:%Y-%m}"),
                {"what changed": _shown},
                wasde.export_header(w),
            )  # fmt: skip
            if _changed.height
            else None,
        ]
    )
    return


if __name__ == "__main__":
    app.run()
