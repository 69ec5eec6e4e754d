"""The printed table and benchmarks/RESULTS.md: machine, versions, date, figures, goals."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from benchmarks.measure import Result
from benchmarks.runner import REPO

VERSIONS = ("duckdb", "sqlmesh", "pyiceberg", "polars", "marimo", "pandas", "pyarrow")
CLOSING = "## Closing note"


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {"CPU": cpu, "cores": str(os.cpu_count()), "RAM": ram, "load average at start": load}


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in VERSIONS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "?"
    return f"{head}{' + uncommitted changes' if dirty else ''}" if head else "?"


def table(results: list[Result]) -> str:
    """Plain-text table for the terminal."""
    lines = []
    width = max((len(lbl) for r in results for lbl, _ in r.figures), default=20) + 2
    for r in results:
        lines.append(r.title)
        for label, text in r.figures:
            lines.append(f"  {label:<{width}}{text}")
        for g in r.goals:
            lines.append(f"  [{g.status:^12}] {g.text}" + (f"  ({g.detail})" if g.detail else ""))
        for t in r.tables:
            lines.extend("  " + ln for ln in t.splitlines())
        lines.append("")
    return "\n".join(lines)


def markdown(results: list[Result], params: dict[str, str], previous: Path | None) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# materia benchmarks",
        "",
        "Written by `uv run python -m benchmarks` (do not edit by hand, except the closing "
        "note, which the next run keeps). Each figure is the median of the runs with "
        "[min–max]; a single run shows one number. Wall times and peak RSS are of child "
        "processes (the real CLI, each baseline in its own interpreter).",
        "",
        f"- date: {now}",
        f"- commit: {commit()}",
        *(f"- {k}: {v}" for k, v in machine().items()),
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        *(f"- {k}: {v}" for k, v in params.items()),
        "",
        "## Goals",
        "",
        "| goal | status | measured |",
        "|---|---|---|",
    ]
    for r in results:
        for g in r.goals:
            out.append(f"| {g.text} | **{g.status}** | {g.detail} |")
    for r in results:
        out += ["", f"## {r.title}", "", "| figure | value |", "|---|---|"]
        out += [f"| {label} | {text} |" for label, text in r.figures]
        if r.error:
            out += ["", f"Not measured: {r.error}"]
        for t in r.tables:
            out += ["", t]
    out += ["", CLOSING, "", _closing(previous)]
    return "\n".join(out) + "\n"


def _closing(previous: Path | None) -> str:
    """The closing note of the previous RESULTS.md, if it had one."""
    if previous is not None and previous.exists():
        text = previous.read_text()
        if CLOSING in text:
            kept = text.split(CLOSING, 1)[1].strip()
            if kept:
                return kept
    return "_To be written: what was changed to meet the goals, what still falls short and why._"
