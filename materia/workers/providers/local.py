"""Workers on this machine: an instance is a temporary working directory.

The run itself is a subprocess there, started by `materia.workers.run` exactly like a
remote one (shipped code, secrets on stdin), so `--on local` rehearses a worker run
without a cloud account. Instances live under `<MATERIA_HOME>/workers/<name>/`.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from materia.core.errors import MateriaError
from materia.workers.base import Instance, InstanceSpec

META = "instance.json"


class LocalProvider:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalProvider({str(self.root)!r})"

    def path(self, instance_id: str) -> Path:
        if not instance_id or "/" in instance_id or instance_id.startswith("."):
            raise MateriaError(f"local worker id {instance_id!r} is not a worker name")
        return self.root / instance_id

    def create_instance(self, spec: InstanceSpec) -> Instance:
        d = self.path(spec.name)
        try:
            d.mkdir(parents=True)
        except FileExistsError as e:
            raise MateriaError(f"local worker {spec.name} already exists in {self.root}") from e
        inst = Instance(
            id=spec.name,
            name=spec.name,
            provider=self.name,
            server_type=spec.server_type,
            status="running",
            created=time.time(),
            labels=dict(spec.labels),
        )
        meta = {"server_type": inst.server_type, "created": inst.created, "labels": inst.labels}
        (d / META).write_text(json.dumps(meta))
        return inst

    def list_instances(self) -> list[Instance]:
        if not self.root.is_dir():
            return []
        found = []
        for meta in sorted(self.root.glob(f"*/{META}")):
            try:
                m = json.loads(meta.read_text())
            except (OSError, ValueError):
                continue  # half-created or being destroyed
            found.append(
                Instance(
                    id=meta.parent.name,
                    name=meta.parent.name,
                    provider=self.name,
                    server_type=m.get("server_type", ""),
                    status="running",
                    created=float(m.get("created", 0)),
                    labels=m.get("labels", {}),
                )
            )
        return found

    def destroy_instance(self, instance_id: str) -> None:
        d = self.path(instance_id)
        # Drop the marker first so a half-removed directory no longer lists as a worker.
        (d / META).unlink(missing_ok=True)
        shutil.rmtree(d, ignore_errors=True)
        if d.exists():
            raise MateriaError(f"could not remove local worker directory {d}")

    def wait_for_ssh(self, instance: Instance, timeout: float) -> Instance:
        return instance  # reached through a local subprocess, never SSH

    def workdir(self, instance: Instance) -> Path:
        return self.path(instance.id)
