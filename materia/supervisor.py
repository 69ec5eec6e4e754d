"""What the always-on supervisor does each tick: run the jobs that are due, once.

Each job has a daily slot (extract 02:00 UTC, transform 03:00 UTC; `MATERIA_EXTRACT_AT`,
`MATERIA_TRANSFORM_AT` override). A job is due when its most recent slot at or before now
has not been attempted yet, so it runs at most once per scheduled day and, after any
downtime, exactly once to catch up. The report follows each successful transform.
A lock file stops overlapping ticks; state is a small JSON file; every outcome is
appended to the run log.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

from materia.errors import MateriaError
from materia.settings import Settings

log = logging.getLogger(__name__)

LOCK_TTL_SECONDS = 6 * 3600  # longer than any pipeline; a dead tick's lock expires
Runner = Callable[[str], int]


@dataclass(frozen=True)
class Schedule:
    extract_at: dtime = dtime(2, 0)
    transform_at: dtime = dtime(3, 0)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Schedule:
        env = os.environ if environ is None else environ
        return cls(
            extract_at=_hhmm("MATERIA_EXTRACT_AT", env.get("MATERIA_EXTRACT_AT", "02:00")),
            transform_at=_hhmm("MATERIA_TRANSFORM_AT", env.get("MATERIA_TRANSFORM_AT", "03:00")),
        )

    def timed_jobs(self) -> dict[str, dtime]:
        return {"extract": self.extract_at, "transform": self.transform_at}


def _hhmm(name: str, value: str) -> dtime:
    try:
        return dtime.fromisoformat(value.strip())
    except ValueError:
        raise MateriaError(f"{name} must be HH:MM (UTC), got {value!r}") from None


def parse_now(value: str | None) -> datetime:
    """ISO-8601 → aware UTC datetime (naive means UTC); None → the real clock."""
    if value is None:
        return datetime.now(UTC)
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise MateriaError(
            f"--now must be ISO-8601 (2026-11-26T02:05:00Z), got {value!r}"
        ) from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def latest_slot(now: datetime, at: dtime) -> date:
    """The scheduled day whose slot is the most recent at or before `now`."""
    today = now.date()
    return today if now.time() >= at else today - timedelta(days=1)


# --- state and lock ------------------------------------------------------------------
def supervisor_dir(settings: Settings) -> Path:
    return settings.home / "supervisor"


def read_state(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise MateriaError(f"supervisor state {path} is unreadable: {e}") from None
    if not isinstance(state, dict):
        raise MateriaError(f"supervisor state {path} is not a JSON object")
    return state


def write_state(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class TickLock:
    """An exclusive lock file holding pid, host and expiry; stale locks are taken over."""

    def __init__(self, path: Path, ttl: float = LOCK_TTL_SECONDS, clock=time.time) -> None:
        self.path, self.ttl, self.clock = path, ttl, clock
        self.held = False

    def _stale(self) -> bool:
        try:
            info = json.loads(self.path.read_text())
        except FileNotFoundError:
            return True
        except (OSError, json.JSONDecodeError):
            return True  # half-written by a crashed tick
        if float(info.get("expires", 0)) < self.clock():
            return True
        same_host = info.get("host") == socket.gethostname()
        return same_host and not _pid_alive(int(info.get("pid", 0)))

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self._stale():
                    break
                self.path.unlink(missing_ok=True)
                continue
            info = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "expires": self.clock() + self.ttl,
            }
            with os.fdopen(fd, "w") as f:
                json.dump(info, f)
            self.held = True
            return
        raise MateriaError(f"another supervisor tick holds the lock {self.path}; not starting")

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> TickLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


# --- the tick --------------------------------------------------------------------------
def due_jobs(state: dict, now: datetime, schedule: Schedule) -> list[tuple[str, date]]:
    """Timed jobs whose latest slot has not been attempted, in schedule order."""
    due = []
    for job, at in sorted(schedule.timed_jobs().items(), key=lambda kv: kv[1]):
        slot = latest_slot(now, at)
        last = state.get(job, {}).get("slot")
        if last is None or date.fromisoformat(last) < slot:
            due.append((job, slot))
    return due


def report_due(state: dict) -> date | None:
    """The transform slot still waiting for its report, if any."""
    ok = state.get("transform", {}).get("ok_slot")
    done = state.get("report", {}).get("slot")
    if ok and (done is None or done < ok):
        return date.fromisoformat(ok)
    return None


def default_runner(settings: Settings) -> Runner:
    """Run jobs in this process, where config says (`settings.worker_provider`)."""

    def run(job: str) -> int:
        if job == "report":
            from materia import reports

            return reports.main(settings, env="prod")
        from materia import pipelines

        return pipelines.main(settings, name=job, on=settings.worker_provider)

    return run


def append_run_log(settings: Settings, record: dict) -> None:
    """Tick outcomes go to the same run log as worker runs (`materia.runlog`), marked
    `source: supervisor`; worker runs add their own rows with cost and timings."""
    from materia.runlog import KEY
    from materia.storage import LandingStore

    LandingStore.from_settings(settings).append_jsonl(KEY, record)


def _run_one(settings: Settings, runner: Runner, job: str, slot: date, clock) -> dict:
    started = clock()
    log.info("supervisor: running %s for %s", job, slot)
    error = None
    try:
        code = int(runner(job))
    except MateriaError as e:
        code, error = 1, str(e)
    except Exception as e:  # a job's bug must not stop the tick or the loop
        log.exception("supervisor: %s crashed", job)
        code, error = 1, f"{type(e).__name__}: {e}"
    # Field names follow materia.runlog's records where they mean the same thing.
    record = {
        "source": "supervisor",
        "pipeline": job,
        "slot": slot.isoformat(),
        "provider": settings.worker_provider,
        "started": started.isoformat(),
        "ended": clock().isoformat(),
        "exit_code": code,
        "status": "ok" if code == 0 else "failed",
        "error": None,
    }
    if error:
        from materia.secrets import redact

        record["error"] = redact(error)
    log.info("supervisor: %s %s (exit %d)", job, record["status"], code)
    return record


def tick(
    settings: Settings,
    now: datetime | None = None,
    runner: Runner | None = None,
    schedule: Schedule | None = None,
    clock: Callable[[], datetime] | None = None,
    dry_run: bool = False,
) -> list[dict]:
    """Run every due job once; return their outcome records (dry run: what is due)."""
    now = now or datetime.now(UTC)
    clock = clock or (lambda: datetime.now(UTC))
    schedule = schedule or Schedule.from_env()
    state_path = supervisor_dir(settings) / "state.json"
    if dry_run:
        state = read_state(state_path)
        due = [{"pipeline": j, "slot": s.isoformat()} for j, s in due_jobs(state, now, schedule)]
        if (r := report_due(state)) is not None:
            due.append({"pipeline": "report", "slot": r.isoformat()})
        return due

    runner = runner or default_runner(settings)
    records: list[dict] = []
    with TickLock(supervisor_dir(settings) / "tick.lock"):
        state = read_state(state_path)

        def finish(job: str, slot: date, record: dict) -> None:
            # State first: a job is attempted once per slot even if logging fails.
            entry = state.setdefault(job, {})
            entry.update(slot=slot.isoformat(), status=record["status"], at=record["ended"])
            if record["status"] == "ok":
                entry["ok_slot"] = slot.isoformat()
            write_state(state_path, state)
            append_run_log(settings, record)
            records.append(record)

        for job, slot in due_jobs(state, now, schedule):
            finish(job, slot, _run_one(settings, runner, job, slot, clock))
        if (slot := report_due(state)) is not None:
            finish("report", slot, _run_one(settings, runner, "report", slot, clock))
    return records


def main(settings: Settings, now: str | None = None, dry_run: bool = False) -> int:
    """`materia supervisor tick`: 0 when every job run this tick succeeded."""
    when = parse_now(now)
    records = tick(settings, now=when, dry_run=dry_run)
    if dry_run:
        due = ", ".join(f"{r['pipeline']} ({r['slot']})" for r in records) or "nothing"
        print(f"supervisor: due at {when.isoformat()}: {due}")
        return 0
    if not records:
        print(f"supervisor: nothing due at {when.isoformat()}")
    for r in records:
        print(f"supervisor: {r['pipeline']} {r['slot']} {r['status']} (exit {r['exit_code']})")
    return 0 if all(r["status"] == "ok" for r in records) else 1
