"""Run a child process and measure it: wall time and peak RSS (the child and its children).

Peak RSS is what `/usr/bin/time -v` reports, measured the same way: a tiny launcher
process forks and execs the command and reads `wait4`'s rusage (the largest of the
command and its waited-for descendants). Reading the rusage of a direct child instead
would be wrong: Linux folds the parent's high-water RSS into a forked child at exec, so
a big harness would inflate every figure.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


class ChildFailed(RuntimeError):
    """A measured command exited non-zero; the message holds its last output lines."""


@dataclass(frozen=True)
class Sample:
    wall_s: float
    peak_rss: int  # bytes
    stdout: str


# Runs in `python -S -c`: fork + exec argv[2:], write the child's peak RSS (KiB) to argv[1].
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"""


def run(
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    what: str | None = None,
) -> Sample:
    """Run `argv` to completion; raise ChildFailed (with its output tail) on a non-zero exit."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile(prefix="materia-rss-") as rss,
    ):
        launcher = [sys.executable, "-S", "-c", _LAUNCHER, rss.name, *argv]
        t0 = time.perf_counter()
        code = subprocess.run(
            launcher, env=dict(env) if env is not None else None, cwd=cwd, stdout=out, stderr=err
        ).returncode
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
        peak_kib = int(Path(rss.name).read_text() or 0)
    if code != 0:
        tail = " | ".join((stderr or stdout).strip().splitlines()[-3:])
        raise ChildFailed(f"{what or argv[0]} exited {code}: {tail}")
    return Sample(wall_s=wall, peak_rss=peak_kib * 1024, stdout=stdout)


def python(
    args: Sequence[str], env: Mapping[str, str] | None = None, what: str | None = None
) -> Sample:
    """`run` this project's Python interpreter with `args`, from the repository root."""
    return run([sys.executable, *args], env=env, cwd=REPO, what=what)


@dataclass(frozen=True)
class Stats:
    median: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        return cls(statistics.median(values), min(values), max(values), len(values))

    def fmt(self, unit: str = "s", scale: float = 1.0, digits: int = 2) -> str:
        m, lo, hi = (v / scale for v in (self.median, self.min, self.max))
        if self.n == 1:
            return f"{m:.{digits}f} {unit}"
        return f"{m:.{digits}f} {unit} [{lo:.{digits}f}–{hi:.{digits}f}]"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


MIB = 1024 * 1024
GIB = 1024 * MIB
