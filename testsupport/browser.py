"""Headless Debian Chromium through Playwright, and a `marimo run` server on loopback."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from testsupport import free_port

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "commodities.py"


@contextlib.contextmanager
def chromium(profile: Path):
    """A fresh persistent Chromium context (its own user data dir)."""
    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        try:
            yield ctx
        finally:
            ctx.close()


@contextlib.contextmanager
def marimo_run(home: Path, log: Path, timeout: float = 120) -> Iterator[str]:
    """`marimo run notebooks/commodities.py` on a free loopback port; yields its URL."""
    port = free_port()
    env = {**os.environ, "MATERIA_HOME": str(home)}
    cmd = [sys.executable, "-m", "marimo", "run", str(NOTEBOOK), "--headless"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--no-token"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=home, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError as e:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"marimo run did not start: {log.read_text()[-2000:]}"
                    ) from e
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
