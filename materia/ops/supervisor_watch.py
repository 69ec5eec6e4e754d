"""The dead-man's switch: alerts for a night that did not happen, a supervisor that
stopped ticking, and secrets that cannot be read.

- Each tick writes a heartbeat: locally (`<home>/supervisor/watch.json`, which the next
  tick reads: a gap longer than `MATERIA_HEARTBEAT_MAX_MINUTES` is alerted when the
  supervisor is back) and in the landing store (`supervisor/heartbeat.json`, R2 in
  prod), which `materia supervisor watch` checks from anywhere else (a scheduled CI job):
  a heartbeat too old, or no successful transform by the deadline, is alerted there.
- A transform that has not succeeded for its day by `MATERIA_TRANSFORM_DEADLINE` is
  alerted once for that day, whatever the reason (failed, never ran, extract failed).
- ESC failing is alerted with the `MATERIA_NOTIFY` of the environment file the
  supervisor starts with (`notify.send_env`), at most once per `ALERT_REPEAT`.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

from materia.core import notify
from materia.core.errors import MateriaError
from materia.core.settings import Settings
from materia.core.storage import LandingStore
from materia.ops.schedule import Schedule, deadline_day, missed_deadline, write_state
from materia.ops.supervisor_log import ALERT_REPEAT

HEARTBEAT_KEY = "supervisor/heartbeat.json"


def _watch_path(home: Path) -> Path:
    return home / "supervisor" / "watch.json"


def _read_watch(home: Path) -> dict:
    try:
        doc = json.loads(_watch_path(home).read_text())
    except (OSError, ValueError):
        return {}  # lost: at worst an alert is sent twice
    return doc if isinstance(doc, dict) else {}


def _write_watch(home: Path, doc: dict) -> None:
    with contextlib.suppress(OSError):  # a full disk is the tick's own alert
        write_state(_watch_path(home), doc)


def alert_once(home: Path, key: str, send, title: str, body: str) -> bool:
    """Send (`send(title, body)`) unless the same `key` was alerted within ALERT_REPEAT;
    True when sent now."""
    doc = _read_watch(home)
    sent = doc.get("alerted", {}) if isinstance(doc.get("alerted"), dict) else {}
    now = datetime.now(UTC)
    last = sent.get(key)
    try:
        if last and now - datetime.fromisoformat(last) < ALERT_REPEAT:
            return False
    except (TypeError, ValueError):
        pass
    send(title, body)
    recent = {
        k: v
        for k, v in sent.items()
        if isinstance(v, str) and v >= (now - ALERT_REPEAT).isoformat()
    }
    _write_watch(home, {**doc, "alerted": {**recent, key: now.isoformat()}})
    return True


# --- in the tick ---------------------------------------------------------------------------
def beat(settings: Settings, state: dict, now: datetime, schedule: Schedule) -> list[str]:
    """Record that the supervisor is ticking (locally and in the landing store); notes
    and alerts for a silence since the previous tick. Call at each tick's start."""
    notes = []
    doc = _read_watch(settings.home)
    last = doc.get("last_tick")
    try:
        gap = now - datetime.fromisoformat(last) if last else None
    except (TypeError, ValueError):
        gap = None
    if gap is not None and gap > schedule.heartbeat_max:
        hours = gap.total_seconds() / 3600
        note = (
            f"the supervisor did not tick from {last[:16]} to {now:%Y-%m-%dT%H:%M} UTC "
            f"({hours:.1f} h; more than {schedule.heartbeat_max.total_seconds() / 60:.0f} min)"
        )
        notes.append(note)
        notify.send(settings, "materia: supervisor was not ticking", note + ".", notify.FAILURE)
    _write_watch(settings.home, {**doc, "last_tick": now.isoformat()})
    publish_heartbeat(settings, state, now, schedule)
    return notes


def publish_heartbeat(settings: Settings, state: dict, now: datetime, schedule: Schedule) -> None:
    """The heartbeat object `materia supervisor watch` reads (never fatal)."""
    from materia.core.secrets import redact_doc, redactor

    doc = {
        "at": now.isoformat(),
        "host": socket.gethostname(),
        "extract_ok_slot": state.get("extract", {}).get("ok_slot"),
        "transform_ok_slot": state.get("transform", {}).get("ok_slot"),
        "transform_deadline": schedule.transform_deadline.strftime("%H:%M"),
        "heartbeat_max_minutes": int(schedule.heartbeat_max.total_seconds() // 60),
    }
    data = json.dumps(redact_doc(doc, redactor(settings)), sort_keys=True).encode()
    try:
        LandingStore.from_settings(settings).write_bytes(HEARTBEAT_KEY, data)
    except Exception as e:  # the local heartbeat still counts
        print(f"supervisor: could not publish the heartbeat: {type(e).__name__}", flush=True)


def check_deadline(settings: Settings, state: dict, now: datetime, schedule: Schedule) -> list[str]:
    """Alert once per day a transform that has not succeeded by its deadline."""
    day = missed_deadline(state, now, schedule)
    if day is None:
        return []
    doc = _read_watch(settings.home)
    if doc.get("deadline_alerted") == str(day):
        return []
    why = _why_no_transform(state, day)
    note = f"no successful transform for {day} by {schedule.transform_deadline:%H:%M} UTC: {why}"
    notify.send(settings, "materia: no transform tonight", note + ".", notify.FAILURE)
    _write_watch(settings.home, {**doc, "deadline_alerted": str(day)})
    return [note]


def _why_no_transform(state: dict, day) -> str:
    extract, transform = state.get("extract", {}), state.get("transform", {})
    if str(transform.get("slot")) == str(day) and transform.get("status") == "failed":
        return f"attempt {transform.get('attempt')} failed: {transform.get('error') or '?'}"
    if str(extract.get("ok_slot") or "") < str(day):
        if str(extract.get("slot")) == str(day) and extract.get("status") == "failed":
            return (
                f"it waits for the day's extract, whose attempt {extract.get('attempt')} "
                f"failed: {extract.get('error') or '?'}"
            )
        return "it waits for the day's extract, which has not succeeded"
    return "it has not run (is the supervisor ticking? `materia runs`)"


# --- outside the tick -------------------------------------------------------------------
def secrets_failed(error: Exception) -> None:
    """ESC could not be read: alert it with the environment file's MATERIA_NOTIFY."""
    home = Path(os.environ.get("MATERIA_HOME") or ".materia").expanduser()
    body = (
        f"{error}. The supervisor cannot run jobs until it can read its secrets; this alert "
        "comes through the MATERIA_NOTIFY of its environment file."
    )

    def send(title: str, text: str) -> None:
        if not notify.send_env(title, text, notify.FAILURE):
            print("alert: could not alert that ESC failed (MATERIA_NOTIFY?)", flush=True)

    alert_once(home, f"esc: {error}", send, "materia: secrets unavailable", body)


def watch(settings: Settings, now: datetime, schedule: Schedule) -> list[str]:
    """`materia supervisor watch`: what is wrong, seen from outside the supervisor
    (each one alerted); [] when its heartbeat is fresh and the night's transform is in."""
    store = LandingStore.from_settings(settings)
    try:
        doc = json.loads(store.read_bytes(HEARTBEAT_KEY))
    except FileNotFoundError:
        doc = None
    except Exception as e:
        raise MateriaError(
            f"cannot read the supervisor's heartbeat ({HEARTBEAT_KEY}): {e}"
        ) from None
    wrong = []
    if not isinstance(doc, dict) or not doc.get("at"):
        wrong.append(f"the supervisor has never published a heartbeat ({store.url(HEARTBEAT_KEY)})")
    else:
        at = datetime.fromisoformat(str(doc["at"]))
        if now - at > schedule.heartbeat_max:
            wrong.append(f"the supervisor's last heartbeat is from {at:%Y-%m-%d %H:%M} UTC")
        day = deadline_day(now, schedule)
        if str(doc.get("transform_ok_slot") or "") < str(day):
            wrong.append(
                f"no successful transform for {day} by {schedule.transform_deadline:%H:%M} UTC "
                f"(last: {doc.get('transform_ok_slot') or 'never'})"
            )
    for line in wrong:
        notify.send(settings, "materia: supervisor watch", line + ".", notify.FAILURE)
    return wrong
