"""An append-only log of JSON records in the landing store that damage cannot break.

Appends are atomic: each record is one write. In a local folder that is one `write()`
of one line to `<name>.jsonl` under an exclusive `flock` (two processes appending at once
keep every record; a line torn by a killed writer never glues onto the next one). On S3
(R2), which has no append, each record is an object of its own under `<name>/`, so no
writer ever rewrites another's records. Reading skips what cannot be parsed (a torn line,
a foreign object) and says where, so one broken line never stops a reader.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from materia.core.storage import LandingStore


@dataclass
class Records:
    records: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "<where>: <what>", one per skip


def _line(record: dict) -> bytes:
    return (json.dumps(record, sort_keys=True, default=str) + "\n").encode()


def append(store: LandingStore, name: str, record: dict) -> None:
    """Append `record` to the log `name` (e.g. `runs/runs`), atomically."""
    data = _line(record)
    if store.is_s3:
        # Sortable by time, unique by the random tail: readers order records by key.
        key = f"{name}/{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}.json"
        store.fs.pipe_file(store.url(key), data)
        return
    path = Path(store.url(f"{name}.jsonl"))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # a writer died mid-line: start ours on a line of its own
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)  # releases the lock


def _parse(text: bytes, where: str, out: Records) -> None:
    for n, raw in enumerate(text.decode(errors="replace").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            out.records.append(doc)
        else:
            out.problems.append(f"{where} line {n}: not a JSON object, skipped")


def read(store: LandingStore, name: str) -> Records:
    """Every readable record, oldest first: `<name>.jsonl`, then (on S3) the record
    objects under `<name>/` by key; what was skipped in `problems`."""
    out = Records()
    if store.is_s3:
        store.fs.invalidate_cache()  # a long-lived process must see records added since
    jsonl = f"{name}.jsonl"
    if store.exists(jsonl):
        _parse(store.read_bytes(jsonl), jsonl, out)
    if store.is_s3:
        keys = [k for k in store.list(f"{name}/") if k.endswith(".json")]
        if keys:
            # One concurrent fetch for them all (s3fs), not one round trip each.
            found = store.fs.cat([store.url(k) for k in keys], on_error="return")
            for key in keys:
                data = found.get(store.url(key).removeprefix("s3://"), found.get(store.url(key)))
                if isinstance(data, bytes):
                    _parse(data, key, out)
                else:
                    out.problems.append(f"{key}: unreadable ({data}), skipped")
    return out
