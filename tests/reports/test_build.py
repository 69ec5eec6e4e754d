"""materia.reports: `materia report commodities` on the generated releases (published by the
real pipeline) and on the shared USDA releases; the runner and the static converter on
any notebook; the workbench notebook itself under marimo."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest

from materia.core.errors import MateriaError
from materia.reports import build as reports
from materia.reports import html as report_html
from materia.reports import runner as report_runner
from testsupport import clean_env, run_cli
from testsupport.lakehouse import fixture as fx

published = fx.published
empty_home = fx.empty_home
real_published = fx.real_published
WORKBENCH = Path(__file__).resolve().parents[2] / "notebooks" / "commodities.py"


def _external_refs(page: str) -> list[str]:
    """Anything the page would fetch: script/img src, link href, CSS url()/@import.

    Inline script bodies and data: URLs are dropped first (the vega bundle builds markup in
    strings; embedded downloads are data).
    """
    page = re.sub(r"(<script>).*?(</script>)", r"\1\2", page, flags=re.S)
    refs = re.findall(r"<(?:script|img|iframe|source)\b[^>]*\bsrc\s*=\s*[\"']?([^\"' >]+)", page)
    refs += re.findall(r"<link\b[^>]*\bhref\s*=\s*[\"']?([^\"' >]+)", page)
    refs += re.findall(r"url\(\s*[\"']?(https?:[^\"')]+)", page)
    refs += re.findall(r"@import\s+[\"']?([^\"';]+)", page)
    return refs


def _body(page: str) -> str:
    return re.sub(r"<script>.*?</script>", "", page, flags=re.S)


def _sections(body: str) -> dict[str, str]:
    """Commodity name -> its part of the report (from its <h2> to the next)."""
    parts = re.split(r'<h2 id="[^"]*">', body)[1:]
    return {p.split("</h2>", 1)[0]: p for p in parts}


def _downloads(body: str) -> dict[str, str]:
    """file name -> decoded text of every embedded CSV download."""
    out = {}
    for name, url in re.findall(r'<a class="download" download="([^"]+)" href="([^"]+)"', body):
        head, _, data = url.replace("&#x27;", "'").partition(",")
        raw = base64.b64decode(data) if head.endswith(";base64") else unquote_to_bytes(data)
        out[name] = raw.decode("utf-8")
    return out


def _world(commodity, year, attr, release=None):
    return sum(s[attr] for (c, _, y), s in fx.sheets(release).items() if (c, y) == (commodity, year))  # fmt: skip


def test_default_report_covers_the_majors_with_world_sheets_and_csvs(
    published, capsys, monkeypatch, tmp_path
):
    # The notebook runs with the settings it is handed, not ones rebuilt from os.environ.
    monkeypatch.setenv("MATERIA_HOME", str(tmp_path / "elsewhere"))
    assert reports.main(published) == 0
    path = published.reports_dir / "commodities-2022-12.html"  # newest release it shows
    assert str(path) in capsys.readouterr().out
    page = path.read_text()
    body = _body(page)
    assert _external_refs(page) == []
    assert page.count("window.vegaEmbed=") == 1  # the vega bundle is inlined once
    assert "<title>Commodities report, PSD December 2022</title>" in page
    assert re.search(r"environment prod · run \d{8}T\d{6}Z-\w+ published 20\d\d-", body)
    sections = _sections(body)
    # The published majors in WASDE order, each with its own release month.
    assert list(sections) == ["Wheat", "Corn", "Coffee, Green", "Meat, Beef and Veal", "Pipeline health"]  # fmt: skip
    assert "PSD release <strong>November 2022</strong>, previous release October 2022" in sections["Corn"]  # fmt: skip
    assert "PSD release <strong>December 2022</strong>, previous release June 2022" in sections["Coffee, Green"]  # fmt: skip
    assert "PSD release <strong>October 2022</strong>." in sections["Meat, Beef and Veal"]
    # No leftover UI: no pickers, no marimo elements, nothing dropped.
    assert "<marimo-" not in body and 'class="pick"' not in body and 'class="dropped"' not in body  # fmt: skip
    # The world's corn sheet: the previous release beside this one, and the change.
    corn = sections["Corn"]
    assert "<caption>World: supply and demand (1000 MT)</caption>" in corn
    assert "<th>2022/23 Oct</th><th>2022/23 Nov</th><th>change</th>" in corn
    before, after = _world(fx.CORN, 2022, "028", "2022-10"), _world(fx.CORN, 2022, "028")
    assert f'<td class="num">{before:,.0f}</td><td class="num">{after:,.0f}</td><td class="num">{after - before:+,.0f}</td>' in corn  # fmt: skip
    assert "What changed in the November 2022 release since October 2022" in corn
    # One release of beef is loaded: there is nothing to compare, and the report says so.
    assert "Only the October 2022 release of Meat, Beef and Veal is loaded: nothing to compare yet." in sections["Meat, Beef and Veal"]  # fmt: skip
    # The EU member states (a breakdown file) are under the EU, never in the world's rows.
    wheat = sections["Wheat"]
    assert "EU member states: area and production" in wheat
    assert "France" not in wheat.split("top countries and the world")[1].split("</table>")[0]
    # Production tables list the newest market year first.
    years = re.findall(r"<tr><td>(20\d\d/\d\d)</td>", corn.split("newest first")[1])
    assert years == ["2022/23", "2021/22", "2020/21", "2019/20", "2018/19"]
    # Two charts per commodity; their specs carry the data.
    specs = json.loads(re.search(r"const SPECS = (.*?);\n", page, re.S)[1])
    assert [s["title"] for s in specs][:2] == ["Wheat: top producers 2022/23", "Wheat: production of the top countries"]  # fmt: skip
    assert body.count('<div class="chart" id="chart-') == len(specs) == 8
    # Every table's data as an embedded CSV, under a name that says what it holds.
    files = _downloads(body)
    assert "corn-world-balance-sheet-2022-11.csv" in files
    assert "coffee-green-what-changed-2022-12.csv" in files
    sheet = {r["item"]: r for r in csv.DictReader(io.StringIO(files["corn-world-balance-sheet-2022-11.csv"]))}  # fmt: skip
    assert float(sheet["Production"]["2022/23 Nov"]) == after
    assert float(sheet["Production"]["change"]) == after - before
    assert not list(published.reports_dir.glob(".*.tmp"))


def test_cli_options_pick_commodities_countries_and_years(published, tmp_path):
    out = tmp_path / "sub" / "corn.html"
    r = run_cli("report", "commodities", "--commodity", "corn", "--country", "US",
                "--country", "AR", "--years", "3", "--out", str(out),
                env=clean_env(published.home))  # fmt: skip
    assert r.returncode == 0, r.stderr
    sections = _sections(_body(out.read_text()))
    assert list(sections) == ["Corn", "Pipeline health"]
    corn = sections["Corn"]
    for region in ("World", "United States", "Argentina"):
        assert f"<caption>{region}: supply and demand (1000 MT)</caption>" in corn
    assert "<th>2020/21</th><th>2021/22</th><th>2022/23 Oct</th>" in corn
    assert "<th>2019/20</th>" not in corn
    # USDA's own Argentine numbers for 2019/20 do not balance; 3 years do not show it.
    assert "Does not balance" not in corn

    bad = run_cli("report", "commodities", "--commodity", "Cocoa", "--out", str(out),
                  env=clean_env(published.home))  # fmt: skip
    assert bad.returncode == 1
    assert bad.stderr.strip() == "error: no commodity named 'Cocoa' in environment 'prod'"
    with pytest.raises(MateriaError, match="--country 'usa' is not a PSD country code"):
        reports.plan(published, countries=["usa"])
    with pytest.raises(MateriaError, match="--years 1"):
        reports.plan(published, years=1)


TINY = """
import marimo

app = marimo.App()


@app.cell
def _():
    import altair as alt
    import marimo as mo
    import polars as pl

    return alt, mo, pl


@app.cell
def _(mo):
    mo.md(f"# Only in this notebook: env {mo.cli_args().get('env')} {mo.cli_args().get('commodity')}")
    return


@app.cell
def _(alt, mo, pl):
    _df = pl.DataFrame({"year": [2020, 2021, 2022], "value": [1.5, 2.25, 1234567.0]})
    pick = mo.ui.dropdown(["a", "b"], value="b", label="Letter")
    mo.vstack(
        [
            pick,
            alt.Chart(_df).mark_line().encode(x="year:O", y="value:Q").properties(title="tiny"),
            mo.ui.table(_df, selection=None, label="Tiny & values"),
            mo.callout(mo.md("careful"), kind="warn"),
            mo.accordion({"more": mo.md("hidden")}),
            mo.ui.button(label="Press"),
            mo.download(b"a,b\\n1,2\\n", filename="tiny.csv", mimetype="text/csv", label="CSV"),
        ]
    )
    return (pick,)


@app.cell
def _(mo, pick):
    mo.stop(pick.value == "b")
    mo.md("never shown")
    return
"""


def _static(notebook: Path, args: dict) -> str:
    charts = report_html.Charts()
    body = report_html.cells_html(report_runner.run_notebook(notebook, args), charts)
    return report_html.page("t", "m", body, charts, "/* no bundle */")


def test_any_notebook_output_becomes_static_html(published, tmp_path):
    nb = tmp_path / "tiny.py"
    nb.write_text(TINY)
    page = _static(nb, {"env": "dev_alice", "commodity": ["Corn", "Wheat"]})
    body = _body(page)
    assert "Only in this notebook: env dev_alice ['Corn', 'Wheat']</h1>" in body
    assert '<p class="pick">Letter: <b>b</b></p>' in body
    assert '<div class="chart" id="chart-0"></div>' in body and '"title": "tiny"' in page
    assert "<caption>Tiny &amp; values</caption>" in body
    assert '<tr><td class="num">2021</td><td class="num">2.25</td></tr>' in body
    assert '<td class="num">1,234,567</td>' in body
    assert '<div class="callout warn">' in body and "careful" in body
    assert '<p class="dropped">(interactive accordion not available offline)</p>' in body
    assert _downloads(body) == {"tiny.csv": "a,b\n1,2\n"}
    assert "Press" not in body and "never shown" not in body and "<marimo-" not in body
    assert _external_refs(page) == []


def test_a_failing_cell_fails_the_report(published, tmp_path):
    nb = tmp_path / "broken.py"
    nb.write_text(TINY.replace('mo.md(f"# Only', 'mo.md(f"{1 / 0}# Only'))
    with pytest.raises(MateriaError, match=r"broken.py: cell \w+ failed: .*division by zero"):
        report_runner.run_notebook(nb, {"env": "prod"})


def test_report_empty_lakehouse_says_what_to_run(empty_home, tmp_path):
    out = tmp_path / "r.html"
    with pytest.raises(MateriaError, match=r"run `uv run materia pipeline run` first"):
        reports.main(empty_home, out=out)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    r = run_cli("report", "commodities", "--out", str(out), env=clean_env(empty_home.home))
    assert r.returncode == 1
    assert r.stderr.strip().startswith("error: nothing published for 'prod'")
    assert len(r.stderr.strip().splitlines()) == 1


def test_report_rejects_a_bad_env(published, tmp_path):
    with pytest.raises(MateriaError, match="environment 'Prod; drop' is not valid"):
        reports.main(published, env="Prod; drop", out=tmp_path / "x.html")


@pytest.mark.slow
def test_report_of_the_real_releases(real_published, tmp_path):
    """Coffee, cotton and grains landed and transformed from ../shared/data/psd."""
    out = tmp_path / "real.html"
    assert reports.main(real_published, out=out) == 0
    sections = _sections(_body(out.read_text()))
    assert list(sections) == [
        "Wheat", "Corn", "Rice, Milled", "Cotton", "Coffee, Green", "Meat, Beef and Veal",
        "Meat, Swine", "Meat, Chicken", "Pipeline health",
    ]  # fmt: skip
    # The world's wheat production in the 2022-11 grains release (the data README).
    assert '<td class="num">782,675</td>' in sections["Wheat"]
    assert "European Union" in sections["Wheat"].split("top countries and the world")[1][:2000]
    coffee = sections["Coffee, Green"]
    assert "PSD release <strong>December 2022</strong>, previous release June 2022" in coffee
    changed = list(csv.DictReader(io.StringIO(_downloads(coffee)["coffee-green-what-changed-2022-12.csv"])))  # fmt: skip
    brazil = [r for r in changed if (r["country"], r["attribute"]) == ("Brazil", "Production (1000 60 KG BAGS)")]  # fmt: skip
    # PSD's coffee Market_Year 2023 is USDA's 2022/23.
    assert [(r["market year"], r["previous"], r["this release"]) for r in brazil] == [
        ("2022/23", "64300.0", "62600.0")
    ]
    # Russia's spring and winter wheat (the real 2025-11 breakdown) under Russia's wheat,
    # with the releases they come from named; the world's wheat is the data README's.
    wheat = sections["Wheat"]
    assert "Russia's spring and winter wheat: area and production, release November 2025" in wheat
    assert "November 2025 release of psd_russiabreakdown_area_prod_csv.zip" in wheat
    assert "Only the November 2022 release of Wheat is loaded: nothing to compare yet." in wheat
    assert len(changed) == 681  # values the 2022-12 coffee release revised (the data README)


def _marimo_export(home: Path, out: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "marimo", "export", "html", str(WORKBENCH), "-o", str(out)]
    return subprocess.run(
        cmd, env=clean_env(home), cwd=home, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_marimo_export_html_of_the_workbench(published, tmp_path):
    out = tmp_path / "out.html"
    r = _marimo_export(published.home, out)
    assert r.returncode == 0, r.stderr[-2000:]
    page = out.read_text()
    assert "application/vnd.marimo+error" not in page
    # Cell outputs are embedded: the corn chart with its unit, the balance sheet, revisions.
    assert "Corn: production by country" in page
    assert "Production (1000 MT)" in page
    assert "Balance sheet" in page and "What changed in this release" in page


def test_workbench_on_an_empty_lakehouse_names_the_command(empty_home, monkeypatch):
    """Run in-process (marimo's App.run): one sentence and the pipeline button, no errors."""
    import importlib.util

    for name in clean_env("x"):
        if name.startswith(("MATERIA_", "ICEBERG_", "R2_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MATERIA_HOME", str(empty_home.home))
    monkeypatch.chdir(empty_home.home)
    spec = importlib.util.spec_from_file_location("commodities_notebook", WORKBENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    outputs, defs = module.app.run()
    assert defs["empty"] is True and defs["envs"] == []
    text = " ".join(getattr(o, "text", "") for o in outputs if o is not None)
    assert "The lakehouse is empty: run <code>uv run materia pipeline run</code>" in text
    assert "Run the local pipeline" in text
