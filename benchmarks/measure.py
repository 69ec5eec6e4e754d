"""The measurements, each returning figures and goals MET / NOT MET / NOT MEASURED
(`benchmarks.figures`); the 240-release history and the workbench in a browser have
their own modules.

Every pipeline step runs through the real CLI in a child process (`workspace`), every
baseline in its own child process (`baselines`), so wall times and peak RSS compare like
with like. A measurement whose parts of materia do not exist yet reports "not built yet"
and the harness carries on.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from benchmarks import history, runner, workbench, workspace
from benchmarks.figures import (  # noqa: F401  (MET, … are this module's API too)
    MET,
    NOT_MEASURED,
    NOT_MET,
    Context,
    Goal,
    Result,
    fmt_bytes,
    rss,
    warm,
)
from benchmarks.runner import MIB, ChildFailed, Stats
from benchmarks.workspace import NotBuilt, Workspace

_fmt_bytes, _rss, _warm = fmt_bytes, rss, warm


# --- 1. one full-size release vs the floor and pandas ----------------------------------------
PIPELINE_GOALS = (
    "one release land → publish ≤ 3× the DuckDB floor (stretch 2×)",
    "one release land → publish ≥ 1.5× faster than the pandas script",
    "pipeline peak RSS ≤ 500 MiB",
)


def pipeline(ctx: Context) -> Result:
    res = Result("pipeline", "1. One full-size release: land → transform → publish, vs baselines")
    rel = ctx.series.releases[0]
    zip_path = str(rel.zip_path)
    res.figure(
        "release", f"{rel.label}, {rel.rows:,} rows, zip {_fmt_bytes(rel.zip_path.stat().st_size)}"
    )
    reason = ", ".join(workspace.missing("server", "extract", "transform", "lakehouse"))
    _warm(rel.zip_path)

    def baseline(name: str) -> runner.Sample:
        return runner.python(["-m", "benchmarks.baselines", name, zip_path], what=name)

    def land_and_publish() -> tuple[float, int, dict[str, float]]:
        """One `materia pipeline run` (land, transform, publish in one interpreter)."""
        with workspace.workspace(ctx.psd_server().base_url, ctx.scratch) as ws:
            p = ws.pipeline(rel.as_of)
            if not ws.landed_keys():
                raise ChildFailed(f"pipeline run with PSD_AS_OF={rel.as_of} landed nothing")
            return p.wall_s, p.peak_rss, ws.step_seconds()

    if ctx.warmup:
        ctx.log("  warm-up: floor, pandas" + ("" if reason else ", pipeline"))
        baseline("floor")
        baseline("pandas")
        if not reason:
            land_and_publish()
    floor, pandas, ours = [], [], []
    rows: dict[str, int] = {}
    error = None
    for i in range(ctx.repeats):  # interleaved, so machine noise hits all three alike
        ctx.log(f"  round {i + 1}/{ctx.repeats}")
        for name, into in (("floor", floor), ("pandas", pandas)):
            s = baseline(name)
            into.append(s)
            rows[name] = json.loads(s.stdout)["rows"]
        if not reason and error is None:
            try:
                wall, peak, steps = land_and_publish()
                ours.append((wall, peak, steps.get("extract", 0.0), steps.get("transform", 0.0)))
            except ChildFailed as err:
                error = str(err)

    f = Stats.of([s.wall_s for s in floor])
    p = Stats.of([s.wall_s for s in pandas])
    res.figure("floor: unzip + one DuckDB statement, wall", f.fmt())
    res.figure("floor peak RSS", _rss(Stats.of([s.peak_rss for s in floor])))
    res.figure("pandas: read_csv + pivot_table, wall", p.fmt())
    res.figure("pandas peak RSS", _rss(Stats.of([s.peak_rss for s in pandas])))
    res.figure(
        "baselines agree (wide rows floor / pandas)", f"{rows['floor']:,} / {rows['pandas']:,}"
    )
    if reason or error or not ours:
        why = f"not built yet: {reason}" if reason else f"pipeline failed: {error}"
        res.error = why
        res.unmeasured(why, *PIPELINE_GOALS)
        return res
    w = Stats.of([o[0] for o in ours])
    r = Stats.of([o[1] for o in ours])
    res.figure("materia pipeline run (land, transform, publish; one interpreter), wall", w.fmt())
    res.figure(
        "of which: extract / transform (the run log's durations, medians)",
        f"{Stats.of([o[2] for o in ours]).median:.2f} s / {Stats.of([o[3] for o in ours]).median:.2f} s",
    )
    res.figure("materia peak RSS", _rss(r))
    res.figure("ratio materia / floor (medians)", f"{w.median / f.median:.2f}×")
    res.figure("speed-up vs pandas (medians)", f"{p.median / w.median:.2f}×")
    ctx.one_release = [(o[0], o[1]) for o in ours]
    res.goal(PIPELINE_GOALS[0], w.median <= 3 * f.median, f"{w.median / f.median:.2f}×")
    res.goal(PIPELINE_GOALS[1], p.median >= 1.5 * w.median, f"{p.median / w.median:.2f}×")
    res.goal(PIPELINE_GOALS[2], r.max <= 500 * MIB, f"max {r.max / MIB:,.0f} MiB")
    return res


# --- 4. extract memory --------------------------------------------------------------------------
def extract_rss(ctx: Context) -> Result:
    res = Result("extract", "4. Extract of one full-size release")
    goal = "extract peak RSS ≤ 100 MiB"
    rel = ctx.series.releases[0]
    samples = ctx.extract_samples
    try:
        workspace.require("server", "extract")
        if not samples:
            for _ in range(ctx.repeats):
                with workspace.workspace(ctx.psd_server().base_url, ctx.scratch) as ws:
                    samples.append(ws.extract(rel.as_of))
                    if not ws.landed_keys():
                        raise ChildFailed(f"extract --as-of {rel.as_of} landed nothing")
    except (NotBuilt, ChildFailed) as e:
        res.error = str(e)
        res.unmeasured(str(e), goal)
        return res
    rss = Stats.of([s.peak_rss for s in samples])
    res.figure("zip size", _fmt_bytes(rel.zip_path.stat().st_size))
    res.figure("extract wall", Stats.of([s.wall_s for s in samples]).fmt())
    res.figure("extract peak RSS", _rss(rss))
    res.goal(goal, rss.max <= 100 * MIB, f"max {rss.max / MIB:,.0f} MiB")
    return res


# --- 2. cost growth over the monthly series --------------------------------------------------
def growth_goals(n: int) -> tuple[str, ...]:
    return (
        f"release {n} land+transform ≤ 1.1× release 1",
        "fct_psd_vintages grows by the revised values only",
        "Iceberg bytes written to the vintages per release ≤ 1 MiB",
        "local state growth per release (all but landing/ and the Iceberg warehouse) ≤ 5 MiB",
    )


def growth(ctx: Context) -> Result:
    n = len(ctx.series.releases)
    res = Result("growth", f"2. Cost growth: land + transform releases 1…{n} in turn (1 run each)")
    goals = growth_goals(n)
    try:
        workspace.require("server", "extract", "transform", "lakehouse")
        ws = ctx.new_workspace()
        table = [
            "| release | values changed | re-stamped | extract s | transform s | total s | "
            "peak RSS MiB | vintage rows | Δ rows | vintage bytes written | "
            "vintages Iceberg MiB | local state MiB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        totals, deltas, written, states, prev_rows = [], [], [], [], None
        for rel in ctx.series.releases:
            ctx.log(f"  release {rel.label}")
            before = ws.snapshot_ids("fct_psd_vintages")
            e = ws.extract(rel.as_of)
            t = ws.transform()
            rows, nbytes = ws.iceberg_size("fct_psd_vintages")
            added = ws.added_bytes("fct_psd_vintages", before)
            state = ws.local_state_bytes()
            delta = None if prev_rows is None else rows - prev_rows
            if delta is not None:
                deltas.append((rel, delta))
                written.append(added)
            prev_rows = rows
            states.append(state)
            totals.append(e.wall_s + t.wall_s)
            table.append(
                f"| {rel.label} | {rel.changed:,} | {rel.restamped:,} | {e.wall_s:.2f} | "
                f"{t.wall_s:.2f} | {e.wall_s + t.wall_s:.2f} | "
                f"{max(e.peak_rss, t.peak_rss) / MIB:,.0f} | {rows:,} | "
                f"{'' if delta is None else f'{delta:+,}'} | {added / 1024:,.0f} KiB | "
                f"{nbytes / MIB:,.1f} | {state / MIB:,.2f} |"
            )
        ctx.grown = ws
    except (NotBuilt, ChildFailed) as e:
        res.error = str(e)
        res.unmeasured(str(e), *goals)
        return res
    res.tables.append("\n".join(table))
    ratio = totals[-1] / totals[0]
    res.figure("release 1 land+transform", f"{totals[0]:.2f} s")
    res.figure(f"release {n} land+transform", f"{totals[-1]:.2f} s")
    res.figure(f"ratio release {n} / release 1", f"{ratio:.2f}×")
    res.goal(goals[0], ratio <= 1.1, f"{ratio:.2f}×")
    if deltas:
        off = [(r.label, d, r.changed) for r, d in deltas if d != r.changed]
        res.goal(
            goals[1],
            not off,
            "Δ rows = values changed in every release"
            if not off
            else "; ".join(f"{lbl}: Δ {d:+,} vs {c:,} changed" for lbl, d, c in off[:4]),
        )
        worst = max(written)
        res.figure("vintage bytes written per release (max of releases 2…)", _fmt_bytes(worst))
        res.goal(goals[2], worst <= MIB, f"max {worst / 1024:,.0f} KiB")
        growth_per = (states[-1] - states[0]) / (len(states) - 1)
        res.figure("local state growth per release", f"{growth_per / MIB:,.2f} MiB")
        res.goal(goals[3], growth_per <= 5 * MIB, f"{growth_per / MIB:,.2f} MiB")
    else:
        res.unmeasured("needs at least 2 releases", *goals[1:])
    return res


# --- 2b. a cold backfill of every release in one run ------------------------------------------
BACKFILL_GOALS = (
    "cold backfill of every release in one run ≤ 3× one release",
    "cold backfill peak RSS ≤ 700 MiB",
)


def backfill(ctx: Context) -> Result:
    n = len(ctx.series.releases)
    res = Result("backfill", f"2b. Cold backfill: releases 1…{n} in one `materia pipeline run`")
    try:
        workspace.require("server", "extract", "transform", "lakehouse")
        first, last = ctx.series.releases[0], ctx.series.releases[-1]
        with workspace.workspace(ctx.psd_server().base_url, ctx.scratch) as ws:
            ctx.log(f"  land and publish {n} releases")
            p = ws.pipeline(last.as_of, backfill_from=first.label)
            if len(ws.landed_keys()) != n:
                raise ChildFailed(f"backfill landed {len(ws.landed_keys())} of {n} releases")
            steps = ws.step_seconds()
            rows, _ = ws.iceberg_size("fct_psd_vintages")
    except (NotBuilt, ChildFailed) as err:
        res.error = str(err)
        res.unmeasured(str(err), *BACKFILL_GOALS)
        return res
    res.figure(f"land and publish {n} releases (one pipeline run), wall", f"{p.wall_s:.2f} s")
    res.figure(
        "of which: land / transform (the run log's durations)",
        f"{steps.get('extract', 0):.2f} s / {steps.get('transform', 0):.2f} s",
    )
    res.figure("peak RSS", f"{p.peak_rss / MIB:,.0f} MiB")
    res.figure("vintage rows", f"{rows:,}")
    if not ctx.one_release:
        res.unmeasured("needs the pipeline measurement (one release)", BACKFILL_GOALS[0])
    else:
        one = Stats.of([o[0] for o in ctx.one_release]).median
        res.figure("one release land → publish (pipeline, median)", f"{one:.2f} s")
        res.goal(
            BACKFILL_GOALS[0],
            p.wall_s <= 3 * one,
            f"{p.wall_s:.1f} s / {one:.1f} s = {p.wall_s / one:.2f}×",
        )
    res.goal(BACKFILL_GOALS[1], p.peak_rss <= 700 * MIB, f"{p.peak_rss / MIB:,.0f} MiB")
    return res


# --- 2c. the state a prod run carries, against SeaweedFS as R2 and the Iceberg REST catalog ----
PROD_STATE_GOAL = "state a prod run carries (download + upload) ≤ 50 MiB, flat in releases"


def prod_state(ctx: Context) -> Result:
    n = len(ctx.series.releases)
    res = Result("prod_state", f"2c. Prod state per run: releases 1…{n} on SeaweedFS (R2 + REST)")
    try:
        workspace.require("server", "extract", "transform", "lakehouse")
        from testsupport.lakehouse.seaweed import Seaweed

        sw = ctx.stack.enter_context(Seaweed(ctx.scratch / "seaweed"))
        cloud = {**sw.r2_env(), **sw.iceberg_env()}
        ws = ctx.stack.enter_context(
            workspace.workspace(ctx.psd_server().base_url, ctx.scratch, cloud=cloud)
        )
        fs = sw.s3fs()
        table = [
            "| release | prior read (published vintages) | state objects (locks, state) | "
            "warehouse file | carried total | transform s |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        carried = []
        for i, rel in enumerate(ctx.series.releases):
            ctx.log(f"  release {rel.label}")
            ws.extract(rel.as_of)
            prior = ws.iceberg_size("fct_psd_vintages")[1] if i else 0
            t = ws.transform()
            state = sum(
                info["size"]
                for info in fs.find(sw.bucket, detail=True).values()
                if not info["name"].split("/", 1)[1].startswith("psd/")
            )
            total = prior + state
            carried.append(total)
            table.append(
                f"| {rel.label} | {_fmt_bytes(prior)} | {state:,} B | none | "
                f"{_fmt_bytes(total)} | {t.wall_s:.2f} |"
            )
    except (NotBuilt, ChildFailed) as err:
        res.error = str(err)
        res.unmeasured(str(err), PROD_STATE_GOAL)
        return res
    res.tables.append("\n".join(table))
    worst = max(carried[1:] or carried)
    res.figure("largest state carried by one run", _fmt_bytes(worst))
    res.figure(
        "what a run carries",
        "no warehouse file: the vintages' prior values are read from the published Iceberg "
        "table (its data files are an upper bound on the bytes read), plus the lock object",
    )
    growth = (carried[-1] - carried[1]) / max(carried[1], 1) if len(carried) > 2 else 0.0
    res.goal(
        PROD_STATE_GOAL,
        worst <= 50 * MIB and growth <= 0.25,
        f"max {_fmt_bytes(worst)}; release {n} vs 2: {growth:+.0%} (the vintages grow by revisions)",
    )
    return res


# --- 3. nightly run with nothing new -----------------------------------------------------------
NOOP_GOALS = (
    "no-op nightly (extract + transform) ≤ 1 s wall",
    "no-op transfers 0 body bytes",
    "no-op adds no Iceberg snapshot",
)


def noop(ctx: Context) -> Result:
    res = Result("noop", "3. Nightly run with nothing new (extract + transform)")
    try:
        workspace.require("server", "extract", "transform", "lakehouse")
        ws = ctx.published(1)
        as_of = _newest_landed_as_of(ctx, ws)
        srv = ctx.psd_server()
        walls, body, new_snaps = [], 0, 0
        keys0 = ws.landed_keys()
        snaps0 = ws.iceberg_snapshots()
        for i in range(ctx.repeats):
            ctx.log(f"  no-op run {i + 1}/{ctx.repeats}")
            b0 = srv.body_bytes()
            e = ws.extract(as_of)
            t = ws.transform()
            body += srv.body_bytes() - b0
            walls.append(e.wall_s + t.wall_s)
        snaps1 = ws.iceberg_snapshots()
        new_snaps = sum(snaps1.get(k, 0) - v for k, v in snaps0.items()) + sum(
            v for k, v in snaps1.items() if k not in snaps0
        )
        keys1 = ws.landed_keys()
    except (NotBuilt, ChildFailed) as e:
        res.error = str(e)
        res.unmeasured(str(e), *NOOP_GOALS)
        return res
    w = Stats.of(walls)
    res.figure("no-op wall (extract + transform)", w.fmt())
    res.figure("body bytes sent by the PSD server", f"{body:,}")
    res.figure("new Iceberg snapshots", f"{new_snaps}")
    res.figure("new landing keys", f"{len(set(keys1) - set(keys0))}")
    res.goal(NOOP_GOALS[0], w.median <= 1.0, f"median {w.median:.2f} s")
    res.goal(NOOP_GOALS[1], body == 0, f"{body:,} bytes")
    res.goal(NOOP_GOALS[2], new_snaps == 0, f"{new_snaps} new")
    return res


def _newest_landed_as_of(ctx: Context, ws: Workspace) -> str:
    """The --as-of of the newest release this home has landed (so nothing is new)."""
    landed = {k.split("/")[2] + "-" + k.split("/")[3] for k in ws.landed_keys()}
    rels = [r for r in ctx.series.releases if r.label in landed]
    return (rels[-1] if rels else ctx.series.releases[0]).as_of


# --- 6. SQLMesh's fixed start-up --------------------------------------------------------------
def sqlmesh_startup(ctx: Context) -> Result:
    res = Result("sqlmesh", "6. SQLMesh's fixed start-up, and what a transform pays of it")
    code_import = "import sqlmesh"
    code_compile = (
        "from materia.core import settings; from materia.transform import sqlmesh_project as p; "
        "p.compile_project(settings.load({'MATERIA_HOME': %r}))"
    )
    code_cached = (
        "from materia.core import settings; from materia.transform import sqlmesh_project as p; "
        "p.compiled(settings.load({'MATERIA_HOME': %r}))"
    )
    try:
        home = str(ctx.scratch / "sqlmesh-home")
        walls: dict[str, list[float]] = {"import": [], "compile": [], "cached": []}
        for _ in range(ctx.repeats):
            walls["import"].append(runner.python(["-c", code_import], what="import").wall_s)
            walls["compile"].append(
                runner.python(["-c", code_compile % home], what="compile").wall_s
            )
            walls["cached"].append(runner.python(["-c", code_cached % home], what="cached").wall_s)
    except ChildFailed as e:
        res.error = str(e)
        return res
    res.figure("python -c 'import sqlmesh'", Stats.of(walls["import"]).fmt())
    res.figure(
        "compile the project with SQLMesh (import, load, render every model and audit)",
        Stats.of(walls["compile"]).fmt(),
    )
    res.figure(
        "what a transform pays when the models did not change (compiled SQL from the cache)",
        Stats.of(walls["cached"]).fmt() + " (a whole interpreter, most of it Python start-up)",
    )
    return res


# In run order: `noop` and `notebook` reuse the home `growth` built; `backfill` compares
# with `pipeline`'s one release.
MEASUREMENTS: dict[str, Callable[[Context], Result]] = {
    "pipeline": pipeline,
    "extract": extract_rss,
    "growth": growth,
    "backfill": backfill,
    "prod_state": prod_state,
    "history": history.history,
    "noop": noop,
    "notebook": workbench.notebook,
    "sqlmesh": sqlmesh_startup,
}
