"""The dated price tables: how each provider bills, which type each pipeline gets, and
docs/PRODUCTION.md listing them as they are."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from materia.workers import prices
from materia.workers.base import SERVER_TYPES

START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
DOC = Path(__file__).resolve().parents[2] / "docs" / "PRODUCTION.md"


def test_hourly_clouds_bill_each_started_hour():
    table = prices.price_table("ovh", START.date())
    price = table.hourly["b3-8"]
    assert prices.estimate("ovh", "b3-8", START, START + timedelta(minutes=1)) == (price, table)
    cost, _ = prices.estimate("scaleway", "POP2-2C-8G", START, START + timedelta(minutes=61))
    assert cost == round(2 * prices.price_table("scaleway").hourly["POP2-2C-8G"], 4)


def test_oracle_bills_per_second_with_a_one_minute_minimum():
    hourly = prices.price_table("oracle").hourly["a1-flex-2c-8g"]
    short, _ = prices.estimate("oracle", "a1-flex-2c-8g", START, START + timedelta(seconds=5))
    assert short == round(hourly / 60, 4)
    half, _ = prices.estimate("oracle", "a1-flex-2c-8g", START, START + timedelta(minutes=30))
    assert half == round(hourly / 2, 4)


def test_unknown_prices_and_providers():
    assert prices.estimate("ovh", "b9-999", START, START)[0] is None
    assert prices.estimate("nimbus", "x", START, START) == (None, None)
    assert prices.hourly_eur("nimbus", "extract") is None
    assert prices.instance_type("nimbus", "transform") == SERVER_TYPES["transform"]
    assert prices.price_table("hetzner", date(2000, 1, 1)).provider == "hetzner"  # oldest


def test_every_provider_has_a_type_and_a_price_per_pipeline():
    for name in prices.PROVIDERS:
        table = prices.price_table(name)
        assert set(table.classes) == set(SERVER_TYPES), name
        for kind in table.classes.values():
            assert kind in table.hourly and table.currency in prices.EUR_PER_UNIT, (name, kind)
        assert table.source and table.estimated <= set(table.hourly)
    usd = prices.price_table("oracle")
    assert prices.hourly_eur("oracle", "extract") == usd.hourly[usd.classes["extract"]] * 0.86


def test_production_guide_lists_each_type_with_its_price_and_date():
    doc = DOC.read_text()
    # The tables in force today (older ones stay in prices.py for older run-log lines).
    for t in [prices.price_table(p) for p in prices.PROVIDERS]:
        if t is None or t.provider == "local":
            continue
        for pipeline, kind in t.classes.items():
            status = "estimate" if kind in t.estimated else "list price"
            row = (
                f"| {t.provider} | {pipeline} | `{kind}` | {t.hourly[kind]:.4f} {t.currency} "
                f"| {t.valid_from} | {status} |"
            )
            assert row in doc, row
