"""The WASDE extractor end to end: the real CLI against a loopback stand-in of USDA's site
(ETag and Last-Modified like a real web server), through the door every source shares."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from testsupport.psd import wasde_fixtures as wf
from testsupport.psd.wasde_server import WasdeServer

KEY_DIR = "wasde/oce-wasde-report-data"


@pytest.fixture
def site(tmp_path, materia_env):
    """Reports of 2025-09, 2025-10 and 2025-11 (values moved), served like USDA serves
    them, and the CLI environment pointed at the server."""
    root = tmp_path / "usda"
    rows = wf.sample_rows()
    wf.layout(root, {m: wf.moved(rows, m) for m in ("2025-09", "2025-10", "2025-11")})
    with WasdeServer(root) as srv:
        yield srv, {**materia_env, "WASDE_BASE_URL": srv.base_url}


def landed(home: Path) -> dict[str, bytes]:
    root = home / "landing"
    return {
        k: p.read_bytes()
        for p in root.rglob("*.csv")
        if not (k := str(p.relative_to(root))).startswith("checked/")
    }


def home_of(env) -> Path:
    return Path(env["MATERIA_HOME"])


def one_error_line(proc, *needles: str) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    for needle in needles:
        assert needle in line, line
    return line


def test_the_latest_report_lands_once_with_its_record_and_hints_spare_the_download(site, cli):
    server, env = site
    done = cli("extract", "wasde", "--as-of", "2025-11-20", env=env)
    assert done.returncode == 0, done.stderr
    ((key, data),) = landed(home_of(env)).items()
    assert key.startswith(f"{KEY_DIR}/2025/11/sha256-") and key.endswith(".csv")
    assert data == (server.root / wf.file_name("2025-11")).read_bytes()
    assert done.stdout.startswith(f"oce-wasde-report-data 2025-11 landed {key}")
    record = json.loads((home_of(env) / "landing" / "checked" / f"{key}.json").read_text())
    assert record["rows"] == len(wf.sample_rows()) and record["etag"] and record["last_modified"]
    # The ETag names the landed report: no body the second time.
    got = server.body_bytes("GET")
    again = cli("extract", "wasde", "--as-of", "2025-11-20", env=env)
    assert again.stdout.split()[2] == "unchanged" and server.body_bytes("GET") == got
    # Without an ETag, Last-Modified and the size are the hint.
    server.etags = "none"
    third = cli("extract", "wasde", "--as-of", "2025-11-20", env=env)
    assert third.stdout.split()[2] == "unchanged" and server.body_bytes("GET") == got
    # A new Last-Modified (the file touched, same bytes): downloaded, known by its content.
    path = server.root / wf.file_name("2025-11")
    os.utime(path, (time.time() + 60, time.time() + 60))
    fourth = cli("extract", "wasde", "--as-of", "2025-11-20", env=env)
    assert fourth.stdout.split()[2] == "unchanged" and server.body_bytes("GET") > got
    assert len(landed(home_of(env))) == 1


def test_backfill_lands_every_report_and_a_quarantined_one_never_returns(site, cli):
    server, env = site
    args = ("extract", "wasde", "--backfill-from", "2025-08", "--as-of", "2025-11-20")
    done = cli(*args, env=env)
    assert done.returncode == 0, done.stderr
    keys = sorted(landed(home_of(env)))
    assert [k.split("/")[2:4] for k in keys] == [["2025", "09"], ["2025", "10"], ["2025", "11"]]
    assert cli("landing", "quarantine", keys[1], "--reason", "t", env=env).returncode == 0
    server.etags = "rotate"  # the hint never matches: the content decides
    again = cli(*args, env=env)
    assert f"quarantined {keys[1]}: not landed again" in again.stdout, again.stdout
    listing = cli("landing", "list", env=env).stdout
    assert (
        "# landed: 2 archive(s)" in listing and f"{keys[1]}\t" in listing.split("# quarantined")[1]
    )
    assert sorted(landed(home_of(env))) == sorted([keys[0], keys[2], f"quarantine/{keys[1]}"])


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("corrupt", "line 2: Value must be empty or a number"),
        ("wrong_header", "line 1: not the WASDE header"),
    ],
)
def test_a_bad_report_lands_nothing(site, cli, fault, message):
    server, env = site
    server.inject(fault)
    proc = cli("extract", "wasde", "--as-of", "2025-11-20", env=env)
    one_error_line(proc, f"{server.base_url}/{wf.file_name('2025-11')}", message, "nothing landed")
    assert landed(home_of(env)) == {}
    assert list((home_of(env) / "tmp").iterdir()) == []


def test_a_report_of_another_month_is_refused(site, cli):
    """USDA's file of one month served under another month's name."""
    server, env = site
    (server.root / wf.file_name("2025-11")).write_bytes(
        (server.root / wf.file_name("2025-10")).read_bytes()
    )
    proc = cli("extract", "wasde", "--as-of", "2025-11-20", env=env)
    one_error_line(proc, "line 2: ForecastYear/ForecastMonth 2025-10 is not the release month 2025-11")  # fmt: skip
    assert landed(home_of(env)) == {}


def test_downloads_are_bounded_and_no_report_is_one_line(site, cli):
    server, env = site
    big = cli("extract", "wasde", "--as-of", "2025-11-20", env={**env, "PSD_MAX_ARCHIVE_MB": "0.01"})  # fmt: skip
    one_error_line(big, "larger than the cap", "nothing landed")
    none = cli("extract", "wasde", "--as-of", "2025-07-20", env=env)
    one_error_line(none, f"no release of oce-wasde-report-data under {server.base_url}", "2025-04..2025-07")  # fmt: skip
    assert landed(home_of(env)) == {}
