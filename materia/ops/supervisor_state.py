"""The supervisor's state file, read safely: validated, and repaired when damaged.

A state that is not JSON, or has an entry that is not what `materia.ops.schedule` writes
(`"attempt": "x"`, a slot that is not a date, …) must not stop every tick. The damaged
file is kept aside (`state.json.damaged-<time>`), each broken entry is rebuilt from the
supervisor's own records in the run log (slot, attempt, status, times), sound entries
are kept, the repaired state is written back, and the tick alerts what it repaired.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from materia.core import runlog
from materia.core.errors import MateriaError
from materia.core.settings import Settings
from materia.ops.schedule import JOBS, problems_of, validate, write_state


def rebuild(settings: Settings) -> dict:
    """Each job's newest attempt (and last success) from the run log's job records."""
    jobs = [
        r
        for r in runlog.merged(runlog.read(settings))
        if r.get("source") == "supervisor" and r.get("pipeline") in JOBS and r.get("slot")
    ]
    state: dict = {}
    for job in JOBS:
        mine = [r for r in jobs if r["pipeline"] == job and not problems_of(job, _entry(r))]
        if not mine:
            continue
        last = max(mine, key=lambda r: (str(r["slot"]), int(r.get("attempt") or 1)))
        entry = _entry(last)
        oks = [str(r["slot"]) for r in mine if r.get("status") == "ok"]
        if oks:
            entry["ok_slot"] = max(oks)
        state[job] = entry
    return state


def _entry(rec: dict) -> dict:
    entry = {
        "slot": rec.get("slot"),
        "status": rec.get("status"),
        "attempt": rec.get("attempt") or 1,
        "started": rec.get("started"),
        "ended": rec.get("ended"),
        "run_id": rec.get("run_id"),
        "error": rec.get("error"),
    }
    return {k: v for k, v in entry.items() if v is not None}


def load(settings: Settings, path: Path, repair: bool = True) -> tuple[dict, list[str]]:
    """(the state, what was wrong with it). With `repair`, a damaged file is set aside
    and the repaired state written back; without, broken entries are only left out."""
    try:
        raw = path.read_text() if path.exists() else None
    except OSError as e:
        raise MateriaError(f"supervisor state {path} is unreadable: {e.strerror or e}") from None
    if raw is None:
        return {}, []
    try:
        doc = json.loads(raw)
    except ValueError as e:
        doc, problems = {}, [f"not JSON ({getattr(e, 'msg', e)})"]
    else:
        problems = validate(doc)
        if not isinstance(doc, dict):
            doc = {}
    if not problems:
        return doc, []
    sound = {job: entry for job, entry in doc.items() if not problems_of(str(job), entry)}
    if not repair:
        return sound, [f"supervisor state {path}: {p} (left out)" for p in problems]
    rebuilt = rebuild(settings)
    state = {**{j: e for j, e in rebuilt.items() if j not in sound}, **sound}
    aside = path.with_name(f"{path.name}.damaged-{datetime.now(UTC):%Y%m%dT%H%M%S}")
    os.replace(path, aside)
    write_state(path, state)
    from_log = sorted(j for j in rebuilt if j not in sound)
    how = f"rebuilt {', '.join(from_log)} from the run log" if from_log else "kept what was sound"
    return state, [
        f"supervisor state {path} was damaged ({'; '.join(problems)}): kept as {aside.name}, {how}"
    ]
