"""SQLMesh's own plans and `materia transform` publish the same rows, in every table.

Generated releases land in steps: two months at once (with a second dataset in one of
them), a release landing late between them (a revision of history), a new dataset's
release, then a middle month withdrawn by quarantine; WASDE reports of other months land
beside them the same way (two at once, one late, then withdrawn). After each step `materia transform`
publishes, and SQLMesh, on a warehouse holding every landed archive (the models' one
input), does what its docs say for data that changed: the first plan backfills every
month; later plans restate the input model from the first month that changed
(`plan --restate-model raw.psd_alldata --restate-model raw.wasde_report --start <month>`), which restates everything
downstream, the self-referencing vintages from that month to now, one month per batch.
Every table materia published must equal its SQLMesh model's rows, the vintages included.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from materia.core.storage import LandingStore
from materia.landing import manifest as landed
from materia.transform import run as transform
from materia.transform import sqlmesh_dev, sqlmesh_project
from materia.transform.compiled import CATALOG
from testsupport.lakehouse import published
from testsupport.psd import fixtures as fx
from testsupport.psd import wasde_fixtures as wf

ALL, COFFEE = "psd_alldata_csv", "psd_coffee_csv"
ENV = "dev_sqlmesh"  # SQLMesh's environment; schemas <schema>__dev_sqlmesh
BR23 = ("0711100", "BR", 2023, "028")
US_CORN = (
    "U.S. Feed Grain and Corn Supply and Use",
    "Corn",
    "United States",
    "2025/26",
    "Production",
)
WASDE_MONTHS = ("2022-07", "2022-10", "2022-11")  # none a PSD month: no cross-source pair


def _land(home: Path, rows, stem: str, month: str, etag: str) -> str:
    return fx.land(home, rows, month, stem, etag)


def _releases():
    r06 = fx.sample_rows("2022-06")
    r09 = fx.revise(r06, "2022-09", {BR23: 62000.0, ("2631000", "US", 2022, "088"): 5100.0})
    r12 = fx.revise(r09, "2022-12", {BR23: 62600.0})
    coffee12 = [r for r in r12 if r.commodity_code == "0711100"]
    c01 = fx.revise(coffee12, "2023-01", {("0711100", "BR", 2022, "028"): 58200.0})
    return r06, r09, r12, coffee12, c01


def _sqlmesh_rows(db: Path, compiled) -> dict[str, list[tuple]]:
    """Every published model's rows as SQLMesh's environment has them."""
    out = {}
    with duckdb.connect(str(db), read_only=True) as con:
        for m in compiled.published():
            cur = con.execute(f"SELECT * FROM {CATALOG}.{m.schema}__{ENV}.{m.table}")
            names = [d[0] for d in cur.description]
            out[m.published_name] = _rows(
                [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
            )
    return out


def _rows(rows: list[dict]) -> list[tuple]:
    """Rows as comparable tuples of (column, value), in one order (None sorts first)."""
    return sorted(
        (tuple(sorted(r.items())) for r in rows),
        key=lambda t: tuple((k, v is not None, str(v)) for k, v in t),
    )


def _sqlmesh_plan(settings, db: Path, restate_from: str | None) -> None:
    """SQLMesh's plan of an environment on the current landing (a restatement after the
    first). A dev environment: SQLMesh lets its plans start at the first landed month and
    end after the last (a prod plan would run every month from 2006 to now, one batch
    each: empty months add no rows, only minutes)."""
    store = LandingStore.from_settings(settings)
    sqlmesh_dev.load_landing(settings, db, landed.manifest(store))
    ctx = sqlmesh_project.context(settings, db)
    try:
        raws = ["raw.psd_alldata", "raw.wasde_report"]
        restate = {"restate_models": raws} if restate_from else {}
        ctx.plan(
            ENV,
            start=restate_from or "2022-06-01",
            end="2023-03-01",
            no_prompts=True,
            auto_apply=True,
            skip_tests=True,
            **restate,
        )
    finally:
        ctx.close()


@pytest.mark.slow
def test_sqlmesh_plans_and_materia_transform_publish_the_same_rows(tmp_path):
    from materia.core import settings as settings_mod

    home = tmp_path / "home"
    settings = settings_mod.load({"MATERIA_HOME": str(home)}, dotenv=tmp_path / "no.env")
    db = tmp_path / "sqlmesh" / f"{CATALOG}.duckdb"
    db.parent.mkdir()
    compiled = sqlmesh_project.compiled(settings)
    r06, r09, r12, coffee12, c01 = _releases()
    # the September, October and November 2025 reports' values, published in 2022's months
    w07, w10, w11 = (
        wf.dated(wf.moved(wf.sample_rows(), values), month)
        for values, month in zip(("2025-09", "2025-10", "2025-11"), WASDE_MONTHS, strict=True)
    )
    steps = [
        # two months at once; 2022-12 holds two archives (alldata and coffee)
        lambda: [
            _land(home, r06, ALL, "2022-06", "a06"),
            _land(home, r12, ALL, "2022-12", "a12"),
            _land(home, coffee12, COFFEE, "2022-12", "c12"),
            wf.land(home, w07, "2022-07", "w07"),
            wf.land(home, w11, "2022-11", "w11"),
        ],  # fmt: skip
        lambda: [
            _land(home, r09, ALL, "2022-09", "a09"),  # late: history is revised
            wf.land(home, w10, "2022-10", "w10"),  # a WASDE report landing late too
        ],  # fmt: skip
        lambda: [_land(home, c01, COFFEE, "2023-01", "c01")],  # coffee's newest is newer
        lambda: [
            landed.quarantine(LandingStore.from_settings(settings), key, "withdrawn")
            for key in (
                "psd/psd_alldata_csv/2022/09/a09.zip",
                "wasde/oce-wasde-report-data/2022/10/w10.csv",
            )
        ],  # fmt: skip
    ]
    for i, step in enumerate(steps):
        step()
        result = transform.run(settings)
        _sqlmesh_plan(settings, db, None if i == 0 else result.vintages_from)
        ours = {t: _rows(rows) for t, rows in _published(home).items()}
        theirs = _sqlmesh_rows(db, compiled)
        assert set(ours) == set(theirs), i
        for table, rows in theirs.items():
            assert ours[table] == rows, (i, table)
        vintages = [dict(r) for r in theirs["fct_psd_vintages"]]  # and a known history:
        br = sorted(
            (r["release_month"].isoformat(), r["value"])
            for r in vintages
            if (r["commodity_code"], r["country_code"], r["market_year"], r["attribute_id"]) == BR23
        )
        assert (
            br
            == [
                [("2022-06-01", 64300.0), ("2022-12-01", 62600.0)],
                [("2022-06-01", 64300.0), ("2022-09-01", 62000.0), ("2022-12-01", 62600.0)],
                [("2022-06-01", 64300.0), ("2022-09-01", 62000.0), ("2022-12-01", 62600.0)],
                [("2022-06-01", 64300.0), ("2022-12-01", 62600.0)],
            ][i]
        )
        corn = sorted(  # the path of a WASDE projection, the late report in it or not
            (r["release_month"].isoformat(), r["value"])
            for r in map(dict, theirs["fct_wasde_vintages"])
            if (r["report_title"], r["commodity"], r["region"], r["market_year"], r["attribute"])
            == US_CORN
        )
        three = [(f"{m}-01", wf.value_of(w, *US_CORN)) for m, w in zip(WASDE_MONTHS, (w07, w10, w11), strict=True)]  # fmt: skip
        assert len({v for _, v in three}) == 3  # the projection moved each month
        assert corn == (three if i in (1, 2) else [three[0], three[2]]), i
    shutil.rmtree(db.parent)


def _published(home: Path) -> dict[str, list[dict]]:
    cat = published.local_catalog(home)
    return {t: rows for t, rows in published.read_all(cat).items()}
