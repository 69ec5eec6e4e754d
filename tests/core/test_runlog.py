"""Run log records and their cost estimates."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from materia.cli import runs_view as runlog_view
from materia.core import runlog, settings
from materia.workers import prices, record


def test_cost_is_billed_per_started_hour_from_the_dated_table():
    start = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    table = prices.price_table("hetzner", start.date())
    price = table.hourly["ccx12"]
    cost, used = record.estimate_cost("hetzner", "ccx12", start, start + timedelta(minutes=7))
    assert (cost, used) == (price, table)
    cost, _ = record.estimate_cost("hetzner", "ccx12", start, start + timedelta(minutes=61))
    assert cost == round(2 * price, 4)
    assert record.estimate_cost("local", "ccx22", start, start + timedelta(hours=5))[0] == 0.0
    assert record.estimate_cost("hetzner", "cx99", start, start)[0] is None


def test_append_and_read_in_the_landing_store(tmp_path):
    s = settings.load(environ={"MATERIA_HOME": str(tmp_path)}, dotenv=tmp_path / "none")
    start = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    for code in (0, None):
        runlog.append(
            s,
            record.RunRecord(
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


# --- every run is logged; `materia runs` and the health summary read it back -------------
def test_in_process_runs_are_logged_with_their_error(psd_server, cli, materia_env):
    from testsupport.psd.fixtures import archive_layout, sample_rows

    archive_layout(psd_server.root, {"2022-06": sample_rows()})
    env = {**materia_env, "PSD_BASE_URL": psd_server.base_url, "PSD_DATASETS": "psd_coffee_csv.zip"}
    ok = cli("pipeline", "run", "extract", env={**env, "PSD_AS_OF": "2022-06-30"})
    assert ok.returncode == 0, ok.stderr
    bad = cli("pipeline", "run", "extract", env={**env, "PSD_AS_OF": "2021-01-31"})
    assert bad.returncode == 1
    s = settings.load(environ=materia_env, dotenv=Path(materia_env["MATERIA_HOME"]) / "none")
    # Each run is in the log from its start, then with its end (same run id).
    raw = runlog.read(s)
    assert [r["status"] for r in raw] == ["started", "ok", "started", "failed"]
    first, second = runlog.merged(raw)
    assert (first["source"], first["where"], first["status"], first["error"]) == (
        "in-process",
        "here",
        "ok",
        None,
    )
    assert first["parent"] is None and first["run_id"] and first["duration_s"] >= 0
    assert (second["status"], second["exit_code"]) == ("failed", 1)
    assert second["error"].startswith("no release of psd_coffee_csv.zip under ")

    table = cli("runs", env=materia_env)
    assert table.returncode == 0, table.stderr
    head, *rows = table.stdout.splitlines()
    assert head.split() == [
        *("when", "(UTC)", "run", "pipeline", "where", "outcome", "slot", "duration"),
        *("rows", "cost", "next", "retry", "error"),
    ]
    assert [r.split()[2:6] for r in rows] == [
        [first["run_id"], "extract", "here", "ok"],
        [second["run_id"], "extract", "here", "failed"],
    ]
    assert rows[1].endswith(second["error"])
    failed = cli("runs", "--failed", "--json", env=materia_env)
    [only] = [json.loads(x) for x in failed.stdout.splitlines()]
    assert only["run_id"] == second["run_id"]


def _log(s, *records: dict) -> None:
    for r in records:
        runlog.append(s, r)


def test_runs_fold_parts_into_their_run_and_health_sums_up(tmp_path):
    s = settings.load(environ={"MATERIA_HOME": str(tmp_path)}, dotenv=tmp_path / "none")
    t = "2026-11-26T03:00:00+00:00"
    _log(
        s,
        {
            "source": "in-process",
            "run_id": "step",
            "parent": "w",
            "pipeline": "transform",
            "status": "ok",
            "rows_published": 2_000_000,
            "new_releases": ["psd_alldata_csv 2026-11"],
        },
        {
            "source": "worker",
            "run_id": "w",
            "parent": "job",
            "pipeline": "transform",
            "where": "hetzner ccx22",
            "status": "ok",
            "cost_estimate": 0.08,
            "currency": "EUR",
        },
        {
            "source": "supervisor",
            "run_id": "job",
            "parent": None,
            "pipeline": "transform",
            "where": "supervisor",
            "status": "ok",
            "started": t,
            "duration_s": 754.0,
        },
        {
            "source": "supervisor",
            "run_id": "x1",
            "pipeline": "extract",
            "where": "supervisor",
            "status": "failed",
            "exit_code": 1,
            "started": "2026-11-27T02:00:00+00:00",
            "error": "PSD Online answered 503 (gave up after 4 attempts)",
        },
        {
            "source": "in-process",
            "run_id": "old",
            "pipeline": "extract",
            "status": "ok",
            "started": "2026-11-25T02:00:00+00:00",
        },
    )
    rows = runlog.fold(runlog.read(s))
    assert [r["run_id"] for r in rows] == ["old", "job", "x1"]
    job = rows[1]
    assert (job["rows_published"], job["cost_estimate"], job["currency"]) == (
        2_000_000,
        0.08,
        "EUR",
    )
    assert job["where"] == "supervisor/hetzner ccx22"
    assert job["new_releases"] == ["psd_alldata_csv 2026-11"]
    text = runlog_view.table(rows)
    assert "2026-11-26 03:00  job  transform  supervisor/hetzner ccx22  ok" in text
    assert "12m34s" in text and "2,000,000" in text and "0.08 EUR" in text
    assert runlog_view.select(rows, last=1, failed=True) == [rows[2]]

    health = runlog.health(s)
    assert health["last_success"] == {
        "extract": "2026-11-25T02:00:00+00:00",
        "transform": "2026-11-26T03:00:00+00:00",
    }
    assert health["newest_release"] == {"psd_alldata_csv": "2026-11"}
    assert health["failures"] == [
        {
            "started": "2026-11-27T02:00:00+00:00",
            "pipeline": "extract",
            "where": "supervisor",
            "error": "PSD Online answered 503 (gave up after 4 attempts)",
        }
    ]
    shown = runlog.health_table(s)
    assert shown["rows"] == [
        {"what": "last successful extract", "when": "2026-11-25 02:00"},
        {"what": "last successful transform", "when": "2026-11-26 03:00"},
        {"what": "newest release of psd_alldata_csv", "when": "2026-11"},
    ]
    assert shown["failures"] == health["failures"] and "error" not in shown


def test_an_unreadable_run_log_is_a_line_in_the_health_table(tmp_path):
    s = settings.load(environ={"MATERIA_HOME": str(tmp_path)}, dotenv=tmp_path / "none")
    _log(s, {"source": "in-process", "run_id": "a", "pipeline": "extract", "status": "ok"})
    for log_file in tmp_path.rglob("*.jsonl"):
        log_file.write_text("{not json\n")
    shown = runlog.health_table(s)
    assert shown["rows"] == [] and shown["failures"] == []
    assert shown["error"] == (
        "1 unreadable record(s) skipped (runs/runs.jsonl line 1: not a JSON object, skipped)"
    )
