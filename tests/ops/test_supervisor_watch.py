"""Alerts that cannot go silent: `supervisor alert` says when nothing was delivered, ESC
failing is alerted through the environment file's MATERIA_NOTIFY, a night without a
successful transform is alerted by its deadline, and a supervisor that stopped ticking
is seen by its next tick and by `materia supervisor watch` from elsewhere."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from materia.core import settings as settings_mod
from materia.ops import schedule, supervisor
from testsupport import clean_env, run_cli
from testsupport.ops.alert_receiver import AlertReceiver
from testsupport.ops.esc import stand_in_esc


class Runner:
    """Runs nothing; exit codes per job can be set."""

    def __init__(self, codes: dict[str, int] | None = None) -> None:
        self.codes, self.calls = codes or {}, []

    def __call__(self, job: str, settings=None) -> int:
        self.calls.append(job)
        return self.codes.get(job, 0)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def rx():
    with AlertReceiver() as receiver:
        yield receiver


def load(home: Path, **env: str) -> settings_mod.Settings:
    return settings_mod.load(environ={"MATERIA_HOME": str(home), **env}, dotenv=home / "none")


# --- `materia supervisor alert` ---------------------------------------------------------
def test_alert_fails_when_nothing_is_configured_or_delivered(tmp_path: Path, rx) -> None:
    env = clean_env(tmp_path / "home")
    nothing = run_cli("supervisor", "alert", "hello", env=env)
    assert nothing.returncode == 1
    assert nothing.stderr.strip() == "error: MATERIA_NOTIFY is not set: no alert was sent"
    with AlertReceiver(status=500) as dead:
        refused = run_cli("supervisor", "alert", "hello", env={**env, "MATERIA_NOTIFY": dead.url})
        dead.wait_for(1)
    assert refused.returncode == 1
    assert "error: not every alert destination took the alert" in refused.stderr
    sent = run_cli("supervisor", "alert", "hello", env={**env, "MATERIA_NOTIFY": rx.url})
    assert sent.returncode == 0, sent.stderr
    [alert] = rx.wait_for(1)
    assert (alert["title"], alert["message"], alert["type"]) == (
        "materia: supervisor",
        "hello",
        "failure",
    )


def test_esc_down_is_alerted_through_the_environment_file(tmp_path: Path, rx) -> None:
    """`pulumi` present but its login expired: the tick cannot run jobs, but it says so
    (once, not every 15 minutes), and a plain alert still goes out with a note."""
    bin_dir = tmp_path / "bin"
    stand_in_esc(bin_dir, exit_code=255, name="pulumi")
    home = tmp_path / "home"
    env = clean_env(home, MATERIA_ENV="prod", MATERIA_NOTIFY=rx.url)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    first = run_cli("supervisor", "tick", env=env)
    assert first.returncode == 1
    assert "error: pulumi env open beanflows/prod failed (exit 255)" in first.stderr
    [alert] = rx.wait_for(1)
    assert alert["title"] == "materia: secrets unavailable" and alert["type"] == "failure"
    assert alert["message"].startswith("pulumi env open beanflows/prod failed (exit 255)")
    again = run_cli("supervisor", "tick", env=env)
    assert again.returncode == 1 and len(rx.alerts) == 1  # at most once per 6 hours
    plain = run_cli("supervisor", "alert", "commit abc was not adopted", env=env)
    assert plain.returncode == 0, plain.stderr
    note = rx.wait_for(2)[-1]["message"]
    assert note.startswith("commit abc was not adopted")
    assert "(secrets unavailable: pulumi env open beanflows/prod failed (exit 255)" in note


# --- the dead-man's switch ------------------------------------------------------------------
def test_a_night_without_a_transform_is_alerted_once_by_its_deadline(tmp_path: Path, rx):
    s = load(tmp_path / "home", MATERIA_NOTIFY=rx.url)
    sched = schedule.Schedule(heartbeat_max=timedelta(days=2))

    def tick(when: str, runner: Runner) -> list[str]:
        return supervisor.tick(s, now=at(when), runner=runner, schedule=sched)[1]

    tick("2026-11-25T23:00", Runner())  # the previous night went well
    failing = Runner({"extract": 1})  # PSD Online down all night: transform waits
    for when in ("2026-11-26T02:05", "2026-11-26T02:40", "2026-11-26T04:45"):
        tick(when, failing)
    assert failing.calls == ["extract"] * 3
    before = len(rx.alerts)
    assert not any("no successful transform" in n for n in tick("2026-11-26T07:59", failing))
    notes = tick("2026-11-26T08:00", failing)
    [late] = rx.wait_for(before + 1)[before:]
    assert late["title"] == "materia: no transform tonight"
    assert late["message"].startswith(
        "no successful transform for 2026-11-26 by 08:00 UTC: it waits for the day's "
        "extract, whose attempt 3 failed"
    )
    assert any(n.startswith("no successful transform for 2026-11-26") for n in notes)
    tick("2026-11-26T08:15", failing)
    tick("2026-11-26T12:00", failing)
    assert len(rx.alerts) == before + 1  # once for that night


def test_a_silent_supervisor_is_alerted_by_its_next_tick(tmp_path: Path, rx) -> None:
    s = load(tmp_path / "home", MATERIA_NOTIFY=rx.url)
    sched = schedule.Schedule()  # silence allowed: 2 hours
    supervisor.tick(s, now=at("2026-11-26T10:00"), runner=Runner(), schedule=sched)
    supervisor.tick(s, now=at("2026-11-26T11:45"), runner=Runner(), schedule=sched)
    assert [a["title"] for a in rx.alerts] == []
    _, notes = supervisor.tick(s, now=at("2026-11-26T15:00"), runner=Runner(), schedule=sched)
    [alert] = rx.wait_for(1)
    assert alert["title"] == "materia: supervisor was not ticking"
    assert "did not tick from 2026-11-26T11:45 to 2026-11-26T15:00 UTC (3.2 h" in alert["message"]
    assert any("did not tick" in n for n in notes)


def test_watch_sees_a_stopped_supervisor_from_elsewhere(tmp_path: Path, rx) -> None:
    """`materia supervisor watch` (a scheduled CI job in prod) reads the heartbeat the
    ticks publish in the landing store."""
    home = tmp_path / "home"
    env = clean_env(home, MATERIA_NOTIFY=rx.url)
    never = run_cli("supervisor", "watch", env=env)
    assert never.returncode == 1 and "has never published a heartbeat" in never.stdout
    rx.wait_for(1)

    s = load(home)
    now = datetime.now(UTC)
    supervisor.tick(s, now=now, runner=Runner())  # a tick now: every job of the day ran
    heartbeat = json.loads((home / "landing" / "supervisor" / "heartbeat.json").read_text())
    assert datetime.fromisoformat(heartbeat["at"]) >= now and heartbeat["transform_ok_slot"]
    fine = run_cli("supervisor", "watch", env=env)
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert len(rx.alerts) == 1

    old = now - timedelta(hours=3)  # the supervisor stopped three hours ago
    (home / "landing" / "supervisor" / "heartbeat.json").write_text(
        json.dumps({**heartbeat, "at": old.isoformat()})
    )
    stale = run_cli("supervisor", "watch", env=env)
    assert stale.returncode == 1
    [alert] = rx.wait_for(2)[1:]
    assert alert["title"] == "materia: supervisor watch"
    assert alert["message"] == f"the supervisor's last heartbeat is from {old:%Y-%m-%d %H:%M} UTC."


def test_the_deadline_follows_the_transform_slot() -> None:
    """A transform moved to 23:00 is late the next morning, not the same morning."""
    late = schedule.Schedule(transform_at=datetime(1, 1, 1, 23, 0).time())
    assert schedule.deadline_day(at("2026-11-26T07:59"), late).isoformat() == "2026-11-24"
    assert schedule.deadline_day(at("2026-11-26T08:00"), late).isoformat() == "2026-11-25"
    default = schedule.Schedule()
    assert schedule.deadline_day(at("2026-11-26T07:59"), default).isoformat() == "2026-11-25"
    assert schedule.deadline_day(at("2026-11-26T08:00"), default).isoformat() == "2026-11-26"
