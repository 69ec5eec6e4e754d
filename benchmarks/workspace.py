"""A throw-away MATERIA_HOME driven through the real CLI, fed by the loopback PSD server.

Every pipeline step runs as `python -m materia …` in its own process (measured by
`runner`), with an environment that pins local mode: nothing from a `.env` or the
caller's cloud settings can leak in.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks import runner
from benchmarks.generate import DATASET

# Entry points each measurement needs, by owner module (docs/CONTRACTS.md).
PARTS = {
    "server": "testsupport.psd.server",
    "extract": "materia.extract.psd",
    "transform": "materia.transform",
    "lakehouse": "materia.lakehouse",
    "analysis": "materia.workbench.analysis",
    "reports": "materia.reports",
}
# Variables that would switch the CLI away from the embedded local mode.
_CLOUD_VARS = (
    "R2_ENDPOINT",
    "R2_BUCKET",
    "R2_ACCESS_KEY",
    "R2_SECRET_KEY",
    "ICEBERG_REST_URI",
    "ICEBERG_WAREHOUSE",
    "ICEBERG_TOKEN",
    "ICEBERG_CREDENTIAL",
)


class NotBuilt(RuntimeError):
    """A part of materia this measurement needs does not exist yet."""


def missing(*parts: str) -> list[str]:
    """Module names (of PARTS) that cannot be found."""
    out = []
    for p in parts:
        try:
            found = importlib.util.find_spec(PARTS[p]) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            out.append(PARTS[p])
    return out


def require(*parts: str) -> None:
    gone = missing(*parts)
    if gone:
        raise NotBuilt(f"not built yet: {', '.join(gone)}")


@dataclass
class Step:
    wall_s: float
    peak_rss: int


class Workspace:
    """One MATERIA_HOME; `extract`/`transform`/`report` run the real CLI against it.

    `cloud`: environment variables pointing it at R2 and an Iceberg REST catalog
    (SeaweedFS) instead of the embedded local mode.
    """

    def __init__(
        self,
        home: Path,
        base_url: str,
        cloud: dict[str, str] | None = None,
        datasets: str = DATASET,
    ) -> None:
        self.home = home
        self.base_url = base_url
        self.env = {k: v for k, v in os.environ.items() if k not in _CLOUD_VARS}
        self.env.update({k: "" for k in _CLOUD_VARS})  # beat any .env entry
        self.env.update(
            MATERIA_ENV="prod" if cloud else "local",
            MATERIA_HOME=str(home),
            PSD_BASE_URL=base_url,
            PSD_DATASETS=datasets,
            PYTHONUNBUFFERED="1",
            **(cloud or {}),
        )

    def settings(self):
        from materia.core import settings

        return settings.load(environ=self.env, dotenv=self.home / "no.env")

    def cli(self, *args: str) -> Step:
        s = runner.python(["-m", "materia", *args], env=self.env, what=f"materia {' '.join(args)}")
        return Step(s.wall_s, s.peak_rss)

    def extract(self, as_of: str, backfill_from: str | None = None) -> Step:
        since = ("--backfill-from", backfill_from) if backfill_from else ()
        return self.cli("extract", "psd", "--as-of", as_of, *since)

    def transform(self) -> Step:
        return self.cli("transform", "--env", "prod")

    def pipeline(self, as_of: str, backfill_from: str | None = None) -> Step:
        """`materia pipeline run`: land, then transform and publish, in one interpreter."""
        env = {**self.env, "PSD_AS_OF": as_of, "PSD_BACKFILL_FROM": backfill_from or ""}
        s = runner.python(["-m", "materia", "pipeline", "run"], env=env, what="pipeline run")
        return Step(s.wall_s, s.peak_rss)

    def runs(self) -> list[dict]:
        """The run log's finished records, oldest first (each step's duration and status)."""
        path = self.home / "landing" / "runs" / "runs.jsonl"
        if not path.exists():
            return []
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [r for r in rows if r.get("status") != "started"]

    def step_seconds(self) -> dict[str, float]:
        """Seconds of the newest finished record of each step (extract, transform)."""
        return {r["pipeline"]: float(r.get("duration_s") or 0) for r in self.runs()}

    def report(self, out: Path) -> Step:
        return self.cli("report", "commodities", "--env", "prod", "--out", str(out))

    # --- what landed and what was published -----------------------------------------
    def landed_keys(self) -> list[str]:
        root = self.home / "landing"
        return (
            sorted(str(p.relative_to(root)) for p in root.rglob("*.zip")) if root.exists() else []
        )

    def _table(self, name: str):
        from materia import lakehouse

        lakehouse.clear_cache()
        return lakehouse.catalog(self.settings()).load_table(
            (lakehouse.namespace_for("prod"), name)
        )

    def iceberg_snapshots(self) -> dict[str, int]:
        """Snapshot count of every table in the prod namespace."""
        from materia import lakehouse

        cat = lakehouse.catalog(self.settings())
        ns = lakehouse.namespace_for("prod")
        return {ident[-1]: len(cat.load_table(ident).snapshots()) for ident in cat.list_tables(ns)}

    def iceberg_size(self, name: str) -> tuple[int, int]:
        """(rows, data-file bytes) of a prod table at the newest publication."""
        from materia import lakehouse

        lakehouse.clear_cache()
        pub = lakehouse.current_publication(self.settings())
        snapshot = pub.tables[name].snapshot_id
        files = [t.file for t in self._table(name).scan(snapshot_id=snapshot).plan_files()]
        return sum(f.record_count for f in files), sum(f.file_size_in_bytes for f in files)

    def added_bytes(self, name: str, since: set[int]) -> int:
        """Bytes of data files the snapshots not in `since` added to a prod table."""
        table = self._table(name)
        return sum(
            int(s.summary.additional_properties.get("added-files-size", 0))
            for s in table.snapshots()
            if s.snapshot_id not in since and s.summary is not None
        )

    def snapshot_ids(self, name: str) -> set[int]:
        try:
            return {s.snapshot_id for s in self._table(name).snapshots()}
        except Exception:  # no such table yet
            return set()

    def local_state_bytes(self) -> int:
        """What MATERIA_HOME holds besides the landed archives and the Iceberg warehouse."""
        skip = {self.home / "landing", self.home / "lakehouse" / "warehouse"}
        total = 0
        for p in self.home.rglob("*"):
            if p.is_file() and not any(p.is_relative_to(s) for s in skip):
                total += p.stat().st_size
        return total


@contextmanager
def psd_server(root: Path) -> Iterator[object]:
    require("server")
    from testsupport.psd.server import PsdServer

    with PsdServer(root) as srv:
        yield srv


@contextmanager
def workspace(
    base_url: str,
    scratch: Path | None = None,
    cloud: dict[str, str] | None = None,
    datasets: str = DATASET,
) -> Iterator[Workspace]:
    """A fresh MATERIA_HOME, removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="materia-bench-", dir=scratch))
    try:
        yield Workspace(home, base_url, cloud, datasets)
    finally:
        shutil.rmtree(home, ignore_errors=True)
