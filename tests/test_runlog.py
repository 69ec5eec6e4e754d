"""Run log records and their cost estimates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from materia import runlog, settings
from materia.workers import prices


def test_cost_is_billed_per_started_hour_from_the_dated_table():
    start = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    table = prices.price_table("hetzner", start.date())
    price = table.hourly["ccx12"]
    cost, used = runlog.estimate_cost("hetzner", "ccx12", start, start + timedelta(minutes=7))
    assert (cost, used) == (price, table)
    cost, _ = runlog.estimate_cost("hetzner", "ccx12", start, start + timedelta(minutes=61))
    assert cost == round(2 * price, 4)
    assert runlog.estimate_cost("local", "ccx22", start, start + timedelta(hours=5))[0] == 0.0
    assert runlog.estimate_cost("hetzner", "cx99", start, start)[0] is None


def test_append_and_read_in_the_landing_store(tmp_path):
    s = settings.load(environ={"MATERIA_HOME": str(tmp_path)}, dotenv=tmp_path / "none")
    start = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    for code in (0, None):
        runlog.append(
            s,
            runlog.RunRecord(
                pipeline="transform",
                provider="hetzner",
                server_type="ccx22",
                worker="materia-transform-x",
                started=start,
                ended=start + timedelta(seconds=90),
                exit_code=code,
                error=None if code == 0 else "KeyboardInterrupt",
                timings={"created": 0.5},
            ),
        )
    rows = runlog.read(s)
    assert (tmp_path / "landing" / runlog.KEY).is_file()
    assert [(r["exit_code"], r["error"]) for r in rows] == [(0, None), (None, "KeyboardInterrupt")]
    first = rows[0]
    assert first["duration_s"] == 90.0 and first["server_type"] == "ccx22"
    assert first["cost_estimate"] == prices.price_table("hetzner", start.date()).hourly["ccx22"]
    assert first["price_table"] == "2026-04-01" and first["currency"] == "EUR"
    assert first["started"] == "2026-11-26T03:00:00+00:00" and first["source"] == "worker"
