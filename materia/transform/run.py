"""`materia transform`: landed archives → the SQLMesh models → one published run.

1. Under the environment's lock, decide what to (re)compute, model by model, from the
   landing manifest, the compiled project and the newest publication
   (`materia.transform.recompute`), never from intermediate tables: a run that failed leaves
   nothing that could make the next one skip or lose work.
2. On a fresh in-memory DuckDB, run what SQLMesh would run: an incremental model (the
   vintages) one release month at a time from the first month that changed, reading
   its own published history; the last batch also loads each dataset's newest release
   and builds every other model that changed; a parent not recomputed is read as
   published. Each model's audits run right after it (each batch's, after the batch).
3. Publish (`materia.lakehouse.publish`): refuse a collapse, write the changed tables,
   and make the run visible in one commit.

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

from materia.core import locks, scratch
from materia.core.errors import MateriaError, first_line
from materia.core.settings import Settings
from materia.core.storage import LandingStore
from materia.core.target import PROD, Target
from materia.lakehouse import catalogs as cat_mod
from materia.landing import manifest as landed
from materia.transform import batch as batch_mod
from materia.transform import inputs, recompute, sqlmesh_project, steps

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass
class TransformResult:
    """What a transform did, for the CLI, the run log and the notebook."""

    env: Target
    skipped: bool = False  # the publication already covers every landed archive and model
    reason: str = ""
    vintages_from: str | None = None  # the first release month recomputed
    months: list[str] = field(default_factory=list)  # release months recomputed
    models_run: list[str] = field(default_factory=list)  # models computed (and audited)
    metadata_only: list[str] = field(default_factory=list)  # changed in description only
    warnings: list[str] = field(default_factory=list)  # non-blocking audits that found rows
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
            meta = (
                f"; metadata only ({', '.join(self.metadata_only)}): nothing to recompute"
                if self.metadata_only
                else ""
            )
            return f"transform {self.env}: nothing new{meta} ({self.seconds:.1f} s)"
        new = sum(1 for s in self.published.values() if s is not None)
        months = (
            f"{self.months[0]}…{self.months[-1]}" if len(self.months) > 1 else "".join(self.months)
        )
        warned = f"; {len(self.warnings)} warning(s)" if self.warnings else ""
        return (
            f"transform {self.env}: {self.reason}; models run: "
            f"{', '.join(self.models_run) or 'none'}; {self.archives_read} archive(s) read, "
            f"release month(s) {months or 'none'} recomputed, {new} table(s) published "
            f"({self.rows_published:,} rows) as run {self.run_id}{warned} ({self.seconds:.1f} s)"
        )


def fingerprint() -> str:
    """Of the project's files and the runtime: unchanged, a run with the same landing has
    nothing to do (checked without importing pyiceberg or SQLMesh)."""
    return hashlib.sha256(
        f"{recompute.runtime()}\0{sqlmesh_project.fingerprint()}".encode()
    ).hexdigest()


# --- nothing new: decided without importing pyiceberg or SQLMesh ----------------------------
def _marker_key(env: Target) -> str:
    return f"state/published-{env}.json"


def _inputs_digest(fp: str, items: list[landed.Landed], quarantined: set[str]) -> str:
    h = hashlib.sha256(fp.encode())
    for key in sorted(i.key for i in items):
        h.update(b"\0L" + key.encode())
    for key in sorted(quarantined):
        h.update(b"\0Q" + key.encode())
    return h.hexdigest()


def _unchanged(settings: Settings, store: LandingStore, env: Target, digest: str) -> bool:
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


def _mark(settings: Settings, store: LandingStore, env: Target, digest: str) -> None:
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
    env: Target = PROD,
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
        return _skipped(result, started, say)
    with locks.hold(lock, f"a transform of {env}", say=say) as held:
        items, quarantined = _landing(store)  # again, under the lock
        digest = _inputs_digest(fp, items, quarantined)
        pub = lakehouse.current_publication(settings, env)
        compiled = sqlmesh_project.compiled(settings)
        fps = recompute.fingerprints(compiled, recompute.runtime())
        before = (pub.inputs.get("models") or {}) if pub else {}
        changed = recompute.changed_models(compiled, fps, before)
        where = store.root
        landing = batch_mod.plan(
            items, quarantined, pub.archives if pub else None, "", "", where, allow_shrink
        )
        every = batch_mod.plan(items, quarantined, None, None, "", where, allow_shrink)
        work = recompute.decide(
            compiled, changed, landing, every, set(_published_models(compiled, pub))
        )
        if work is None:
            meta = (pub.inputs.get("metadata") or {}) if pub else {}
            result.metadata_only = recompute.metadata_only(compiled, meta, changed)
            _mark(settings, store, env, digest)
            return _skipped(result, started, say)
        _prewarm(settings)
        result.reason = work.reason
        result.vintages_from = work.restate_from.isoformat() if work.restate_from else None
        result.months = [f"{s.month:%Y-%m}" for s in work.steps]
        added = {landed.Landed.parse(k) for k in (landing.added if landing else [])}
        result.new_releases = sorted({a.label for a in added if a is not None})
        say(f"transform {env}: {work.reason}; models: {', '.join(work.models) or 'none'}")
        with inputs.connect(settings) as run_db:
            outputs = steps.run(settings, run_db, store, compiled, work, pub, env, result, say)
            from materia.lakehouse import publish

            done = publish.publish(
                settings,
                env,
                run_db.con,
                outputs,
                {
                    "archives": sorted(i.key for i in items),
                    "project": compiled.fingerprint,
                    "models": fps,
                    "metadata": {m.name: m.metadata for m in compiled.models},
                    "vintages_from": result.vintages_from,
                    "quarantined": sorted(quarantined),
                    "models_run": result.models_run,
                    "warnings": result.warnings,
                },
                tables=[m.published_name for m in compiled.published()],
                withdrawn_months=recompute.withdrawn_by_table(compiled, landing),
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
    if env == "prod":
        from materia.transform import envs

        for line in envs.expire(settings):
            say(f"expired {line} (not published for {settings.dev_ttl.days} days)")
    result.seconds = time.monotonic() - started
    say(result.summary())
    return result


def _skipped(result: TransformResult, started: float, say: Progress) -> TransformResult:
    result.skipped = True
    result.seconds = time.monotonic() - started
    say(result.summary())
    return result


def _published_models(compiled, pub) -> list[str]:
    """The models the publication holds a table of."""
    if pub is None:
        return []
    return [m.name for m in compiled.published() if m.published_name in pub.tables]


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

    # Not a daemon: a run that fails before publishing exits while the import may still
    # run, and an interpreter torn down under an importing C extension aborts (SIGABRT,
    # seen on CI's 2 cores): exit waits the second the import has left instead.
    threading.Thread(target=work, name="materia-prewarm", daemon=False).start()


def main(settings: Settings, env: Target = PROD, allow_shrink: bool = False) -> int:
    """CLI entry: run, print one line per step, exit code 0 on success."""

    def echo(msg: str) -> None:
        print(msg, flush=True)

    run(settings, env, progress=echo, allow_shrink=allow_shrink)
    return 0
