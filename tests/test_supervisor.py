"""materia.supervisor: what is due, once per day, one catch-up, the lock, the report."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import fsspec
import pytest

from materia import settings as settings_mod
from materia import supervisor
from materia.errors import MateriaError
from materia.storage import LandingStore
from testsupport import clean_env, psd_fixtures, run_cli


@pytest.fixture
def settings(tmp_path: Path):
    return settings_mod.load(
        environ={"MATERIA_HOME": str(tmp_path / "home")}, dotenv=tmp_path / "none"
    )


class Runner:
    """Records the jobs it is asked to run; exit codes per job can be set."""

    def __init__(self, codes: dict[str, int] | None = None) -> None:
        self.codes = codes or {}
        self.calls: list[str] = []

    def __call__(self, job: str) -> int:
        self.calls.append(job)
        if self.codes.get(job) == -1:
            raise RuntimeError(f"{job} blew up")
        return self.codes.get(job, 0)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def run_tick(settings, when: str, runner: Runner) -> list[dict]:
    return supervisor.tick(settings, now=at(when), runner=runner, schedule=supervisor.Schedule())


def test_nothing_before_the_first_slot_of_a_fresh_day(settings) -> None:
    runner = Runner()
    run_tick(settings, "2026-11-26T01:00", runner)  # first ever tick: yesterday's slots
    assert runner.calls == ["extract", "transform", "report"]
    runner.calls.clear()
    assert run_tick(settings, "2026-11-26T01:59", runner) == []
    assert runner.calls == []


def test_each_job_once_per_scheduled_day(settings) -> None:
    runner = Runner()
    run_tick(settings, "2026-11-25T23:00", runner)  # settle the previous day
    runner.calls.clear()
    run_tick(settings, "2026-11-26T02:00", runner)
    run_tick(settings, "2026-11-26T02:15", runner)
    assert runner.calls == ["extract"]
    run_tick(settings, "2026-11-26T03:00", runner)
    run_tick(settings, "2026-11-26T03:15", runner)
    run_tick(settings, "2026-11-26T23:59", runner)
    assert runner.calls == ["extract", "transform", "report"]
    run_tick(settings, "2026-11-27T02:01", runner)
    assert runner.calls[-1] == "extract" and len(runner.calls) == 4


def test_one_catch_up_after_downtime(settings) -> None:
    runner = Runner()
    run_tick(settings, "2026-11-20T04:00", runner)
    runner.calls.clear()
    # Down for five days; the first tick back runs each job once, for the latest slot.
    records = run_tick(settings, "2026-11-25T12:00", runner)
    assert runner.calls == ["extract", "transform", "report"]
    assert {r["slot"] for r in records} == {"2026-11-25"}
    run_tick(settings, "2026-11-25T12:15", runner)
    assert len(runner.calls) == 3


def test_catch_up_before_todays_slot_uses_yesterdays(settings) -> None:
    runner = Runner()
    run_tick(settings, "2026-11-20T04:00", runner)
    runner.calls.clear()
    records = run_tick(settings, "2026-11-25T02:30", runner)
    slots = {r["pipeline"]: r["slot"] for r in records}
    assert slots == {"extract": "2026-11-25", "transform": "2026-11-24", "report": "2026-11-24"}


def test_report_only_after_a_successful_transform(settings) -> None:
    runner = Runner({"transform": 1})
    records = run_tick(settings, "2026-11-26T03:05", runner)
    assert runner.calls == ["extract", "transform"]
    assert [r["status"] for r in records] == ["ok", "failed"]
    # The failed transform is not retried the same day, and no report follows it.
    run_tick(settings, "2026-11-26T04:00", runner)
    assert runner.calls == ["extract", "transform"]
    runner.codes = {}
    run_tick(settings, "2026-11-27T03:01", runner)
    assert runner.calls[2:] == ["extract", "transform", "report"]


def test_report_left_over_by_a_crash_runs_next_tick(settings) -> None:
    runner = Runner()
    run_tick(settings, "2026-11-26T03:05", runner)
    state_path = settings.home / "supervisor" / "state.json"
    state = json.loads(state_path.read_text())
    del state["report"]  # as if the tick died between transform and report
    state_path.write_text(json.dumps(state))
    runner.calls.clear()
    run_tick(settings, "2026-11-26T03:20", runner)
    assert runner.calls == ["report"]


def test_a_crashing_job_is_recorded_and_the_tick_goes_on(settings) -> None:
    runner = Runner({"extract": -1})
    records = run_tick(settings, "2026-11-26T03:05", runner)
    assert [r["pipeline"] for r in records] == ["extract", "transform", "report"]
    assert records[0]["status"] == "failed"
    assert "RuntimeError: extract blew up" in records[0]["error"]


def test_outcomes_land_in_the_run_log(settings) -> None:
    run_tick(settings, "2026-11-26T03:05", Runner({"report": 2}))
    rows = [
        r
        for r in LandingStore.from_settings(settings).read_jsonl("runs/runs.jsonl")
        if r.get("source") == "supervisor"
    ]
    assert [(r["pipeline"], r["status"], r["exit_code"]) for r in rows] == [
        ("extract", "ok", 0),
        ("transform", "ok", 0),
        ("report", "failed", 2),
    ]
    assert all(r["slot"] == "2026-11-26" and r["provider"] == "local" for r in rows)


def test_overlapping_tick_is_refused(settings) -> None:
    lock_path = settings.home / "supervisor" / "tick.lock"
    seen: list[str] = []

    def nested(job: str) -> int:
        # A second tick while the first one runs must refuse and run nothing.
        with pytest.raises(MateriaError, match="holds the lock"):
            run_tick(settings, "2026-11-26T03:05", Runner())
        seen.append(job)
        return 0

    supervisor.tick(settings, now=at("2026-11-26T03:05"), runner=nested)
    assert seen == ["extract", "transform", "report"]
    assert not lock_path.exists()


def test_stale_lock_is_taken_over(settings) -> None:
    lock_path = settings.home / "supervisor" / "tick.lock"
    lock_path.parent.mkdir(parents=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    import socket

    lock_path.write_text(
        json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(), "expires": 4e9})
    )
    runner = Runner()
    run_tick(settings, "2026-11-26T02:05", runner)
    assert runner.calls[0] == "extract"
    # An expired lock from another host is taken over too.
    lock_path.write_text(json.dumps({"pid": 1, "host": "elsewhere", "expires": 1.0}))
    before = len(runner.calls)
    run_tick(settings, "2026-11-27T02:05", runner)
    assert runner.calls[before] == "extract"


def test_live_lock_from_this_host_is_respected(settings) -> None:
    lock = supervisor.TickLock(settings.home / "supervisor" / "tick.lock")
    with lock, pytest.raises(MateriaError, match="another supervisor tick"):
        supervisor.TickLock(lock.path).acquire()
    assert not lock.path.exists()


def test_schedule_from_env() -> None:
    s = supervisor.Schedule.from_env({"MATERIA_EXTRACT_AT": "05:30"})
    assert s.timed_jobs() == {
        "extract": datetime(1, 1, 1, 5, 30).time(),
        "transform": datetime(1, 1, 1, 3, 0).time(),
    }
    with pytest.raises(MateriaError, match="MATERIA_TRANSFORM_AT"):
        supervisor.Schedule.from_env({"MATERIA_TRANSFORM_AT": "3am"})


def test_parse_now() -> None:
    assert supervisor.parse_now("2026-11-26T02:05:00Z") == at("2026-11-26T02:05")
    assert supervisor.parse_now("2026-11-26T03:05:00+01:00") == at("2026-11-26T02:05")
    with pytest.raises(MateriaError, match="--now"):
        supervisor.parse_now("yesterday")


def test_corrupt_state_is_one_clear_error(settings) -> None:
    path = settings.home / "supervisor" / "state.json"
    path.parent.mkdir(parents=True)
    path.write_text("{nope")
    with pytest.raises(MateriaError, match="state.json"):
        run_tick(settings, "2026-11-26T02:05", Runner())


def cli(home: Path, *args: str, **extra: str):
    return run_cli("supervisor", "tick", *args, env=clean_env(home, **extra), cwd=home.parent)


def test_cli_dry_run_and_bad_now(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = cli(home, "--dry-run", "--now", "2026-11-26T02:30:00Z")
    assert proc.returncode == 0, proc.stderr
    assert "extract (2026-11-26), transform (2026-11-25)" in proc.stdout
    proc = cli(home, "--now", "soon")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("error: --now must be ISO-8601")


def test_cli_tick_really_runs_extract(tmp_path: Path, psd_server) -> None:
    """A real tick through the CLI: extract is due and lands a release from the loopback
    PSD server; transform and report already ran for their slots (state seeded) so the
    test stays small."""
    rows = psd_fixtures.sample_rows("2022-06")
    today = datetime.now(UTC)
    psd_fixtures.write_release(psd_server.root / "psd_coffee_csv.zip", rows)
    psd_fixtures.archive_layout(
        psd_server.root, {today.strftime("%Y-%m"): rows}, "psd_coffee_csv.zip"
    )
    home = tmp_path / "home"
    state = {
        job: {"slot": "2026-11-26", "ok_slot": "2026-11-26"} for job in ("transform", "report")
    }
    supervisor.write_state(home / "supervisor" / "state.json", state)
    env = {"PSD_BASE_URL": psd_server.base_url, "PSD_DATASETS": "psd_coffee_csv.zip"}

    proc = cli(home, "--now", "2026-11-26T03:30:00Z", **env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "supervisor: extract 2026-11-26 ok (exit 0)" in proc.stdout
    state = json.loads((home / "supervisor" / "state.json").read_text())
    assert state["extract"]["ok_slot"] == "2026-11-26"
    store = LandingStore(str(home / "landing"), fsspec.filesystem("file"), home / "tmp")
    assert any(k.startswith("psd/psd_coffee_csv/") for k in store.list("psd"))
    rows = [r for r in store.read_jsonl("runs/runs.jsonl") if r.get("source") == "supervisor"]
    assert [(r["pipeline"], r["status"]) for r in rows] == [("extract", "ok")]
    assert not (home / "supervisor" / "tick.lock").exists()

    again = cli(home, "--now", "2026-11-26T03:45:00Z", **env)
    assert again.returncode == 0
    assert "nothing due" in again.stdout, again.stdout + again.stderr
