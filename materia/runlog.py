"""The run log: one JSON line per worker run at `runs/runs.jsonl` in the landing store.

Records are append-only; notebooks and the supervisor read them. Each carries an
estimated cost from a dated price table, so old records keep the price that applied
when they ran and a price change only needs a new table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from materia.settings import Settings
from materia.storage import LandingStore
from materia.workers import prices
from materia.workers.prices import PriceTable

KEY = "runs/runs.jsonl"


def estimate_cost(
    provider: str, server_type: str, started: datetime, ended: datetime
) -> tuple[float | None, PriceTable | None]:
    """Estimated cost of one worker from the provider's dated price table (None: unknown)."""
    return prices.estimate(provider, server_type, started, ended)


@dataclass(frozen=True)
class RunRecord:
    pipeline: str
    provider: str
    server_type: str
    worker: str
    started: datetime
    ended: datetime
    exit_code: int | None  # None: the run did not finish (error or interrupt)
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        cost, table = estimate_cost(self.provider, self.server_type, self.started, self.ended)
        return {
            "source": "worker",
            "pipeline": self.pipeline,
            "provider": self.provider,
            "server_type": self.server_type,
            "worker": self.worker,
            "started": self.started.isoformat(),
            "ended": self.ended.isoformat(),
            "duration_s": round((self.ended - self.started).total_seconds(), 3),
            "exit_code": self.exit_code,
            "error": self.error,
            "timings": self.timings,
            "cost_estimate": cost,
            "currency": table.currency if table else None,
            "price_table": table.valid_from.isoformat() if table else None,
        }


def append(settings: Settings, record: RunRecord) -> dict:
    row = record.to_dict()
    LandingStore.from_settings(settings).append_jsonl(KEY, row)
    return row


def read(settings: Settings) -> list[dict]:
    return LandingStore.from_settings(settings).read_jsonl(KEY)
