"""Scratch files and folders under `MATERIA_HOME/tmp`, named after the process that owns
them, so that the next run can remove what a killed run left (a `kill -9`, an OOM kill, a
power cut) without ever touching another live run's.

Every entry is `materia-<kind>-<host>.<pid>-<random>[suffix]`. `clean` removes an entry
of this host whose process is gone (or whose pid now belongs to a process started after
the entry last changed), and an entry without such an owner (another host, an older
materia) once it is older than `UNOWNED_AGE_S`.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

UNOWNED_AGE_S = 6 * 3600
_NAME = re.compile(r"^materia-[a-z]+-(?P<host>[A-Za-z0-9-]*)\.(?P<pid>[0-9]+)-")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "", socket.gethostname())[:32]


def prefix(kind: str) -> str:
    """The name prefix of this process's scratch entries of `kind` (for `tempfile`)."""
    return f"materia-{kind}-{_host()}.{os.getpid()}-"


def mkdtemp(tmp_dir: Path, kind: str) -> Path:
    tmp_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix(kind), dir=tmp_dir))


def mkstemp(tmp_dir: Path, kind: str, suffix: str = "") -> Path:
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=prefix(kind), suffix=suffix, dir=tmp_dir)
    os.close(fd)
    return Path(name)


def _started(pid: int) -> float | None:
    """When `pid` started (epoch seconds), None when no such live process (Linux /proc;
    elsewhere only whether it exists, as 0)."""
    stat = Path(f"/proc/{pid}/stat")
    if not Path("/proc/self/stat").exists():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return 0.0
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, IndexError, StopIteration, ValueError):
        return None
    if fields[0] in ("Z", "X"):  # a zombie: dead, its parent has not reaped it yet
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def owner_alive(path: Path) -> bool | None:
    """Whether the process that owns a scratch entry is alive; None when unknown (not
    materia's name, or another host's)."""
    m = _NAME.match(path.name)
    if not m or m["host"] != _host():
        return None
    started = _started(int(m["pid"]))
    if started is None:
        return False
    try:
        changed = path.lstat().st_ctime
    except FileNotFoundError:
        return True  # gone already: nothing to do
    return started <= changed + 1  # a later start: the pid was reused


def clean(tmp_dir: Path, now: float | None = None) -> list[Path]:
    """Remove the scratch entries of processes that are gone; the entries removed."""
    if not tmp_dir.is_dir():
        return []
    now = time.time() if now is None else now
    removed = []
    for path in sorted(tmp_dir.glob("materia-*")):
        alive = owner_alive(path)
        if alive is None:
            try:
                alive = now - path.lstat().st_mtime < UNOWNED_AGE_S
            except FileNotFoundError:
                continue
        if alive:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed
