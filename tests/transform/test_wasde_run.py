"""The WASDE source through the transform and publish: the real November 2025 report with
its figures, months of reports showing a projection's path and what moved, the audits
that refuse a report (a balance sheet that does not balance, a unit nobody mapped) and the
cross-source audit against PSD of the same month; and a second source that leaves every
PSD figure and every PSD run as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from materia.core import settings as settings_mod
from materia.core.errors import MateriaError
from materia.core.storage import LandingStore
from materia.landing import manifest as landed
from materia.sources import wasde_tables
from materia.transform import run as transform
from materia.workbench import wasde, wasde_data
from testsupport.lakehouse import published
from testsupport.psd import fixtures as fx
from testsupport.psd import wasde_fixtures as wf
from testsupport.psd.wasde_server import WasdeServer

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "wasde"
NOV_FILE = SHARED / "oce-wasde-report-data-2025-11.csv"
CORN = ("U.S. Feed Grain and Corn Supply and Use", "Corn")
GRAINS = "psd_grains_pulses_csv"


@pytest.fixture
def shared_report() -> Path:
    if not NOV_FILE.is_file():
        pytest.skip(f"the real WASDE report is not at {NOV_FILE} (needs ../shared/data/wasde)")
    return NOV_FILE


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    return home, settings_mod.load({"MATERIA_HOME": str(home)}, dotenv=tmp_path / "no.env")


def latest(home: Path) -> list[dict]:
    return published.read(published.local_catalog(home), "fct_wasde_latest")


def figure(rows, title, commodity, region, year, attribute):
    (hit,) = [
        r for r in rows
        if (r["report_title"], r["commodity"], r["region"], r["market_year"], r["attribute"])
        == (title, commodity, region, year, attribute)
    ]  # fmt: skip
    return hit["value"]


def unbalanced(rows: list[dict]) -> tuple[int, list[str]]:
    """Every U.S. balance sheet checked in Python, by materia/sources/wasde_tables.py's sheets:
    supply = uses + ending stocks within 1.5 of the printed precision; (checked, faults)."""
    values: dict[tuple, dict[str, float]] = {}
    for r in rows:
        if r["region"] == "United States" and r["period"] == "Annual" and r["value"] is not None:
            values.setdefault((r["report_title"], r["commodity"], r["market_year"]), {})[r["attribute"]] = r["value"]  # fmt: skip
    checked, faults = 0, []
    for (title, commodity, year), v in values.items():
        sheet = wasde_tables.SHEETS.get(title)
        if sheet is None or sheet.supply not in v or sheet.ending not in v:
            continue
        terms = [v[sheet.supply], *(v[a] for a in sheet.uses if a in v), v[sheet.ending]]
        step = 1 if all(t == round(t) for t in terms) else 0.1 if all(abs(t * 10 - round(t * 10)) < 1e-6 for t in terms) else 0.01  # fmt: skip
        gap = v[sheet.supply] - sum(v[a] for a in sheet.uses if a in v) - v[sheet.ending]
        checked += 1
        if abs(gap) > 1.5 * step + 1e-9:
            faults.append(f"{title} {commodity} {year}: {gap}")
    return checked, faults


@pytest.mark.slow
def test_the_shared_november_2025_report_loads_and_publishes(shared_report, cli, materia_env):
    """Done when: through the door (a loopback USDA site serving the real file) and a
    whole pipeline run, USDA's own figures are published."""
    with WasdeServer(shared_report.parent) as site:
        env = {**materia_env, "WASDE_BASE_URL": site.base_url, "WASDE_AS_OF": "2025-11-30"}
        done = cli("pipeline", "run", env={**env, "MATERIA_EXTRACT_SOURCES": "wasde"})
    assert done.returncode == 0, done.stdout + done.stderr
    home = Path(env["MATERIA_HOME"])
    rows = latest(home)
    assert len(rows) == 5054
    assert figure(rows, *CORN, "United States", "2025/26", "Production") == 16752.0
    assert figure(rows, *CORN, "United States", "2025/26", "Yield per Harvested Acre") == 186.0
    assert figure(rows, *CORN, "United States", "2025/26", "Avg. Farm Price") == 4.00
    wheat = ("World Wheat Supply and Use", "Wheat", "World", "2025/26")
    assert figure(rows, *wheat, "Production") == 828.89
    assert figure(rows, *wheat, "Ending Stocks") == 271.43
    units = {r["unit_code"] for r in rows if r["report_title"] == "World Cotton Supply and Use"}
    assert units == {"mil_bales"}  # "Million 480-Pound Bales" normalized
    checked, faults = unbalanced(rows)
    assert checked >= 60 and faults == []
    # No PSD landed: the PSD tables are not published (empty), the WASDE ones are.
    tables = published.newest_run(published.local_catalog(home), "serving")
    assert {"fct_wasde_latest", "fct_wasde_vintages"} <= set(tables)
    assert "fct_psd_latest" not in tables


@pytest.mark.slow
def test_monthly_reports_show_the_projection_path_and_what_changed(shared_report, home):
    """Done when: the shared report with values moved, for three months."""
    home, settings = home
    real = wf.read_rows(shared_report)
    for month in ("2025-09", "2025-10", "2025-11"):
        wf.land(home, wf.moved(real, month), month, etag=f"w{month[-2:]}")
    result = transform.run(settings)
    assert result.months == ["2025-09", "2025-10", "2025-11"]
    w = wasde_data.open_wasde(settings)
    assert w.reports == tuple(wf_months(("2025-09", "2025-10", "2025-11")))
    path = wasde.path(w, *CORN, "United States", "2025/26", "Production")
    assert path.rows() == [
        (wf_month("2025-09"), 16718.0, None, True),
        (wf_month("2025-10"), 16735.0, 17.0, True),
        (wf_month("2025-11"), 16752.0, 17.0, True),
    ]
    sheet = wasde.us_sheet(w, *CORN)
    production = sheet.table.filter(sheet.table["item"] == "Production").row(0, named=True)
    assert (production["2025/26 Oct 2025"], production["2025/26 Nov 2025"], production["change"]) == (16735.0, 16752.0, 17.0)  # fmt: skip
    changed = wasde.what_changed(w)
    moved = {
        (r["report_title"], r["region"], r["attribute"]): (r["previous"], r["current"])
        for r in changed.iter_rows(named=True)
    }
    assert moved[(CORN[0], "United States", "Production")] == (16735.0, 16752.0)
    assert moved[(CORN[0], "United States", "Ending Stocks")] == (2137.0, 2154.0)
    assert moved[("World Corn Supply and Use", "United States", "Production")] == (425.09, 425.53)
    assert (CORN[0], "United States", "Imports") not in moved  # unchanged figures are not changes
    # the report's vintages hold what moved, not every figure of every report
    vintages = published.read(published.local_catalog(home), "fct_wasde_vintages")
    assert len(vintages) == 5054 + 2 * changed.height


def wf_month(text: str):
    from datetime import date

    return date(int(text[:4]), int(text[5:]), 1)


def wf_months(texts):
    return [wf_month(t) for t in texts]


def test_the_cross_source_audit_blocks_a_psd_release_that_disagrees(home):
    """Done when: PSD of the same month as the WASDE report, agreeing, publishes; a PSD
    release whose world wheat is 2,500 thousand tons off blocks the publish, naming both."""
    home, settings = home
    report = wf.sample_rows()
    wf.land(home, report, "2025-11")
    fx.land(home, wf.psd_rows_for(report, "2025-11", ("Wheat", "Corn")), "2025-11", GRAINS, "ok")
    first = transform.run(settings)
    assert first.run_id is not None
    before = published.read_all(published.local_catalog(home))
    bad = wf.psd_rows_for(report, "2025-11", ("Wheat",), world_off=2500.0)
    bad += wf.psd_rows_for(report, "2025-11", ("Corn",))
    key = fx.land(home, bad, "2025-11", GRAINS, "bad")  # a same-month correction of PSD
    with pytest.raises(MateriaError) as e:
        transform.run(settings)
    message = str(e.value)
    assert "audit wasde_agrees_with_psd failed on cleaned.cln_wasde_psd" in message
    assert "commodity=Wheat, region=World, market_year=2025/26, attribute=Production" in message
    assert "psd_value=831390.0, wasde_in_psd_unit=828890.0, wasde_value=828.89" in message
    assert key in message  # the archives of the failing month are named
    assert published.read_all(published.local_catalog(home)) == before  # nothing published
    # Withdrawn, the landing is again what the first run published: nothing to do.
    landed.quarantine(LandingStore.from_settings(settings), key, "disagrees with WASDE")
    assert transform.run(settings).skipped


@pytest.mark.parametrize(
    ("change", "audit", "named"),
    [
        (
            ("Supply, Total", None, 18349.0),
            "wasde_us_balance",
            "total=Supply, Total, total_value=18349.0",
        ),  # fmt: skip
        (("Production", "Million Stones", None), "wasde_unit_known", "unit=Million Stones"),
    ],
    ids=["unbalanced", "unknown-unit"],
)
def test_a_report_that_fails_its_audits_never_publishes(home, change, audit, named):
    home, settings = home
    attribute, unit, value = change
    rows = [
        r._replace(Unit=unit or r.Unit, Value=wf.value_text(value) if value else r.Value)
        if (r.ReportTitle, r.Commodity, r.MarketYear, r.Attribute) == (*CORN, "2025/26", attribute)
        else r
        for r in wf.sample_rows()
    ]
    key = wf.land(home, rows, "2025-11")
    with pytest.raises(MateriaError) as e:
        transform.run(settings)
    assert f"audit {audit} failed on serving.fct_wasde_vintages" in str(e.value)
    assert named in str(e.value) and key in str(e.value)
    assert not (home / "lakehouse" / "catalog.db").exists()  # nothing was ever published


def test_a_second_source_recomputes_only_its_models_and_changes_no_psd_figure(home, tmp_path):
    """PSD alone, then WASDE beside it: the WASDE run reads no PSD archive and carries
    every PSD table; a new PSD release reads no WASDE report and carries the WASDE tables;
    the PSD tables are those of a home that never saw WASDE."""
    home, settings = home
    r06 = fx.sample_rows("2022-06")
    fx.land(home, r06, "2022-06")
    psd_only = transform.run(settings)
    psd_tables = {t for t, snap in psd_only.published.items() if snap is not None}
    before = published.read_all(published.local_catalog(home))

    wf.land(home, wf.sample_rows(), "2025-11")
    with_wasde = transform.run(settings)
    assert sorted(with_wasde.models_run) == ["serving.fct_wasde_latest", "serving.fct_wasde_vintages"]  # fmt: skip
    assert with_wasde.archives_read == 1
    assert all(with_wasde.published[t] is None for t in psd_tables)  # carried, not rewritten
    after = published.read_all(published.local_catalog(home))
    assert {t: after[t] for t in before if t != "publications"} == {
        t: before[t] for t in before if t != "publications"
    }

    fx.land(home, fx.revise(r06, "2022-12"), "2022-12")
    psd_again = transform.run(settings)
    assert not any("wasde" in m for m in psd_again.models_run)
    assert psd_again.archives_read == 1  # the new PSD release only
    assert psd_again.published["fct_wasde_vintages"] is None

    # The same PSD releases in a home that never saw WASDE publish the same PSD rows.
    other = tmp_path / "other"
    other_settings = settings_mod.load({"MATERIA_HOME": str(other)}, dotenv=tmp_path / "no.env")
    fx.land(other, r06, "2022-06")
    fx.land(other, fx.revise(r06, "2022-12"), "2022-12")
    transform.run(other_settings)
    mine = published.read_all(published.local_catalog(home))
    theirs = published.read_all(published.local_catalog(other))
    assert set(mine) - set(theirs) == {"fct_wasde_latest", "fct_wasde_vintages"}
    for table in set(theirs) - {"publications"}:
        assert mine[table] == theirs[table], table
