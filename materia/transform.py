"""`materia transform`: SQLMesh plan for an environment (auto-apply), then publish.

Steps, cheapest first:
1. Fingerprint the inputs (landing manifest + SQLMesh project files). Unchanged since the
   last successful transform of this environment → stop: nothing new, nothing published,
   SQLMesh not even imported.
2. Inflate and header-check the archives this environment has not loaded yet, so bad
   input fails here with its landing key, before anything is locked or changed.
3. Take the warehouse (`materia.warehouse`: a lock, and in prod a download).
4. Plan + apply the environment (new models, changed models, new release months).
5. Compare the landing manifest with what `raw.psd_alldata` holds; restate just the
   release months that differ (an archive landed late for a month already processed, or
   after a partial run of the current month) and everything downstream of them.
6. Publish the environment's serving tables to Iceberg (`materia.lakehouse.publish`):
   one snapshot per changed table, none for an unchanged one.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from materia import landed, warehouse
from materia.errors import MateriaError
from materia.settings import Settings
from materia.storage import LandingStore

log = logging.getLogger(__name__)

PROJECT = Path(__file__).resolve().parent.parent / "sqlmesh_materia"
RAW_MODEL = "raw.psd_alldata"
# First release month the models cover; archives landed for earlier months are ignored.
START = "2006-01-01"
Progress = Callable[[str], None]


@dataclass
class TransformResult:
    """What a transform did, for the CLI and the notebook."""

    env: str
    skipped: bool = False  # nothing new since the last successful run
    changed_models: list[str] = field(default_factory=list)
    backfilled: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    restated_from: str | None = None
    published: dict[str, int | None] = field(default_factory=dict)
    seconds: float = 0.0
    rows_published: int = 0  # rows in the tables that got a new snapshot
    new_releases: list[str] = field(default_factory=list)  # e.g. "psd_alldata_csv 2022-12"

    def summary(self) -> str:
        if self.skipped:
            return f"transform {self.env}: nothing new ({self.seconds:.1f} s)"
        new = {t: s for t, s in self.published.items() if s is not None}
        return (
            f"transform {self.env}: {len(self.changed_models)} model(s) changed, "
            f"{len(self.backfilled)} model(s) backfilled"
            + (f" (restated from {self.restated_from})" if self.restated_from else "")
            + f", {len(new)} table(s) published ({self.seconds:.1f} s)"
        )


def _check_env(env: str) -> str:
    from materia.lakehouse import check_env

    return check_env(env)


def fingerprint(env: str, items: list[landed.Landed]) -> str:
    """Inputs of a transform: the env, every landed key, every project file's bytes."""
    h = hashlib.sha256(env.encode())
    for item in items:
        h.update(b"\0" + item.key.encode())
    for path in sorted(PROJECT.rglob("*")):
        rel = path.relative_to(PROJECT)
        # Sources only: SQLMesh writes its own .cache/ and logs/ inside the project.
        if (
            path.is_file()
            and path.suffix in (".sql", ".py", ".yaml", ".yml", ".csv")
            and not any(p.startswith(".") or p in ("logs", "__pycache__") for p in rel.parts)
        ):
            h.update(b"\0" + str(path.relative_to(PROJECT)).encode() + b"\0")
            h.update(path.read_bytes())
    return h.hexdigest()


def _loaded(con, env: str, months: list[date] | None = None) -> set[tuple[str, date, str]]:
    """(dataset, release_month, etag) that raw holds, for `months` only when given: raw
    grows with every release, and a filter on release_month skips old row groups."""
    schema = "raw" if env == "prod" else f"raw__{env}"
    where = ""
    if months is not None:
        if not months:
            return set()
        where = " WHERE release_month IN (" + ", ".join(f"DATE '{m}'" for m in months) + ")"
    try:
        rows = con.execute(
            f'SELECT DISTINCT dataset, release_month, etag FROM "{schema}"."psd_alldata"{where}'
        ).fetchall()
    except Exception:  # the environment has no raw table yet
        return set()
    return {(r[0], r[1], r[2]) for r in rows}


def _pending(
    items: list[landed.Landed], loaded: set, months: list[date] | None = None
) -> tuple[list[landed.Landed], set]:
    """Archives not loaded yet, and loaded (dataset, month, etag) no longer landed."""
    if months is not None:
        items = [i for i in items if i.release_month in set(months)]
    landed_ids = {(i.stem, i.release_month, i.etag) for i in items}
    return [i for i in items if (i.stem, i.release_month, i.etag) not in loaded], (
        loaded - landed_ids
    )


def sqlmesh_config(settings: Settings):
    """The SQLMesh Config for these settings (sqlmesh_materia/config.py uses it too)."""
    from sqlmesh.core.config import (
        Config,
        DuckDBConnectionConfig,
        GatewayConfig,
        ModelDefaultsConfig,
    )

    spill = settings.tmp_dir / "duckdb_spill"
    spill.mkdir(parents=True, exist_ok=True)  # DuckDB creates only the last level
    # Bounded memory (the benchmark caps peak RSS at 1 GiB); insertion order is not needed.
    duckdb_config = {
        "memory_limit": "600MB",
        "preserve_insertion_order": False,
        "temp_directory": str(spill),
    }

    def gateway() -> GatewayConfig:
        return GatewayConfig(
            connection=DuckDBConnectionConfig(
                database=str(settings.warehouse_path), connector_config=dict(duckdb_config)
            )
        )

    return Config(
        gateways={"local": gateway(), "prod": gateway()},
        default_gateway="prod" if settings.env == "prod" else "local",
        model_defaults=ModelDefaultsConfig(dialect="duckdb", start=START, cron="@monthly"),
    )


def _context(settings: Settings):
    from sqlmesh import Context
    from sqlmesh.core.console import NoopConsole, set_console

    class Quiet(NoopConsole):
        """No prompts or spinners (materia reports progress); keeps what failed."""

        def __init__(self) -> None:
            super().__init__()
            self.errors: list[BaseException] = []

        def log_failed_models(self, errors) -> None:
            self.errors.extend(errors)

        def log_error(self, message: str, *args, **kwargs) -> None:
            self.errors.append(MateriaError(message))

    console = Quiet()
    set_console(console)
    ctx = Context(paths=[str(PROJECT)], config=sqlmesh_config(settings))
    ctx.materia_console = console
    return ctx


def _model_name(fqn: str) -> str:
    """`"warehouse"."raw"."psd_alldata"` → `raw.psd_alldata`."""
    return ".".join(fqn.replace('"', "").split(".")[-2:])


def _intervals(plan) -> dict[str, list[tuple[str, str]]]:
    """Model → merged [start, end) date ranges the plan runs."""
    from sqlmesh.utils.date import to_ds

    out: dict[str, list[tuple[str, str]]] = {}
    by_id = {s.snapshot_id: s for s in plan.snapshots.values()}
    for si in plan.missing_intervals:
        snap = by_id.get(si.snapshot_id)
        ranges: list[list[int]] = []
        for s, e in sorted(si.intervals):
            if ranges and ranges[-1][1] == s:
                ranges[-1][1] = e
            else:
                ranges.append([s, e])
        name = _model_name(snap.name if snap else str(si.snapshot_id))
        out.setdefault(name, []).extend((to_ds(s), to_ds(e)) for s, e in ranges)
    return out


def _prewarm_publish(settings: Settings) -> None:
    """Import what publishing needs (pyiceberg, pyarrow: seconds of pure Python) in the
    background, while SQLMesh waits on DuckDB with the GIL released."""
    names = ["materia.lakehouse", "pyiceberg.io.pyarrow", "pyiceberg.table"]
    names.append("pyiceberg.catalog.rest" if settings.iceberg else "pyiceberg.catalog.sql")

    def work() -> None:
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:  # publish imports it again and reports the error there
                return

    threading.Thread(target=work, name="materia-prewarm", daemon=True).start()


def _next_month_start(today: date | None = None) -> date:
    t = today or datetime.now(UTC).date()
    return date(t.year + (t.month == 12), t.month % 12 + 1, 1)


def _apply(ctx, env: str, progress: Progress, **kw) -> tuple[list[str], dict]:
    # Monthly cron: SQLMesh only runs complete months. Planning "as of" the first day of
    # next month makes the current month complete, so a release is processed the day it
    # lands; a later archive for that month is caught by the manifest check and restated.
    try:
        builder = ctx.plan_builder(
            env,
            skip_tests=True,
            include_unmodified=env != "prod",
            execution_time=_next_month_start(),
            **kw,
        )
        plan = builder.build()
        changed = sorted(_model_name(s.name) for s in plan.new_snapshots if s.is_model)
        intervals = _intervals(plan)
        progress(f"plan {env}: {len(changed)} new model version(s), {len(intervals)} to backfill")
        ctx.apply(plan)
    except Exception as e:  # SQLMesh / DuckDB / audits: one line naming what failed
        # SQLMesh reports node failures to its console and raises a generic PlanError.
        logged = getattr(ctx, "materia_console", None)
        cause = logged.errors[0] if logged is not None and logged.errors else e
        raise MateriaError(f"transform {env} failed: {_first_line(cause)}") from e
    return changed, intervals


def run(settings: Settings, env: str = "prod", progress: Progress | None = None) -> TransformResult:
    """Plan and apply `env`, restate late-landed months, publish. See the module doc."""
    started = time.monotonic()
    say = progress or (lambda msg: log.info(msg))
    env = _check_env(env)
    store = LandingStore.from_settings(settings)
    items = [i for i in landed.manifest(store) if i.release_month >= date.fromisoformat(START)]
    fp = fingerprint(env, items)
    result = TransformResult(env=env)
    state = warehouse.read_state(settings, env)
    if state.get("fingerprint") == fp:
        result.skipped = True
        result.seconds = time.monotonic() - started
        say(result.summary())
        return result

    # Bad input fails here, naming its landing key, before anything is locked or changed.
    known = set(state.get("loaded", []))
    new = [i for i in items if i.key not in known]
    say(f"{len(items)} landed archive(s), {len(new)} new for {env}")
    for item in new:
        landed.ensure_csv(settings, store, item)
    # Months to compare with raw: those whose archives changed since the last successful
    # run (None without a state: compare every month).
    check: list[date] | None = None
    if "loaded" in state:
        vanished = [x for k in known - {i.key for i in items} if (x := landed.Landed.parse(k))]
        check = sorted({i.release_month for i in new} | {x.release_month for x in vanished})

    with warehouse.taken(settings), landed.using(settings):
        ctx = _context(settings)
        try:
            con = ctx.engine_adapter.connection

            _prewarm_publish(settings)
            result.changed_models, result.backfilled = _apply(ctx, env, say)

            todo, gone = _pending(items, _loaded(con, env, check), check)
            months = sorted({i.release_month for i in todo} | {g[1] for g in gone})
            if months:
                result.restated_from = months[0].isoformat()
                say(f"restating {env} from {result.restated_from}")
                _, restated = _apply(ctx, env, say, restate_models=[RAW_MODEL], start=months[0])
                for k, v in restated.items():
                    result.backfilled.setdefault(k, []).extend(v)
                todo, gone = _pending(items, _loaded(con, env, check), check)
                if todo or gone:
                    what = ", ".join([i.key for i in todo] + [f"{g[0]} {g[1]}" for g in gone])
                    raise MateriaError(f"after restating, {env} still differs from landing: {what}")

            from materia import lakehouse

            say(f"publishing {env}")
            result.published = lakehouse.publish(settings, env, con)
        finally:
            ctx.close()
    # Only once the warehouse is safely back (in prod: uploaded): a run whose upload failed
    # must not be taken for done.
    warehouse.write_state(
        settings, env, {"fingerprint": fp, "loaded": [i.key for i in items], "at": time.time()}
    )
    shutil.rmtree(landed.cache_dir(settings), ignore_errors=True)
    result.seconds = time.monotonic() - started
    say(result.summary())
    return result


def main(settings: Settings, env: str = "prod") -> int:
    """CLI entry: run, print one line per step, exit code 0 on success."""

    def echo(msg: str) -> None:
        print(msg, flush=True)

    run(settings, env, progress=echo)
    return 0


def _first_line(e: BaseException) -> str:
    """The root cause of `e` (SQLMesh wraps DuckDB and audit errors) as one line."""
    seen = []
    while e is not None and e not in seen:
        seen.append(e)
        e = e.__cause__ or e.__context__
    root = seen[-1]
    text = " ".join(str(root).split())
    if len(seen) > 1 and str(seen[0]).strip() and str(seen[0]) not in text:
        text = f"{' '.join(str(seen[0]).split())} {text}"
    return (text[:500] + "…") if len(text) > 500 else text or type(root).__name__
