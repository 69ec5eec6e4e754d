"""SQLMesh's own commands on the project, as its docs show them: `sqlmesh -p sqlmesh_materia
plan dev_<name>`, `audit`, `table_diff prod:dev_<name> MODEL`, `ui`, on the DuckDB file
`$MATERIA_HOME/warehouse.duckdb` that `materia dev seed` fills (`seed`):

- the models' inputs, `materia_input.psd_rows` and `materia_input.wasde_rows`: every
  archive the publication covers (or those since a month), checked and typed exactly as
  a transform loads them;
- SQLMesh's `prod`: the project planned with an empty backfill (nothing computed), its
  tables filled with the published rows. So `prod` in SQLMesh is what prod published,
  and a dev plan recomputes only what a change touches, reading prod's tables for the
  rest (SQLMesh's virtual environments), as the transform does.

The project must be the one that published (same model fingerprints): SQLMesh's prod
would otherwise hold models that were never published. `plan` is the notebook's dev
panel: a real SQLMesh plan of dev_<name> with SQLMesh's categorization of each change,
what it recomputes, and table_diff of each model it rebuilt against prod.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from materia.core.errors import MateriaError
from materia.core.settings import Settings
from materia.core.storage import LandingStore
from materia.core.target import PROD, Target
from materia.landing.manifest import Landed
from materia.transform import inputs, recompute, sqlmesh_project
from materia.transform.batch import newest_per_dataset
from materia.transform.compiled import CATALOG

SEEDED = "materia_input.seeded"  # what the warehouse was seeded from


def warehouse(settings: Settings) -> Path:
    return settings.home / f"{CATALOG}.duckdb"


@dataclass
class Seeded:
    env: Target
    run_id: str
    archives: int
    rows: int
    models: list[str]  # SQLMesh prod tables filled with published rows

    def summary(self) -> str:
        return (
            f"seeded {self.archives} archive(s) ({self.rows:,} rows) and {len(self.models)} "
            f"published table(s) of {self.env} run {self.run_id}: SQLMesh's prod is that run"
        )


def seed(settings: Settings, env: Target = PROD, since: str | None = None, say=print) -> Seeded:
    """Fill the warehouse for SQLMesh's commands from `env`'s publication (see the doc)."""
    from materia import lakehouse

    pub = lakehouse.current_publication(settings, env)
    if pub is None:
        raise MateriaError(f"nothing is published in {env}: run `materia transform` first")
    compiled = sqlmesh_project.compiled(settings)
    fps = recompute.fingerprints(compiled, recompute.runtime())
    differ = recompute.changed_models(compiled, fps, pub.inputs.get("models") or {})
    if differ:
        raise MateriaError(
            f"the models differ from what {env} published ({', '.join(differ[:4])}): seed from "
            "the checkout that published it (e.g. `git stash`), then change the models and plan"
        )
    path = warehouse(settings)
    for old in (path, path.with_name(path.name + ".wal")):
        old.unlink(missing_ok=True)
    items = [x for k in pub.archives if (x := Landed.parse(k)) is not None]
    if since:
        keep = {a.key for a in newest_per_dataset(items)}
        items = [a for a in items if f"{a.release_month:%Y-%m}" >= since or a.key in keep]
    rows = load_landing(settings, path, items)
    say(f"loaded {len(items)} archive(s), {rows:,} rows into {path}")
    models = _prod(settings, path, compiled, pub, env)
    done = Seeded(env, pub.run_id, len(items), rows, models)
    say(done.summary())
    return done


def load_landing(settings: Settings, path: Path, items: list[Landed]) -> int:
    """Each source's input (`materia_input.psd_rows`, …) in the DuckDB file `path`: a
    table of these archives' rows (checked and typed as a transform loads them), one
    release month at a time."""
    import duckdb

    store = LandingStore.from_settings(settings)
    newest = {a.key for a in newest_per_dataset(items)}
    per_month = Counter((a.source, a.release_month) for a in items)
    months = sorted({a.release_month for a in items})
    con = duckdb.connect(str(path))
    settings.tmp_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="materia-seed-", dir=settings.tmp_dir))
    total = 0
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {inputs.SCHEMA}")
        for table, columns in inputs.INPUTS.values():
            con.execute(f"CREATE OR REPLACE TABLE {table} ({columns})")
        con.execute(
            f"CREATE OR REPLACE TABLE {SEEDED} (env VARCHAR, run_id VARCHAR, archives INTEGER)"
        )
        con.execute("ATTACH ':memory:' AS seeding")
        con.execute("USE seeding")
        con.execute(f"CREATE SCHEMA {inputs.SCHEMA}")
        run = inputs.Run(con, scratch)
        for month in months:
            loads = [
                inputs.Load(a, a.key in newest, per_month[(a.source, month)])
                for a in items
                if a.release_month == month
            ]
            total += inputs.load(run, store, loads)
            for table, _ in inputs.INPUTS.values():
                con.execute(f"INSERT INTO {CATALOG}.{table} SELECT * FROM {table}")
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return total


def _prod(settings: Settings, path: Path, compiled, pub, env: Target) -> list[str]:
    """SQLMesh's prod: planned without computing anything, then the published rows put
    in its tables; the models filled."""
    from materia.lakehouse import duck

    ctx = sqlmesh_project.context(settings, path)
    try:
        ctx.plan("prod", empty_backfill=True, no_prompts=True, auto_apply=True, skip_tests=True)
        con = ctx.engine_adapter.connection
        duck.load_extensions(con, settings)
        filled = []
        for m in compiled.published():
            ref = pub.tables.get(m.published_name)
            if not m.stored or ref is None:
                continue  # a view computes from the seeded input, as SQLMesh does
            table = ctx.get_snapshot(m.qualified, raise_if_missing=True).table_name()
            con.execute(f"DELETE FROM {table}")
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {inputs.published_sql(ref)}")
            filled.append(m.name)
        con.execute(f"INSERT INTO {SEEDED} VALUES (?, ?, ?)", [env, pub.run_id, len(pub.archives)])
    finally:
        ctx.close()
    return filled


def seeded_from(settings: Settings) -> tuple[str, str] | None:
    """(env, run id) the warehouse was seeded from, or None."""
    import duckdb

    path = warehouse(settings)
    if not path.exists():
        return None
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            row = con.execute(f"SELECT env, run_id FROM {SEEDED}").fetchone()
    except duckdb.Error:
        return None
    return (row[0], row[1]) if row else None


# --- the dev panel: a real plan, its categorization, what it recomputes, table_diff ----------
@dataclass
class DevPlan:
    env: Target
    seeded: tuple[str, str] | None
    changes: list[dict] = field(default_factory=list)  # model, change, recomputes
    diffs: list[dict] = field(default_factory=list)  # model, prod rows, dev rows, …
    note: str = ""  # why nothing was planned

    @property
    def summary(self) -> str:
        if self.note:
            return self.note
        if not self.changes:
            return f"{self.env}: no model differs from SQLMesh's prod: nothing to plan."
        by = Counter(c["change"] for c in self.changes)
        parts = ", ".join(f"{n} {k}" for k, n in sorted(by.items()))
        rebuilt = sum(1 for c in self.changes if c["recomputes"] != "nothing")
        return f"{self.env}: {parts}; {rebuilt} model(s) recomputed, the rest read from prod."


def plan(settings: Settings, env: Target, say: Callable[[str], None] = print) -> DevPlan:
    """Plan `env` with SQLMesh against the seeded warehouse, apply it, and compare each
    model it recomputed with prod (SQLMesh's table_diff)."""
    from materia.lakehouse import catalogs

    env = catalogs.check_env(env)
    if env == "prod":
        raise MateriaError("the dev plan never plans prod: use a dev_<name> environment")
    seeded = seeded_from(settings)
    if seeded is None:
        raise MateriaError(
            f"{warehouse(settings)} is not seeded: run `materia dev seed` (on the checkout "
            "that published prod), then change the models and plan again"
        )
    result = DevPlan(env, seeded)
    ctx = sqlmesh_project.context(settings, warehouse(settings))
    try:
        say(f"planning {env} against SQLMesh's prod (seeded from {seeded[0]} run {seeded[1]})")
        # include_unmodified: the environment exists (all of prod's models) even when
        # nothing changed, as `sqlmesh plan dev_x --include-unmodified` makes it.
        built = ctx.plan_builder(env, skip_tests=True, include_unmodified=True).build()
        missing = {s.snapshot_id.name: s.intervals for s in built.missing_intervals}
        for s_id, snap in built.modified_snapshots.items():
            category = getattr(snap, "change_category", None)
            model = ctx.get_model(s_id.name)
            result.changes.append(
                {
                    "model": _short(s_id.name),
                    "change": _category(category, s_id in built.directly_modified),
                    "recomputes": _recomputes(model, missing.get(s_id.name)),
                }
            )
        result.changes.sort(key=lambda c: c["model"])
        say(f"applying {env}: {result.summary}")
        ctx.apply(built)
        for name in sorted(_short(n) for n in missing):
            result.diffs.append(_diff(ctx, env, name))
    finally:
        ctx.close()
    return result


def panel(settings: Settings, env: Target, say: Callable[[str], None] = print) -> DevPlan:
    """The notebook's dev panel: seed first when the warehouse is not seeded from prod's
    newest run (possible only while the models are the published ones), then `plan`."""
    from materia import lakehouse

    pub = lakehouse.current_publication(settings, "prod")
    if pub is None:
        return DevPlan(env, None, note="Prod is not published yet: nothing to plan against.")
    seeded = seeded_from(settings)
    if seeded != ("prod", pub.run_id):
        try:
            say(f"seeding {warehouse(settings)} from prod run {pub.run_id}")
            seed(settings, "prod", say=say)
        except MateriaError as e:
            if seeded is None:
                return DevPlan(env, None, note=f"Not planned: {e}.")
            say(f"kept the seed of run {seeded[1]}: {e}")
    return plan(settings, env, say)


def _short(fqn: str) -> str:
    return ".".join(fqn.replace('"', "").split(".")[-2:])


def _category(category, direct: bool) -> str:
    if category is None:
        return "removed" if direct else "unknown"
    names = {
        1: "breaking",
        2: "non-breaking",
        3: "forward-only",
        4: "indirect breaking",
        5: "indirect non-breaking",
        6: "metadata only",
    }
    return names.get(int(category), str(category))


def _recomputes(model, intervals) -> str:
    """What SQLMesh recomputes for a model in the plan: nothing, the whole table, or a
    number of batches of an incremental one."""
    if not intervals:
        return "nothing"
    if model is None or not model.kind.is_incremental_by_time_range:
        return "the whole table"
    size = model.batch_size or len(intervals)
    return f"{-(-len(intervals) // size)} batch(es) of {size} month(s)"


def _diff(ctx, env: Target, model: str) -> dict:
    """SQLMesh's table_diff of a model between prod and `env`, as numbers."""
    (diff,) = ctx.table_diff("prod", env, select_models=[model], show=False)
    rows, schema = diff.row_diff(), diff.schema_diff()
    return {
        "model": model,
        "prod rows": rows.source_count,
        f"{env} rows": rows.target_count,
        "only in prod": int(rows.stats.get("s_only_count", 0)),
        f"only in {env}": int(rows.stats.get("t_only_count", 0)),
        "columns added": ", ".join(schema.added and [c for c, _ in schema.added] or []),
        "columns removed": ", ".join(schema.removed and [c for c, _ in schema.removed] or []),
    }
