"""materia.ops.supervisor: what is due, once per day, one catch-up, the lock, the report;
retries, clock jumps, attempts recorded before and after, alerts, reaping dead runs."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fsspec
import pytest

from materia.core import runlog
from materia.core import settings as settings_mod
from materia.core.errors import MateriaError
from materia.core.storage import LandingStore
from materia.ops import schedule, supervisor
from testsupport import clean_env, run_cli
from testsupport.ops.locks import held_elsewhere
from testsupport.psd import fixtures as psd_fixtures


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

    def __call__(self, job: str, settings=None) -> int:
        self.calls.append(job)
        if self.codes.get(job) == -1:
            raise RuntimeError(f"{job} blew up")
        return self.codes.get(job, 0)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def run_tick(settings, when: str, runner: Runner) -> list[dict]:
    records, _ = supervisor.tick(
        settings, now=at(when), runner=runner, schedule=schedule.Schedule()
    )
    return records


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
    # No report follows a failed transform; its retry that succeeds brings the report.
    run_tick(settings, "2026-11-26T03:20", runner)
    assert runner.calls == ["extract", "transform"]
    runner.codes = {}
    run_tick(settings, "2026-11-26T03:40", runner)
    assert runner.calls[2:] == ["transform", "report"]


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
    runner = Runner({"transform": -1})
    records = run_tick(settings, "2026-11-26T03:05", runner)
    assert [(r["pipeline"], r["status"]) for r in records] == [
        ("extract", "ok"),
        ("transform", "failed"),
    ]
    assert "RuntimeError: transform blew up" in records[1]["error"]
    # The record says when the next attempt is (`materia runs` shows it).
    retry = datetime.fromisoformat(records[1]["next_attempt"])
    assert retry - datetime.fromisoformat(records[1]["ended"]) == timedelta(minutes=30)


def test_transform_waits_for_the_days_extract_and_follows_its_retry(settings) -> None:
    run_tick(settings, "2026-11-25T23:00", Runner())  # settle the previous day
    runner = Runner({"extract": 1})
    assert [r["pipeline"] for r in run_tick(settings, "2026-11-26T03:05", runner)] == ["extract"]
    assert runner.calls == ["extract"]  # the release did not land: no transform on old data
    dry, notes = supervisor.tick(settings, now=at("2026-11-26T03:10"), dry_run=True)
    assert dry == [] and "waiting: transform (2026-11-26) after the day's extract" in notes
    runner.codes = {}  # the retry lands it: transform (and the report) follow at once
    records = run_tick(settings, "2026-11-26T03:40", runner)
    assert [(r["pipeline"], r["slot"]) for r in records] == [
        ("extract", "2026-11-26"),
        ("transform", "2026-11-26"),
        ("report", "2026-11-26"),
    ]


# --- retries, clock jumps, attempts recorded before and after -----------------------------
def state_of(settings) -> dict:
    return json.loads((settings.home / "supervisor" / "state.json").read_text())


def test_a_failed_job_is_retried_with_backoff_within_its_day(settings) -> None:
    run_tick(settings, "2026-11-25T23:00", Runner())  # settle the previous day
    runner = Runner({"extract": 1})
    # Attempt 1 at 02:05, 2 after 30 min, 3 after 2 h more, then no more that day.
    expected = {"02:05": 1, "02:20": 0, "02:34": 0, "02:36": 1, "04:00": 0, "04:37": 1, "12:00": 0}
    for when, runs in expected.items():
        before = runner.calls.count("extract")
        run_tick(settings, f"2026-11-26T{when}", runner)
        assert runner.calls.count("extract") - before == runs, when
    entry = state_of(settings)["extract"]
    assert (entry["slot"], entry["status"], entry["attempt"]) == ("2026-11-26", "failed", 3)
    assert schedule.MAX_ATTEMPTS == 3
    run_tick(settings, "2026-11-27T02:01", runner)  # a new day starts afresh
    assert state_of(settings)["extract"]["attempt"] == 1


def test_start_is_recorded_before_the_job_runs(settings) -> None:
    seen = []

    def job(name: str, settings_=None) -> int:
        seen.append(state_of(settings)[name])
        return 0

    supervisor.tick(settings, now=at("2026-11-26T02:05"), runner=job)
    first = seen[0]
    assert first["status"] == "started" and first["attempt"] == 1 and first["run_id"]
    assert state_of(settings)["extract"]["status"] == "ok"


def test_forward_clock_jump_does_not_freeze_the_schedule(settings) -> None:
    runner = Runner()
    run_tick(settings, "2030-01-01T04:00", runner)  # a clock far ahead writes 2030 slots
    assert state_of(settings)["extract"]["slot"] == "2030-01-01"
    runner.calls.clear()
    records, notes = supervisor.tick(settings, now=at("2026-11-26T04:00"), runner=runner)
    assert runner.calls == ["extract", "transform", "report"]
    assert {r["slot"] for r in records} == {"2026-11-26"}
    assert any("ignoring state of extract for slot 2030-01-01: later than now" in n for n in notes)
    # Reported once: the future entries are gone from the state.
    assert run_tick(settings, "2026-11-26T04:15", runner) == []
    tick_rows = [r for r in runlog.merged(runlog.read(settings)) if r["pipeline"] == "tick"]
    assert any("2030-01-01" in n for r in tick_rows for n in r["notes"])


def test_backward_clock_jump_keeps_the_schedule_running(settings) -> None:
    runner = Runner()
    run_tick(settings, "2026-11-26T03:30", runner)
    runner.calls.clear()
    # The clock is set back a day: today's slots are "in the future" and are ignored.
    records, notes = supervisor.tick(settings, now=at("2026-11-25T03:30"), runner=runner)
    assert runner.calls == ["extract", "transform", "report"]
    assert {r["slot"] for r in records} == {"2026-11-25"} and notes
    runner.calls.clear()
    run_tick(settings, "2026-11-25T12:00", runner)
    assert runner.calls == []
    run_tick(settings, "2026-11-26T03:05", runner)  # and time moves on as usual
    assert runner.calls == ["extract", "transform", "report"]


def test_an_attempt_left_started_takes_its_end_from_the_run_log(settings) -> None:
    """The tick that ran transform could not record its end (the run log could)."""
    run_tick(settings, "2026-11-26T03:05", Runner())
    state = state_of(settings)
    state["transform"]["status"] = "started"
    del state["report"]
    schedule.write_state(settings.home / "supervisor" / "state.json", state)
    runner = Runner()
    records, notes = supervisor.tick(settings, now=at("2026-11-26T03:20"), runner=runner)
    assert runner.calls == ["report"]  # transform is not run again
    assert any("end taken from the run log (ok)" in n for n in notes)


def test_an_attempt_whose_tick_died_counts_as_failed(settings) -> None:
    run_tick(settings, "2026-11-26T02:05", Runner())
    state = state_of(settings)
    state["extract"] |= {"status": "started", "run_id": "never-logged"}
    schedule.write_state(settings.home / "supervisor" / "state.json", state)
    runner = Runner()
    records, notes = supervisor.tick(settings, now=at("2026-11-26T02:20"), runner=runner)
    assert runner.calls == [] and any("did not finish" in n for n in notes)
    assert state_of(settings)["extract"]["status"] == "failed"
    died = [r for r in runlog.merged(runlog.read(settings)) if r.get("run_id") == "never-logged"]
    assert [(r["status"], r["exit_code"]) for r in died] == [("failed", None)]
    run_tick(settings, "2026-11-26T03:00", runner)  # retried after the backoff
    assert runner.calls[0] == "extract"


FULL_DISK_TICK = """
import json, resource, signal, sys
from datetime import UTC, datetime
from pathlib import Path
from materia.core import settings
from materia.ops import supervisor
from materia.core.errors import MateriaError

s = settings.load(environ={"MATERIA_HOME": sys.argv[1]}, dotenv=Path(sys.argv[1]) / "none")
landed = Path(sys.argv[1]) / "landed.txt"
calls = []
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes fail with EFBIG instead

def job(name, settings_=None):
    calls.append(name)
    landed.write_text("the job's work")
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))  # disk full
    return 0

out = []
for when in sys.argv[2:]:
    if when == "free":
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
        continue
    now = datetime.fromisoformat(when).replace(tzinfo=UTC)
    try:
        supervisor.tick(s, now=now, runner=job)
        out.append("ok")
    except MateriaError as e:
        out.append(str(e))
print(json.dumps({"calls": calls, "ticks": out}))
"""


def test_full_disk_after_a_job_never_reruns_it(settings) -> None:
    # Only extract is due; the disk fills up while it runs (a real write limit).
    run_tick(settings, "2026-11-25T23:00", Runner())
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            FULL_DISK_TICK,
            str(settings.home),
            "2026-11-26T02:05",
            "2026-11-26T02:20",
            "free",
            "2026-11-26T02:25",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    first, second, third = result["ticks"]
    assert first.startswith("cannot record the end of extract (ok) in ")
    assert "File too large" in first
    assert second.startswith("cannot ")  # still full: the tick fails loudly, runs nothing
    assert third == "ok"  # disk freed: the unknown attempt is settled, not re-run yet
    assert result["calls"] == ["extract"]
    assert state_of(settings)["extract"]["status"] == "failed"


def test_outcomes_land_in_the_run_log(settings) -> None:
    run_tick(settings, "2026-11-26T03:05", Runner({"report": 2}))
    rows = [r for r in runlog.merged(runlog.read(settings)) if r.get("source") == "supervisor"]
    assert [(r["pipeline"], r["status"], r["exit_code"]) for r in rows] == [
        ("extract", "ok", 0),
        ("transform", "ok", 0),
        ("report", "failed", 2),
    ]
    assert all(r["slot"] == "2026-11-26" and r["provider"] == "local" for r in rows)


def test_overlapping_tick_is_refused(settings) -> None:
    lock_path = settings.home / "supervisor" / "tick.lock"
    seen: list[str] = []

    def nested(job: str, settings_=None) -> int:
        # A second tick while the first one runs must refuse and run nothing.
        with pytest.raises(MateriaError, match="a supervisor tick is already running"):
            run_tick(settings, "2026-11-26T03:05", Runner())
        seen.append(job)
        return 0

    supervisor.tick(settings, now=at("2026-11-26T03:05"), runner=nested)
    assert seen == ["extract", "transform", "report"]
    assert lock_path.read_bytes() == b""  # released: no holder recorded


def test_stale_lock_is_taken_over(settings, caplog) -> None:
    """A lock file left by a tick that died holds a real holder record (what `locks`
    writes and parses): it is taken over at once, and the takeover names that holder."""
    import socket
    from datetime import timedelta as td

    from materia.core import locks

    lock_path = settings.home / "supervisor" / "tick.lock"
    lock_path.parent.mkdir(parents=True)
    dead = _dead_pid()
    started = datetime.now(UTC)

    def holder(host: str, pid: int, expires: datetime) -> bytes:
        record = locks.Holder(
            host,
            pid,
            started.isoformat(timespec="seconds"),
            expires.isoformat(timespec="seconds"),
            "0123abcd",
        )
        data = record.to_bytes()
        assert locks.Holder.from_bytes(data) == record  # a record the code parses
        return data

    lock_path.write_bytes(holder(socket.gethostname(), dead, started + td(hours=6)))
    runner = Runner()
    with caplog.at_level("WARNING", logger="materia.ops.supervisor"):
        run_tick(settings, "2026-11-26T02:05", runner)
    assert runner.calls[0] == "extract"
    assert f"taking over from {socket.gethostname()} pid {dead} since" in caplog.text
    # An expired lock from another host is taken over too.
    lock_path.write_bytes(holder("elsewhere", 1, started - td(minutes=1)))
    before = len(runner.calls)
    with caplog.at_level("WARNING", logger="materia.ops.supervisor"):
        run_tick(settings, "2026-11-27T02:05", runner)
    assert runner.calls[before] == "extract"
    assert "taking over from elsewhere pid 1 since" in caplog.text


def test_live_lock_from_this_host_is_respected(settings) -> None:
    with held_elsewhere(settings.home / "supervisor" / "tick.lock"):
        assert supervisor.main(settings) == 0  # busy is not a failure: nothing ran
        assert not (settings.home / "supervisor" / "state.json").exists()


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


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda st: "{nope", "not JSON"),
        (lambda st: json.dumps({**st, "extract": {**st["extract"], "attempt": "x"}}), "'x'"),
        (lambda st: json.dumps({**st, "transform": {**st["transform"], "slot": 7}}), "slot 7"),
    ],
    ids=["not-json", "attempt-x", "slot-7"],
)
def test_a_damaged_state_is_repaired_from_the_run_log_and_alerted(tmp_path, damage, problem):
    """A broken state never stops the supervisor: the file is kept aside, broken entries
    are rebuilt from the run log's job records (nothing runs twice), and it is alerted."""
    from testsupport.ops.alert_receiver import AlertReceiver

    with AlertReceiver() as rx:
        env = {"MATERIA_HOME": str(tmp_path / "home"), "MATERIA_NOTIFY": rx.url}
        s = settings_mod.load(environ=env, dotenv=tmp_path / "none")
        run_tick(s, "2026-11-26T03:05", Runner())  # every job of the day ran
        path = s.home / "supervisor" / "state.json"
        before = json.loads(path.read_text())
        path.write_text(damage(before))
        runner = Runner()
        records, notes = supervisor.tick(
            s, now=at("2026-11-26T03:20"), runner=runner, schedule=schedule.Schedule()
        )
        [alert] = rx.wait_for(1)
    assert runner.calls == [] and records == []  # nothing ran again
    assert alert["title"] == "materia: supervisor state repaired" and problem in alert["message"]
    assert any("was damaged" in n and problem in n for n in notes)
    repaired = json.loads(path.read_text())
    for job in ("extract", "transform", "report"):
        assert {k: repaired[job][k] for k in ("slot", "status", "attempt", "ok_slot")} == {
            k: before[job][k] for k in ("slot", "status", "attempt", "ok_slot")
        }
    assert [p.name for p in path.parent.glob("state.json.damaged-*")]
    assert supervisor.tick(s, now=at("2026-11-26T03:35"), runner=runner)[1] == []  # healed


def cli(home: Path, *args: str, **extra: str):
    return run_cli("supervisor", "tick", *args, env=clean_env(home, **extra), cwd=home.parent)


def cli_runs(home: Path, *args: str):
    return run_cli("runs", *args, env=clean_env(home), cwd=home.parent)


def test_cli_dry_run_and_bad_now(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = cli(home, "--dry-run", "--now", "2026-11-26T02:30:00Z")
    assert proc.returncode == 0, proc.stderr
    assert "due at 2026-11-26T02:30:00+00:00: extract (2026-11-26)\n" in proc.stdout
    assert "waiting: transform (2026-11-25) after the day's extract" in proc.stdout
    proc = cli(home, "--dry-run", "--now", "soon")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("error: --now must be ISO-8601")


def test_cli_now_only_with_dry_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = cli(home, "--now", "2030-01-01T04:00:00Z")
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "error: --now only goes with --dry-run: a real tick runs on the real clock "
        "(a slot written for a made-up time would stall the schedule)"
    )
    assert not (home / "supervisor" / "state.json").exists()


def test_cli_tick_really_runs_extract(tmp_path: Path, psd_server) -> None:
    """A real tick through the CLI on the real clock: extract is due and lands a release
    from the loopback PSD server; transform and report already ran for their slots
    (state seeded) so the test stays small."""
    rows = psd_fixtures.sample_rows("2022-06")
    now = datetime.now(UTC)
    psd_fixtures.archive_layout(psd_server.root, {now.strftime("%Y-%m"): rows})
    home = tmp_path / "home"
    slots = schedule.Schedule().latest_slots(now)
    state = {
        job: {"slot": str(slots[job]), "ok_slot": str(slots[job]), "status": "ok"}
        for job in ("transform", "report")
    }
    schedule.write_state(home / "supervisor" / "state.json", state)
    env = {"PSD_BASE_URL": psd_server.base_url, "PSD_DATASETS": "psd_coffee_csv.zip"}

    proc = cli(home, **env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"supervisor: extract {slots['extract']} ok (attempt 1, exit 0)" in proc.stdout
    state = json.loads((home / "supervisor" / "state.json").read_text())
    assert state["extract"]["ok_slot"] == str(slots["extract"])
    store = LandingStore(str(home / "landing"), fsspec.filesystem("file"), home / "tmp")
    assert any(k.startswith("psd/psd_coffee_csv/") for k in store.list("psd"))
    raw = store.read_jsonl("runs/runs.jsonl")
    rows = runlog.merged(raw)
    # The job ran on a (local) worker: the worker's record is a part of the job's.
    job, worker = (next(r for r in rows if r["source"] == s) for s in ("supervisor", "worker"))
    assert (job["pipeline"], job["status"], worker["parent"]) == ("extract", "ok", job["run_id"])
    # Each run is logged when it starts and when it ends, the job around its worker run.
    assert [(r["source"], r["status"]) for r in raw] == [
        ("supervisor", "started"),
        ("worker", "started"),
        ("worker", "ok"),
        ("supervisor", "ok"),
    ]
    shown = cli_runs(home, "show", job["run_id"])
    assert shown.returncode == 0, shown.stderr
    assert f"part {worker['run_id']}:" in shown.stdout and "slot: " in shown.stdout
    # The worker's output, kept beside the run log, with what the worker printed.
    assert f"--- output of {worker['run_id']} ---" in shown.stdout
    assert "landed psd/psd_coffee_csv/" in shown.stdout
    assert (home / "supervisor" / "tick.lock").read_bytes() == b""  # released

    again = cli(home, **env)
    assert again.returncode == 0
    assert "nothing due" in again.stdout, again.stdout + again.stderr


# --- alerts and reaping -------------------------------------------------------------------
def test_alerts_for_failure_recovery_and_new_release(tmp_path: Path) -> None:
    from materia.core import runlog
    from testsupport.ops.alert_receiver import AlertReceiver

    token = "hc-secret-7c1d2e3f4a5b"
    with AlertReceiver() as rx:
        s = settings_mod.load(
            environ={
                "MATERIA_HOME": str(tmp_path / "home"),
                "MATERIA_NOTIFY": rx.url,
                "ICEBERG_REST_URI": "http://127.0.0.1:9",  # never contacted: jobs are stand-ins
                "ICEBERG_TOKEN": token,
            },
            dotenv=tmp_path / "none",
        )
        run_tick(s, "2026-11-25T23:00", Runner())  # settle the previous day, quietly
        assert rx.alerts == []

        def job(name: str, settings_) -> int:
            if name == "extract" and not rx.alerts:
                raise MateriaError(f"PSD Online refused token {token}")
            if name == "transform":  # what a transform run records as a part of the job
                runlog.append(
                    settings_,
                    {
                        "source": "in-process",
                        "run_id": runlog.new_run_id(),
                        "parent": settings_.parent_run,
                        "pipeline": "transform",
                        "status": "ok",
                        "new_releases": ["psd_coffee_csv 2022-12"],
                    },
                )
            return 0

        # Ticks hours apart here: no alert for the silence between them.
        quiet = schedule.Schedule(heartbeat_max=timedelta(days=1))
        for when in ("2026-11-26T02:05", "2026-11-26T02:40", "2026-11-26T03:05"):
            supervisor.tick(s, now=at(when), runner=job, schedule=quiet)
        failure, recovery, release = rx.wait_for(3)
    assert (failure["type"], failure["title"]) == ("failure", "materia: extract failed")
    assert failure["message"] == (
        "extract for 2026-11-26, attempt 1 of 3: PSD Online refused token ***; "
        "next attempt after 2026-11-26 02:35 UTC."
    )
    assert (recovery["type"], recovery["title"]) == ("success", "materia: extract recovered")
    assert (release["type"], release["message"]) == ("info", "Published: psd_coffee_csv 2022-12.")
    assert len(rx.alerts) == 3
    assert not [b for b in rx.raw if token.encode() in b or str(rx.port).encode() in b]


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def test_tick_reaps_the_workers_of_dead_runs_only(settings) -> None:
    import socket

    from materia.core import runlog
    from materia.workers import alive
    from materia.workers.base import InstanceSpec, worker_labels
    from materia.workers.providers.local import LocalProvider

    run_tick(settings, "2026-11-25T23:00", Runner())
    owner = alive.owner_id(settings)
    provider = LocalProvider(settings.home / "workers")

    def worker(run: str, owner_: str | None) -> None:
        labels = worker_labels("extract", run, owner_)
        provider.create_instance(InstanceSpec(f"materia-extract-{run}", "extract", "ccx12", labels))

    worker("dead", owner)  # ours, no marker: its run is over
    worker("live", owner)  # ours, its run is alive in this process
    alive.mark(settings, "live", "extract", "local", "2026-11-25T23:05:00+00:00")
    worker("killed", owner)  # ours, its process is gone (SIGKILL)
    marker = settings.home / "live-runs" / "killed.json"
    marker.write_text(
        json.dumps(
            {
                "run_id": "killed",
                "pipeline": "extract",
                "provider": "local",
                "host": socket.gethostname(),
                "pid": _dead_pid(),
                "started": "2026-11-25T23:01:00+00:00",
            }
        )
    )
    worker("elsewhere", "m000000000000")  # another home's run, alive as far as we know
    worker("finished", "m000000000000")  # another home's run that the run log says ended
    runlog.append(settings, {"source": "worker", "run_id": "finished", "pipeline": "extract"})
    worker("manual-1", None)  # made by hand: only the TTL reaps it

    records, notes = supervisor.tick(settings, now=at("2026-11-25T23:15"), runner=Runner())
    assert records == []
    left = sorted(i.labels["run"] for i in provider.list_instances())
    assert left == ["elsewhere", "live", "manual-1"]
    assert sorted(n for n in notes if n.startswith("reaped")) == [
        f"reaped local worker materia-extract-{r} (run {r})" for r in ("dead", "finished", "killed")
    ]
    assert not marker.exists() and (settings.home / "live-runs" / "live.json").exists()
    died = [r for r in runlog.read(settings) if r.get("run_id") == "killed"]
    assert [(r["exit_code"], r["status"]) for r in died] == [(None, "failed")]
    assert "run died without finishing" in died[0]["error"]


def test_the_reaper_says_what_it_reaped_on_which_cloud(tmp_path: Path) -> None:
    """A run on Hetzner was SIGKILLed: the next tick reaps its worker and the run's record
    says so (the local provider's pass, which comes first, must not settle it)."""
    from materia.core import runlog
    from materia.workers import alive
    from materia.workers.base import InstanceSpec, worker_labels
    from materia.workers.providers.hetzner import HetznerProvider
    from testsupport.clouds.hetzner_api import FakeHetzner

    with FakeHetzner("hc-token-reaper-1") as api:
        api.add_ssh_key(
            "materia",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJyG8Q7MlVAIiNaJulUU7CoPNZwhR87XJjAmIODa8+Q7 t",
        )
        s = settings_mod.load(
            environ={
                "MATERIA_HOME": str(tmp_path / "home"),
                "HCLOUD_TOKEN": api.token,
                "HCLOUD_ENDPOINT": api.endpoint,
            },
            dotenv=tmp_path / "none",
        )
        labels = worker_labels("extract", "killed", alive.owner_id(s))
        HetznerProvider(s.hetzner).create_instance(
            InstanceSpec("materia-extract-killed", "extract", "ccx13", labels)
        )
        alive.mark(s, "killed", "extract", "hetzner", "2026-11-25T23:01:00+00:00")
        marker = s.home / "live-runs" / "killed.json"
        marker.write_text(json.dumps({**json.loads(marker.read_text()), "pid": _dead_pid()}))
        _, notes = supervisor.tick(s, now=at("2026-11-25T23:15"), runner=Runner())
        assert api.snapshot() == []
    assert "reaped hetzner worker materia-extract-killed (run killed)" in notes
    [died] = [r for r in runlog.read(s) if r.get("run_id") == "killed"]
    assert died["error"].endswith("its hetzner worker was reaped")


def test_a_run_that_has_only_started_is_not_reaped_as_finished(settings) -> None:
    """Another home's worker run in progress (its `started` record is in the shared run
    log, on R2 in prod) keeps its worker: only an ended run's worker is reaped."""
    from materia.core import runlog
    from materia.workers.base import InstanceSpec, worker_labels
    from materia.workers.providers.local import LocalProvider

    provider = LocalProvider(settings.home / "workers")
    labels = worker_labels("extract", "elsewhere-running", "m000000000000")
    provider.create_instance(InstanceSpec("materia-extract-x", "extract", "ccx13", labels))
    started = {"source": "worker", "run_id": "elsewhere-running", "pipeline": "extract"}
    runlog.append(settings, runlog.started_record(started, datetime.now(UTC)))
    supervisor.tick(settings, now=at("2026-11-25T23:15"), runner=Runner())
    assert [i.labels["run"] for i in provider.list_instances()] == ["elsewhere-running"]
    runlog.append(settings, {**started, "status": "ok", "exit_code": 0})
    supervisor.tick(settings, now=at("2026-11-25T23:30"), runner=Runner())
    assert provider.list_instances() == []
