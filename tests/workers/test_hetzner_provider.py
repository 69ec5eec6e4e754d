"""HetznerProvider against the API stand-in; SSH host key pinning against a real sshd."""

from __future__ import annotations

import getpass
import time
from pathlib import Path

import pytest

from materia.core.errors import MateriaError
from materia.core.redact import Secret
from materia.core.settings import HetznerSettings
from materia.workers.base import InstanceSpec, reap, worker_labels
from materia.workers.providers.hetzner import HetznerProvider
from materia.workers.ssh import HostKey, SshTarget, cloud_init, pin, wait_until_usable

pytestmark = pytest.mark.ssh


def provider(cloud, **kw) -> HetznerProvider:
    hz = HetznerSettings(
        token=Secret(cloud.api.token),
        api_endpoint=cloud.api.endpoint,
        ssh_port=cloud.servers.port,
        ssh_user=getpass.getuser(),
        ssh_private_key=cloud.key,
    )
    return HetznerProvider(hz, retry_delay=0.05, **kw)


def spec(name: str, host_key: HostKey | None = None, created: float | None = None) -> InstanceSpec:
    return InstanceSpec(
        name=name,
        pipeline="extract",
        server_type="ccx13",
        labels=worker_labels("extract", name, now=created),
        user_data=cloud_init(host_key or HostKey.generate()),
    )


def test_create_list_destroy(cloud):
    p = provider(cloud)
    inst = p.create_instance(spec("materia-extract-a"))
    assert (inst.server_type, inst.pipeline, inst.labels["app"], inst.labels["role"]) == (
        "ccx13",
        "extract",
        "materia",
        "worker",
    )
    assert [i.id for i in p.list_instances()] == [inst.id]
    p.destroy_instance(inst.id)
    p.destroy_instance(inst.id)  # already gone counts as done
    assert p.list_instances() == [] and cloud.api.snapshot() == []


def test_destroy_retries_api_errors(cloud):
    p = provider(cloud)
    inst = p.create_instance(spec("materia-extract-b"))
    cloud.api.delete_failures = 2
    p.destroy_instance(inst.id)
    assert cloud.api.snapshot() == []
    assert [s for m, _, s in cloud.api.calls if m == "DELETE"] == [500, 500, 200]


def test_destroy_gives_up_with_a_clear_error(cloud):
    p = provider(cloud, delete_attempts=3)
    inst = p.create_instance(spec("materia-extract-c"))
    cloud.api.delete_failures = 10
    with pytest.raises(
        MateriaError, match=f"server {inst.id} still exists after 3 delete attempts"
    ):
        p.destroy_instance(inst.id)
    assert cloud.api.token not in repr(p)


def test_wait_for_ssh_is_bounded(cloud):
    cloud.servers.ready = False  # the server boots, sshd never answers
    p = provider(cloud)
    inst = p.create_instance(spec("materia-extract-d"))
    # Bounded: it gives up with this error (a hang would be stopped by pytest-timeout).
    with pytest.raises(MateriaError, match=r"materia-extract-d .*SSH not ready after 1s"):
        p.wait_for_ssh(inst, timeout=1.0)


def test_host_key_is_pinned_not_learned(cloud, tmp_path: Path):
    key = HostKey.generate()
    p = provider(cloud)
    inst = p.wait_for_ssh(p.create_instance(spec("materia-extract-e", key)), timeout=30)
    known = tmp_path / "known_hosts"

    def target() -> SshTarget:
        return SshTarget(inst.host, inst.port, getpass.getuser(), cloud.key, known, "w")

    pin(known, "w", key)
    wait_until_usable(target(), time.monotonic() + 30, "worker e")  # the injected key works
    pin(known, "w", HostKey.generate())  # any other key is refused at once
    with pytest.raises(MateriaError, match="host key does not match"):
        wait_until_usable(target(), time.monotonic() + 30, "worker e")


def test_reap_destroys_only_old_workers(cloud):
    p = provider(cloud)
    now = time.time()
    old = p.create_instance(spec("materia-extract-old", created=now - 4 * 3600))
    young = p.create_instance(spec("materia-extract-young", created=now - 60))
    gone = reap(p, ttl_seconds=3 * 3600, now=now)
    assert [i.id for i in gone] == [old.id]
    assert [i.id for i in p.list_instances()] == [young.id]


def test_worker_create_and_destroy_from_the_cli(cloud, tmp_path: Path):
    from testsupport import run_cli

    env = cloud.env(tmp_path / "home")
    r = run_cli("worker", "create", "transform", "--on", "hetzner", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    [server] = cloud.api.snapshot()
    assert (server["server_type"]["name"], server["labels"]["pipeline"]) == ("ccx23", "transform")
    assert "known_hosts: 127.0.0.1 ssh-ed25519 " in r.stdout  # the key to pin, public half only
    assert "PRIVATE KEY" not in r.stdout + r.stderr and cloud.api.token not in r.stdout + r.stderr
    r = run_cli("worker", "destroy", str(server["id"]), "--on", "hetzner", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert cloud.api.snapshot() == []
