"""Which worker runs are still alive, so that no worker outlives its run.

Each `MATERIA_HOME` has an owner id (`<home>/owner-id`, made once) that every worker it
starts carries as its `owner` label, next to its `run` label. A run writes a marker
`<home>/live-runs/<run id>.json` (host, pid and the pid's start time) *before* it asks
for a worker and removes it only after the worker is destroyed. So a worker of ours
whose run has no marker, or whose marker names a process that is gone (SIGKILL, power
loss), belongs to a dead run and can be destroyed at once, without waiting for the TTL.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from materia.core.settings import Settings


def owner_id(settings: Settings) -> str:
    """This home's owner id (a valid label value), created on first use."""
    path = settings.home / "owner-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".owner-id.{os.getpid()}")
    tmp.write_text(f"m{secrets.token_hex(6)}\n")
    try:
        os.link(tmp, path)  # first writer wins; a racing one reads the winner's id
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def _live_dir(settings: Settings) -> Path:
    return settings.home / "live-runs"


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot), so a reused pid is not taken
    for the run's; None where /proc is not available."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


@dataclass(frozen=True)
class Marker:
    run_id: str
    pipeline: str
    provider: str
    host: str
    pid: int
    pid_start: str | None
    started: str
    parent: str | None = None

    def alive(self) -> bool:
        """False only when we know the run's process is gone (same host)."""
        if self.host != socket.gethostname():
            return True  # cannot tell from here: the TTL still applies
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return self.pid_start is None or _start_time(self.pid) == self.pid_start


def mark(
    settings: Settings,
    run_id: str,
    pipeline: str,
    provider: str,
    started: str,
    parent: str | None = None,
) -> Path:
    """Record that run `run_id` is alive in this process (before it creates a worker)."""
    d = _live_dir(settings)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{run_id}.json"
    doc = {
        "run_id": run_id,
        "pipeline": pipeline,
        "provider": provider,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "pid_start": _start_time(os.getpid()),
        "started": started,
        "parent": parent,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)
    return path


def unmark(settings: Settings, run_id: str) -> None:
    (_live_dir(settings) / f"{run_id}.json").unlink(missing_ok=True)


def _read(path: Path) -> Marker | None:
    try:
        doc = json.loads(path.read_text())
        return Marker(
            doc["run_id"],
            doc.get("pipeline", ""),
            doc.get("provider", ""),
            doc["host"],
            int(doc["pid"]),
            doc.get("pid_start"),
            doc.get("started", ""),
            doc.get("parent"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # gone, or not a marker


def marker(settings: Settings, run_id: str) -> Marker | None:
    """The marker of `run_id`, read now (a run that just started has one)."""
    return _read(_live_dir(settings) / f"{run_id}.json")


def markers(settings: Settings) -> dict[str, Marker]:
    d = _live_dir(settings)
    found = [_read(p) for p in sorted(d.glob("*.json"))] if d.is_dir() else []
    return {m.run_id: m for m in found if m is not None}
