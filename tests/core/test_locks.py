"""materia.core.locks: one lock type that knows its holder. Locally a dead holder is taken over
at once; on S3 (SeaweedFS) a lock is renewed while its holder lives, expires minutes after
a crash, and a run that lost its lock stops before changing anything more."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from materia.core import locks
from materia.core.errors import MateriaError
from materia.core.storage import LandingStore
from testsupport.ops.locks import held_elsewhere


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _record(host: str, pid: int, expires_in: timedelta) -> bytes:
    now = datetime.now(UTC)
    return json.dumps(
        {
            "host": host,
            "pid": pid,
            "started": now.isoformat(timespec="seconds"),
            "expires": (now + expires_in).isoformat(timespec="seconds"),
            "token": "someone-else",
        }
    ).encode()


# --- local ------------------------------------------------------------------------------------
def test_local_lock_refuses_a_live_holder_in_another_process(tmp_path):
    path = tmp_path / "locks" / "transform-prod.lock"
    with held_elsewhere(path) as holder:
        with (
            pytest.raises(MateriaError) as err,
            locks.hold(locks.LocalLock(path), "a transform of prod"),
        ):
            pass
        message = str(err.value)
        assert f"pid {holder.pid}" in message and socket.gethostname() in message
        assert "a transform of prod is already running; nothing was changed" in message
    # The kernel released it with the process: taken at once, and said so.
    said: list[str] = []
    with locks.hold(locks.LocalLock(path), "x", say=said.append):
        pass
    assert said and f"taking over from {socket.gethostname()} pid {holder.pid}" in said[0]


def test_local_lock_left_by_a_dead_process_is_taken_over_at_once(tmp_path):
    path = tmp_path / "transform-prod.lock"
    pid = _dead_pid()
    path.write_bytes(_record(socket.gethostname(), pid, timedelta(hours=3)))
    said: list[str] = []
    with locks.hold(locks.LocalLock(path), "x", say=said.append):
        assert json.loads(path.read_bytes())["pid"] == os.getpid()
    assert f"pid {pid}" in said[0] and "which is gone" in said[0]
    assert path.read_bytes() == b""  # released: no stale record for the next holder


# --- remote (S3) ------------------------------------------------------------------------------
@pytest.fixture
def store(r2_settings):
    return LandingStore.from_settings(r2_settings)


def test_remote_lock_refuses_then_frees(store):
    key = "locks/t.json"
    with locks.hold(locks.RemoteLock(store, key), "first"):
        assert json.loads(store.read_bytes(key))["pid"] == os.getpid()
        busy = f"held by {socket.gethostname()} pid {os.getpid()}"
        with pytest.raises(MateriaError, match=busy), locks.hold(locks.RemoteLock(store, key), "2"):
            pass
    assert not store.exists(key)
    with locks.hold(locks.RemoteLock(store, key), "second"):
        pass


def test_remote_lock_of_a_live_holder_elsewhere_is_refused_until_it_expires(store):
    key = "locks/t.json"
    store.write_bytes(key, _record("worker-7", 4242, timedelta(minutes=2)))
    busy = "held by worker-7 pid 4242 .* until "
    with pytest.raises(MateriaError, match=busy), locks.hold(locks.RemoteLock(store, key), "x"):
        pass
    store.write_bytes(key, _record("worker-7", 4242, timedelta(seconds=-1)))
    said: list[str] = []
    with locks.hold(locks.RemoteLock(store, key), "x", say=said.append):
        pass
    assert "taking over from worker-7 pid 4242" in said[0] and "(expired)" in said[0]


def test_remote_lock_of_a_dead_process_on_this_host_is_taken_over_at_once(store):
    key = "locks/t.json"
    pid = _dead_pid()
    store.write_bytes(key, _record(socket.gethostname(), pid, timedelta(minutes=3)))
    said: list[str] = []
    with locks.hold(locks.RemoteLock(store, key), "x", say=said.append):
        pass
    assert f"pid {pid}" in said[0] and "whose process is gone" in said[0]


def test_remote_lock_is_renewed_while_held_and_a_lost_lock_stops_the_run(store):
    key = "locks/t.json"
    ttl = timedelta(seconds=3)
    # Leaving the block checks again, so the whole run fails, not just the next step.
    with (
        pytest.raises(MateriaError, match="lost the lock"),
        locks.hold(locks.RemoteLock(store, key, ttl=ttl), "first") as held,
    ):
        first = json.loads(store.read_bytes(key))["expires"]
        deadline = time.monotonic() + 20
        while json.loads(store.read_bytes(key))["expires"] == first:  # renewed every ttl/3
            assert time.monotonic() < deadline, "the lock was never renewed"
            time.sleep(0.2)
        held.check()  # still ours
        # Someone takes it (as after a renewal lost to a network partition).
        store.write_bytes(key, _record("worker-9", 1, timedelta(minutes=3)))
        deadline = time.monotonic() + 20
        while not held.lost.is_set():
            assert time.monotonic() < deadline, "the lost lock was never noticed"
            time.sleep(0.2)
        with pytest.raises(MateriaError, match="lost the lock .* stopped before changing"):
            held.check()
    assert json.loads(store.read_bytes(key))["host"] == "worker-9"  # not deleted: not ours
