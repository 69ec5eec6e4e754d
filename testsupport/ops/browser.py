"""Headless Debian Chromium through Playwright, and marimo servers on loopback, for the
browser tests and the notebook benchmark.

marimo draws each output inside shadow roots, so the chart helpers search them too; the
workbench's charts are SVG (materia.workbench.charts), so each one's title is text in the page.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
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
REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "commodities.py"
VIEWPORT = {"width": 1280, "height": 900}

# Every vega chart of the page (through shadow roots) -> its title.
CHART_TITLES = """() => (function deep(root) {
  const out = [...root.querySelectorAll('.vega-embed, div.chart')].map(c => {
    const t = c.querySelector('.role-title-text'); return t ? t.textContent : '';
  });
  for (const el of root.querySelectorAll('*')) if (el.shadowRoot) out.push(...deep(el.shadowRoot));
  return out;
})(document)"""
# True once at least `min` charts are drawn and every one is titled for `name`
# ("Corn: ..." or "Corn, World 2022/23: ...").
CHARTS_FOR = """([name, min]) => { const titles = (CHART_TITLES)();
  return titles.length >= min && titles.every(t => t.startsWith(name + ':') || t.startsWith(name + ','));
}""".replace("CHART_TITLES", CHART_TITLES)


def chart_titles(page) -> list[str]:
    return page.evaluate(CHART_TITLES)


def wait_for_charts(page, name: str, minimum: int = 3, timeout_s: float = 120) -> None:
    """Until every chart on the page is drawn for commodity `name` (polled each frame)."""
    page.wait_for_function(CHARTS_FOR, arg=[name, minimum], timeout=timeout_s * 1000, polling="raf")


@contextlib.contextmanager
def chromium(profile: Path):
    """A fresh persistent Chromium context (its own user data dir)."""
    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport=VIEWPORT,
            accept_downloads=True,
        )
        try:
            yield ctx
        finally:
            ctx.close()


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    started: float  # time.monotonic() when the process was launched
    log: Path

    def tracebacks(self) -> str:
        """What the notebook's cells raised (`marimo run` shows the reader no traceback)."""
        text = self.log.read_text(errors="replace")
        return text[text.index("Traceback") :][-3000:] if "Traceback" in text else ""

    def wait(self, locator, timeout_s: float = 120) -> None:
        """Until `locator` is visible; fails at once, with the traceback, if a cell raised."""
        deadline = time.monotonic() + timeout_s
        while not locator.is_visible():
            if tb := self.tracebacks():
                raise AssertionError(f"a notebook cell failed:\n{tb}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"not visible after {timeout_s} s: {locator}")
            time.sleep(0.2)


@contextlib.contextmanager
def marimo(
    home: Path,
    log: Path,
    notebook: Path = NOTEBOOK,
    mode: str = "run",
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> Iterator[Server]:
    """`marimo run|edit <notebook>` on a free loopback port, MATERIA_HOME=home."""
    port = free_port()
    environ = {**(env or os.environ), "MATERIA_HOME": str(home)}
    cmd = [sys.executable, "-m", "marimo", mode, str(notebook), "--headless"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--no-token"]
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=environ, cwd=home, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError as e:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"marimo {mode} did not start: {log.read_text()[-2000:]}") from e  # fmt: skip
                time.sleep(0.05)
        yield Server(url, proc, started, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def marimo_run(home: Path, log: Path, timeout: float = 120) -> Iterator[str]:
    """`marimo run notebooks/commodities.py`; yields its URL."""
    with marimo(home, log, timeout=timeout) as server:
        yield server.url
