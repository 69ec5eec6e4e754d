"""`materia worker …`: create, list, destroy and reap workers; `reap_dead_runs` for ticks."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

from materia.errors import MateriaError
from materia.settings import Settings
from materia.workers import alive
from materia.workers.base import (
    SERVER_TYPES,
    Instance,
    InstanceSpec,
    Provider,
    reap,
    reap_dead,
    worker_labels,
)
from materia.workers.ssh import HostKey, cloud_init


def _provider(settings: Settings, on: str | None):
    from materia.pipelines import provider_for

    return provider_for(settings, on or settings.worker_provider)


def create(settings: Settings, pipeline: str, on: str | None) -> tuple[Instance, str | None]:
    """A worker for `pipeline`; returns it and, for a remote one, its known_hosts line."""
    if pipeline not in SERVER_TYPES:
        raise MateriaError(f"unknown pipeline {pipeline!r}: use {' or '.join(SERVER_TYPES)}")
    provider = _provider(settings, on)
    # No owner label: a worker made by hand has no run to outlive; only the TTL reaps it.
    run_id = f"manual-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    host_key = HostKey.generate() if provider.name != "local" else None
    spec = InstanceSpec(
        name=f"materia-{pipeline}-{run_id}",
        pipeline=pipeline,
        server_type=SERVER_TYPES[pipeline],
        labels=worker_labels(pipeline, run_id),
        user_data=cloud_init(host_key) if host_key else None,
    )
    inst = provider.create_instance(spec)
    pinned = f"{inst.host or inst.name} {host_key.public}" if host_key else None
    return inst, pinned


def list_(settings: Settings, on: str | None) -> list[Instance]:
    return _provider(settings, on).list_instances()


def destroy(settings: Settings, instance_id: str, on: str | None) -> None:
    _provider(settings, on).destroy_instance(instance_id)


def reap_old(settings: Settings, on: str | None, ttl_minutes: float | None, log) -> list[Instance]:
    """Workers of dead runs, then every worker older than the TTL."""
    provider = _provider(settings, on)
    gone = reap_dead_runs(settings, provider, log)
    ttl = settings.hetzner.worker_ttl_minutes if ttl_minutes is None else ttl_minutes
    return gone + reap(provider, ttl * 60, now=time.time(), log=log)


def reap_dead_runs(settings: Settings, provider: Provider, log) -> list[Instance]:
    """Destroy the workers of runs that are over (see `materia.workers.alive`), and give
    each run that died without a record one in the run log, so it shows as failed."""
    from materia import runlog

    records = runlog.read(settings)
    finished = {r["run_id"] for r in records if r.get("source") == "worker" and r.get("run_id")}

    def is_alive(run: str) -> bool | None:
        # Read when deciding, after the listing: a worker listed there was created
        # after its run's marker was written, so a run that just started is seen alive.
        m = alive.marker(settings, run)
        return m.alive() if m is not None else None

    gone = reap_dead(provider, alive.owner_id(settings), is_alive, finished, log)
    for run, m in alive.markers(settings).items():
        if m.alive():
            continue
        if run not in finished:
            runlog.append(settings, _died(m, any(i.labels.get("run") == run for i in gone)))
        alive.unmark(settings, run)
    return gone


def _died(m: alive.Marker, reaped: bool) -> dict:
    from materia import runlog

    now = datetime.now(UTC)
    what = "its worker was reaped" if reaped else "no worker was left"
    return runlog.RunRecord(
        pipeline=m.pipeline,
        provider=m.provider,
        server_type=SERVER_TYPES.get(m.pipeline, ""),
        worker=f"materia-{m.pipeline}-{m.run_id}",
        started=datetime.fromisoformat(m.started) if m.started else now,
        ended=now,
        exit_code=None,
        error=f"run died without finishing (process {m.pid} gone); {what}",
        run_id=m.run_id,
        parent=m.parent,
    ).to_dict()
