"""The run log survives damage: concurrent appends keep every record (a local file under
`flock`, one object per record on R2), a torn or broken line is skipped and reported,
and no command that reads the log fails because of one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from materia.core import jsonlog, runlog
from materia.core import settings as settings_mod
from materia.core.storage import LandingStore
from testsupport import clean_env, run_cli

APPENDER = """
import sys
from materia.core import runlog
from materia.core import settings
s = settings.load()
for i in range(int(sys.argv[2])):
    runlog.append(s, {"source": "test", "run_id": f"{sys.argv[1]}-{i}", "pipeline": "extract"})
"""


def append_concurrently(env: dict[str, str], writers: int = 2, each: int = 100) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", APPENDER, f"w{n}", str(each)], env=env)
        for n in range(writers)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0] * writers


def test_two_processes_appending_keep_every_record(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "home")
    append_concurrently(env)
    s = settings_mod.load(environ=env, dotenv=tmp_path / "none")
    found = runlog.read_checked(s)
    assert found.problems == []
    assert sorted(r["run_id"] for r in found.records) == sorted(
        f"w{n}-{i}" for n in range(2) for i in range(100)
    )


@pytest.mark.s3
def test_two_processes_appending_on_r2_keep_every_record(tmp_path: Path, seaweed) -> None:
    import uuid

    bucket = f"log-{uuid.uuid4().hex[:10]}"
    seaweed.s3fs().mkdir(bucket)
    env = clean_env(tmp_path / "home", **{**seaweed.r2_env(), "R2_BUCKET": bucket})
    append_concurrently(env, each=60)
    s = settings_mod.load(environ=env, dotenv=tmp_path / "none")
    found = runlog.read_checked(s)
    assert len(found.records) == 120 and found.problems == []
    # One object per record: nobody rewrites anybody else's records.
    assert len(seaweed.s3fs().find(f"{bucket}/runs/runs/")) == 120
    # A broken object is skipped and named; the others are all read.
    seaweed.s3fs().pipe(f"{bucket}/runs/runs/20261203T000000000000-broken.json", b"{half")
    again = runlog.read_checked(s)
    assert len(again.records) == 120
    assert again.problems == [
        "runs/runs/20261203T000000000000-broken.json line 1: not a JSON object, skipped"
    ]


def test_a_torn_line_never_glues_onto_the_next_record(tmp_path: Path) -> None:
    store = LandingStore(
        str(tmp_path / "landing"), __import__("fsspec").filesystem("file"), tmp_path
    )
    jsonlog.append(store, "runs/runs", {"run_id": "a"})
    path = tmp_path / "landing" / "runs" / "runs.jsonl"
    with open(path, "ab") as f:
        f.write(b'{"run_id": "killed mid-wri')  # a writer killed in the middle of a line
    jsonlog.append(store, "runs/runs", {"run_id": "b"})
    found = jsonlog.read(store, "runs/runs")
    assert [r["run_id"] for r in found.records] == ["a", "b"]
    assert found.problems == ["runs/runs.jsonl line 2: not a JSON object, skipped"]


@pytest.fixture
def damaged_home(tmp_path: Path) -> Path:
    """A home whose run log has one good record and one broken line."""
    home = tmp_path / "home"
    s = settings_mod.load(environ=clean_env(home), dotenv=tmp_path / "none")
    runlog.append(
        s, {"source": "in-process", "run_id": "ok-1", "pipeline": "extract", "status": "ok"}
    )
    path = home / "landing" / "runs" / "runs.jsonl"
    path.write_text(path.read_text() + "{not json\n")
    return home


@pytest.mark.parametrize(
    "args",
    [("runs",), ("worker", "reap"), ("supervisor", "tick", "--dry-run")],
    ids=lambda a: " ".join(a),
)
def test_commands_skip_a_broken_line_and_say_so(damaged_home: Path, args) -> None:
    proc = run_cli(*args, env=clean_env(damaged_home))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "JSONDecodeError" not in proc.stdout + proc.stderr
    if args[0] in ("runs", "worker"):
        assert "run log: runs/runs.jsonl line 2: not a JSON object, skipped" in proc.stderr
    if args == ("runs",):
        assert "ok-1" in proc.stdout


def test_a_tick_alerts_a_damaged_log_once_and_goes_on(damaged_home: Path) -> None:
    from datetime import UTC, datetime

    from materia.ops import supervisor
    from testsupport.ops.alert_receiver import AlertReceiver

    with AlertReceiver() as rx:
        env = clean_env(damaged_home, MATERIA_NOTIFY=rx.url)
        s = settings_mod.load(environ=env, dotenv=damaged_home / "none")
        calls: list[str] = []

        def job(name: str, _settings=None) -> int:
            calls.append(name)
            return 0

        now = datetime(2026, 11, 26, 3, 5, tzinfo=UTC)
        _, notes = supervisor.tick(s, now=now, runner=job)
        [alert] = rx.wait_for(1)
        supervisor.tick(s, now=now.replace(minute=20), runner=job)
    assert calls == ["extract", "transform", "report"]  # the jobs ran
    assert alert["title"] == "materia: run log damaged"
    assert alert["message"] == "run log: runs/runs.jsonl line 2: not a JSON object, skipped"
    assert "run log: runs/runs.jsonl line 2: not a JSON object, skipped" in notes
    assert len(rx.alerts) == 1  # not again at the next tick


def test_pipeline_on_a_local_worker_with_a_damaged_log(damaged_home: Path, psd_server) -> None:
    from testsupport.psd.fixtures import archive_layout, sample_rows

    archive_layout(psd_server.root, {"2022-06": sample_rows()})
    env = clean_env(
        damaged_home,
        PSD_BASE_URL=psd_server.base_url,
        PSD_DATASETS="psd_coffee_csv.zip",
        PSD_AS_OF="2022-06-30",
    )
    proc = run_cli("pipeline", "run", "extract", "--on", "local", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = json.loads(
        "["
        + ",".join(
            x
            for x in (damaged_home / "landing" / "runs" / "runs.jsonl").read_text().splitlines()
            if x.startswith('{"')
        )
        + "]"
    )
    assert [r["status"] for r in runlog.merged(log) if r.get("source") == "worker"] == ["ok"]
