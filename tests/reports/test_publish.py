"""Reports where people are: reports/<date>/commodities.html, latest.html and index.html,
under MATERIA_HOME (local) or in the R2 bucket (SeaweedFS stands in for R2)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from materia.core import settings
from materia.reports import publish as report_publish
from testsupport import clean_env, run_cli
from testsupport.lakehouse import fixture as lakehouse_fixture


def local(tmp_path: Path):
    return settings.load(environ={"MATERIA_HOME": str(tmp_path)}, dotenv=tmp_path / "none")


def test_days_latest_and_index_under_materia_home(tmp_path):
    s = local(tmp_path)
    report_publish.publish(s, "<p>26</p>", date(2026, 11, 26))
    urls = report_publish.publish(s, "<p>27</p>", date(2026, 11, 27))
    root = tmp_path / "reports"
    assert urls == [
        str(root / "2026-11-27/commodities.html"),
        str(root / "latest.html"),
        str(root / "index.html"),
    ]
    assert (root / "2026-11-26" / "commodities.html").read_text() == "<p>26</p>"
    assert (root / "latest.html").read_text() == "<p>27</p>"
    report_publish.publish(s, "<p>26 again</p>", date(2026, 11, 26))  # an older day, redone
    assert (root / "latest.html").read_text() == "<p>27</p>"
    links = re.findall(r'href="([^"]+)"', (root / "index.html").read_text())
    assert links == ["latest.html", "2026-11-27/commodities.html", "2026-11-26/commodities.html"]
    # Written whole: no temp file next to any of them, none left in the scratch dir.
    assert sorted(p.name for p in root.rglob("*")) == sorted(
        [
            "2026-11-26",
            "2026-11-27",
            "commodities.html",
            "commodities.html",
            "index.html",
            "latest.html",
        ]
    )
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_published_report_is_redacted(tmp_path):
    token = "report-canary-0a1b2c3d4e"
    s = settings.load(
        environ={"MATERIA_HOME": str(tmp_path), "HCLOUD_TOKEN": token}, dotenv=tmp_path / "none"
    )
    report_publish.publish(s, f"<p>failed: Bearer {token}</p>", date(2026, 11, 26))
    page = (tmp_path / "reports" / "2026-11-26" / "commodities.html").read_text()
    assert page == "<p>failed: Bearer ***</p>"


@pytest.mark.s3
def test_reports_go_to_the_bucket_as_web_pages(tmp_path, seaweed):
    s = settings.load(
        environ={"MATERIA_HOME": str(tmp_path), **seaweed.r2_env()}, dotenv=tmp_path / "none"
    )
    urls = report_publish.publish(s, "<p>report</p>", date(2026, 11, 28))
    assert urls[0] == f"s3://{seaweed.bucket}/reports/2026-11-28/commodities.html"
    fs = seaweed.s3fs()
    for key in ("reports/2026-11-28/commodities.html", "reports/latest.html", "reports/index.html"):
        info = fs.info(f"{seaweed.bucket}/{key}")
        assert info["ContentType"] == "text/html", key
    assert fs.cat(f"{seaweed.bucket}/reports/latest.html") == b"<p>report</p>"
    assert not (tmp_path / "reports").exists()


published = lakehouse_fixture.published


@pytest.mark.slow
def test_cli_publishes_the_real_report(published, tmp_path):
    home = published.home  # the test releases, landed and published by the real pipeline
    r = run_cli("report", "commodities", "--publish", env=clean_env(home), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    [day] = [p for p in (home / "reports").iterdir() if p.is_dir()]
    page = (day / "commodities.html").read_text()
    assert "<h1>Commodities report</h1>" in page
    assert page == (home / "reports/latest.html").read_text()
    assert f"report: published {day / 'commodities.html'}" in r.stderr
