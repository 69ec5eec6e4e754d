"""materia.reports and the notebook's own `marimo export html`, on a published lakehouse."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from materia import reports
from materia.errors import MateriaError
from testsupport import clean_env, lakehouse_fixture, run_cli

published = lakehouse_fixture.published
empty_home = lakehouse_fixture.empty_home
real_published = lakehouse_fixture.real_published
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "commodities.py"


def _external_refs(page: str) -> list[str]:
    """Anything the page would fetch: script/img src, link href, CSS url()/@import.

    Inline script bodies are dropped first (the vega bundle builds markup in strings).
    """
    page = re.sub(r"(<script>).*?(</script>)", r"\1\2", page, flags=re.S)
    refs = re.findall(r"<(?:script|img|iframe|source)\b[^>]*\bsrc\s*=\s*[\"']?([^\"' >]+)", page)
    refs += re.findall(r"<link\b[^>]*\bhref\s*=\s*[\"']?([^\"' >]+)", page)
    refs += re.findall(r"url\(\s*[\"']?(https?:[^\"')]+)", page)
    refs += re.findall(r"@import\s+[\"']?([^\"';]+)", page)
    return refs


def _outside_scripts(page: str) -> str:
    return re.sub(r"<script>.*?</script>", "", page, flags=re.S)


def test_report_is_the_notebooks_own_output(published, capsys):
    assert reports.main(published) == 0
    path = published.reports_dir / "commodities-2022-12.html"  # newest release in the data
    assert str(path) in capsys.readouterr().out
    page = path.read_text()
    body = _outside_scripts(page)
    assert _external_refs(page) == []
    assert page.count("window.vegaEmbed=") == 1  # the vega bundle is inlined once
    # The notebook's markdown, in notebook order, and its pickers as captions.
    heads = [
        '<h1 id="commodities-workbench">Commodities workbench</h1>',
        '<p class="pick">Commodity: <b>Corn</b></p>',
        '<h2 id="production-1000-mt">Production (1000 MT)</h2>',
        '<h2 id="top-producers-and-exporters-market-year-2022">',
        '<h2 id="stocks-to-use">Stocks-to-use</h2>',
        '<h2 id="balance-sheet">Balance sheet</h2>',
        '<h2 id="revisions">Revisions</h2>',
    ]
    positions = [body.index(h) for h in heads]
    assert positions == sorted(positions)
    assert "Dev environment" not in body  # the interactive-only panel is left out
    assert '<p class="pick">Environment: <b>prod</b></p>' in body
    assert '<p class="pick">Market years: <b>2013–2022</b></p>' in body
    # Its charts (vega-lite specs altair made in the notebook) and tables, made static.
    specs = json.loads(re.search(r"const SPECS = (.*?);\n", page, re.S)[1])
    titles = [s["title"] for s in specs]
    assert titles[:2] == ["Corn: Production by country", "Corn: Top producers 2022"]
    assert "Corn, United States 2022: Production" in titles  # the revisions chart
    assert body.count('<div class="chart" id="chart-') == len(specs) == 5
    assert '<div class="callout success"><span class="markdown' in body
    assert "USDA&#x27;s numbers balance." in body or "USDA's numbers balance." in body
    assert (
        '<tr><td>2022-07-01</td><td class="num">364,700</td><td class="num">-2,600</td>'
        "<td>(1000 MT)</td></tr>" in body
    )
    assert "<caption>Production (1000 MT)</caption>" in body
    # Nothing of marimo's frontend is left: no custom elements, nothing dropped.
    assert "<marimo-" not in body and 'class="dropped"' not in body
    assert not list(published.reports_dir.glob(".*.tmp"))


@pytest.mark.slow
def test_report_of_the_real_releases(real_published, tmp_path):
    """Coffee and cotton landed and transformed by the real pipeline from ../shared/data/psd."""
    out = tmp_path / "real.html"
    assert reports.main(real_published, out=out) == 0
    body = _outside_scripts(out.read_text())
    assert "Production (1000 60 KG BAGS)" in body  # Coffee, Green: no corn in these files
    # Brazil coffee 2023 production across the two landed releases (the data README).
    assert '<td class="num">64,300</td>' in body and '<td class="num">62,600</td>' in body
    assert "<marimo-" not in body and 'class="dropped"' not in body


def test_report_out_and_cli(published, tmp_path):
    out = tmp_path / "sub" / "r.html"
    r = run_cli("report", "commodities", "--env", "dev_alice", "--out", str(out),
                env=clean_env(published.home))  # fmt: skip
    assert r.returncode == 0, r.stderr
    page = out.read_text()
    # The notebook got the environment as its CLI arg: its picker and its data are dev's.
    assert "environment dev_alice" in page
    assert '<p class="pick">Environment: <b>dev_alice</b></p>' in page
    assert '<td>United States</td><td class="num">367,300</td>' in page  # +1000 in dev


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
    mo.md(f"# Only in this notebook: env {mo.cli_args().get('env')}")
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
        ]
    )
    return (pick,)


@app.cell
def _(mo, pick):
    mo.stop(pick.value == "b")
    mo.md("never shown")
    return
"""


def test_any_notebook_output_becomes_static_html(published, tmp_path):
    nb = tmp_path / "tiny.py"
    nb.write_text(TINY)
    page, release = reports.render(published, "dev_alice", notebook=nb)
    body = _outside_scripts(page)
    assert release is not None and release.isoformat() == "2022-12-01"
    assert '<h1 id="only-in-this-notebook-env-dev_alice">' in body
    assert '<p class="pick">Letter: <b>b</b></p>' in body
    assert '<div class="chart" id="chart-0"></div>' in body and '"title": "tiny"' in page
    assert "<caption>Tiny &amp; values</caption>" in body
    assert '<tr><td class="num">2021</td><td class="num">2.25</td></tr>' in body
    assert '<td class="num">1,234,567</td>' in body
    assert '<div class="callout warn">' in body and "careful" in body
    assert '<p class="dropped">(interactive accordion not available offline)</p>' in body
    assert "Press" not in body and "never shown" not in body and "<marimo-" not in body
    assert _external_refs(page) == []


def test_a_failing_cell_fails_the_report(published, tmp_path):
    nb = tmp_path / "broken.py"
    nb.write_text(TINY.replace('mo.md(f"# Only', 'mo.md(f"{1 / 0}# Only'))
    with pytest.raises(MateriaError, match=r"broken.py: cell \w+ failed: .*division by zero"):
        reports.render(published, "prod", notebook=nb)


def test_report_empty_lakehouse_says_what_to_run(empty_home, tmp_path):
    out = tmp_path / "r.html"
    with pytest.raises(MateriaError, match=r"run `uv run materia pipeline run` first"):
        reports.main(empty_home, out=out)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    r = run_cli("report", "commodities", "--out", str(out), env=clean_env(empty_home.home))
    assert r.returncode == 1
    assert r.stderr.strip().startswith("error: no Iceberg table serving.obt_commodity_metrics")
    assert len(r.stderr.strip().splitlines()) == 1


def test_report_rejects_a_bad_env(published, tmp_path):
    with pytest.raises(MateriaError, match="environment 'Prod; drop' is not valid"):
        reports.main(published, env="Prod; drop", out=tmp_path / "x.html")


def _marimo_export(home: Path, out: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "marimo", "export", "html", str(NOTEBOOK), "-o", str(out)]
    return subprocess.run(
        cmd, env=clean_env(home), cwd=home, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_marimo_export_html_of_the_notebook(published, tmp_path):
    out = tmp_path / "out.html"
    r = _marimo_export(published.home, out)
    assert r.returncode == 0, r.stderr[-2000:]
    page = out.read_text()
    assert "application/vnd.marimo+error" not in page
    # Cell outputs are embedded: the corn chart with its unit, the balance sheet, revisions.
    assert "Corn: Production by country" in page
    assert "Production (1000 MT)" in page
    assert "Balance sheet" in page and "Most revised production estimates" in page


def test_notebook_on_an_empty_lakehouse_names_the_command(empty_home, monkeypatch):
    """Run in-process (marimo's App.run): one sentence and the pipeline button, no errors."""
    import importlib.util

    for name in clean_env("x"):
        if name.startswith(("MATERIA_", "ICEBERG_", "R2_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MATERIA_HOME", str(empty_home.home))
    monkeypatch.chdir(empty_home.home)
    spec = importlib.util.spec_from_file_location("commodities_notebook", NOTEBOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    outputs, defs = module.app.run()
    assert defs["empty"] is True and defs["envs"] == []
    text = " ".join(getattr(o, "text", "") for o in outputs if o is not None)
    assert "The lakehouse is empty: run <code>uv run materia pipeline run</code>" in text
    assert "Run the local pipeline" in text
