"""Helpers for end-to-end worker runs: a release to extract, SeaweedFS as R2 with keys
made for the run, the run log, and waiting on a condition (never on a fixed time)."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from testsupport import cli_command
from testsupport.psd.fixtures import sample_rows, write_release

DATASET = "psd_coffee_csv.zip"
# `[*DEFAULT_SIGINT, *argv]` runs argv with SIGINT at its default disposition.
DEFAULT_SIGINT = (
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])",
)


def publish_release(psd_server: Any) -> str:
    """This month's release on the PSD stand-in (a worker extracts "today"); its prefix."""
    now = datetime.now(UTC)
    write_release(psd_server.root / "archives" / f"{now:%Y}" / f"{now:%m}" / DATASET, sample_rows())
    return f"psd/psd_coffee_csv/{now:%Y}/{now:%m}/"


def start_slow_extract(
    psd_server: Any,
    on: str,
    env: dict[str, str],
    cwd: Path,
    argv: tuple[str, ...] | None = None,
) -> subprocess.Popen[str]:
    """`materia pipeline run extract --on <on>` (or `argv`, e.g. a supervisor tick) as a
    subprocess (to signal), returned once its worker is mid-download: the PSD stand-in
    dribbles the release's body."""
    publish_release(psd_server)
    psd_server.inject("slow", chunk=256, delay=0.5)
    cwd.mkdir(parents=True, exist_ok=True)
    # As a terminal starts it: SIGINT at its default. A shell that runs the tests in the
    # background without job control (`pytest &`, a CI script) starts them with SIGINT
    # ignored, children inherit that, and Python then installs no Ctrl-C handler: the
    # test's SIGINT would be ignored (the flake of test_sigint_mid_run_destroys_the_worker).
    proc = subprocess.Popen(
        [*DEFAULT_SIGINT, *cli_command(*(argv or ("pipeline", "run", "extract", "--on", on)))],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Generous: a fresh clone's first worker builds its environment from uv's cache
    # before it downloads, which takes minutes on a loaded 2-core machine. A run that
    # ends before it downloads fails at once, with its output.
    try:
        wait_for(
            lambda: psd_server.count("GET") > 0 or proc.poll() is not None,
            timeout=480,
            what="the worker to start downloading",
        )
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the run ended before its download: {out}{err}")
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        raise
    return proc


def wait_for(predicate: Callable[[], Any], timeout: float = 120, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def private_seaweed(directory: Path) -> Iterator[Any]:
    """SeaweedFS as R2 with credentials made now: the shared fixture's fixed test keys are
    written in the source tree, which a worker legitimately receives."""
    from testsupport.lakehouse.seaweed import Seaweed

    sw = Seaweed(directory)
    sw.access_key = f"AK{secrets.token_hex(8)}"
    sw.secret_key = f"SK{secrets.token_hex(16)}"
    with sw:
        yield sw


def fresh_bucket(seaweed: Any) -> tuple[dict[str, str], Any, str]:
    """A bucket of its own (so runs do not see each other's objects): R2 env, fs, name."""
    fs = seaweed.s3fs()
    bucket = f"e2e-{secrets.token_hex(4)}"
    fs.mkdir(bucket)
    return {**seaweed.r2_env(), "R2_BUCKET": bucket}, fs, bucket


def bucket_run_log(fs: Any, bucket: str) -> list[dict]:
    """The run log in an R2 bucket (one object per record), one record per run (a run's
    `started` record folded into its end, as `materia runs` shows it)."""
    from materia.core import jsonlog, runlog
    from materia.core.storage import LandingStore

    store = LandingStore(f"s3://{bucket}", fs, Path("/nonexistent"))
    return runlog.merged(jsonlog.read(store, runlog.NAME).records)


def local_run_log(home: Path) -> list[dict]:
    """The run log of a local landing area under MATERIA_HOME, one record per run."""
    from materia.core import runlog

    path = home / "landing" / "runs" / "runs.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return runlog.merged([json.loads(x) for x in lines])
