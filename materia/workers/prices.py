"""Instance types per pipeline and their hourly prices: one dated table per provider.

Each table says where its prices come from and which ones could not be checked
(`estimated`). Run-log records keep the date of the table they used, so a price change
is a new table appended below (newest last), never an edit of an old one.
`--on cheapest` compares providers through `hourly_eur` (a dated exchange rate for
tables not priced in euros).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

from materia.workers.base import SERVER_TYPES


@dataclass(frozen=True)
class PriceTable:
    provider: str
    valid_from: date
    currency: str
    classes: dict[str, str]  # pipeline -> instance type
    hourly: dict[str, float]  # instance type -> price per hour, excl. VAT
    source: str
    estimated: frozenset[str] = frozenset()  # types whose price could not be verified
    # How the provider bills a running instance: per started hour, or per second with
    # a minimum (Oracle: per second, at least one minute).
    per_second: bool = False
    minimum_seconds: int = 0


# Euros per unit of each currency, to rank providers priced in other currencies.
# ASSUMPTION (estimate, 2026-11-29, not verifiable offline): USD at 0.86 EUR.
EUR_PER_UNIT = {"EUR": 1.0, "USD": 0.86}

PRICE_TABLES: tuple[PriceTable, ...] = (
    PriceTable(
        provider="local",
        valid_from=date(2026, 4, 1),
        currency="EUR",
        classes={"extract": "ccx12", "transform": "ccx22"},  # recorded as-is
        hourly={"ccx12": 0.0, "ccx22": 0.0},
        source="this machine: no charge",
    ),
    PriceTable(
        provider="hetzner",
        valid_from=date(2026, 4, 1),
        currency="EUR",
        classes={"extract": "ccx12", "transform": "ccx22"},  # 2/4 dedicated vCPU, 8/16 GB
        hourly={"ccx12": 0.040, "ccx22": 0.080},
        source="https://www.hetzner.com/cloud (approximate list prices); per started hour",
        estimated=frozenset({"ccx12", "ccx22"}),
    ),
    PriceTable(
        provider="scaleway",
        valid_from=date(2026, 11, 29),
        currency="EUR",
        classes={"extract": "POP2-2C-8G", "transform": "POP2-4C-16G"},  # dedicated vCPU
        hourly={"POP2-2C-8G": 0.0735, "POP2-4C-16G": 0.147},
        source=(
            "derived from POP2-64C-256G at EUR 2.35/h (https://www.scaleway.com/en/docs/billing/"
            "additional-content/understanding-savings-plans/, reviewed 2024-12-19), POP2 "
            "scaling linearly with size; dynamic IPv4 and the root block volume are extra"
        ),
        estimated=frozenset({"POP2-2C-8G", "POP2-4C-16G"}),
    ),
    PriceTable(
        provider="ovh",
        valid_from=date(2026, 11, 29),
        currency="EUR",
        classes={"extract": "b3-8", "transform": "b3-16"},  # 2/4 vCore, 8/16 GB
        hourly={"b3-8": 0.0508, "b3-16": 0.1016},
        source="https://www.ovhcloud.com/en/public-cloud/prices/ (not verified); per started hour",
        estimated=frozenset({"b3-8", "b3-16"}),
    ),
    PriceTable(
        provider="oracle",
        valid_from=date(2026, 11, 29),
        currency="USD",
        # VM.Standard.A1.Flex (Arm): 2 OCPU + 8 GB, 4 OCPU + 16 GB (see workers/oracle.py).
        classes={"extract": "a1-flex-2c-8g", "transform": "a1-flex-4c-16g"},
        hourly={"a1-flex-2c-8g": 0.032, "a1-flex-4c-16g": 0.064},
        source=(
            "https://www.oracle.com/cloud/compute/pricing/: Ampere A1 USD 0.01 per OCPU-hour "
            "and USD 0.0015 per GB-hour, billed per second (1 minute minimum); the Always "
            "Free allowance is not deducted"
        ),
        per_second=True,
        minimum_seconds=60,
    ),
)

# ccx12/ccx22 left Hetzner's price list; their successors ccx13/ccx23 (same vCPU and
# memory) from here on, at the prices of new orders after Hetzner's June 2026 increase.
PRICE_TABLES += (
    PriceTable(
        provider="local",
        valid_from=date(2026, 12, 3),
        currency="EUR",
        classes={"extract": "ccx13", "transform": "ccx23"},  # recorded as-is
        hourly={"ccx13": 0.0, "ccx23": 0.0},
        source="this machine: no charge",
    ),
    PriceTable(
        provider="hetzner",
        valid_from=date(2026, 12, 3),
        currency="EUR",
        classes={"extract": "ccx13", "transform": "ccx23"},  # 2/4 dedicated vCPU, 8/16 GB
        hourly={"ccx13": 0.069, "ccx23": 0.134},
        source=(
            "not verifiable offline: ccx13 at EUR 42.99/month for orders after 2026-06-15 "
            "(a public note checked against Hetzner's price-adjustment page on 2026-08-04), "
            "ccx23 scaled from its earlier EUR 31.99/month (EUR 0.0513/h) by the same factor; "
            "hourly = monthly / 623.6 as in Hetzner's list; per started hour"
        ),
        estimated=frozenset({"ccx13", "ccx23"}),
    ),
)

PROVIDERS = tuple(dict.fromkeys(t.provider for t in PRICE_TABLES))


def price_table(provider: str, on: date | None = None) -> PriceTable | None:
    """The provider's table in force on `on` (default today); its oldest before that."""
    tables = [t for t in PRICE_TABLES if t.provider == provider]
    if not tables:
        return None
    when = on or date.today()
    valid = [t for t in tables if t.valid_from <= when]
    return valid[-1] if valid else tables[0]


def instance_type(provider: str, pipeline: str) -> str:
    """The provider's instance type for `pipeline`; Hetzner's names for an unpriced one."""
    table = price_table(provider)
    return table.classes[pipeline] if table else SERVER_TYPES[pipeline]


def hourly_eur(provider: str, pipeline: str, on: date | None = None) -> float | None:
    """Hourly price of the pipeline's instance type in euros (None: not priced)."""
    table = price_table(provider, on)
    if table is None or pipeline not in table.classes:
        return None
    price = table.hourly.get(table.classes[pipeline])
    if price is None:
        return None
    return price * EUR_PER_UNIT[table.currency]


def estimate(
    provider: str, server_type: str, started: datetime, ended: datetime
) -> tuple[float | None, PriceTable | None]:
    """Estimated cost of one worker in the table's currency; None for an unknown price."""
    table = price_table(provider, started.date())
    price = table.hourly.get(server_type) if table else None
    if price is None:
        return None, table
    seconds = max(0.0, (ended - started).total_seconds())
    if table.per_second:
        return round(max(seconds, table.minimum_seconds) / 3600 * price, 4), table
    return round(max(1, math.ceil(seconds / 3600)) * price, 4), table
