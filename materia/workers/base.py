"""The worker provider Protocol and the plain data it speaks.

A provider creates, lists and destroys worker instances and waits until one accepts
SSH. Everything else about a run (shipping code, secrets, streaming, always destroying)
lives in `materia.workers.run`, the same for every provider.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

# Server type per pipeline (Hetzner names; the local provider records them as-is):
# dedicated vCPU, 2/8 GB and 4/16 GB. ccx12/ccx22 are no longer sold (ccx13/ccx23 are
# their successors in Hetzner's server-type list).
SERVER_TYPES = {"extract": "ccx13", "transform": "ccx23"}
WORKER_SELECTOR = {"app": "materia", "role": "worker"}


@dataclass(frozen=True)
class InstanceSpec:
    name: str
    pipeline: str
    server_type: str
    labels: dict[str, str]
    user_data: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Instance:
    id: str
    name: str
    provider: str
    server_type: str
    status: str
    created: float  # unix seconds
    labels: dict[str, str] = field(default_factory=dict)
    host: str | None = None  # None: not reachable over the network (local)
    port: int = 22
    ssh_user: str | None = None  # the login user; None: the Hetzner setting (root)

    @property
    def pipeline(self) -> str:
        return self.labels.get("pipeline", "")

    def age(self, now: float | None = None) -> float:
        born = float(self.labels.get("created") or self.created)
        return (time.time() if now is None else now) - born


class Provider(Protocol):
    name: str

    def create_instance(self, spec: InstanceSpec) -> Instance: ...

    def destroy_instance(self, instance_id: str) -> None: ...

    def list_instances(self) -> list[Instance]:
        """Every worker of this project (labels app=materia, role=worker)."""
        ...

    def wait_for_ssh(self, instance: Instance, timeout: float) -> Instance:
        """Return the instance once it accepts SSH; MateriaError after `timeout` seconds."""
        ...


def worker_labels(
    pipeline: str, run_id: str, owner: str | None = None, now: float | None = None
) -> dict[str, str]:
    """Labels every provider puts on a worker: the run it serves and, for runs that
    `reap_dead` may judge, the owner id of the home that started it."""
    labels = {
        **WORKER_SELECTOR,
        "pipeline": pipeline,
        "run": run_id,
        "created": str(int(time.time() if now is None else now)),
    }
    if owner:
        labels["owner"] = owner
    return labels


def reap(
    provider: Provider,
    ttl_seconds: float,
    now: float | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> list[Instance]:
    """Destroy every worker older than `ttl_seconds`; return those destroyed."""
    old = [i for i in provider.list_instances() if i.age(now) > ttl_seconds]
    for inst in old:
        log(
            f"reap: destroying {inst.provider} worker {inst.name} ({inst.id}), age {inst.age(now):.0f}s"
        )
        provider.destroy_instance(inst.id)
    return old


def dead_run(
    inst: Instance, owner: str, alive: Callable[[str], bool | None], finished: set[str]
) -> bool:
    """Whether `inst` serves a run that is over: the run log says it finished, or it is
    ours (`owner`) and `alive(run)` is not True (no marker, or its process is gone)."""
    run = inst.labels.get("run")
    if not run:
        return False
    if run in finished:
        return True
    return inst.labels.get("owner") == owner and alive(run) is not True


def reap_dead(
    provider: Provider,
    owner: str,
    alive: Callable[[str], bool | None],
    finished: set[str],
    log: Callable[[str], None] = lambda _: None,
) -> list[Instance]:
    """Destroy every worker whose run is over (see `dead_run`); return those destroyed."""
    dead = [i for i in provider.list_instances() if dead_run(i, owner, alive, finished)]
    for inst in dead:
        log(
            f"reap: destroying {inst.provider} worker {inst.name} ({inst.id}) of run "
            f"{inst.labels.get('run')}, which is no longer alive"
        )
        provider.destroy_instance(inst.id)
    return dead
