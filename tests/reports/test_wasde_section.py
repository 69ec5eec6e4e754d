"""The WASDE report in the workbench and the HTML report, from two generated monthly
reports (the compact report with values moved) published beside a PSD release of the
same month: the U.S. sheet with the previous report beside this one and the change, the
projection path, what moved, CSV downloads; the WASDE page notebook under marimo; the PSD
page's link to the WASDE figures of its month."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest

from materia.core import settings as settings_mod
from materia.reports import build as reports
from materia.reports import html as report_html
from materia.reports import runner as report_runner
from materia.transform import run as transform
from materia.workbench import wasde
from tests.reports.test_build import _body, _downloads, _external_refs
from testsupport.psd import fixtures as fx
from testsupport.psd import wasde_fixtures as wf

WASDE_PAGE = Path(__file__).resolve().parents[2] / "notebooks" / "wasde.py"
CORN = "U.S. Feed Grain and Corn Supply and Use"


@pytest.fixture(scope="module")
def two_reports(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wasde-report")
    home = tmp / "home"
    settings = settings_mod.load({"MATERIA_HOME": str(home)}, dotenv=tmp / "no.env")
    for month in ("2025-10", "2025-11"):
        wf.land(home, wf.moved(wf.sample_rows(), month), month, etag=f"w{month[-2:]}")
    psd = wf.psd_rows_for(wf.sample_rows(), "2025-11", ("Wheat", "Corn"))
    fx.land(home, psd, "2025-11", "psd_grains_pulses_csv", "g11")
    transform.run(settings)
    return settings


@pytest.mark.slow
def test_the_report_shows_the_wasde_sheets_path_and_what_moved(two_reports):
    page, _ = reports.render(two_reports)
    body = _body(page)
    assert _external_refs(page) == []
    assert "materia report · USDA PSD and WASDE ·" in body
    section = body.split("WASDE November 2025", 1)[1]
    assert "compared with October 2025" in section.split("</p>", 1)[0]
    # the U.S. corn sheet: October's projection beside November's, and the change
    corn = section.split("<caption>Corn: U.S. Feed Grain and Corn Supply and Use, WASDE November 2025, beside October 2025</caption>", 1)[1]  # fmt: skip
    assert "<th>2025/26 Oct 2025</th><th>2025/26 Nov 2025</th><th>change</th>" in corn
    production = corn.split('<th scope="row">Production</th>', 1)[1].split("</tr>", 1)[0]
    assert production.endswith('<td class="num">16,735</td><td class="num">16,752</td><td class="num">+17</td>')  # fmt: skip
    # the path of the projection, drawn from the vintages
    specs = json.loads(re.search(r"const SPECS = (.*?);\n", page, re.S)[1])
    (path,) = [s for s in specs if s["title"] == "Corn, U.S. 2025/26: production by report"]
    assert sorted(v["value"] for v in path["datasets"][next(iter(path["datasets"]))]) == [16735.0, 16752.0]  # fmt: skip
    # what moved between the two reports, as a table and its CSV
    assert "What the November 2025 report moved since October 2025" in section
    files = _downloads(body)
    moved = list(csv.DictReader(io.StringIO(files["wasde-what-changed-2025-11.csv"])))
    corn = [r for r in moved if (r["report_title"], r["attribute"]) == (CORN, "Production")]
    assert [(float(r["previous"]), float(r["current"])) for r in corn] == [(16735.0, 16752.0)]
    assert "season-average-farm-prices-2025-11.csv" in files


@pytest.mark.slow
def test_the_wasde_page_notebook_and_the_psd_link(two_reports, monkeypatch):
    # The page reads its settings from the environment, as `marimo edit` starts it.
    monkeypatch.setenv("MATERIA_HOME", str(two_reports.home))
    cells = report_runner.run_notebook(WASDE_PAGE, {"env": "prod", "commodity": "Corn"})
    body = report_html.cells_html(cells, report_html.Charts())
    assert "16,752" in body and "16,735" in body  # the sheet with October beside November
    assert "Season-average farm price, WASDE November 2025</caption>" in body
    link = wasde.psd_link(two_reports, "prod", "0440000", dt.date(2025, 11, 1))
    assert "World 2025/26 production 1,286.23" in link and "16,752.00" in link
    missing = wasde.psd_link(two_reports, "prod", "0440000", dt.date(2025, 9, 1))
    assert missing.startswith("No WASDE report of September 2025 is loaded")
