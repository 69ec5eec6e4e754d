"""Environments, prod and the dev ones, wherever they live: an Iceberg namespace
`serving__dev_<name>` (what `materia transform --env dev_<name>` publishes) and a SQLMesh
environment in the seeded warehouse (what `sqlmesh plan dev_<name>` and the notebook's dev
panel create). Listed, dropped, and expired:

- a dev namespace nobody published to for `MATERIA_DEV_TTL_DAYS` (7) is dropped, with its
  files, by the next prod transform (`expire`), unless a transform of it holds its lock;
- SQLMesh's dev environments expire by SQLMesh's own TTL (a week after their last plan)
  and its janitor, which `drop` and `expire` run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from materia.core import locks
from materia.core.errors import MateriaError, first_line
from materia.core.settings import Settings
from materia.core.target import Target
from materia.lakehouse import catalogs
from materia.transform import sqlmesh_dev, sqlmesh_project

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Env:
    name: str
    where: str  # "iceberg" or "sqlmesh"
    updated: datetime | None
    expires: datetime | None
    detail: str


def list_envs(settings: Settings) -> list[Env]:
    """Every environment, prod first, Iceberg then SQLMesh."""
    out = [_iceberg_env(settings, name) for name in _namespaces(settings)]
    return out + _sqlmesh_envs(settings)


def _namespaces(settings: Settings) -> list[str]:
    from materia import lakehouse

    return lakehouse.list_envs(settings)


def _iceberg_env(settings: Settings, name: str) -> Env:
    from materia import lakehouse

    pub = lakehouse.current_publication(settings, name)
    at = pub.published_at if pub else None
    expires = None if name == "prod" or at is None else at + settings.dev_ttl
    detail = f"run {pub.run_id}, {len(pub.tables)} tables" if pub else "no publication"
    return Env(name, "iceberg", at, expires, f"{catalogs.namespace_for(name)}: {detail}")


def _sqlmesh_envs(settings: Settings) -> list[Env]:
    if sqlmesh_dev.seeded_from(settings) is None:
        return []
    from datetime import UTC

    ctx = sqlmesh_project.context(settings, sqlmesh_dev.warehouse(settings))
    try:
        found = ctx.state_reader.get_environments()
    finally:
        ctx.close()

    def when(ms: int | None) -> datetime | None:
        return datetime.fromtimestamp(ms / 1000, UTC) if ms else None

    return sorted(
        (
            Env(
                e.name,
                "sqlmesh",
                when(e.finalized_ts),
                when(e.expiration_ts),
                f"{len(e.snapshots)} models",
            )
            for e in found
        ),
        key=lambda e: (e.name != "prod", e.name),
    )


def drop(settings: Settings, env: Target) -> list[str]:
    """Drop a dev environment everywhere it exists: its Iceberg namespace (tables and
    files) and its SQLMesh environment; what was dropped."""
    env = catalogs.check_env(env)
    if env == "prod":
        raise MateriaError("prod is never dropped: `materia env drop` takes a dev_<name>")
    done = []
    if env in _namespaces(settings):
        with locks.hold(locks.for_name(settings, f"transform-{env}"), f"dropping {env}"):
            done.append(_drop_namespace(settings, env))
    if any(e.name == env for e in _sqlmesh_envs(settings)):
        ctx = sqlmesh_project.context(settings, sqlmesh_dev.warehouse(settings))
        try:
            ctx.invalidate_environment(env)
            ctx.run_janitor(ignore_ttl=True)
        finally:
            ctx.close()
        done.append(f"SQLMesh environment {env} in {sqlmesh_dev.warehouse(settings)}")
    if not done:
        raise MateriaError(f"no environment {env}: `materia env list` shows them")
    return done


def _drop_namespace(settings: Settings, env: Target) -> str:
    from materia import lakehouse

    ns = catalogs.namespace_for(env)
    cat = catalogs.catalog(settings)
    tables = cat.list_tables(ns)
    for ident in tables:
        cat.purge_table(ident)
    cat.drop_namespace(ns)
    lakehouse.clear_cache()  # a reader attached to a REST catalog still lists it
    return f"Iceberg namespace {ns} ({len(tables)} tables, with their files)"


def expire_sqlmesh(settings: Settings) -> None:
    """SQLMesh's janitor on the seeded warehouse: environments past SQLMesh's TTL go."""
    if sqlmesh_dev.seeded_from(settings) is None:
        return
    ctx = sqlmesh_project.context(settings, sqlmesh_dev.warehouse(settings))
    try:
        ctx.run_janitor(ignore_ttl=False)
    finally:
        ctx.close()


def expire(settings: Settings, now: datetime | None = None) -> list[str]:
    """Drop every dev namespace idle for longer than the TTL (best effort, one warning per
    failure); the namespaces dropped."""
    from materia.lakehouse.publications import clock

    now = now or clock()
    dropped = []
    for env in _namespaces(settings):
        if env == "prod":
            continue
        try:
            found = _iceberg_env(settings, env)
            if found.expires is None or found.expires > now:
                continue
            with locks.hold(locks.for_name(settings, f"transform-{env}"), f"expiring {env}"):
                dropped.append(_drop_namespace(settings, env))
        except locks.LockBusy:
            continue  # someone is publishing it right now: not idle
        except Exception as e:  # noqa: BLE001 - an expiry must never fail the run it follows
            log.warning("could not expire %s: %s", env, first_line(e))
    return dropped
