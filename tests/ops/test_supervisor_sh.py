"""supervisor/supervisor.sh, run for real against a local bare git repository as origin.

The deployed checkout is a tiny fake project; a stand-in `uv` on PATH reads marker files
of the checked-out commit (SYNC_FAIL, SYNC_HANG, SMOKE_FAIL, TICK_EXIT, TICK_HANG) and
records each tick with the VERSION it ran, so the loop's own logic (fetch, fast-forward,
check, roll back, alert once, tick, time out, keep going, stop on SIGTERM) is what is
exercised. tests/ops/test_adoption.py runs the real check on real broken commits.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from testsupport.ops import procscan
from testsupport.ops.gitrepo import GIT_ENV, git

SCRIPT = Path(__file__).resolve().parents[2] / "supervisor" / "supervisor.sh"

FAKE_UV = """#!/bin/sh
echo "$*" >> "$UV_LOG"
case "$1" in
    sync)
        [ -e SYNC_HANG ] && exec sleep 600
        [ ! -e SYNC_FAIL ] ;;
    run)
        shift
        [ "$1" = --no-sync ] && shift
        [ "$1" = --quiet ] && shift
        case "$*" in
            "materia supervisor check")
                echo "check: 81 Python files compile"
                [ -e CHECK_LATER ] && { echo "check: not yet: CI has not finished"; exit 75; }
                [ -e SMOKE_FAIL ] && { echo "error: check failed: $(cat SMOKE_FAIL)" >&2; exit 1; }
                echo "check: ok, vouched for by GitLab pipeline #7" ;;
            "materia supervisor alert "*) echo "$*" >> "$ALERT_LOG" ;;
            "materia secrets git-credential "*)
                shift 3
                exec "$MATERIA_PYTHON" -m materia secrets git-credential "$@" ;;
            "materia supervisor tick")
                cat VERSION >> "$TICK_LOG"
                [ -e TICK_HANG ] && exec sleep 600
                exit "$(cat TICK_EXIT 2>/dev/null || echo 0)" ;;
            *) echo "unexpected: $*" >&2; exit 99 ;;
        esac ;;
esac
"""
MARKERS = ("SYNC_FAIL", "SYNC_HANG", "SMOKE_FAIL", "CHECK_LATER", "TICK_EXIT", "TICK_HANG")


class Rig:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.origin = tmp / "origin.git"
        self.seed = tmp / "seed"
        self.deploy = tmp / "deploy"
        self.bin = tmp / "bin"
        self.tick_log = tmp / "ticks.log"
        self.uv_log = tmp / "uv.log"
        self.alert_log = tmp / "alerts.log"
        self.home = tmp / "home"
        self.bin.mkdir()
        (self.bin / "uv").write_text(FAKE_UV)
        (self.bin / "uv").chmod(0o755)
        git(tmp, "init", "--quiet", "--bare", "--initial-branch=main", str(self.origin))
        git(tmp, "init", "--quiet", "--initial-branch=main", str(self.seed))
        git(self.seed, "remote", "add", "origin", str(self.origin))

    def commit(self, version: str, **markers: str) -> str:
        """A commit whose VERSION is `version` and whose marker files are exactly `markers`."""
        for name in MARKERS:
            (self.seed / name).unlink(missing_ok=True)
        for name, text in markers.items():
            (self.seed / name).write_text(text)
        (self.seed / "VERSION").write_text(version + "\n")
        git(self.seed, "add", "-A")
        git(self.seed, "commit", "--quiet", "-m", f"version {version}")
        git(self.seed, "push", "--quiet", "origin", "main")
        return git(self.seed, "rev-parse", "HEAD")

    def clone(self) -> None:
        git(self.tmp, "clone", "--quiet", str(self.origin), str(self.deploy))

    def env(self, iterations: int, interval: str = "0", **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            **GIT_ENV,
            "PATH": f"{self.bin}:{os.environ['PATH']}",
            "MATERIA_REPO": str(self.deploy),
            "MATERIA_HOME": str(self.home),
            "MATERIA_SUPERVISOR_ITERATIONS": str(iterations),
            "MATERIA_SUPERVISOR_INTERVAL": interval,
            "UV_LOG": str(self.uv_log),
            "TICK_LOG": str(self.tick_log),
            "ALERT_LOG": str(self.alert_log),
            "MATERIA_PYTHON": sys.executable,
            **extra,
        }

    def run(self, iterations: int, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["sh", str(SCRIPT)],
            env=self.env(iterations, **extra),
            capture_output=True,
            text=True,
            timeout=60,
        )

    def ticks(self) -> list[str]:
        return self.tick_log.read_text().split() if self.tick_log.exists() else []

    def uv_calls(self) -> list[str]:
        return self.uv_log.read_text().splitlines() if self.uv_log.exists() else []

    def alerts(self) -> list[str]:
        return self.alert_log.read_text().splitlines() if self.alert_log.exists() else []

    def head(self) -> str:
        return git(self.deploy, "rev-parse", "HEAD")


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


def test_new_commit_is_picked_up_then_ticks(rig: Rig) -> None:
    rig.commit("1")
    rig.clone()
    c2 = rig.commit("2")
    proc = rig.run(iterations=1)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert rig.head() == c2
    assert rig.ticks() == ["2"]
    assert rig.uv_calls()[:2] == ["sync --locked --quiet", "run --no-sync materia supervisor check"]
    assert f"now at {c2}" in proc.stdout
    assert (rig.home / "supervisor" / "last-good").read_text().strip() == c2
    # What vouched for the commit is said in an (information) alert.
    assert rig.alerts() == [
        f"materia supervisor alert --info adopted commit {c2}: ok, vouched for by GitLab pipeline #7"
    ]


@pytest.mark.parametrize("marker", ["SYNC_FAIL", "SMOKE_FAIL"])
def test_failed_update_is_not_kept_and_old_version_still_ticks(rig: Rig, marker: str) -> None:
    c1 = rig.commit("1")
    rig.clone()
    bad = rig.commit("2", **{marker: "the sqlmesh tests fail"})
    proc = rig.run(iterations=2)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert rig.head() == c1
    assert rig.ticks() == ["1", "1"]
    # Each iteration tries the update, rolls back and re-syncs the good commit.
    assert proc.stdout.count(f"update to {bad} failed; staying on {c1}") == 2
    assert rig.uv_calls().count("sync --locked --quiet") == 4
    # One alert per rejected commit, not one per iteration, with the failing step's line.
    [alert] = rig.alerts()
    assert alert.startswith(f"materia supervisor alert commit {bad} was not adopted: ")
    why = {
        "SYNC_FAIL": "uv sync failed: ",
        "SMOKE_FAIL": "error: check failed: the sqlmesh tests fail",
    }[marker]
    assert why in alert and alert.endswith(f"; still running {c1}")

    # A fixed commit on top is taken by the next run.
    c3 = rig.commit("3")
    assert rig.run(iterations=1).returncode == 0
    assert rig.head() == c3
    assert rig.ticks()[-1] == "3"


def test_a_commit_ci_has_not_judged_yet_is_asked_about_again_without_an_alert(rig: Rig) -> None:
    c1 = rig.commit("1")
    rig.clone()
    later = rig.commit("2", CHECK_LATER="x")
    proc = rig.run(iterations=2)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert rig.head() == c1 and rig.ticks() == ["1", "1"]
    assert proc.stdout.count(f"commit {later} cannot be judged yet (check: not yet: CI") == 2
    assert rig.alerts() == []


def test_failing_tick_does_not_end_the_loop(rig: Rig) -> None:
    rig.commit("1", TICK_EXIT="3")
    rig.clone()
    proc = rig.run(iterations=2)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert rig.ticks() == ["1", "1"]
    assert proc.stdout.count("tick failed (exit 3)") == 2


def test_unreachable_origin_still_ticks(rig: Rig) -> None:
    rig.commit("1")
    rig.clone()
    git(rig.deploy, "remote", "set-url", "origin", str(rig.tmp / "missing.git"))
    proc = rig.run(iterations=1)
    assert proc.returncode == 0
    assert "fetch failed" in proc.stdout
    assert rig.ticks() == ["1"]


def test_sigterm_stops_cleanly_while_sleeping(rig: Rig) -> None:
    rig.commit("1")
    rig.clone()
    proc = subprocess.Popen(
        ["sh", str(SCRIPT)],
        env=rig.env(iterations=0, interval="600"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(300):  # wait for the first tick, then for the loop to be asleep
            if rig.ticks():
                break
            time.sleep(0.1)
        assert rig.ticks() == ["1"]
        for _ in range(300):  # the loop is asleep once its `sleep` child exists
            if "sleep" in procscan.children(proc.pid):
                break
            time.sleep(0.1)
        assert "sleep" in procscan.children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "supervisor: stopping" in out


def test_a_commit_merged_but_never_checked_is_not_taken_for_good(rig: Rig) -> None:
    c1 = rig.commit("1")
    rig.clone()
    assert rig.run(iterations=1).returncode == 0  # records c1 as the last good commit
    bad = rig.commit("2", SMOKE_FAIL="x")
    git(rig.deploy, "fetch", "--quiet", "origin")
    git(rig.deploy, "merge", "--ff-only", "--quiet", bad)  # the service died mid-update
    git(rig.deploy, "remote", "set-url", "origin", str(rig.tmp / "missing.git"))
    proc = rig.run(iterations=1)
    assert f"back to the last good commit {c1}" in proc.stdout
    assert rig.head() == c1 and rig.ticks()[-1] == "1"


class SilentServer:
    """Accepts TCP connections and never answers: a remote that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        for c in self.held:
            c.close()
        self.sock.close()


def test_a_hanging_fetch_times_out_and_the_tick_still_runs(rig: Rig) -> None:
    rig.commit("1")
    rig.clone()
    silent = SilentServer()
    try:
        git(rig.deploy, "remote", "set-url", "origin", f"http://127.0.0.1:{silent.port}/m.git")
        proc = rig.run(iterations=1, MATERIA_FETCH_TIMEOUT="1")
    finally:
        silent.close()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "fetch failed (exit 124)" in proc.stdout  # timeout(1)'s exit status
    assert rig.ticks() == ["1"]


def test_a_hanging_sync_or_tick_times_out_and_the_loop_goes_on(rig: Rig) -> None:
    c1 = rig.commit("1", TICK_HANG="x")
    rig.clone()
    bad = rig.commit("2", SYNC_HANG="x")
    proc = rig.run(iterations=2, MATERIA_SYNC_TIMEOUT="1", MATERIA_TICK_TIMEOUT="1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(f"update to {bad} failed; staying on {c1}") == 2
    assert proc.stdout.count("tick failed (exit 124)") == 2
    assert rig.ticks() == ["1", "1"]
