"""materia.reports and the notebook's own `marimo export html`, on a published lakehouse."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from materia import reports
from materia.errors import MateriaError
from materia.testing import clean_env, run_cli

sys.path.insert(0, str(Path(__file__).parent / "notebooks"))
import lakehouse_fixture  # noqa: E402

published = lakehouse_fixture.published
empty_home = lakehouse_fixture.empty_home
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


def test_report_default_path_is_self_contained(published, capsys):
    assert reports.main(published) == 0
    path = published.reports_dir / "commodities-2022-12.html"  # newest release in the data
    assert str(path) in capsys.readouterr().out
    page = path.read_text()
    assert _external_refs(page) == []
    assert "window.vegaEmbed=" in page  # the vega bundle is inlined once
    assert page.count("window.vegaEmbed=") == 1
    # Default picks: Corn first, units on tables and axes, revisions from vintages.
    assert page.index(">Corn</h2>") < page.index(">Coffee, Green</h2>")
    assert "Production (1000 MT)" in page and "Production (1000 60 KG BAGS)" in page
    assert "Top producers, market year 2022: Production (1000 MT)" in page
    assert "Stocks-to-use (ratio)" in page
    assert (
        '<td>Brazil</td><td class="num">2023</td><td>2022-06</td><td class="num">64,300</td>'
        in page
    )
    assert "Balance sheet, United States 2022: USDA&#x27;s numbers balance." in page
    assert not list(published.reports_dir.glob(".*.tmp"))


def test_report_out_and_cli(published, tmp_path):
    out = tmp_path / "sub" / "r.html"
    r = run_cli("report", "commodities", "--env", "dev_alice", "--out", str(out),
                env=clean_env(published.home))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert out.is_file() and "environment dev_alice" in out.read_text()


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
