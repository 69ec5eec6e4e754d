"""A live holder of a materia lock in another process, for tests of what a second run does."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def held_elsewhere(path: Path) -> Iterator[subprocess.Popen]:
    """Another process holds the local lock at `path` for the block; yields that process."""
    code = (
        "import time; from pathlib import Path; from materia.core import locks\n"
        f"with locks.hold(locks.LocalLock(Path({str(path)!r})), 'x'):\n"
        "    print('held', flush=True); time.sleep(600)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()
