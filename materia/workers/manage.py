"""`materia worker …`: create, list, destroy and reap workers by hand."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

from materia.errors import MateriaError
from materia.settings import Settings
from materia.workers.base import SERVER_TYPES, Instance, InstanceSpec, reap, worker_labels
from materia.workers.ssh import HostKey, cloud_init


def _provider(settings: Settings, on: str | None):
    from materia.pipelines import provider_for

    return provider_for(settings, on or settings.worker_provider)


def create(settings: Settings, pipeline: str, on: str | None) -> tuple[Instance, str | None]:
    """A worker for `pipeline`; returns it and, for a remote one, its known_hosts line."""
    if pipeline not in SERVER_TYPES:
        raise MateriaError(f"unknown pipeline {pipeline!r}: use {' or '.join(SERVER_TYPES)}")
    provider = _provider(settings, on)
    run_id = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
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
    ttl = settings.hetzner.worker_ttl_minutes if ttl_minutes is None else ttl_minutes
    return reap(_provider(settings, on), ttl * 60, now=time.time(), log=log)
