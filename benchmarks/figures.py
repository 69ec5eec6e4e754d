"""What every measurement shares: its result (figures, goals MET / NOT MET / NOT MEASURED,
extra tables) and the run's context (the data, repeats, the PSD server, homes to reuse)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import workspace
from benchmarks.generate import Series
from benchmarks.runner import MIB, Stats
from benchmarks.workspace import Workspace

MET, NOT_MET, NOT_MEASURED = "MET", "NOT MET", "NOT MEASURED"


@dataclass
class Goal:
    text: str
    status: str
    detail: str = ""


@dataclass
class Result:
    key: str
    title: str
    figures: list[tuple[str, str]] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # extra markdown
    error: str | None = None  # why (part of) it could not be measured

    def figure(self, label: str, text: str) -> None:
        self.figures.append((label, text))

    def goal(self, text: str, ok: bool, detail: str = "") -> None:
        self.goals.append(Goal(text, MET if ok else NOT_MET, detail))

    def unmeasured(self, reason: str, *goals: str) -> None:
        for g in goals:
            self.goals.append(Goal(g, NOT_MEASURED, reason))


@dataclass
class Context:
    series: Series
    repeats: int
    picks: int
    warmup: bool
    scratch: Path
    log: Callable[[str], None]
    launches: int = 5  # `marimo run` starts timed to the first render, per dataset
    history: int = 240  # monthly releases of the full-history measurement
    rows: int = 2_100_000
    cache: Path | None = None  # generated data
    source: str | None = None
    stack: ExitStack = field(default_factory=ExitStack)
    server: object | None = None
    extract_samples: list[workspace.Step] = field(default_factory=list)
    grown: Workspace | None = None  # home holding every release, after `growth`
    one_release: list[tuple[float, float]] = field(default_factory=list)  # pipeline wall, rss

    def psd_server(self):
        if self.server is None:
            self.server = self.stack.enter_context(workspace.psd_server(self.series.root))
        return self.server

    def new_workspace(self) -> Workspace:
        return self.stack.enter_context(
            workspace.workspace(self.psd_server().base_url, self.scratch)
        )

    def published(self, releases: int) -> Workspace:
        """A home with releases 1..n landed and published (the grown one when it exists)."""
        if self.grown is not None:
            return self.grown
        ws = self.new_workspace()
        for rel in self.series.releases[:releases]:
            self.log(f"  setup: land and transform release {rel.label}")
            ws.extract(rel.as_of)
            ws.transform()
        return ws


def fmt_bytes(n: float) -> str:
    return f"{n / MIB:,.1f} MiB"


def rss(stats: Stats) -> str:
    return stats.fmt("MiB", MIB, 0)


def warm(path: Path) -> None:
    """Read a file once so every contender starts with it in the page cache."""
    with open(path, "rb") as f:
        while f.read(1 << 22):
            pass
