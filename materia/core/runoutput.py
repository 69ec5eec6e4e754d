"""A run's output kept beside the run log: `runs/output/<run id>.log` in the landing store.

A worker run writes every line it relays (already redacted) to a local file as the run
goes (`<home>/runs/<run id>.log`, so a run in progress can be followed with `tail -f`),
and puts it whole into the landing store when the run ends (R2 in prod). `materia runs
show ID` reads it back.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TextIO

from materia.core.settings import Settings
from materia.core.storage import LandingStore

PREFIX = "runs/output"


def key(run_id: str) -> str:
    return f"{PREFIX}/{run_id}.log"


def local_path(settings: Settings, run_id: str) -> Path:
    return settings.home / "runs" / f"{run_id}.log"


class Output:
    """The output file of one run: `write(line)` as lines come, `keep()` at the end."""

    def __init__(self, settings: Settings, run_id: str) -> None:
        self.settings, self.run_id = settings, run_id
        self.path = local_path(settings, run_id)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO | None = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def write(self, line: str) -> None:
        if self._file is not None:
            self._file.write(line.rstrip("\n") + "\n")
            self._file.flush()

    def keep(self) -> str | None:
        """Close the file and put it beside the run log; the error, or None."""
        if self._file is not None:
            self._file.close()
            self._file = None
        try:
            store = LandingStore.from_settings(self.settings)
            with store.temp_file(suffix=".log") as tmp:
                tmp.write_bytes(self.path.read_bytes())
                store.put_file(tmp, key(self.run_id))
        except Exception as e:  # the run's outcome matters more than its output's copy
            return f"{type(e).__name__}: {e}"
        with contextlib.suppress(OSError):
            self.path.unlink()  # the landing store holds it now
        return None


def read(settings: Settings, run_id: str) -> str | None:
    """The kept output of `run_id` (the landing store, else the local file), or None."""
    store = LandingStore.from_settings(settings)
    with contextlib.suppress(FileNotFoundError, OSError):
        if store.exists(key(run_id)):
            return store.read_bytes(key(run_id)).decode(errors="replace")
    path = local_path(settings, run_id)
    return path.read_text(errors="replace") if path.is_file() else None
