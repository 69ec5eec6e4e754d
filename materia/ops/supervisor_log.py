"""What the supervisor tells: its run-log records and its alerts.

Job records (`source: supervisor`) carry the slot and attempt; the records of a job's
parts (its worker run, the step run on the worker) point to it by `parent`. Alerts go
out through `materia.core.notify`: a failed attempt (and when the next one is), a recovery,
a new release published, and a failed tick (at most once per `ALERT_REPEAT` for the
same error: a full disk fails every tick until someone frees it).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from materia.core import notify, runlog
from materia.core.settings import Settings
from materia.ops.schedule import MAX_ATTEMPTS, retry_at

log = logging.getLogger("materia.ops.supervisor")

ALERT_REPEAT = timedelta(hours=6)


def read_log(settings: Settings) -> list[dict]:
    try:
        return runlog.read(settings)
    except Exception as e:  # reading the log must not stop a tick
        log.warning("supervisor: cannot read the run log: %s", e)
        return []


def append(settings: Settings, record: dict) -> None:
    try:
        runlog.append(settings, record)
    except Exception as e:
        log.error("supervisor: cannot append to the run log: %s", e)


def job_record(
    run_id: str,
    job: str,
    slot: str,
    attempt: int,
    started: datetime,
    ended: datetime,
    exit_code: int | None,
    error: str | None,
    new_releases: list[str] | None = None,
    **extra: object,
) -> dict:
    """The run-log record of one attempt at a job (exit code None: it never finished)."""
    return {
        "source": "supervisor",
        "run_id": run_id,
        "parent": None,
        "pipeline": job,
        "where": "supervisor",
        "slot": slot,
        "attempt": attempt,
        **extra,
        "started": started.isoformat(),
        "ended": ended.isoformat(),
        "duration_s": round((ended - started).total_seconds(), 3),
        "exit_code": exit_code,
        "status": "ok" if exit_code == 0 else "failed",
        "error": error,
        "new_releases": new_releases or [],
    }


def alert_job(settings: Settings, record: dict, before: dict, entry: dict) -> None:
    job, slot = record["pipeline"], record["slot"]
    if record["status"] != "ok":
        again = retry_at(entry)
        nxt = (
            f"next attempt after {again:%Y-%m-%d %H:%M} UTC"
            if again
            else "no more attempts for this slot"
        )
        notify.send(
            settings,
            f"materia: {job} failed",
            f"{job} for {slot}, attempt {record['attempt']} of {MAX_ATTEMPTS}: "
            f"{record['error'] or 'exit ' + str(record['exit_code'])}; {nxt}.",
            notify.FAILURE,
        )
        return
    if before.get("status") in ("failed", "started"):
        notify.send(
            settings,
            f"materia: {job} recovered",
            f"{job} for {slot} succeeded (attempt {record['attempt']}) after a failure.",
            notify.SUCCESS,
        )
    if record["new_releases"]:
        notify.send(
            settings,
            "materia: new release published",
            "Published: " + ", ".join(record["new_releases"]) + ".",
            notify.INFO,
        )


def tick_record(started: datetime, ended: datetime, notes: list[str], error: str | None) -> dict:
    return {
        "source": "supervisor",
        "run_id": runlog.new_run_id(),
        "parent": None,
        "pipeline": "tick",
        "where": "supervisor",
        "started": started.isoformat(),
        "ended": ended.isoformat(),
        "exit_code": 1 if error else 0,
        "status": "failed" if error else "ok",
        "error": error,
        "notes": notes,
    }


def alert_tick_failure(settings: Settings, error: str) -> None:
    """Alert a failed tick once per ALERT_REPEAT for the same error (a full disk fails
    every tick until it is fixed), and log it."""
    now = datetime.now(UTC)
    recent = [
        r
        for r in read_log(settings)
        if r.get("pipeline") == "tick"
        and r.get("error") == error
        and now - datetime.fromisoformat(str(r.get("ended"))) < ALERT_REPEAT
    ]
    append(settings, tick_record(now, now, [error], error))
    if not recent:
        notify.send(settings, "materia: supervisor tick failed", error, notify.FAILURE)
