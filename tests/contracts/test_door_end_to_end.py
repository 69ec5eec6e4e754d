"""Issue 19, end to end through the CLI: what the door refuses stays out of every
publication, and what the domain needs gets through.

- a quarantined content landed again under another key (what the ETag-keyed extractor
  did when a server dropped its ETags) is held back, not republished;
- archives landed by hand are checked by the same strict format: unpadded codes, an
  invalid UTF-8 byte, a release dated after today are refused naming the archive;
- a same-month correction (USDA re-issues a month's file with one value changed)
  publishes, supersedes the earlier download, and shows in "what changed".
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from materia.core import settings as settings_mod
from materia.workbench import data as workbench_data
from testsupport.lakehouse import published
from testsupport.psd import fixtures as fx

ALL = "psd_alldata_csv"
BR23 = ("0711100", "BR", 2023, "028")


def _land(home: Path, rows, month: str, name: str) -> str:
    y, m = month.split("-")
    key = f"psd/{ALL}/{y}/{m}/{name}.zip"
    fx.write_release(home / "landing" / key, rows)
    return key


def _state(home: Path) -> dict:
    return published.read_all(published.local_catalog(home))


def _one_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


@pytest.fixture
def home(materia_env, cli) -> Path:
    """Two generated releases landed by hand (as older code did) and published."""
    home = Path(materia_env["MATERIA_HOME"])
    r06 = fx.sample_rows("2022-06")
    _land(home, r06, "2022-06", "a06")
    _land(home, fx.revise(r06, "2022-12"), "2022-12", "a12")
    done = cli("transform")
    assert done.returncode == 0, done.stderr
    return home


def test_a_quarantined_content_landed_again_under_a_new_key_stays_out(home, cli):
    before = _state(home)
    bad = fx.revise(fx.revise(fx.sample_rows("2022-06"), "2022-12"), "2023-01", {BR23: 1.0})
    key = _land(home, bad, "2023-01", "etag-one")
    assert cli("transform").returncode == 0
    assert cli("landing", "quarantine", key, "--reason", "withdrawn").returncode == 0
    assert cli("transform").returncode == 0
    assert _state(home) == before
    # The same bytes again, under the key a server without ETags gave them.
    data = (home / "landing" / "quarantine" / key).read_bytes()
    again = f"psd/{ALL}/2023/01/sha256-{hashlib.sha256(data).hexdigest()[:32]}.zip"
    (home / "landing" / again).write_bytes(data)
    for _ in range(2):
        done = cli("transform")
        assert done.returncode == 0, done.stderr
        assert _state(home) == before  # never republished


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        (  # a spreadsheet re-save: zeros stripped, with a negative production
            lambda line: line.replace("0711100,", "711100,").replace(",028,", ",28,"),
            "line 2: Commodity_Code must be 7 digits, got '711100'",
        ),
        (lambda line: line.replace('"Brazil"', '"Bra\xffzil"'), "byte 0xff in Country_Name"),
        (lambda line: line.replace("0711100,", '"0711100 ",'), "Commodity_Code must be 7 digits"),
    ],
    ids=["unpadded-codes", "invalid-utf8", "code-with-a-space"],
)
def test_an_archive_landed_by_hand_gets_the_door_s_check(home, cli, change, fault):
    before = _state(home)
    rows = fx.revise(fx.revise(fx.sample_rows("2022-06"), "2022-12"), "2023-01")
    rows = [r._replace(value=-5.0) if r.key == BR23 else r for r in rows]
    data = (fx.HEADER + "\r\n" + "".join(change(r.line()) + "\r\n" for r in rows)).encode("latin-1")
    key = f"psd/{ALL}/2023/01/byhand.zip"
    fx.write_raw(home / "landing" / key, data, "psd_alldata.csv")
    for _ in range(2):
        line = _one_line(cli("transform"))
        assert key in line and fault in line and "nothing was published" in line, line
        assert "materia-" not in line.replace(key, "")  # the archive, never a temp file
    assert _state(home) == before


def test_a_release_dated_after_today_is_refused(home, cli):
    before = _state(home)
    key = _land(home, fx.revise(fx.sample_rows("2022-06"), "2031-01"), "2031-01", "future")
    line = _one_line(cli("transform"))
    assert "dated after today" in line and key in line and "quarantine" in line
    assert _state(home) == before
    line = _one_line(cli("extract", "psd", "--as-of", "2031-01-01"))
    assert "--as-of 2031-01-01 is after today" in line


def test_a_same_month_correction_supersedes_the_earlier_file(psd_server, materia_env, cli):
    """USDA re-issues December's file with one value changed (same stamp): it lands
    beside the first, the next transform publishes it (no unique_grain deadlock), the
    change shows in "what changed", and quarantining it brings the first back."""
    r06 = fx.sample_rows("2022-06")
    r12 = fx.revise(r06, "2022-12")
    fx.archive_layout(psd_server.root, {"2022-06": r06, "2022-12": r12}, "psd_alldata_csv.zip")
    env = {**materia_env, "PSD_BASE_URL": psd_server.base_url, "PSD_DATASETS": f"{ALL}.zip"}
    home = Path(env["MATERIA_HOME"])
    extract = ("extract", "psd", "--backfill-from", "2022-06", "--as-of", "2022-12-31")
    assert cli(*extract, env=env).returncode == 0
    assert cli("transform", env=env).returncode == 0
    first = _state(home)

    fixed = [r._replace(value=62000.0) if r.key == BR23 else r for r in r12]  # same stamp
    fx.archive_layout(psd_server.root, {"2022-12": fixed}, "psd_alldata_csv.zip")
    done = cli(*extract, env=env)
    assert done.returncode == 0 and "2022-12 landed" in done.stdout, done.stdout + done.stderr
    december = sorted((home / "landing/psd" / ALL / "2022/12").glob("*.zip"))
    assert len(december) == 2  # both kept
    done = cli("transform", env=env)
    assert done.returncode == 0, done.stderr
    assert "same-month correction" in done.stdout

    vintages = {
        (
            r["commodity_code"],
            r["country_code"],
            r["market_year"],
            r["attribute_id"],
            str(r["release_month"]),
        ): r["value"]  # fmt: skip
        for r in _state(home)["fct_psd_vintages"]
    }
    assert vintages[(*BR23, "2022-12-01")] == 62000.0
    s = settings_mod.load(env, dotenv=home / "none")
    changes = workbench_data.open_workbench(s, "prod").changes(["0711100"])
    row = changes.filter(country_code="BR", market_year=2023, attribute_id="028").row(0, named=True)
    assert (row["previous"], row["current"]) == (64300.0, 62000.0)
    log = published.local_catalog(home).load_table("serving.publications").scan().to_arrow()
    inputs = json.loads(max(log.to_pylist(), key=lambda r: r["sequence"])["inputs"])
    assert len([k for k in inputs["archives"] if "/2022/12/" in k]) == 2  # both covered

    newer = max(december, key=lambda p: p.stat().st_mtime)
    key = str(newer.relative_to(home / "landing"))
    assert cli("landing", "quarantine", key, env=env).returncode == 0
    assert cli("transform", env=env).returncode == 0
    assert _state(home) == first
