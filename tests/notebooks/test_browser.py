"""The workbench and its report in headless Chromium (Playwright, Debian's chromium).

The lakehouse is the generated releases landed and transformed by the real pipeline
(testsupport/lakehouse/fixture.py). Run with UPDATE_SCREENSHOT=1 to refresh the README's
screenshot (docs/workbench.png) from the first test.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from materia.reports import build as reports
from testsupport import clean_env
from testsupport.lakehouse import fixture as fx
from testsupport.ops.browser import REPO, chart_titles, chromium, marimo, wait_for_charts

pytestmark = [pytest.mark.browser, pytest.mark.slow]
published = fx.published
SCREENSHOT = REPO / "docs" / "workbench.png"
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")


def _watch(page, errors: list[str], outside: list[str]) -> None:
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(LOCAL) else outside.append(r.url))


@contextmanager
def _workbench(published, tmp_path, mode: str = "run", timeout_s: float = 120):
    """`marimo <mode>` on the published fixture in Chromium, at the first Corn render;
    yields (server, page, console errors, requests that left the machine)."""
    errors: list[str] = []
    outside: list[str] = []
    with (
        marimo(
            published.home, tmp_path / f"{mode}.log", mode=mode, env=clean_env(published.home)
        ) as srv,  # fmt: skip
        chromium(tmp_path / "profile") as ctx,
    ):
        page = ctx.new_page()
        _watch(page, errors, outside)
        page.goto(srv.url)
        wait_for_charts(page, "Corn", minimum=5, timeout_s=timeout_s)
        yield srv, page, errors, outside


def _world(commodity, year, attr, release=None):
    return sum(s[attr] for (c, _, y), s in fx.sheets(release).items() if (c, y) == (commodity, year))  # fmt: skip


def _overflowing(page) -> list[str]:
    """Elements (through shadow roots) whose content is wider than their box: clipped."""
    return page.evaluate(
        """() => { const out = [];
      (function deep(root) { for (const el of root.querySelectorAll('*')) {
        const s = getComputedStyle(el);
        if (el.scrollWidth > el.clientWidth + 1 && ['auto', 'scroll', 'hidden'].includes(s.overflowX)
            && el.clientWidth > 0) out.push(el.tagName + ' ' + el.scrollWidth + '>' + el.clientWidth);
        if (el.shadowRoot) deep(el.shadowRoot); } })(document);
      if (document.documentElement.scrollWidth > window.innerWidth) out.push('page');
      return out; }"""
    )


def test_workbench_world_row_commodity_switch_release_comparison_and_xlsx(published, tmp_path):
    with _workbench(published, tmp_path) as (srv, page, errors, outside):
        assert chart_titles(page) == [
            "Corn: production by country",
            "Corn: top producers 2022/23",
            "Corn: top exporters 2022/23",
            "Corn: stocks-to-use",
            "Corn, World 2022/23: production by release",
        ]
        page.get_by_role("heading", name="Production (1000 MT)").wait_for()
        # The World row closes the top producers: the sum over every country, 100 %.
        producers = page.locator("table.plain").filter(has_text="Top producers 2022/23")
        world = producers.get_by_role("row").filter(has_text="World")
        cells = world.locator("td").all_inner_texts()
        assert cells[:4] == ["", "World", f"{_world(fx.CORN, 2022, '028'):,.0f}", "100.0"]
        assert re.fullmatch(r"[+-]\d+\.\d", cells[4])  # the change on the year before
        # The release comparison: October's estimate beside November's, and the change.
        before, after = _world(fx.CORN, 2022, "028", "2022-10"), _world(fx.CORN, 2022, "028")
        sheet = page.locator("table.sheet").first
        assert re.search(r"2022/23 Oct\s+2022/23 Nov\s+change", sheet.inner_text())
        production = sheet.get_by_role("row").filter(has_text="Production").inner_text()
        assert f"{before:,.0f}" in production and f"{after:,.0f}" in production
        assert f"{after - before:+,.0f}" in production
        assert _overflowing(page) == []  # nothing clipped at 1280 px
        # The dev panel is in the notebook, collapsed.
        assert page.get_by_text("Dev environment (a SQLMesh plan").is_visible()
        assert not page.get_by_role("button", name="Plan with SQLMesh").is_visible()
        page.screenshot(path=str(tmp_path / "workbench.png"))

        # The EU member states (a breakdown file) drill down under the EU, not the world.
        page.get_by_role("heading", name="Breakdowns").wait_for()
        parts = page.locator("table.plain").filter(has_text="EU member states: area and production")  # fmt: skip
        assert "Sum of the parts" in parts.inner_text() and "France" in parts.inner_text()
        assert "France" not in producers.inner_text()
        # An Excel download with a descriptive name, holding the sheet's numbers (series,
        # top countries, breakdown, then the balance sheet).
        with page.expect_download() as dl:
            page.get_by_text("Excel", exact=True).nth(3).click()
        download = dl.value
        assert download.suggested_filename == "corn-world-balance-sheet-2022-11.xlsx"
        with zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes())) as zf:
            strings = zf.read("xl/sharedStrings.xml").decode()
            values = zf.read("xl/worksheets/sheet1.xml").decode()
        assert "Production" in strings and "2022/23 Nov" in strings
        assert "Source:" in strings and "November 2022 (compared with October 2022)" in strings
        assert f"<v>{after:.0f}</v>" in values

        # A commodity switch redraws every chart, with the commodity's own unit and years.
        picker = page.locator("select").filter(has=page.locator("option", has_text="Wheat"))
        picker.select_option(label="Coffee, Green")
        wait_for_charts(page, "Coffee, Green", minimum=5)
        page.get_by_role("heading", name="Production (1000 60-kg bags)").wait_for()
        # PSD's coffee Market_Year 2023 is USDA's 2022/23.
        assert "Coffee, Green, World 2022/23: production by release" in chart_titles(page)
        # Beef has no area and no yield: the metric list leaves them out.
        picker.select_option(label="Meat, Beef and Veal")
        wait_for_charts(page, "Meat, Beef and Veal", minimum=3)
        metric = page.locator("select").filter(has=page.locator("option", has_text="Imports")).first  # fmt: skip
        options = metric.locator("option").all_inner_texts()
        assert "Yield" not in options and "Area harvested" not in options and "Production" in options  # fmt: skip
        assert page.get_by_role("row").filter(has_text="World").count() >= 1
    if os.environ.get("UPDATE_SCREENSHOT"):
        shutil.copyfile(tmp_path / "workbench.png", SCREENSHOT)
    assert errors == [], errors
    assert outside == [], outside
    assert srv.tracebacks() == ""


def test_report_opened_offline_draws_every_chart_and_its_csvs(published, tmp_path):
    out = tmp_path / "report.html"
    assert reports.main(published, out=out) == 0
    blocked, errors, seen = [], [], []

    def route(r):
        url = r.request.url
        seen.append(url)
        if url == out.as_uri() or url.startswith("data:"):
            r.continue_()
        else:
            blocked.append(url)
            r.abort()

    with chromium(tmp_path / "profile") as ctx:
        ctx.route("**/*", route)
        page = ctx.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(out.as_uri())
        page.wait_for_function(
            "document.querySelectorAll('div.chart').length > 0 && "
            "document.querySelectorAll('div.chart svg').length === "
            "document.querySelectorAll('div.chart').length"
        )
        # Marks drawn in each chart: lines and points, or bars.
        marks = page.eval_on_selector_all(
            "div.chart",
            "els => els.map(e => e.querySelectorAll("
            "'.mark-line path, .mark-rect path, .mark-symbol path').length)",
        )
        titles = chart_titles(page)
        with page.expect_download() as dl:
            page.get_by_text("CSV: corn-world-balance-sheet-2022-11.csv").click()
        text = Path(dl.value.path()).read_text()
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)

    assert blocked == [] and errors == [], (blocked, errors)
    assert all(u == out.as_uri() or u.startswith("data:") for u in seen)
    assert len(marks) == 8 and all(n > 0 for n in marks), marks
    assert titles[:2] == ["Wheat: top producers 2022/23", "Wheat: production of the top countries"]
    assert (
        text.splitlines()[0]
        == "item,unit,2018/19,2019/20,2020/21,2021/22,2022/23 Oct,2022/23 Nov,change"
    )


def test_marimo_edit_shows_results_on_open(published, tmp_path):
    """The project's [tool.marimo] turns auto-run on: no Run button press needed; the
    editor, too, logs no error to the console and asks nothing of the internet."""
    with _workbench(published, tmp_path, mode="edit", timeout_s=180) as (srv, _, errors, outside):
        pass  # the charts drew without a Run
    assert errors == [], errors
    assert outside == [], outside
    assert srv.tracebacks() == ""


def test_dev_panel_plans_a_dev_environment_with_sqlmesh(published, tmp_path):
    """The panel seeds SQLMesh's prod from the newest publication and runs a real plan:
    with the models as published, SQLMesh finds nothing to plan (what it shows for a
    change: tests/transform/test_sqlmesh_dev.py)."""
    with _workbench(published, tmp_path) as (srv, page, errors, outside):
        page.get_by_text("Dev environment (a SQLMesh plan").click()
        page.get_by_role("button", name="Plan with SQLMesh").click()
        summary = page.get_by_role("strong").filter(
            has_text=re.compile(r"^dev_\w+: no model differs from SQLMesh's prod")
        )
        srv.wait(summary, timeout_s=240)  # unseeded, it would say "Not planned: …"
        assert summary.is_visible()
        assert page.get_by_text("What changed, as SQLMesh categorizes it").is_visible()
    assert srv.tracebacks() == ""
    assert errors == [], errors
    assert outside == [], outside
