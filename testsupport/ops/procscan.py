"""Watch /proc while something runs: which of *our* processes show a secret.

    with ProcScanner([token]) as scan:
        ...                              # run the thing
    scan.argv_hits                       # command lines that held a secret (must be [])
    scan.remote_env_hits                 # secrets seen in a stand-in worker's environment

"Ours" means a descendant of this test process, or a process on a stand-in server
(its environment carries testsupport.clouds.sshd.MARKER).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from testsupport.clouds.sshd import MARKER


class ProcScanner:
    """Watches /proc while a run goes on: which of *our* processes show a secret in their
    command line (must be none), and whether a stand-in worker had it in its environment."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = [s.encode() for s in secrets]
        self.argv_hits: list[str] = []
        self.remote_env_hits: set[bytes] = set()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> ProcScanner:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _ours(self, pid: str, parents: dict[str, str], env: bytes) -> bool:
        if MARKER.encode() in env:  # a process on a stand-in server
            return True
        me, seen = str(os.getpid()), set()
        while pid and pid not in seen:  # descendant of this test process
            if pid == me:
                return True
            seen.add(pid)
            pid = parents.get(pid, "")
        return False

    def _loop(self) -> None:
        while not self._stop.is_set():
            parents: dict[str, str] = {}
            procs: dict[str, tuple[bytes, bytes]] = {}
            for d in Path("/proc").glob("[0-9]*"):
                try:
                    stat = (d / "stat").read_text()
                    parents[d.name] = stat.rsplit(")", 1)[1].split()[1]
                    procs[d.name] = ((d / "cmdline").read_bytes(), (d / "environ").read_bytes())
                except (OSError, IndexError):
                    continue
            for pid, (cmdline, env) in procs.items():
                if not any(s in cmdline or s in env for s in self.secrets):
                    continue
                if not self._ours(pid, parents, env):
                    continue
                for s in self.secrets:
                    if s in cmdline:
                        self.argv_hits.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
                    if s in env and MARKER.encode() in env:
                        self.remote_env_hits.add(s)
            self.samples += 1
            time.sleep(0.05)


def children(pid: int) -> list[str]:
    """The command names (`comm`) of the live children of `pid`."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
        comm = text[text.index("(") + 1 : text.rindex(")")]
        ppid = int(text[text.rindex(")") + 2 :].split()[1])
        if ppid == pid:
            out.append(comm)
    return out
