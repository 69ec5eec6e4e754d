"""The PSD extractor end to end: the real CLI against a loopback PSD Online stand-in."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from testsupport import cli_command
from testsupport.psd import fixtures as pf

COFFEE = "psd_coffee_csv.zip"
BACKFILL_2022 = ("--dataset", COFFEE, "--backfill-from", "2022-01", "--as-of", "2022-12-31")


def landed(home: Path) -> dict[str, bytes]:
    """Every object in the landing area but the records of passed checks (`checked/`)."""
    root = home / "landing"
    return {
        key: p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and not (key := str(p.relative_to(root))).startswith("checked/")
    }


def content(data: bytes) -> str:
    """The name of an archive's landing key: its content."""
    return "sha256-" + hashlib.sha256(data).hexdigest()[:32]


def env_for(materia_env: dict, server, **extra) -> dict[str, str]:
    return {**materia_env, "PSD_BASE_URL": server.base_url, **extra}


def home_of(env: dict) -> Path:
    return Path(env["MATERIA_HOME"])


@pytest.fixture
def two_releases(psd_server):
    """Generated coffee releases for 2022-06 and 2022-12 (the second revises the first)."""
    rows = pf.sample_rows("2022-06")
    pf.archive_layout(psd_server.root, {"2022-06": rows, "2022-12": pf.revise(rows, "2022-12")})
    return psd_server


def one_error_line(proc, *needles: str) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# --- the real USDA coffee releases --------------------------------------------------------
def test_shared_coffee_backfill_lands_two_byte_identical_then_no_op(
    shared_psd_server, shared_psd_dir, materia_env, tmp_path
):
    env = env_for(materia_env, shared_psd_server)
    script = Path(sys.executable).with_name("extract_psd")  # the console script itself
    run = lambda: subprocess.run(  # noqa: E731
        [str(script), *BACKFILL_2022], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    first = run()
    assert first.returncode == 0, first.stderr
    objects = landed(home_of(env))
    assert sorted(k.rsplit("/", 1)[0] for k in objects) == [
        "psd/psd_coffee_csv/2022/06",
        "psd/psd_coffee_csv/2022/12",
    ]
    for key, data in objects.items():
        month_dir = key.split("/")[2:4]
        assert data == (shared_psd_dir / "archives" / "/".join(month_dir) / COFFEE).read_bytes()
        assert key.endswith(f"/{content(data)}.zip")  # the key says what the bytes are
    assert "\x1b" not in first.stdout  # no progress bar when stdout is not a terminal
    assert [line.split()[:3] for line in first.stdout.splitlines()] == [
        ["psd_coffee_csv", "2022-06", "landed"],
        ["psd_coffee_csv", "2022-12", "landed"],
    ]

    shared_psd_server.clear()
    second = run()
    assert second.returncode == 0, second.stderr
    assert shared_psd_server.body_bytes() == 0
    assert shared_psd_server.count("GET") == 0 and shared_psd_server.count("HEAD") == 12
    assert [line.split()[2] for line in second.stdout.splitlines()] == ["unchanged"] * 2
    assert landed(home_of(env)) == objects


@pytest.mark.s3
def test_shared_coffee_backfill_in_r2_mode(
    shared_psd_server, shared_psd_dir, seaweed, materia_env, cli
):
    bucket = f"extract-{uuid.uuid4().hex[:12]}"
    fs = seaweed.s3fs()
    fs.mkdir(bucket)
    env = env_for(materia_env, shared_psd_server, **{**seaweed.r2_env(), "R2_BUCKET": bucket})
    first = cli("extract", "psd", *BACKFILL_2022, env=env)
    assert first.returncode == 0, first.stderr
    keys = sorted(k for p in fs.find(bucket) if (k := p.split("/", 1)[1]).startswith("psd/"))
    assert [k.rsplit("/", 1)[0] for k in keys] == [
        "psd/psd_coffee_csv/2022/06",
        "psd/psd_coffee_csv/2022/12",
    ]
    for key in keys:
        y, m = key.split("/")[2:4]
        assert (
            fs.cat(f"{bucket}/{key}") == (shared_psd_dir / "archives" / y / m / COFFEE).read_bytes()
        )
    assert not (home_of(env) / "landing").exists()  # nothing landed locally in R2 mode
    assert seaweed.secret_key not in first.stdout + first.stderr

    shared_psd_server.clear()
    second = cli("extract", "psd", *BACKFILL_2022, env=env)
    assert second.returncode == 0, second.stderr
    assert shared_psd_server.body_bytes() == 0 and shared_psd_server.count("GET") == 0
    assert "unchanged" in second.stdout
    found = sorted(p.split("/", 1)[1] for p in fs.find(bucket, refresh=True))
    assert [k for k in found if not k.startswith("checked/")] == keys


# --- release probing -------------------------------------------------------------------------
def test_latest_release_is_the_newest_of_four_months(two_releases, materia_env, cli):
    env = env_for(materia_env, two_releases, PSD_DATASETS=COFFEE)
    proc = cli("extract", "psd", "--as-of", "2023-03-01", env=env)
    assert proc.returncode == 0, proc.stderr
    data = (two_releases.root / "archives/2022/12" / COFFEE).read_bytes()
    assert list(landed(home_of(env))) == [f"psd/psd_coffee_csv/2022/12/{content(data)}.zip"]
    # Probed 2023-03, 2023-02, 2023-01 (404) then found 2022-12 and stopped.
    assert [r.path.split("/")[2:4] for r in two_releases.requests if r.method == "HEAD"] == [
        ["2023", "03"],
        ["2023", "02"],
        ["2023", "01"],
        ["2022", "12"],
    ]
    assert proc.stdout.splitlines()[0].startswith("psd_coffee_csv 2022-12 landed psd/")


def test_no_release_in_the_probe_window_fails_clearly(two_releases, materia_env, cli):
    env = env_for(materia_env, two_releases)
    proc = cli("extract", "psd", "--dataset", COFFEE, "--as-of", "2022-11-15", env=env)
    one_error_line(proc, "no release of psd_coffee_csv.zip", "2022-08..2022-11")
    assert landed(home_of(env)) == {}


def test_revised_release_in_the_same_month_lands_beside_the_old(psd_server, materia_env, cli):
    rows = pf.sample_rows("2022-06")
    pf.archive_layout(psd_server.root, {"2022-06": rows})
    env = env_for(materia_env, psd_server, PSD_DATASETS=COFFEE)
    assert cli("extract", "psd", "--as-of", "2022-06-30", env=env).returncode == 0
    pf.archive_layout(psd_server.root, {"2022-06": pf.revise(rows, "2022-06", {rows[0].key: 1.0})})
    proc = cli("extract", "psd", "--as-of", "2022-06-30", env=env)
    assert proc.returncode == 0, proc.stderr
    keys = list(landed(home_of(env)))
    assert len(keys) == 2 and all(k.startswith("psd/psd_coffee_csv/2022/06/") for k in keys)


def test_several_datasets_from_the_environment(psd_server, materia_env, cli):
    rows = pf.sample_rows("2022-11")
    pf.archive_layout(psd_server.root, {"2022-11": rows}, COFFEE)
    pf.archive_layout(psd_server.root, {"2022-11": rows}, "psd_cotton_csv.zip")
    env = env_for(materia_env, psd_server, PSD_DATASETS="psd_coffee_csv.zip, psd_cotton_csv.zip")
    proc = cli("extract", "psd", "--as-of", "2022-11-30", env=env)
    assert proc.returncode == 0, proc.stderr
    assert sorted(k.split("/")[1] for k in landed(home_of(env))) == [
        "psd_coffee_csv",
        "psd_cotton_csv",
    ]
    assert len(proc.stdout.splitlines()) == 2


def test_file_base_url(tmp_path, materia_env, cli):
    mirror = tmp_path / "mirror"
    rows = pf.sample_rows("2022-06")
    pf.archive_layout(mirror, {"2022-06": rows, "2022-12": pf.revise(rows, "2022-12")})
    env = {**materia_env, "PSD_BASE_URL": mirror.as_uri()}
    first = cli("extract", "psd", "--dataset", COFFEE, "--backfill-from", "2022-05", env=env)
    assert first.returncode == 0, first.stderr
    objects = landed(home_of(env))
    assert sorted(k.split("/")[3] for k in objects) == ["06", "12"]
    assert (mirror / "archives/2022/12" / COFFEE).read_bytes() in objects.values()
    second = cli("extract", "psd", "--dataset", COFFEE, "--backfill-from", "2022-05", env=env)
    assert second.returncode == 0 and second.stdout.count("unchanged") == 2
    assert landed(home_of(env)) == objects


# --- faults ----------------------------------------------------------------------------------
def test_5xx_is_retried(two_releases, materia_env, cli):
    env = env_for(materia_env, two_releases, PSD_DATASETS=COFFEE)
    two_releases.fail_next(2)
    proc = cli("extract", "psd", "--as-of", "2022-12-31", env=env)
    assert proc.returncode == 0, proc.stderr
    assert two_releases.count(status=500) == 2
    assert len(landed(home_of(env))) == 1


def test_persistent_5xx_fails_with_one_line(two_releases, materia_env, cli):
    env = env_for(materia_env, two_releases, PSD_DATASETS=COFFEE)
    two_releases.fail_next(1000)
    proc = cli("extract", "psd", "--as-of", "2022-12-31", env=env)
    one_error_line(proc, two_releases.url("2022-12", COFFEE), "HTTP 500")
    assert landed(home_of(env)) == {}


def test_truncated_body_is_retried(two_releases, materia_env, cli):
    env = env_for(materia_env, two_releases, PSD_DATASETS=COFFEE)
    two_releases.inject("truncate", times=1)
    proc = cli("extract", "psd", "--as-of", "2022-12-31", env=env)
    assert proc.returncode == 0, proc.stderr
    (data,) = landed(home_of(env)).values()
    assert data == (two_releases.root / "archives/2022/12" / COFFEE).read_bytes()


def test_persistently_truncated_body_lands_nothing(two_releases, materia_env, cli):
    env = env_for(materia_env, two_releases, PSD_DATASETS=COFFEE)
    two_releases.inject("truncate")
    proc = cli("extract", "psd", "--as-of", "2022-12-31", env=env)
    one_error_line(proc, two_releases.url("2022-12", COFFEE), "short body")
    assert landed(home_of(env)) == {}
    assert list((home_of(env) / "tmp").iterdir()) == []  # temp file removed too


@pytest.mark.parametrize(
    ("fault", "message"),
    [("corrupt", "CRC check failed"), ("wrong_header", "line 1: not the PSD header")],
)
def test_bad_archive_lands_nothing(two_releases, materia_env, cli, fault, message):
    env = env_for(materia_env, two_releases, PSD_DATASETS=COFFEE)
    two_releases.inject(fault)
    proc = cli("extract", "psd", "--as-of", "2022-12-31", env=env)
    one_error_line(proc, two_releases.url("2022-12", COFFEE), message, "nothing landed")
    assert proc.stdout == ""
    assert landed(home_of(env)) == {}
    assert list((home_of(env) / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: pf.two_member_zip(p, pf.sample_rows()), "exactly one CSV member"),
        (lambda p: p.write_bytes(b"<html>maintenance</html>"), "not a readable zip"),
    ],
    ids=["two-members", "not-a-zip"],
)
def test_unexpected_archive_contents(psd_server, materia_env, cli, write, message):
    target = psd_server.root / "archives/2022/12" / COFFEE
    target.parent.mkdir(parents=True)
    write(target)
    env = env_for(materia_env, psd_server, PSD_DATASETS=COFFEE)
    proc = cli("extract", "psd", "--as-of", "2022-12-31", env=env)
    one_error_line(proc, psd_server.url("2022-12", COFFEE), message)
    assert landed(home_of(env)) == {}


def _lines_with(field: int, text: str) -> list[str]:
    """The 2022-12 sample release with one field of its 6th row (line 7) replaced."""
    lines = [r.line() for r in pf.sample_rows("2022-12")]
    parts = lines[5].split(",")
    parts[field] = text
    lines[5] = ",".join(parts)
    return lines


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "line 2: header but no data rows"),
        (["garbage row"], "line 2: expected 12 fields, found 1"),
        (_lines_with(-1, "n/a"), "line 7: Value must be a number with 4 decimals"),
        (_lines_with(-8, "9999"), "line 7: Market_Year 9999 outside 1960..2025"),
        (_lines_with(-8, "0"), "line 7: Market_Year must be 4 digits"),
        (_lines_with(0, ""), "line 7: Commodity_Code must be 7 digits"),
        (_lines_with(0, "711100"), "line 7: Commodity_Code must be 7 digits, got '711100'"),
        (_lines_with(-5, "28"), "line 7: Attribute_ID must be 3 digits, got '28'"),
        (_lines_with(0, '"0711100 "'), "line 7: Commodity_Code must be 7 digits"),
        (_lines_with(-1, "9" * 401 + ".0000"), "line 7: Value must be a number with 4 decimals"),
    ],
    ids=[
        "header-only",
        "garbage",
        "value",
        "year-9999",
        "year-0",
        "empty-code",
        "unpadded-commodity",
        "unpadded-attribute",
        "code-with-a-space",
        "401-digits",
    ],
)
def test_the_extractor_refuses_archives_the_transform_could_not_load(
    psd_server, materia_env, cli, lines, message
):
    target = psd_server.root / "archives/2022/12" / COFFEE
    pf.write_lines(target, lines, "psd_coffee.csv")
    env = env_for(materia_env, psd_server, PSD_DATASETS=COFFEE)
    proc = cli("extract", "psd", "--as-of", "2022-12-31", env=env)
    one_error_line(proc, psd_server.url("2022-12", COFFEE), message, "nothing landed")
    assert landed(home_of(env)) == {}


def test_a_landed_archive_has_the_record_of_its_check(two_releases, materia_env, cli):
    from materia.sources import psd_archive

    env = env_for(materia_env, two_releases, PSD_DATASETS=COFFEE)
    assert cli("extract", "psd", "--as-of", "2022-12-31", env=env).returncode == 0
    (key,) = landed(home_of(env))
    record = home_of(env) / "landing" / psd_archive.record_key(key)
    assert psd_archive.recorded_rows(record.read_bytes()) == len(pf.sample_rows("2022-12"))


def test_a_quarantined_release_is_never_landed_again(two_releases, materia_env, cli):
    env = env_for(materia_env, two_releases, PSD_DATASETS=COFFEE)
    assert cli("extract", "psd", "--as-of", "2022-12-31", env=env).returncode == 0
    (key,) = landed(home_of(env))
    assert cli("landing", "quarantine", key, env=env).returncode == 0
    gets = two_releases.body_bytes("GET")
    proc = cli("extract", "psd", "--as-of", "2022-12-31", env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"quarantined {key}: not landed again" in proc.stdout
    assert set(landed(home_of(env))) == {f"quarantine/{key}", f"quarantine/{key}.reason.json"}
    assert two_releases.body_bytes("GET") == gets  # known by its ETag: not even downloaded


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--as-of", "2022-13-01"), "--as-of must be YYYY-MM-DD"),
        (("--backfill-from", "2022-1"), "--backfill-from must be YYYY-MM"),
        (("--backfill-from", "2023-01", "--as-of", "2022-12-31"), "after the as-of month"),
        (("--dataset", "../etc/passwd"), "dataset must be a PSD file name"),
        # A file PSD Online may publish but nobody registered: refused before any request.
        (
            ("--dataset", "psd_tobacco_csv.zip"),
            "psd_tobacco_csv.zip is not a registered PSD dataset",
        ),  # fmt: skip
    ],
)
def test_bad_arguments_are_one_line(psd_server, materia_env, cli, args, message):
    proc = cli("extract", "psd", *args, env=env_for(materia_env, psd_server))
    one_error_line(proc, message)
    assert psd_server.count() == 0


@pytest.mark.parametrize("mode", ["local", pytest.param("r2", marks=pytest.mark.s3)])
def test_kill_9_mid_download_leaves_no_landed_object(
    psd_server, materia_env, tmp_path, request, mode
):
    # ~120 kB of zip dribbled at 1 kB per 50 ms: the download takes several seconds.
    path = psd_server.root / "archives/2022/12" / COFFEE
    pf.write_release(path, pf.large_rows(10_000))
    psd_server.inject("slow", chunk=1024, delay=0.05, times=1)
    env = env_for(materia_env, psd_server, PSD_DATASETS=COFFEE)
    objects = lambda: landed(home_of(env))  # noqa: E731
    if mode == "r2":
        seaweed = request.getfixturevalue("seaweed")
        fs, bucket = seaweed.s3fs(), f"kill-{uuid.uuid4().hex[:12]}"
        fs.mkdir(bucket)
        env.update({**seaweed.r2_env(), "R2_BUCKET": bucket})
        objects = lambda: {  # noqa: E731
            p: fs.cat(p) for p in fs.find(bucket, refresh=True) if "/checked/" not in p
        }
    cmd = cli_command("extract", "psd", "--as-of", "2022-12-31")
    proc = subprocess.Popen(
        cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert psd_server.wait_for(lambda s: s.body_bytes("GET") >= 8 * 1024, timeout=120)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert psd_server.body_bytes("GET") < path.stat().st_size  # really was mid-download
    assert objects() == {}
    assert landed(home_of(env)) == {}
    leftovers = list((home_of(env) / "tmp").glob("materia-*"))
    assert len(leftovers) == 1  # the partial temp file, outside the landing area

    # The next run completes; a stale leftover (over an hour old) is cleaned at start.
    old = time.time() - 2 * 3600
    os.utime(leftovers[0], (old, old))
    done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (data,) = objects().values()
    assert data == path.read_bytes()
    assert not leftovers[0].exists()


def test_progress_bar_only_on_a_terminal(psd_server, materia_env, tmp_path):
    import pty

    pf.write_release(psd_server.root / "archives/2022/12" / COFFEE, pf.large_rows(5_000))
    env = env_for(materia_env, psd_server, PSD_DATASETS=COFFEE, TERM="xterm", COLUMNS="100")
    cmd = cli_command("extract", "psd", "--as-of", "2022-12-31")
    main, sub = pty.openpty()
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=sub, stderr=subprocess.PIPE)
    os.close(sub)
    out = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # EIO once the child has closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    text = out.decode()
    assert "\u2501" in text and "kB" in text  # rich's bar and its byte counter
    assert "psd_coffee_csv 2022-12 landed psd/psd_coffee_csv/2022/12/" in text


@pytest.mark.s3
def test_r2_wrong_credentials_fail_in_one_line_without_the_secret(
    two_releases, seaweed, materia_env, cli
):
    wrong = "wrong-secret-value-123"
    env = env_for(materia_env, two_releases, PSD_DATASETS=COFFEE, **seaweed.r2_env())
    env["R2_SECRET_KEY"] = wrong
    proc = cli("extract", "psd", "--as-of", "2022-12-31", env=env)
    line = one_error_line(proc, f"s3://{seaweed.bucket}/psd/psd_coffee_csv/2022/12/")
    assert wrong not in proc.stdout + proc.stderr and "Traceback" not in line
    assert not seaweed.s3fs().exists(f"{seaweed.bucket}/psd/psd_coffee_csv")
