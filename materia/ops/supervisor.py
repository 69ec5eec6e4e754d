"""What the always-on supervisor does each tick: recover, reap, then run what is due.

A tick holds a lock file, reads the state (`materia.ops.schedule`: what is due, retries,
clock jumps; `materia.ops.supervisor_state` repairs a damaged one), beats its heartbeat
(`materia.ops.supervisor_watch`), then:
1. settles attempts that never finished (the tick running them died, or could not
   record their end): the run log says how they ended, else they count as failed;
2. destroys the workers of runs that are no longer alive (`materia.workers.manage`);
3. runs each due job: its start is recorded before it runs and its end after, so a
   state file that cannot be written stops the tick instead of re-running a job; the
   extract lands the sources of its day (`Schedule.extract_sources`: WASDE on WASDE days);
4. sends alerts (`materia.core.notify`) for failures, recoveries and new releases, and
   publishes the report (`materia.reports.publish`) after each successful transform;
5. alerts a transform that has not succeeded by its deadline (once per day).
Every job appends a record to the run log (`source: supervisor`), and so does a tick
that had to repair something (a future slot ignored, workers reaped, a failure).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from materia.core import locks, notify, runlog
from materia.core.errors import MateriaError
from materia.core.settings import Settings
from materia.ops import supervisor_log, supervisor_state, supervisor_watch
from materia.ops.schedule import (
    Due,
    Schedule,
    parse_now,
    plan,
    retry_at,
    sanitize,
    waiting,
    write_state,
)

log = logging.getLogger(__name__)

Runner = Callable[[str, Settings], int]


def supervisor_dir(settings: Settings) -> Path:
    return settings.home / "supervisor"


def _tick_lock(settings: Settings):
    """One tick at a time on this machine (materia.core.locks: a dead tick never blocks)."""
    return locks.hold(
        locks.LocalLock(supervisor_dir(settings) / "tick.lock"), "a supervisor tick", log.warning
    )


def default_runner(job: str, settings: Settings) -> int:
    """Run a job where config says (`settings.worker_provider`); the report here."""
    if job == "report":
        from materia.reports import publish as report_publish

        return report_publish.main(settings)
    from materia.ops import pipelines

    return pipelines.main(settings, name=job, on=settings.worker_provider)


def _run_one(settings: Settings, runner: Runner, due: Due, run_id: str, clock) -> dict:
    """Run one job; its run-log record (its parts' records point to `run_id`)."""
    from materia.core.secrets import redact

    started = clock()
    log.info("supervisor: running %s for %s (attempt %d)", due.job, due.slot, due.attempt)
    error = None
    try:
        code = int(runner(due.job, settings))
    except MateriaError as e:
        code, error = 1, str(e)
    except Exception as e:  # a job's bug must not stop the tick or the loop
        log.exception("supervisor: %s crashed", due.job)
        code, error = 1, f"{type(e).__name__}: {e}"
    parts = [r for r in supervisor_log.read_log(settings) if r.get("parent") == run_id]
    part_error = next((p["error"] for p in reversed(parts) if p.get("error")), None)
    return supervisor_log.job_record(
        run_id,
        due.job,
        due.slot.isoformat(),
        due.attempt,
        started,
        clock(),
        code,
        redact(error or part_error or "") or None if code else None,
        sorted({x for p in parts for x in p.get("new_releases") or []}),
        provider=settings.worker_provider,
        **({"sources": list(settings.extract_sources)} if due.job == "extract" else {}),
    )


class _Tick:
    """One tick's work under the lock (see the module doc)."""

    def __init__(self, settings: Settings, path: Path, state: dict, runner: Runner, clock, sched):
        self.settings, self.path, self.state = settings, path, state
        self.runner, self.clock, self.sched = runner, clock, sched
        self.records: list[dict] = []

    def save(self, what: str) -> None:
        from materia.core.secrets import redact_doc, redactor

        try:
            write_state(self.path, redact_doc(self.state, redactor(self.settings)))  # type: ignore[arg-type]
        except OSError as e:
            raise MateriaError(f"cannot record {what} in {self.path}: {e.strerror or e}") from e

    def settle_unfinished(self) -> list[str]:
        """Attempts left `started` by a tick that died or could not record their end."""
        notes, logged = [], None
        for job, entry in self.state.items():
            if entry.get("status") != "started":
                continue
            if logged is None:
                logged = runlog.merged(supervisor_log.read_log(self.settings))
            rec = next((r for r in logged if r.get("run_id") == entry.get("run_id")), None)
            finished = rec is not None and rec.get("status") in ("ok", "failed")
            if finished and rec.get("ended") and rec.get("source") == "supervisor":
                entry.update(status=rec["status"], ended=rec["ended"], error=rec.get("error"))
                if rec["status"] == "ok":
                    entry["ok_slot"] = entry["slot"]
                notes.append(f"{job} {entry['slot']}: end taken from the run log ({rec['status']})")
                continue
            error = "did not finish: the tick running it died or could not record its end"
            ended = self.clock()
            entry.update(status="failed", ended=ended.isoformat(), error=error)
            started = datetime.fromisoformat(entry.get("started") or ended.isoformat())
            record = supervisor_log.job_record(
                entry.get("run_id") or runlog.new_run_id(),
                job,
                str(entry.get("slot")),
                int(entry.get("attempt") or 1),
                started,
                ended,
                None,
                error,
            )
            supervisor_log.append(self.settings, record)
            supervisor_log.alert_job(self.settings, record, {}, entry)
            notes.append(f"{job} {entry.get('slot')}: {error}")
        if notes:
            self.save("attempts that never finished")
        return notes

    def run(self, due: Due) -> dict:
        before = dict(self.state.get(due.job, {}))
        run_id = runlog.new_run_id()
        entry = {
            "slot": due.slot.isoformat(),
            "status": "started",
            "attempt": due.attempt,
            "started": self.clock().isoformat(),
            "run_id": run_id,
        }
        if before.get("ok_slot"):
            entry["ok_slot"] = before["ok_slot"]
        self.state[due.job] = entry
        self.save(f"the start of {due.job} (not run)")
        started = {"source": "supervisor", "run_id": run_id, "parent": None, "pipeline": due.job}
        started |= {"where": "supervisor", "slot": entry["slot"], "attempt": due.attempt}
        supervisor_log.append(self.settings, runlog.started_record(started, self.clock()))
        job_settings = dataclasses.replace(self.settings, parent_run=run_id)
        if due.job == "extract":  # the sources of its day: WASDE on a WASDE day
            nightly = self.settings.extract_sources
            sources = self.sched.extract_sources(due.slot, nightly)
            job_settings = dataclasses.replace(job_settings, extract_sources=sources)
        record = _run_one(job_settings, self.runner, due, run_id, self.clock)
        entry.update(status=record["status"], ended=record["ended"], error=record["error"])
        if record["status"] == "ok":
            entry["ok_slot"] = entry["slot"]
        again = retry_at(entry) if record["status"] != "ok" else None
        record["next_attempt"] = again.isoformat() if again else None
        failure = None
        try:
            self.save(f"the end of {due.job} ({record['status']})")
        except MateriaError as e:
            failure = e  # the run log and the alert may still get through (R2, network)
        supervisor_log.append(self.settings, record)
        supervisor_log.alert_job(self.settings, record, before, entry)
        self.records.append(record)
        log.info("supervisor: %s %s (exit %d)", due.job, record["status"], record["exit_code"])
        if failure:
            raise failure
        return record


def _reap(settings: Settings) -> tuple[list[str], str | None]:
    """Destroy workers of dead runs on every configured provider; (what was reaped, the
    errors of providers that could not be reaped, or None)."""
    from materia.workers.reaping import reap_dead_runs
    from materia.workers.registry import configured, provider_for

    done, errors = [], []
    for name in configured(settings):
        try:
            gone = reap_dead_runs(settings, provider_for(settings, name, log=log.info), log.info)
        except MateriaError as e:
            errors.append(f"{name}: {e}")
            continue
        done += [f"reaped {i.provider} worker {i.name} (run {i.labels.get('run')})" for i in gone]
    return done, ("reaping workers failed: " + "; ".join(errors)) if errors else None


def tick(
    settings: Settings,
    now: datetime | None = None,
    runner: Runner | None = None,
    schedule: Schedule | None = None,
    clock: Callable[[], datetime] | None = None,
    dry_run: bool = False,
) -> tuple[list[dict], list[str]]:
    """Run every due job once; (their records, notes). Dry run: what is due, as records.

    `clock` tells the time as jobs run; by default `now` plus the time elapsed since."""
    now = now or datetime.now(UTC)
    if clock is None:
        t0 = time.monotonic()
        clock = lambda: now + timedelta(seconds=time.monotonic() - t0)  # noqa: E731
    sched = schedule or Schedule.from_env()
    path = supervisor_dir(settings) / "state.json"
    if dry_run:
        state, notes = supervisor_state.load(settings, path, repair=False)
        state, more = sanitize(state, now, sched)
        due, planned = plan(state, now, sched)
        held = [f"{d.job} ({d.slot}) after the day's extract" for d in waiting(state, now, sched)]
        notes += sched.calendar_notes(now)
        return [
            {"pipeline": d.job, "slot": d.slot.isoformat(), "attempt": d.attempt}
            | (
                {"sources": list(sched.extract_sources(d.slot, settings.extract_sources))}
                if d.job == "extract"
                else {}
            )  # fmt: skip
            for d in due
        ], notes + more + planned + ([f"waiting: {', '.join(held)}"] if held else [])

    with _tick_lock(settings):
        state, repaired = supervisor_state.load(settings, path)
        for problem in repaired:
            notify.send(settings, "materia: supervisor state repaired", problem, notify.FAILURE)
        state, dropped = sanitize(state, now, sched)
        work = _Tick(settings, path, state, runner or default_runner, clock, sched)
        if dropped:
            work.save("the state without its future slots")
        notes = repaired + dropped + _log_problems(settings)
        notes += supervisor_watch.beat(settings, work.state, now, sched)
        notes += work.settle_unfinished()
        reaped, reap_error = _reap(settings)
        notes += reaped
        if reap_error:
            notes.append(reap_error)
            notify.send(settings, "materia: reaping workers failed", reap_error, notify.FAILURE)
        if notes:
            supervisor_log.append(
                settings, supervisor_log.tick_record(now, clock(), notes, reap_error)
            )
        for note in sched.calendar_notes(now):  # logged each tick; `tick --dry-run` says it
            log.warning("supervisor: %s", note)
        done: set[str] = set()
        while True:  # re-planned after each job: a transform's success makes the report due
            due, more = plan(work.state, clock(), sched)
            notes += [n for n in more if n not in notes]
            todo = [d for d in due if d.job not in done]
            if not todo:
                break
            work.run(todo[0])
            done.add(todo[0].job)
            supervisor_watch.publish_heartbeat(settings, work.state, clock(), sched)
        late = supervisor_watch.check_deadline(settings, work.state, clock(), sched)
        if late:
            notes += late
            supervisor_log.append(settings, supervisor_log.tick_record(now, clock(), late, None))
    return work.records, notes


def _log_problems(settings: Settings) -> list[str]:
    """Unreadable run-log records: skipped by every reader, alerted once here."""
    try:
        problems = runlog.read_checked(settings).problems
    except Exception:
        return []  # an unreachable log is not a damaged one; jobs report their own errors

    def send(title: str, body: str) -> None:
        notify.send(settings, title, body, notify.FAILURE)

    notes = [f"run log: {p}" for p in problems]
    title = "materia: run log damaged"
    return [n for n in notes if supervisor_watch.alert_once(settings.home, n, send, title, n)]


def main(settings: Settings, now: str | None = None, dry_run: bool = False) -> int:
    """`materia supervisor tick`: 0 when every job run this tick succeeded."""
    if now is not None and not dry_run:
        raise MateriaError(
            "--now only goes with --dry-run: a real tick runs on the real clock "
            "(a slot written for a made-up time would stall the schedule)"
        )
    when = parse_now(now)
    if dry_run:
        records, notes = tick(settings, now=when, dry_run=True)
        for note in notes:
            print(f"supervisor: {note}")
        for r in records:
            if "wasde" in r.get("sources", ()):
                print(f"supervisor: the extract of {r['slot']} lands {', '.join(r['sources'])} (a WASDE day)")  # fmt: skip
        due = ", ".join(f"{r['pipeline']} ({r['slot']})" for r in records) or "nothing"
        print(f"supervisor: due at {when.isoformat()}: {due}")
        return 0
    try:
        records, notes = tick(settings, now=when)
    except locks.LockBusy as e:  # a long transform: not a failure
        print(f"supervisor: {e}")
        return 0
    except MateriaError as e:
        from materia.core.secrets import redact

        supervisor_log.alert_tick_failure(settings, redact(str(e)))
        raise
    for note in notes:
        print(f"supervisor: {note}")
    if not records:
        print(f"supervisor: nothing due at {when.isoformat()}")
    for r in records:
        print(
            f"supervisor: {r['pipeline']} {r['slot']} {r['status']} "
            f"(attempt {r['attempt']}, exit {r['exit_code']})"
        )
    return 0 if all(r["status"] == "ok" for r in records) else 1
