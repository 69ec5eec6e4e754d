"""Signals during a worker run: every way to stop the CLI still destroys the worker.

SIGTERM (systemd, `timeout`) and SIGHUP (a closed terminal or SSH session) raise
`Terminated`, a KeyboardInterrupt like Ctrl-C, so the run unwinds through its `finally`;
while that clean-up runs, further stop signals wait (`shielded`). SIGKILL cannot be
caught: `materia.workers.alive` covers it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled like Ctrl-C so that the worker is still destroyed."""

    def __str__(self) -> str:
        return f"Terminated by {self.args[0]}" if self.args else "Terminated"


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def interrupting() -> Iterator[None]:
    """SIGTERM (systemd, `timeout`) and SIGHUP (a closed terminal) raise like Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, frame: object) -> None:
        raise Terminated(signal.Signals(signum).name)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextmanager
def shielded() -> Iterator[None]:
    """Clean-up must finish: a second Ctrl-C, SIGTERM or SIGHUP waits until it has."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, signal.SIG_IGN) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
