"""`materia transform`: landed archives → the SQLMesh models → one published run.

1. Under the environment's lock, decide what to (re)compute from the landing manifest
   and the newest publication (`materia.batch`), never from intermediate tables: a run
   that failed leaves nothing that could make the next one skip or lose work.
2. On a fresh in-memory DuckDB, load the published value of every series before the
   first release to recompute (`materia.inputs`), then each release month in turn: its
   archives (checked while they load), the models up to the vintages and their audits.
   The last month also loads each dataset's newest release and builds everything else.
3. Publish (`materia.lakehouse.publish`): refuse a collapse, write the changed tables,
   then commit the run to the publication log readers follow.

Any failing check or audit stops the run before anything is published, and since the
next run decides from the same facts, it fails the same way until its input changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from materia import batch as batch_mod
from materia import executor, inputs, landed, locks, scratch, sqlmesh_project
from materia.errors import MateriaError, first_line
from materia.lakehouse import catalogs as cat_mod
from materia.lakehouse.publish import VINTAGES, Output
from materia.settings import Settings
from materia.storage import LandingStore

log = logging.getLogger(__name__)
Progress = Callable[[str], None]

# Bump when the way archives become model inputs changes: every env then rebuilds once.
TRANSFORM_VERSION = "2"
_HERE = Path(__file__).resolve().parent
_LOADER = (
    *(_HERE / "inputs.py", _HERE / "psd_archive.py", _HERE / "batch.py"),
    _HERE / "psd_format.py",  # issue 19: the line format is part of the check
)
# Between steps only the vintages read staging: a view over the CSV saves writing a table.
STAGING_AS_VIEW = frozenset({"staging.stg_psdalldata__commodity"})
VINTAGE_MODELS = {
    "raw.psd_alldata",
    "staging.stg_psdalldata__commodity",
    "serving.fct_psd_vintages",
}
SERVING = (
    Output(VINTAGES, "", "commodity_code, country_code, market_year, attribute_id, release_month"),
    Output("fct_psd_latest", "serving.fct_psd_latest", "commodity_code, country_code, market_year"),
    Output(
        "obt_commodity_metrics", "serving.obt_commodity_metrics", "commodity_code, country_code"
    ),
    Output("dim_commodity", "serving.dim_commodity"),
    Output("dim_country", "serving.dim_country"),
    Output("dim_attribute", "serving.dim_attribute"),
    Output("dim_dataset", "serving.dim_dataset"),
)


@dataclass
class TransformResult:
    """What a transform did, for the CLI, the run log and the notebook."""

    env: str
    skipped: bool = False  # the publication already covers every landed archive
    reason: str = ""
    vintages_from: str | None = None
    months: list[str] = field(default_factory=list)  # release months recomputed
    archives_read: int = 0
    rows_loaded: int = 0
    published: dict[str, int | None] = field(default_factory=dict)  # table → new snapshot
    rows_published: int = 0  # rows written (appended vintages + replaced tables)
    new_releases: list[str] = field(default_factory=list)  # e.g. "psd_alldata_csv 2022-12"
    allowed: list[str] = field(default_factory=list)  # collapses --allow-shrink let through
    run_id: str | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        if self.skipped:
            return f"transform {self.env}: nothing new ({self.seconds:.1f} s)"
        new = sum(1 for s in self.published.values() if s is not None)
        months = (
            f"{self.months[0]}…{self.months[-1]}" if len(self.months) > 1 else "".join(self.months)
        )
        return (
            f"transform {self.env}: {self.reason}; {self.archives_read} archive(s) read, "
            f"release month(s) {months or 'none'} recomputed, {new} table(s) published "
            f"({self.rows_published:,} rows) as run {self.run_id} ({self.seconds:.1f} s)"
        )


def fingerprint() -> str:
    """What makes a publication current: the models and the code that feeds them."""
    h = hashlib.sha256(f"{TRANSFORM_VERSION}\0{sqlmesh_project.fingerprint()}".encode())
    for path in _LOADER:
        h.update(b"\0" + path.read_bytes())
    return h.hexdigest()


# --- nothing new: decided without importing pyiceberg or SQLMesh ----------------------------
def _marker_key(env: str) -> str:
    return f"state/published-{env}.json"


def _inputs_digest(fp: str, items: list[landed.Landed], quarantined: set[str]) -> str:
    h = hashlib.sha256(fp.encode())
    for key in sorted(i.key for i in items):
        h.update(b"\0L" + key.encode())
    for key in sorted(quarantined):
        h.update(b"\0Q" + key.encode())
    return h.hexdigest()


def _unchanged(settings: Settings, store: LandingStore, env: str, digest: str) -> bool:
    """The last publication covers exactly these inputs and is still the catalog's current
    one (checked for the embedded catalog; a REST catalog always takes the full path)."""
    try:
        marker = json.loads(store.read_bytes(_marker_key(env)))
    except (FileNotFoundError, ValueError):
        return False
    if marker.get("digest") != digest:
        return False
    ns = cat_mod.namespace_for(env)
    current = cat_mod.local_metadata_location(settings, ns, "publications")
    return current is not None and current == marker.get("publications")


def _mark(settings: Settings, store: LandingStore, env: str, digest: str) -> None:
    """Note what the current publication covers, for `_unchanged` (embedded catalog)."""
    location = cat_mod.local_metadata_location(settings, cat_mod.namespace_for(env), "publications")
    if location is None:
        return
    data = {"digest": digest, "publications": location}
    try:
        store.write_bytes(_marker_key(env), json.dumps(data).encode())
    except Exception as e:  # a hint only: the next run just takes the full path
        log.warning("could not write %s: %s", _marker_key(env), first_line(e))


def _landing(store: LandingStore) -> tuple[list[landed.Landed], set[str]]:
    try:
        found = landed.scan(store)  # issue 19: one listing; copies of quarantined content held
        return found.usable, found.withheld
    except Exception as e:
        raise MateriaError(f"cannot list the landing area {store.root}: {first_line(e)}") from e


def run(
    settings: Settings,
    env: str = "prod",
    progress: Progress | None = None,
    allow_shrink: bool = False,
) -> TransformResult:
    """Recompute what changed and publish it as one run (see the module doc)."""
    from materia import lakehouse

    started = time.monotonic()
    say = progress or log.info
    env = cat_mod.check_env(env)
    scratch.clean(settings.tmp_dir)  # issue 19: what killed runs left (never a live run's)
    result = TransformResult(env=env)
    store = LandingStore.from_settings(settings)
    lock = locks.for_name(settings, f"transform-{env}")
    items, quarantined = _landing(store)
    fp = fingerprint()
    digest = _inputs_digest(fp, items, quarantined)
    if items and _unchanged(settings, store, env, digest):
        result.skipped = True
        result.seconds = time.monotonic() - started
        say(result.summary())
        return result
    with locks.hold(lock, f"a transform of {env}", say=say) as held:
        items, quarantined = _landing(store)  # again, under the lock
        digest = _inputs_digest(fp, items, quarantined)
        pub = lakehouse.current_publication(settings, env)
        batch = batch_mod.plan(
            items,
            quarantined,
            pub.archives if pub else None,
            pub.project if pub else None,
            fp,
            store.root,
            allow_shrink,
        )
        if batch is None:
            _mark(settings, store, env, digest)
            result.skipped = True
            result.seconds = time.monotonic() - started
            say(result.summary())
            return result
        _prewarm(settings)
        compiled = sqlmesh_project.compiled(settings)
        rebuild = pub is None or pub.project != fp
        result.reason = batch.reason
        result.vintages_from = batch.vintages_from.isoformat()
        result.months = [f"{s.month:%Y-%m}" for s in batch.steps]
        added = {landed.Landed.parse(k) for k in batch.added}
        result.new_releases = sorted({a.label for a in added if a is not None})
        say(f"transform {env}: {batch.reason}; recomputing from {batch.vintages_from:%Y-%m}")

        with inputs.connect(settings) as run_db:
            prior = None if rebuild else pub.tables.get(VINTAGES)
            inputs.load_prior(run_db, settings, prior, batch.vintages_from)
            vintages = _steps(run_db, store, compiled, batch, env, result, say)
            outputs = [
                Output(o.name, vintages, o.order_by, None if rebuild else batch.vintages_from)
                if o.name == VINTAGES
                else o
                for o in SERVING
            ]
            from materia.lakehouse import publish

            done = publish.publish(
                settings,
                env,
                run_db.con,
                outputs,
                {
                    "archives": sorted(i.key for i in items),
                    "project": fp,
                    "vintages_from": batch.vintages_from.isoformat(),
                    "quarantined": sorted(quarantined),
                },
                withdrawn_months=batch.withdrawn_months,
                allow_shrink=allow_shrink,
                before_commit=held.check,
                retention=settings.snapshot_retention,
            )
        _mark(settings, store, env, digest)
    result.published = done.changed
    result.rows_published = done.rows_published
    result.allowed = done.allowed
    result.run_id = done.publication.run_id
    for line in done.allowed:
        say(f"warning: --allow-shrink let through: {line}")
    result.seconds = time.monotonic() - started
    say(result.summary())
    return result


def _prewarm(settings: Settings) -> None:
    """Import what publishing needs (pyiceberg: about a second of pure Python) in the
    background, while the main thread waits on DuckDB with the GIL released."""
    import importlib
    import threading

    names = ["pyiceberg.table", "pyiceberg.io.pyarrow"]
    names.append("pyiceberg.catalog.rest" if settings.iceberg else "pyiceberg.catalog.sql")

    def work() -> None:
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:  # publishing imports it again and reports the error there
                return

    threading.Thread(target=work, name="materia-prewarm", daemon=True).start()


def _steps(run_db, store, compiled, batch, env, result, say) -> str:
    """Run the release months of `batch` in order; the relation holding all new vintages."""
    con = run_db.con
    newest = {a.key for a in batch.newest}
    steps = batch.steps or [batch_mod.Step(batch.vintages_from, ())]
    accumulated = False
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        loads = [(a, True, a.key in newest) for a in step.archives]
        if last:
            here = {a.key for a in step.archives}
            loads += [(a, False, True) for a in batch.newest if a.key not in here]
        result.rows_loaded += inputs.load(run_db, store, loads)
        result.archives_read += len(loads)
        try:
            if last:
                executor.run(con, compiled)
            else:
                executor.run(con, compiled, VINTAGE_MODELS, as_views=STAGING_AS_VIEW)
        except executor.AuditFailed as e:
            raise MateriaError(
                f"transform {env}: {e}; in {_culprits(e, [a for a, *_ in loads], store)}; "
                "nothing was published"
            ) from None
        except MateriaError as e:
            raise MateriaError(f"transform {env}: {e}; nothing was published") from None
        if not last:
            step_rows = "serving.fct_psd_vintages"
            if not accumulated:
                con.execute(f"CREATE TABLE materia_run.vintages AS SELECT * FROM {step_rows}")
                accumulated = True
            else:
                con.execute(f"INSERT INTO materia_run.vintages SELECT * FROM {step_rows}")
            inputs.advance_prior(run_db, step_rows)
            say(f"  {step.month:%Y-%m}: {len(step.archives)} archive(s)")
    if not accumulated:
        return "serving.fct_psd_vintages"
    con.execute(
        "CREATE VIEW materia_run.all_vintages AS SELECT * FROM materia_run.vintages "
        "UNION ALL SELECT * FROM serving.fct_psd_vintages"
    )
    return "materia_run.all_vintages"


def _culprits(e: executor.AuditFailed, archives: list[landed.Landed], store) -> str:
    """The archives an audit failure points at: those of the failing row's release month."""
    month = e.sample.get("release_month")
    hit = [a for a in archives if month is None or a.release_month == month] or archives
    return ", ".join(store.url(a.key) for a in hit)


def main(settings: Settings, env: str = "prod", allow_shrink: bool = False) -> int:
    """CLI entry: run, print one line per step, exit code 0 on success."""

    def echo(msg: str) -> None:
        print(msg, flush=True)

    run(settings, env, progress=echo, allow_shrink=allow_shrink)
    return 0
