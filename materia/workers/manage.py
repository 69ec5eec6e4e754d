"""`materia worker …`: create, list, destroy and reap workers by hand.

Without `--on`, list, destroy and reap cover every configured provider (`local` and each
cloud whose credentials are set); a provider whose API fails does not stop the others.
Reaping destroys the workers of runs that are over (`materia.workers.reaping`), then
every worker older than the TTL.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

from materia.core.errors import MateriaError
from materia.core.settings import Settings
from materia.workers.base import SERVER_TYPES, Instance, reap
from materia.workers.cheapest import ranked
from materia.workers.reaping import reap_dead_runs
from materia.workers.registry import configured, provider_for
from materia.workers.ssh import worker_spec


def _providers(settings: Settings, on: str | None) -> list:
    return [provider_for(settings, name) for name in ([on] if on else configured(settings))]


def create(settings: Settings, pipeline: str, on: str | None) -> tuple[Instance, str | None]:
    """A worker for `pipeline`; returns it and, for a remote one, its known_hosts line."""
    if pipeline not in SERVER_TYPES:
        raise MateriaError(f"unknown pipeline {pipeline!r}: use {' or '.join(SERVER_TYPES)}")
    name = on or settings.worker_provider
    if name == "cheapest":
        choices = ranked(settings, pipeline)
        if not choices:
            raise MateriaError("cheapest: no cloud provider has credentials")
        name = choices[0].provider
    provider = provider_for(settings, name)
    # No owner label: a worker made by hand has no run to outlive; only the TTL reaps it.
    run_id = f"manual-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    spec, host_key = worker_spec(provider.name, pipeline, run_id)
    inst = provider.create_instance(spec)
    pinned = f"{inst.host or inst.name} {host_key.public}" if host_key else None
    return inst, pinned


def list_(settings: Settings, on: str | None) -> tuple[list[Instance], list[str]]:
    """Workers of `on` (default: every configured provider), and one error per provider
    whose listing failed."""
    found: list[Instance] = []
    errors: list[str] = []
    for provider in _providers(settings, on):
        try:
            found.extend(provider.list_instances())
        except MateriaError as e:
            errors.append(f"{provider.name}: {e}")
    return found, errors


def destroy(settings: Settings, instance_id: str, on: str | None) -> str:
    """Destroy one worker; without `on`, on the configured provider that has it."""
    if on:
        provider_for(settings, on).destroy_instance(instance_id)
        return on
    for provider in _providers(settings, None):
        if any(i.id == instance_id for i in provider.list_instances()):
            provider.destroy_instance(instance_id)
            return provider.name
    names = ", ".join(configured(settings))
    raise MateriaError(f"no worker {instance_id} on any configured provider ({names})")


def reap_old(
    settings: Settings, on: str | None, ttl_minutes: float | None, log: Callable[[str], None]
) -> list[Instance]:
    """Reap on `on` (default: every configured provider); errors are raised at the end."""
    ttl = settings.hetzner.worker_ttl_minutes if ttl_minutes is None else ttl_minutes
    gone: list[Instance] = []
    errors: list[str] = []
    for provider in _providers(settings, on):
        try:
            gone.extend(reap_dead_runs(settings, provider, log))
            gone.extend(reap(provider, ttl * 60, now=time.time(), log=log))
        except MateriaError as e:
            errors.append(f"{provider.name}: {e}")
    if errors:
        raise MateriaError(f"reaped {len(gone)} worker(s), but " + "; ".join(errors))
    return gone
