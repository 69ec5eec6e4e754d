"""The Scaleway, OVHcloud and Oracle providers against their stand-ins: labels reach each
vendor's own tags, user data reaches the server (its sshd serves the pinned host key),
deletes are retried and waited for, capacity and quota answers are CapacityError, and a
missing setting is one line naming it."""

from __future__ import annotations

import getpass
import time
from pathlib import Path

import pytest

from materia.core import settings as settings_mod
from materia.core.errors import MateriaError
from materia.workers import registry
from materia.workers.base import InstanceSpec, reap, worker_labels
from materia.workers.prices import instance_type
from materia.workers.providers.cloud import CapacityError
from materia.workers.providers.ovh import decode_name
from materia.workers.ssh import HostKey, SshTarget, cloud_init, pin, wait_until_usable

pytestmark = pytest.mark.ssh
CLOUDS = ("scaleway", "ovh", "oracle")


def load(clouds, tmp_path: Path, name: str, **extra: str) -> settings_mod.Settings:
    env = clouds.env(tmp_path / "home", name, **extra)
    return settings_mod.load(environ=env, dotenv=tmp_path / "none.env")


def provider(clouds, tmp_path: Path, name: str, **knobs):
    """The provider as `materia` builds it, with quick retries for the test."""
    p = registry.provider_for(load(clouds, tmp_path, name), name, log=lambda _: None)
    p.retry_delay = 0.02
    for k, v in knobs.items():
        setattr(p, k, v)
    return p


def spec(name: str, provider_name: str, key: HostKey | None = None, created=None):
    return InstanceSpec(
        name=name,
        pipeline="extract",
        server_type=instance_type(provider_name, "extract"),
        labels=worker_labels("extract", name, now=created),
        user_data=cloud_init(key or HostKey.generate()),
    )


def vendor_labels(clouds, name: str, server_id: str) -> dict[str, str]:
    """The labels as the vendor's API holds them (tags, name suffix, freeform tags)."""
    server = clouds[name].api.servers[server_id]
    if name == "scaleway":
        return dict(t.split("=", 1) for t in server["tags"])
    if name == "ovh":
        return decode_name(server["name"])[1]
    return server["freeformTags"]


@pytest.mark.parametrize("name", CLOUDS)
def test_create_list_ssh_destroy(clouds, tmp_path: Path, name: str):
    clouds.start(name)
    p = provider(clouds, tmp_path, name)
    key = HostKey.generate()
    inst = p.create_instance(spec("materia-extract-a", name, key))
    assert vendor_labels(clouds, name, inst.id) == inst.labels
    assert (inst.labels["app"], inst.labels["role"], inst.labels["run"]) == (
        "materia",
        "worker",
        "materia-extract-a",
    )
    assert [i.id for i in p.list_instances()] == [inst.id]
    ready = p.wait_for_ssh(inst, timeout=30)
    assert (ready.status, ready.host, ready.port, ready.ssh_user) == (
        "running",
        "127.0.0.1",
        clouds.servers.port,
        getpass.getuser(),
    )
    # The cloud-init user data reached the server: its sshd serves the injected key.
    known = tmp_path / "known_hosts"
    pin(known, "w", key)
    target = SshTarget(ready.host, ready.port, ready.ssh_user, clouds.key, known, "w")
    wait_until_usable(target, time.monotonic() + 30, f"{name} worker")
    p.destroy_instance(inst.id)
    p.destroy_instance(inst.id)  # gone already counts as done
    assert p.list_instances() == [] and clouds.billed()[name] == []
    assert clouds.servers.running == {}


@pytest.mark.parametrize("name", CLOUDS)
def test_destroy_retries_failures_and_waits_for_slow_deletes(clouds, tmp_path: Path, name):
    api = clouds.start(name).api
    p = provider(clouds, tmp_path, name)
    inst = p.wait_for_ssh(p.create_instance(spec("materia-extract-b", name)), timeout=30)
    api.delete_failures, api.delete_seconds = 2, 0.5
    before = len(api.calls)
    p.destroy_instance(inst.id)
    assert clouds.billed()[name] == []  # waited until it was gone, not just accepted
    # Terminate (Scaleway: POST …/action) or DELETE: two 500s, then accepted.
    writes = [status for m, _, status in api.calls[before:] if m in ("POST", "DELETE")]
    assert writes[:2] == [500, 500] and 200 <= writes[2] < 300


@pytest.mark.parametrize("name", CLOUDS)
def test_destroy_gives_up_with_a_clear_error(clouds, tmp_path: Path, name):
    cloud = clouds.start(name)
    p = provider(clouds, tmp_path, name, delete_attempts=3)
    inst = p.create_instance(spec("materia-extract-c", name))
    cloud.api.delete_failures = 10
    with pytest.raises(MateriaError, match=r"still exists after 3 \w+ attempts.*worker reap") as e:
        p.destroy_instance(inst.id)
    assert not [s for s in cloud.secrets if s in str(e.value) or s in repr(p)]
    cloud.api.delete_failures, cloud.api.delete_seconds = 0, 5
    p.delete_timeout = 0.3
    with pytest.raises(MateriaError, match="still being deleted after 0s"):
        p.destroy_instance(inst.id)


@pytest.mark.parametrize("name", CLOUDS)
def test_capacity_and_quota_answers_are_capacity_errors(clouds, tmp_path: Path, name):
    api = clouds.start(name).api
    p = provider(clouds, tmp_path, name)
    api.quota_errors = 1
    with pytest.raises(CapacityError):
        p.create_instance(spec("materia-extract-q", name))
    assert clouds.billed()[name] == []
    api.capacity_errors = 1
    with pytest.raises(CapacityError):
        # Scaleway and OCI refuse at once; an OVH instance ends in ERROR while booting.
        p.wait_for_ssh(p.create_instance(spec("materia-extract-c", name)), timeout=30)
    for inst in p.list_instances():  # what run_on_worker's clean-up does
        p.destroy_instance(inst.id)
    assert clouds.billed()[name] == []  # Scaleway deleted its half-created server itself


@pytest.mark.parametrize("name", CLOUDS)
def test_reap_destroys_only_old_workers(clouds, tmp_path: Path, name):
    clouds.servers.ready = False  # servers boot without sshd: only the API matters here
    clouds.start(name)
    p = provider(clouds, tmp_path, name)
    now = time.time()
    old = p.create_instance(spec("materia-extract-old", name, created=now - 4 * 3600))
    young = p.create_instance(spec("materia-extract-young", name, created=now - 60))
    assert [i.id for i in reap(p, ttl_seconds=3 * 3600, now=now)] == [old.id]
    assert [i.id for i in p.list_instances()] == [young.id]


@pytest.mark.parametrize(
    ("name", "drop", "message"),
    [
        ("scaleway", "SCW_SECRET_KEY", "SCW_SECRET_KEY is not set: the scaleway worker"),
        ("ovh", "OVH_CONSUMER_KEY", "OVH_CONSUMER_KEY is not set: the ovh worker"),
        ("ovh", "OVH_CLOUD_PROJECT_SERVICE", "OVH_CLOUD_PROJECT_SERVICE is not set"),
        ("oracle", "OCI_FINGERPRINT", "OCI_FINGERPRINT is not set: the oracle worker"),
        ("oracle", "OCI_SUBNET_OCID", "OCI_SUBNET_OCID is not set"),
    ],
)
def test_a_missing_setting_is_one_line_naming_it(clouds, tmp_path, name, drop, message):
    clouds.start(name)
    s = load(clouds, tmp_path, name, **{drop: ""})
    with pytest.raises(MateriaError, match=message) as e:
        registry.provider_for(s, name)
    assert "\n" not in str(e.value)
    assert name not in registry.configured(s)


def test_bad_settings_are_clear_errors(clouds, tmp_path: Path):
    for name in CLOUDS:
        clouds.start(name)
    s = load(clouds, tmp_path, "ovh", OVH_ENDPOINT="ovh-mars")
    with pytest.raises(MateriaError, match="OVH_ENDPOINT 'ovh-mars' is neither"):
        registry.provider_for(s, "ovh")
    s = load(clouds, tmp_path, "oracle", OCI_FINGERPRINT="not-a-fingerprint")
    with pytest.raises(MateriaError, match="OCI configuration .* is not usable.*fingerprint"):
        registry.provider_for(s, "oracle")
    s = load(clouds, tmp_path, "scaleway", SCW_SECRET_KEY="not-a-uuid-but-secret")
    with pytest.raises(MateriaError, match="^SCW_SECRET_KEY: not in Scaleway's format") as e:
        registry.provider_for(s, "scaleway")
    assert "not-a-uuid-but-secret" not in str(e.value)
    s = load(clouds, tmp_path, "scaleway", SCW_SECRET_KEY="9d2d3c2e-0000-4000-8000-000000000000")
    with pytest.raises(MateriaError, match="401 denied_authentication"):
        registry.provider_for(s, "scaleway").list_instances()
    every = settings_mod.load(environ=clouds.env(tmp_path / "home"), dotenv=tmp_path / "none")
    assert registry.configured(every) == ["local", *CLOUDS]


def test_hetzner_capacity_and_quota_answers_are_capacity_errors(cloud, tmp_path: Path):
    """Hetzner takes part in `--on cheapest` fallback too."""
    s = settings_mod.load(environ=cloud.env(tmp_path / "home"), dotenv=tmp_path / "none.env")
    p = registry.provider_for(s, "hetzner")
    for fault in ("capacity_errors", "quota_errors"):
        setattr(cloud.api, fault, 1)
        with pytest.raises(CapacityError, match="placement_error|resource_limit_exceeded"):
            p.create_instance(spec("materia-extract-h", "hetzner"))
    assert cloud.api.snapshot() == []
