"""The run log: one JSON line per worker run at `runs/runs.jsonl` in the landing store.

Records are append-only; notebooks and the supervisor read them. Each carries an
estimated cost from a dated price table, so old records keep the price that applied
when they ran and a price change only needs a new table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime

from materia.settings import Settings
from materia.storage import LandingStore

KEY = "runs/runs.jsonl"


@dataclass(frozen=True)
class PriceTable:
    valid_from: date
    currency: str
    hourly: dict[str, dict[str, float]]  # provider -> server type -> price per hour
    note: str = ""


# Newest last. Hetzner bills every started hour of a server's existence (excl. VAT).
# ASSUMPTION: approximate list prices for the dedicated-vCPU types; check
# https://www.hetzner.com/cloud and add a new dated table when they change.
PRICE_TABLES = (
    PriceTable(
        valid_from=date(2026, 4, 1),
        currency="EUR",
        hourly={"hetzner": {"ccx12": 0.040, "ccx22": 0.080}, "local": {}},
        note="Hetzner Cloud list prices (approximate), excl. VAT; billed per started hour",
    ),
)


def price_table(on: date) -> PriceTable:
    tables = [t for t in PRICE_TABLES if t.valid_from <= on]
    return tables[-1] if tables else PRICE_TABLES[0]


def estimate_cost(
    provider: str, server_type: str, started: datetime, ended: datetime
) -> tuple[float | None, PriceTable]:
    """Estimated cost of one worker; 0 for this machine, None for an unknown price."""
    table = price_table(started.date())
    if provider == "local":
        return 0.0, table
    price = table.hourly.get(provider, {}).get(server_type)
    if price is None:
        return None, table
    hours = max(1, math.ceil((ended - started).total_seconds() / 3600))
    return round(hours * price, 4), table


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
            "currency": table.currency,
            "price_table": table.valid_from.isoformat(),
        }


def append(settings: Settings, record: RunRecord) -> dict:
    row = record.to_dict()
    LandingStore.from_settings(settings).append_jsonl(KEY, row)
    return row


def read(settings: Settings) -> list[dict]:
    return LandingStore.from_settings(settings).read_jsonl(KEY)
