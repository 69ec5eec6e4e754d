"""The run-log record of a run on a worker, with its cost from the provider's dated price
table (`materia.workers.prices`); `materia.core.runlog` writes it like any other record."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime

from materia.core import runlog
from materia.core.runlog import times
from materia.core.settings import Settings
from materia.workers import prices
from materia.workers.prices import PriceTable


def estimate_cost(
    provider: str, server_type: str, started: datetime, ended: datetime
) -> tuple[float | None, PriceTable | None]:
    """Estimated cost of one worker from the provider's dated price table (None: unknown)."""
    return prices.estimate(provider, server_type, started, ended)


@dataclass(frozen=True)
class RunRecord:
    """A run on a worker, as `materia.workers.run` reports it."""

    pipeline: str
    provider: str
    server_type: str
    worker: str
    started: datetime
    ended: datetime
    exit_code: int | None  # None: the run did not finish (error or interrupt)
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    run_id: str = ""
    parent: str | None = None
    rows_published: int | None = None
    new_releases: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        cost, table = estimate_cost(self.provider, self.server_type, self.started, self.ended)
        return {
            "source": "worker",
            "run_id": self.run_id,
            "parent": self.parent,
            "pipeline": self.pipeline,
            "where": f"{self.provider} {self.server_type}",
            "provider": self.provider,
            "server_type": self.server_type,
            "worker": self.worker,
            **times(self.started, self.ended),
            "exit_code": self.exit_code,
            "status": "ok" if self.exit_code == 0 else "failed",
            "error": self.error,
            "timings": self.timings,
            "rows_published": self.rows_published,
            "new_releases": self.new_releases,
            "cost_estimate": cost,
            "currency": table.currency if table else None,
            "price_table": table.valid_from.isoformat() if table else None,
        }


def append_started(
    settings: Settings, provider: str, pipeline: str, worker: str, run_id: str, started: datetime
) -> None:
    """The record of a worker run that has just started (its end replaces it)."""
    server_type = prices.instance_type(provider, pipeline)
    rec = {
        "source": "worker",
        "run_id": run_id,
        "parent": settings.parent_run,
        "pipeline": pipeline,
        "where": f"{provider} {server_type}",
        "provider": provider,
        "server_type": server_type,
        "worker": worker,
    }
    with contextlib.suppress(Exception):  # the end record is what counts; the run goes on
        runlog.append(settings, runlog.started_record(rec, started))
