"""When the supervisor's jobs are due, from a small state file and the clock.

Each timed job has a daily slot (extract 02:00 UTC, transform 03:00 UTC;
`MATERIA_EXTRACT_AT`, `MATERIA_TRANSFORM_AT` override); transform waits for the day's
successful extract (and follows it at once when a retry lands the release late); the
report follows each successful transform. A job is due when the most recent slot at or
before now has no attempt yet, so it runs once per scheduled day and, after any
downtime, once to catch up. A transform that has not succeeded for its day by
`MATERIA_TRANSFORM_DEADLINE` (08:00 UTC) is a missed night (`missed_deadline`).
The extract lands the nightly sources (`MATERIA_EXTRACT_SOURCES`, PSD) and, on a WASDE
day, WASDE too: the days come from USDA's published release dates, kept as data
(`materia.ops.release_calendar`), not from a rule in code.
A failed attempt is retried within its day after a growing delay (`RETRY_AFTER`), at
most `MAX_ATTEMPTS` times. The state never holds the schedule hostage: an entry for a
slot later than now (a clock that jumped ahead, `--now` in the future) is ignored,
dropped and reported, and so is an attempt time in the future.

State (`<home>/supervisor/state.json`): per job `slot`, `status` (started | ok | failed),
`attempt`, `started`, `ended`, `run_id`, `error`, and `ok_slot` (the last slot that
succeeded; the report's slot is transform's `ok_slot`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

from materia.core.errors import MateriaError
from materia.ops import release_calendar

RETRY_AFTER = (timedelta(minutes=30), timedelta(hours=2))  # after attempt 1, after 2
MAX_ATTEMPTS = len(RETRY_AFTER) + 1


@dataclass(frozen=True)
class Schedule:
    extract_at: dtime = dtime(2, 0)
    transform_at: dtime = dtime(3, 0)
    transform_deadline: dtime = dtime(8, 0)
    # A supervisor silent for longer than this has stopped ticking (alerted when it is
    # back, and by `materia supervisor watch` from elsewhere while it is not).
    heartbeat_max: timedelta = timedelta(hours=2)
    wasde_dates_file: Path = release_calendar.DEFAULT_FILE
    wasde_dates: tuple[date, ...] = field(
        default_factory=lambda: release_calendar.read(release_calendar.DEFAULT_FILE)
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Schedule:
        env = os.environ if environ is None else environ

        def at(name: str, default: str) -> dtime:
            return _hhmm(name, env.get(name) or default)

        minutes = (env.get("MATERIA_HEARTBEAT_MAX_MINUTES") or "120").strip()
        if not minutes.isdigit() or int(minutes) < 1:
            raise MateriaError("MATERIA_HEARTBEAT_MAX_MINUTES must be a whole number of minutes")
        dates = Path(env.get("MATERIA_WASDE_DATES_FILE") or release_calendar.DEFAULT_FILE)
        return cls(
            extract_at=at("MATERIA_EXTRACT_AT", "02:00"),
            transform_at=at("MATERIA_TRANSFORM_AT", "03:00"),
            transform_deadline=at("MATERIA_TRANSFORM_DEADLINE", "08:00"),
            heartbeat_max=timedelta(minutes=int(minutes)),
            wasde_dates_file=dates,
            wasde_dates=release_calendar.read(dates),
        )

    def timed_jobs(self) -> dict[str, dtime]:
        return {"extract": self.extract_at, "transform": self.transform_at}

    def extract_sources(self, slot: date, nightly: tuple[str, ...]) -> tuple[str, ...]:
        """The sources the extract of `slot` lands: the nightly ones, WASDE on a WASDE day."""
        when = datetime.combine(slot, self.extract_at, UTC)
        wasde = release_calendar.release_after(self.wasde_dates, when) is not None
        return (*nightly, "wasde") if wasde and "wasde" not in nightly else tuple(nightly)

    def calendar_notes(self, now: datetime) -> list[str]:
        """What the release dates cannot say at `now` (they ran out): never guessed."""
        last = release_calendar.run_out(self.wasde_dates, now)
        if last is None:
            return []
        return [
            f"no WASDE release date from {now:%Y-%m} on in {self.wasde_dates_file} (the last "
            f"is {last}): WASDE is not extracted until USDA's dates "
            "(usda.gov/oce/commodity/wasde) are added"
        ]

    def latest_slots(self, now: datetime) -> dict[str, date]:
        """The newest slot each job (report included) may have at `now`."""
        slots = {job: latest_slot(now, at) for job, at in self.timed_jobs().items()}
        return {**slots, "report": slots["transform"]}


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


# --- the state file ----------------------------------------------------------------------
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
    """Replace the state file atomically (a failed write leaves the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(json.dumps(state, indent=2, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _instant(value: object) -> datetime | None:
    try:
        dt = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt and dt.tzinfo is None else dt


def sanitize(state: dict, now: datetime, schedule: Schedule) -> tuple[dict, list[str]]:
    """The state without entries from the future, and a note for each one dropped."""
    limits = schedule.latest_slots(now)
    clean, notes = {}, []
    for job, entry in state.items():
        if not isinstance(entry, dict):
            notes.append(f"ignoring malformed state for {job}")
            continue
        limit = limits.get(job)
        days = [d for d in (_day(entry.get("slot")), _day(entry.get("ok_slot"))) if d]
        if limit is not None and any(d > limit for d in days):
            notes.append(
                f"ignoring state of {job} for slot {max(days)}: later than now "
                f"({now:%Y-%m-%d %H:%M} UTC, latest slot {limit}); clock jump or --now?"
            )
            continue
        clean[job] = entry
    return clean, notes


@dataclass(frozen=True)
class Due:
    job: str
    slot: date
    attempt: int


def next_attempt(entry: dict, slot: date, now: datetime) -> tuple[int | None, str | None]:
    """(attempt number due now or None, a note) for a job whose slot is `slot`."""
    last = _day(entry.get("slot"))
    if last is None or last < slot:
        return 1, None
    if entry.get("status") == "ok":
        return None, None
    done = int(entry.get("attempt") or 1)
    if done >= MAX_ATTEMPTS:
        return None, None
    since = _instant(entry.get("ended") or entry.get("at") or entry.get("started"))
    if since is None or since > now:
        return done + 1, "last attempt time is unknown or later than now: retrying at once"
    return (done + 1, None) if now >= since + RETRY_AFTER[done - 1] else (None, None)


def plan(state: dict, now: datetime, schedule: Schedule) -> tuple[list[Due], list[str]]:
    """Jobs due at `now` in run order (timed jobs by time, then the report), with notes.
    `state` must be sanitized."""
    due, notes = [], []
    timed = sorted(schedule.timed_jobs().items(), key=lambda kv: kv[1])
    extracted = _day(state.get("extract", {}).get("ok_slot"))
    for job, at in timed:
        slot = latest_slot(now, at)
        if job == "transform" and (extracted is None or extracted < slot):
            continue  # waits for the day's extract; due at once when it succeeds
        attempt, note = next_attempt(state.get(job, {}), slot, now)
        if note:
            notes.append(f"{job}: {note}")
        if attempt:
            due.append(Due(job, slot, attempt))
    ok = _day(state.get("transform", {}).get("ok_slot"))
    if ok is not None:
        attempt, note = next_attempt(state.get("report", {}), ok, now)
        if note:
            notes.append(f"report: {note}")
        if attempt:
            due.append(Due("report", ok, attempt))
    return due, notes


def retry_at(entry: dict) -> datetime | None:
    """When a failed attempt will be retried; None when it is the last one."""
    done = int(entry.get("attempt") or 1)
    since = _instant(entry.get("ended") or entry.get("started"))
    if done >= MAX_ATTEMPTS or since is None:
        return None
    return since + RETRY_AFTER[done - 1]


def waiting(state: dict, now: datetime, schedule: Schedule) -> list[Due]:
    """Jobs held back for a dependency: transform until the day's extract succeeded."""
    slot = latest_slot(now, schedule.transform_at)
    extracted = _day(state.get("extract", {}).get("ok_slot"))
    if extracted is not None and extracted >= slot:
        return []
    attempt, _ = next_attempt(state.get("transform", {}), slot, now)
    return [Due("transform", slot, attempt)] if attempt else []


def deadline_day(now: datetime, schedule: Schedule) -> date:
    """The newest transform slot whose deadline has passed at `now` (the deadline is the
    first MATERIA_TRANSFORM_DEADLINE after the slot's MATERIA_TRANSFORM_AT)."""
    at, by = schedule.transform_at, schedule.transform_deadline
    minutes = (by.hour * 60 + by.minute - at.hour * 60 - at.minute) % (24 * 60) or 24 * 60
    return latest_slot(now - timedelta(minutes=minutes), at)


def missed_deadline(state: dict, now: datetime, schedule: Schedule) -> date | None:
    """The day whose transform did not succeed by its deadline, or None."""
    day = deadline_day(now, schedule)
    ok = _day(state.get("transform", {}).get("ok_slot"))
    return day if ok is None or ok < day else None


# --- validation: a damaged state is repaired, never fatal ----------------------------------
JOBS = ("extract", "transform", "report")
STATUSES = ("started", "ok", "failed")


def problems_of(job: str, entry: object) -> list[str]:
    """What is wrong with one job's entry ([] when it is sound)."""
    if job not in JOBS:
        return [f"unknown job {job!r}"]
    if not isinstance(entry, dict):
        return [f"{job}: not an object"]
    found = []
    if _day(entry.get("slot")) is None:
        found.append(f"{job}: slot {entry.get('slot')!r} is not a date")
    if entry.get("status") not in STATUSES:
        found.append(f"{job}: status {entry.get('status')!r} is not one of {', '.join(STATUSES)}")
    attempt = entry.get("attempt", 1)
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        found.append(f"{job}: attempt {attempt!r} is not a whole number from 1")
    for name in ("started", "ended"):
        if entry.get(name) is not None and _instant(entry.get(name)) is None:
            found.append(f"{job}: {name} {entry.get(name)!r} is not a time")
    if entry.get("ok_slot") is not None and _day(entry.get("ok_slot")) is None:
        found.append(f"{job}: ok_slot {entry.get('ok_slot')!r} is not a date")
    for name in ("run_id", "error"):
        if entry.get(name) is not None and not isinstance(entry.get(name), str):
            found.append(f"{job}: {name} is not text")
    return found


def validate(state: object) -> list[str]:
    """Every problem of a state document ([] when it is sound)."""
    if not isinstance(state, dict):
        return ["not a JSON object"]
    return [p for job, entry in state.items() for p in problems_of(str(job), entry)]
