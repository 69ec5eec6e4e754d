"""The publish contract (issue 10), tried as a hostile user would: every audit gates every
publish, a rejected release keeps failing until its input changes, quarantine restores
the exact earlier state, an empty landing never publishes, a crash at any point of a
publish leaves readers on a whole run, a dead holder's lock does not block, dev works at
any moment, and every failure is one redacted line.

Readers are checked with plain pyiceberg following docs/READING.md (testsupport/published).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from materia import lakehouse
from materia.core.errors import MateriaError
from materia.core.storage import LandingStore
from materia.transform import run as transform
from testsupport import free_port
from testsupport.lakehouse import published
from testsupport.psd import fixtures as fx

ALL = "psd_alldata_csv"
BR23 = ("0711100", "BR", 2023, "028")


def _land(home: Path, rows, stem: str, month: str, etag: str) -> str:
    return fx.land(home, rows, month, stem, etag)


def _base() -> tuple[list, list]:
    r06 = fx.sample_rows("2022-06")
    return r06, fx.revise(r06, "2022-12")


def _one_line(proc: subprocess.CompletedProcess, code: int = 1) -> str:
    assert proc.returncode == code, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def _state(home: Path) -> tuple[dict, dict]:
    cat = published.local_catalog(home)
    return published.newest_run(cat), published.read_all(cat)


@pytest.fixture
def home(materia_env, cli) -> Path:
    """A home with two generated releases landed and published (run 1)."""
    home = Path(materia_env["MATERIA_HOME"])
    r06, r12 = _base()
    _land(home, r06, ALL, "2022-06", "a06")
    _land(home, r12, ALL, "2022-12", "a12")
    done = cli("transform")
    assert done.returncode == 0, done.stderr
    return home


# --- audits gate every publish, every time ----------------------------------------------------
def _release_with(rows, change):
    out = fx.revise(rows, "2023-01")
    return [change(r) for r in out]


BAD_RELEASES = {
    "no_negative_production": lambda r: r._replace(value=-5.0) if r.key == BR23 else r,
    "units_consistent_per_attribute": lambda r: (
        r._replace(unit_id="08", unit_description="(1000 MT)")
        if (r.commodity_code, r.country_code, r.attribute_id) == ("0711100", "CO", "028")
        else r
    ),
    "yield_in_range": lambda r: (
        r._replace(value=250.0)
        if (r.commodity_code, r.country_code, r.attribute_id) == ("0410000", "US", "184")
        else r
    ),
}


@pytest.mark.parametrize("audit", [*BAD_RELEASES, "unique_grain"])
def test_a_failing_audit_fails_every_run_until_the_input_changes(home, cli, audit):
    before = _state(home)
    r12 = _base()[1]
    if audit == "unique_grain":  # the same key twice in one file, two values, one stamp
        rows = fx.revise(r12, "2023-01")
        twin = next(r for r in rows if r.key == BR23)
        rows.append(twin._replace(value=twin.value + 1))
    else:
        rows = _release_with(r12, BAD_RELEASES[audit])
    key = _land(home, rows, ALL, "2023-01", "bad")
    lines = [_one_line(cli("transform")) for _ in range(2)]
    assert lines[0] == lines[1]  # the same reason, run after run
    assert f"audit {audit} failed" in lines[0] and key in lines[0]
    assert "nothing was published" in lines[0]
    assert _state(home) == before


def test_an_archive_landed_by_hand_is_checked_by_the_transform(home, cli):
    """No record of a check (landed by hand, or under older rules): the transform checks
    it with the same rules as the extractor and names the key, the line and the fault."""
    from materia.sources import psd_archive

    before = _state(home)
    lines = [r.line() for r in fx.revise(_base()[1], "2023-01")]
    lines[4] = lines[4].rsplit(",", 1)[0] + ",n/a"
    key = "psd/psd_alldata_csv/2023/01/byhand.zip"
    fx.write_lines(home / "landing" / key, lines, "psd_alldata.csv")
    stale = home / "landing" / psd_archive.record_key(key)
    stale.parent.mkdir(parents=True)
    stale.write_text('{"rules": "older-rules", "rows": 1}')
    line = _one_line(cli("transform"))
    assert key in line and "line 6: Value must be a number with 4 decimals" in line
    assert _state(home) == before


def test_quarantine_publishes_exactly_what_never_landing_would_have(home, cli):
    r12 = _base()[1]
    good = fx.revise(r12, "2023-02", {BR23: 61000.0})
    _land(home, good, ALL, "2023-02", "good")
    assert cli("transform").returncode == 0
    expected = _state(home)[1]
    key = _land(
        home, _release_with(good, BAD_RELEASES["no_negative_production"]), ALL, "2023-03", "bad"
    )
    assert cli("transform").returncode == 1
    done = cli("landing", "quarantine", key, "--reason", "negative production")
    assert done.returncode == 0, done.stderr
    done = cli("transform")
    assert done.returncode == 0, done.stderr
    assert _state(home)[1] == expected


def test_a_quarantined_newest_release_withdraws_its_month(home, cli):
    before = _state(home)[1]
    key = _land(home, fx.revise(_base()[1], "2023-01", {BR23: 60000.0}), ALL, "2023-01", "x")
    assert cli("transform").returncode == 0
    assert _state(home)[1] != before
    assert cli("landing", "quarantine", key).returncode == 0
    assert cli("transform").returncode == 0
    assert _state(home)[1] == before


# --- never publish a collapse ------------------------------------------------------------------
def test_an_empty_landing_never_publishes(home, cli):
    before = _state(home)
    shutil.move(home / "landing", home / "landing-moved")
    line = _one_line(cli("transform"))
    assert "no landed PSD archives under" in line and "nothing to publish" in line
    assert _state(home) == before


def test_an_empty_landing_never_publishes_in_r2_mode(r2_settings):
    with pytest.raises(MateriaError, match=r"no landed PSD archives under s3://t-\w+/psd/"):
        transform.run(r2_settings, env="dev_empty")


def test_a_shrinking_release_is_refused_unless_allowed(home, cli):
    before = _state(home)
    r12 = _base()[1]
    half = [r for r in fx.revise(r12, "2023-01") if r.commodity_code == "0711100"]
    _land(home, half, ALL, "2023-01", "half")
    line = _one_line(cli("transform"))
    assert line.startswith("error: refusing to publish a collapse: ")
    assert "fct_psd_latest would shrink by" in line
    assert "rows published now →" in line and "--allow-shrink" in line
    assert _state(home) == before
    done = cli("transform", "--allow-shrink")
    assert done.returncode == 0, done.stderr
    assert "--allow-shrink let through: fct_psd_latest would shrink" in done.stdout


# --- readers see whole runs -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "point, lands",
    [
        ("publish:checked", False),
        ("publish:after:fct_psd_vintages", False),
        ("publish:after:obt_commodity_metrics", False),
        ("publish:before-commit", False),
        ("publish:after-commit", True),
    ],
)
def test_kill_9_at_any_point_of_a_publish_leaves_readers_on_a_whole_run(
    home, cli, materia_env, point, lands
):
    before = _state(home)
    r13 = fx.revise(_base()[1], "2023-01", {BR23: 61500.0})
    _land(home, r13, ALL, "2023-01", "new")
    killed = cli("transform", env={**materia_env, "MATERIA_FAILPOINT": point})
    assert killed.returncode == -9, killed.stderr
    after_kill = _state(home)
    if lands:
        assert after_kill != before
    else:
        assert after_kill == before  # every table still at run 1, none at the new run
    done = cli("transform")
    assert done.returncode == 0, done.stderr
    _, tables = _state(home)
    br = [
        r
        for r in tables["fct_psd_vintages"]
        if (r["commodity_code"], r["country_code"], r["market_year"], r["attribute_id"]) == BR23
    ]
    assert sorted((r["release_month"].isoformat(), r["value"]) for r in br) == [
        ("2022-06-01", 64300.0),
        ("2022-12-01", 62600.0),
        ("2023-01-01", 61500.0),
    ]
    (obt,) = [
        r
        for r in tables["obt_commodity_metrics"]
        if (r["commodity_code"], r["country_code"], r["market_year"]) == BR23[:3]
    ]
    assert obt["production"] == 61500.0 and obt["release_month"].isoformat() == "2023-01-01"


# --- locks that know their holder -----------------------------------------------------------------
def test_a_dead_transforms_lock_is_taken_over_at_once(home, cli):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = home / "locks" / "transform-prod.lock"
    lock.write_text(
        f'{{"host": "{socket.gethostname()}", "pid": {dead.pid}, "started": '
        '"2026-01-01T00:00:00+00:00", "expires": "2099-01-01T00:00:00+00:00", "token": "x"}'
    )
    _land(home, fx.revise(_base()[1], "2023-01"), ALL, "2023-01", "n")
    done = cli("transform")
    assert done.returncode == 0, done.stderr
    said = done.stdout + done.stderr
    assert f"taking over from {socket.gethostname()} pid {dead.pid} since 2026-01-01" in said
    assert "which is gone" in said


# --- dev at any moment ----------------------------------------------------------------------------
def test_dev_right_after_new_archives_land_and_after_a_failed_prod_run(home, cli):
    before = _state(home)
    _land(home, fx.revise(_base()[1], "2023-01", {BR23: 61000.0}), ALL, "2023-01", "n")
    done = cli("transform", "--env", "dev_x")
    assert done.returncode == 0, done.stderr
    cat = published.local_catalog(home)
    dev = published.read(cat, "obt_commodity_metrics", "serving__dev_x")
    assert {r["release_month"].isoformat() for r in dev} == {"2023-01-01"}
    assert _state(home) == before  # prod untouched
    _land(
        home,
        _release_with(_base()[1], BAD_RELEASES["no_negative_production"]),
        ALL,
        "2023-02",
        "bad",
    )
    assert cli("transform").returncode == 1
    assert cli("transform", "--env", "dev_y").returncode == 1  # same data, same audit
    assert cli("transform", "--env", "dev_x").returncode == 1
    assert _state(home) == before


# --- one line, redacted ---------------------------------------------------------------------------
def test_an_unexpected_error_is_one_redacted_line_and_a_traceback_only_on_request(
    cli, materia_env, tmp_path
):
    # A token pasted into MATERIA_HOME, and a file where the catalog's folder should be:
    # the OSError names the path, so the secret is in the exception, and must not show.
    secret = "sup3r-s3cret-t0ken"
    home = tmp_path / f"home-{secret}"
    _land(home, _base()[0], ALL, "2022-06", "a")
    (home / "lakehouse").write_text("a file, not a folder")
    env = {**materia_env, "MATERIA_HOME": str(home), "HCLOUD_TOKEN": secret}
    line = _one_line(cli("transform", env=env))
    assert "NotADirectoryError" in line and "***" in line and secret not in line
    debug = cli("transform", env={**env, "MATERIA_DEBUG": "1"})
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
    assert secret not in debug.stderr and "***" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1] == line


def test_a_mistyped_setting_never_shows_its_value(cli, materia_env):
    secret = "hcloud-t0ken-pasted-in-the-wrong-place"
    env = {**materia_env, "HCLOUD_TOKEN": secret, "MATERIA_WORKER_TTL_MINUTES": secret}
    line = _one_line(cli("transform", env=env), code=2)
    assert line == "error: MATERIA_WORKER_TTL_MINUTES must be a whole number"


def test_an_unreachable_r2_is_one_line(cli, materia_env):
    port = free_port()  # nothing listens there
    env = {
        **materia_env,
        "R2_ENDPOINT": f"http://127.0.0.1:{port}",
        "R2_BUCKET": "b",
        "R2_ACCESS_KEY": "key-id-123456",
        "R2_SECRET_KEY": "secret-key-123456",
        "AWS_MAX_ATTEMPTS": "1",
    }
    for args in (("transform",), ("landing", "list")):
        line = _one_line(cli(*args, env=env))
        assert f"127.0.0.1:{port}" in line and "secret-key-123456" not in line


# --- nothing local is state -------------------------------------------------------------------
def test_a_fresh_worker_publishes_what_a_continuing_one_would(r2_settings, tmp_path):
    """Prod on R2 + Iceberg REST: release 2 transformed on a fresh home (a new worker, no
    local files at all) gives the same published tables as on the home that ran release 1."""
    from dataclasses import replace

    r06, r12 = _base()

    def land(settings, rows, month):
        store = LandingStore.from_settings(settings)
        y, m = month.split("-")
        store.write_bytes(f"psd/{ALL}/{y}/{m}/e.zip", fx.release_bytes(rows, f"{ALL}.zip"))

    land(r2_settings, r06, "2022-06")
    transform.run(r2_settings, env="dev_same_home")
    transform.run(r2_settings, env="dev_fresh_home")
    land(r2_settings, r12, "2022-12")
    transform.run(r2_settings, env="dev_same_home")
    fresh = replace(r2_settings, home=tmp_path / "another-worker")
    transform.run(fresh, env="dev_fresh_home")
    assert not any((tmp_path / "another-worker").rglob("*.duckdb"))
    cat = lakehouse.catalog(r2_settings)
    same = published.read_all(cat, "serving__dev_same_home")
    other = published.read_all(cat, "serving__dev_fresh_home")
    assert same == other and len(same["fct_psd_vintages"]) > len(r06)
