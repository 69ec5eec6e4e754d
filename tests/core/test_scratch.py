"""materia.core.scratch: what a killed run leaves under MATERIA_HOME/tmp is removed by the next
run, and another live run's scratch never is."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from materia.core import scratch
from testsupport.psd import fixtures as fx

MAKE = """
import sys, time
from pathlib import Path
from materia.core import scratch
tmp = Path(sys.argv[1])
d = scratch.mkdtemp(tmp, "run"); (d / "spill.bin").write_bytes(b"x" * 1000)
f = scratch.mkstemp(tmp, "tmp", ".zip")
print(d, f, flush=True)
time.sleep(600)
"""


def _owner(tmp: Path) -> tuple[subprocess.Popen, list[Path]]:
    """A process that made a scratch folder and file and keeps running."""
    proc = subprocess.Popen(
        [sys.executable, "-c", MAKE, str(tmp)], stdout=subprocess.PIPE, text=True
    )
    return proc, [Path(p) for p in proc.stdout.readline().split()]


def test_a_dead_owner_s_scratch_goes_and_a_live_one_s_stays(tmp_path):
    live, live_paths = _owner(tmp_path)
    dead, dead_paths = _owner(tmp_path)
    try:
        os.kill(dead.pid, signal.SIGKILL)
        dead.wait(timeout=30)
        (tmp_path / "someone-else.tmp").write_bytes(b"x")
        removed = scratch.clean(tmp_path)
        assert sorted(removed) == sorted(dead_paths)
        assert all(p.exists() for p in live_paths)
        assert not any(p.exists() for p in dead_paths)
        assert (tmp_path / "someone-else.tmp").exists()
    finally:
        live.kill()
        live.wait(timeout=30)
    assert sorted(scratch.clean(tmp_path)) == sorted(live_paths)


def test_entries_without_an_owner_go_only_when_old(tmp_path):
    old, new = tmp_path / "materia-run-abc123", tmp_path / "materia-x1y2.zip"
    old.mkdir()
    new.write_bytes(b"x")
    then = time.time() - scratch.UNOWNED_AGE_S - 60
    os.utime(old, (then, then))
    other_host = tmp_path / f"materia-run-elsewhere.{os.getpid()}-abcdefgh"
    other_host.mkdir()
    assert scratch.clean(tmp_path) == [old]
    assert new.exists() and other_host.exists()


def test_a_reused_pid_does_not_keep_a_dead_run_s_scratch(tmp_path, monkeypatch):
    """An entry named after a live pid whose process started after the entry last
    changed: the pid was reused, the entry's owner is gone."""
    path = tmp_path / f"{scratch.prefix('run')}abcdefgh"
    path.mkdir()
    assert scratch.clean(tmp_path) == []  # ours, alive
    real = scratch._started(os.getpid())
    assert real is not None and real <= path.stat().st_ctime + 1
    monkeypatch.setattr(scratch, "_started", lambda pid: path.stat().st_ctime + 60)
    assert scratch.clean(tmp_path) == [path]


def test_a_killed_transform_s_folders_are_removed_by_the_next(materia_env, cli):
    home = Path(materia_env["MATERIA_HOME"])
    r06 = fx.sample_rows("2022-06")
    fx.write_release(home / "landing/psd/psd_alldata_csv/2022/06/a.zip", r06)
    killed = cli("transform", env={**materia_env, "MATERIA_FAILPOINT": "publish:after:fct_psd_vintages"})  # fmt: skip
    assert killed.returncode == -9, killed.stderr
    left = sorted(p.name.split("-")[1] for p in (home / "tmp").glob("materia-*"))
    assert left == ["publish", "run"]  # the run's DuckDB spill and the Parquet exports
    done = cli("transform")
    assert done.returncode == 0, done.stderr
    assert list((home / "tmp").glob("materia-*")) == []
