"""The workbench in headless Chromium: the live notebook, and the offline report."""

from __future__ import annotations

import re
import time

import pytest

from materia import reports
from testsupport import lakehouse_fixture
from testsupport.browser import chromium, marimo_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]
published = lakehouse_fixture.published
real_published = lakehouse_fixture.real_published


def _watch(page, errors: list[str]) -> None:
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))


def test_report_renders_offline_with_every_request_blocked(published, tmp_path):
    out = tmp_path / "report.html"
    assert reports.main(published, out=out) == 0
    seen, blocked, errors = [], [], []

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
        _watch(page, errors)
        requests: list[str] = []
        page.on("request", lambda req: requests.append(req.url))
        page.goto(out.as_uri())
        page.wait_for_selector("#chart-0 svg .mark-line path", timeout=60_000)
        page.wait_for_function("document.querySelectorAll('div.chart svg').length"
                               " === document.querySelectorAll('div.chart').length")  # fmt: skip
        # Marks drawn in each chart: lines and points, or bars (the top producers).
        marks = page.eval_on_selector_all(
            "div.chart",
            "els => els.map(e => e.querySelectorAll("
            "'.mark-line path, .mark-rect path, .mark-symbol path').length)",
        )
        line = page.locator("#chart-0 svg .mark-line path").first.get_attribute("d")
        bars = page.locator("#chart-1 svg .mark-rect path").count()
        text = page.inner_text("body")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)

    assert blocked == [] and errors == []
    assert all(u == out.as_uri() or u.startswith("data:") for u in requests), requests
    assert len(marks) == 5 and all(n > 0 for n in marks), marks
    assert line and line.count("L") >= 5  # a real polyline, not an empty mark
    assert bars >= 5  # one bar per top producer
    # The notebook's own words, not the report's: its heading and its picker captions.
    assert "Commodities workbench" in text and "Commodity: Corn" in text
    assert "(1000 MT)" in text and "chart failed" not in text


def _canvas(page) -> str:
    return page.locator(".vega-embed canvas").first.evaluate("c => c.toDataURL()")


def test_notebook_follows_the_picker_and_plans_a_dev_environment(real_published, tmp_path):
    """On the real releases (coffee + cotton): change the commodity, then plan dev."""
    errors: list[str] = []
    outside: list[str] = []
    local = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")
    with (
        marimo_run(real_published.home, tmp_path / "marimo.log") as url,
        chromium(tmp_path / "profile") as ctx,
    ):
        page = ctx.new_page()
        _watch(page, errors)
        page.on("request", lambda r: None if r.url.startswith(local) else outside.append(r.url))
        page.goto(url)
        page.wait_for_selector(".vega-embed canvas", timeout=120_000)
        page.get_by_role("heading", name="Production (1000 60 KG BAGS)").wait_for(timeout=60_000)
        before = _canvas(page)

        picker = page.locator("select").filter(has=page.locator("option", has_text="Cotton"))
        picker.select_option(label="Cotton")
        page.get_by_role("heading", name="Production (1000 480 lb. Bales)").wait_for(timeout=60_000)
        deadline = time.monotonic() + 60
        after = _canvas(page)
        while after == before and time.monotonic() < deadline:
            page.wait_for_timeout(250)
            after = _canvas(page)
        assert after != before, "the time-series chart did not change with the commodity"

        # The dev panel: plan dev_<user> (nothing changed), publish, compare with prod.
        page.get_by_role("button", name="Plan and apply").click()
        summary = page.get_by_role("heading", name=re.compile(r"^dev_\w+ matches prod"))
        summary.wait_for(timeout=240_000)
        page.get_by_text("Row counts per serving table").wait_for()
        page.wait_for_timeout(1500)  # the publish refresh must not wipe the result
        assert summary.is_visible()

    assert errors == [], errors
    assert outside == [], outside
