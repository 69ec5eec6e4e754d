"""materia.ops.release_calendar and the supervisor's WASDE days: USDA's release dates as data,
the extract landing WASDE after each release, a year without dates said (never guessed)."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import fsspec
import pytest

from materia.core import settings as settings_mod
from materia.core.errors import MateriaError
from materia.core.storage import LandingStore
from materia.ops import release_calendar, schedule, supervisor
from testsupport import clean_env, run_cli
from testsupport.psd import fixtures as psd_fixtures
from testsupport.psd import wasde_fixtures as wf
from testsupport.psd.wasde_server import WasdeServer

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "wasde"
NOV_2025 = SHARED / "oce-wasde-report-data-2025-11.csv"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_shipped_dates_are_usdas_weekdays_and_hold_the_real_reports_date():
    dates = release_calendar.read(release_calendar.DEFAULT_FILE)
    assert date(2025, 11, 14) in dates and date(2025, 11, 10) not in dates  # rescheduled
    assert date(2025, 10, 9) not in dates  # not released (the funding lapse)
    assert all(d.weekday() < 5 for d in dates)
    assert len({(d.year, d.month) for d in dates}) == len(dates)  # one report a month
    if NOV_2025.is_file():  # the real file's ReleaseDate is a date of the calendar
        with NOV_2025.open(newline="") as f:
            released = {row["ReleaseDate"] for row in csv.DictReader(f)}
        assert {date.fromisoformat(d) for d in released} <= set(dates)


def test_the_calendar_runs_out_only_when_no_later_date_is_known():
    dates = (date(2025, 9, 12), date(2025, 11, 14))  # October 2025 was cancelled
    assert release_calendar.run_out(dates, at("2025-10-20T02:00")) is None
    assert release_calendar.run_out(dates, at("2025-11-30T02:00")) is None
    assert release_calendar.run_out(dates, at("2025-12-01T02:00")) == date(2025, 11, 14)
    assert release_calendar.run_out((), at("2025-12-01T02:00")) == date.min


def test_a_bad_line_is_named(tmp_path):
    path = tmp_path / "dates.txt"
    path.write_text("# dates\n2025-11-14\n2025-12-9x  # typo\n")
    with pytest.raises(MateriaError, match=r"dates.txt line 3: '2025-12-9x' is not a date"):
        release_calendar.read(path)
    with pytest.raises(MateriaError, match="WASDE release dates .*missing.txt"):
        release_calendar.read(tmp_path / "missing.txt")


@pytest.mark.parametrize(
    ("slot", "wasde"),
    [
        ("2025-11-14", False),  # 02:00 UTC on the day: USDA releases at noon ET
        ("2025-11-15", True),  # the night after
        ("2025-11-17", True),  # a late or failed landing retried in the window
        ("2025-11-18", False),
        ("2025-11-11", False),  # the date USDA moved away from
    ],
)
def test_the_extract_lands_wasde_on_the_nights_after_a_release(slot, wasde):
    sched = schedule.Schedule()
    sources = sched.extract_sources(date.fromisoformat(slot), ("psd",))
    assert sources == (("psd", "wasde") if wasde else ("psd",))


def test_a_later_extract_time_can_land_it_on_the_day():
    sched = schedule.Schedule(extract_at=schedule.dtime(18, 0))
    assert sched.extract_sources(date(2025, 11, 14), ("psd",)) == ("psd", "wasde")
    assert sched.extract_sources(date(2025, 11, 15), ("psd", "wasde")) == ("psd", "wasde")


class Runner:
    def __init__(self) -> None:
        self.sources: list[tuple[str, tuple[str, ...]]] = []

    def __call__(self, job: str, settings) -> int:
        self.sources.append((job, settings.extract_sources))
        return 0


def test_the_supervisor_runs_the_wasde_extract_on_wasde_days_and_says_when_dates_run_out(tmp_path):
    settings = settings_mod.load({"MATERIA_HOME": str(tmp_path / "home")}, dotenv=tmp_path / "x")
    sched = schedule.Schedule(wasde_dates=(date(2025, 11, 14), date(2025, 12, 9)))
    runner = Runner()
    for day in ("2025-11-14", "2025-11-15", "2025-11-16"):
        records, notes = supervisor.tick(settings, at(f"{day}T02:30"), runner, sched)
        assert not [n for n in notes if "WASDE" in n]
    extracts = [s for job, s in runner.sources if job == "extract"]
    assert extracts == [("psd",), ("psd", "wasde"), ("psd", "wasde")]
    assert records[0]["pipeline"] == "extract" and records[0]["sources"] == ["psd", "wasde"]
    dry, _ = supervisor.tick(settings, at("2025-12-10T02:30"), None, sched, dry_run=True)
    assert dry[0] == {"pipeline": "extract", "slot": "2025-12-10", "attempt": 1, "sources": ["psd", "wasde"]}  # fmt: skip
    supervisor.tick(settings, at("2026-01-02T02:30"), runner, sched)
    _, notes = supervisor.tick(settings, at("2026-01-02T02:30"), None, sched, dry_run=True)
    assert [n for n in notes if "WASDE" in n] == [
        f"no WASDE release date from 2026-01 on in {release_calendar.DEFAULT_FILE} (the last "
        "is 2025-12-09): WASDE is not extracted until USDA's dates "
        "(usda.gov/oce/commodity/wasde) are added"
    ]
    assert runner.sources[-3] == ("extract", ("psd",))


@pytest.mark.slow
def test_a_real_tick_on_a_wasde_day_lands_psd_and_wasde(tmp_path, psd_server):
    """Through the CLI on the real clock: with yesterday a release date (a dates file of
    the operator's), the day's extract lands PSD and the WASDE report."""
    now = datetime.now(UTC)
    slots = schedule.Schedule().latest_slots(now)
    dates = tmp_path / "dates.txt"
    dates.write_text(f"{slots['extract'] - timedelta(days=1)}\n")
    psd_fixtures.archive_layout(psd_server.root, {now.strftime("%Y-%m"): psd_fixtures.sample_rows("2022-06")})  # fmt: skip
    last = (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    home = tmp_path / "home"
    state = {j: {"slot": str(slots[j]), "ok_slot": str(slots[j]), "status": "ok"} for j in ("transform", "report")}  # fmt: skip
    schedule.write_state(home / "supervisor" / "state.json", state)
    with WasdeServer(tmp_path / "usda") as site:
        wf.layout(site.root, {last: wf.dated(wf.sample_rows(), last)})
        env = clean_env(
            home,
            PSD_BASE_URL=psd_server.base_url,
            PSD_DATASETS="psd_coffee_csv.zip",
            WASDE_BASE_URL=site.base_url,
            MATERIA_WASDE_DATES_FILE=str(dates),
        )
        proc = run_cli("supervisor", "tick", env=env, cwd=home.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"supervisor: extract {slots['extract']} ok" in proc.stdout
    store = LandingStore(str(home / "landing"), fsspec.filesystem("file"), home / "tmp")
    assert any(k.startswith("psd/psd_coffee_csv/") for k in store.list("psd"))
    (wasde,) = store.list("wasde")
    assert wasde.startswith(f"wasde/oce-wasde-report-data/{last.replace('-', '/')}/sha256-")
