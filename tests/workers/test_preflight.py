"""Every precondition of a worker run is checked before a server is created (and
billed): the worker SSH key, its public half where a cloud installs it, the key
registered with the cloud, a server type that can still be ordered. `--on cheapest`
moves on to the next cloud when one cannot take the run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from materia.core import settings as settings_mod
from materia.core.errors import MateriaError
from materia.workers.cheapest import run_cheapest
from materia.workers.preflight import PreconditionError
from materia.workers.providers.hetzner import HetznerProvider
from materia.workers.run import run_on_worker
from testsupport.clouds.worker_runs import local_run_log

pytestmark = pytest.mark.ssh


def posts(api) -> list[tuple[str, str, int]]:
    return [c for c in api.calls if c[0] == "POST"]


def hetzner_settings(cloud, home: Path, **extra: str) -> settings_mod.Settings:
    return settings_mod.load(environ=cloud.env(home, **extra), dotenv=home / "no.env")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"HCLOUD_SSH_KEY_NAME": "not-registered"}, "no SSH key named 'not-registered'"),
        ({"MATERIA_WORKER_SSH_KEY": "/nonexistent/worker"}, "must name the worker SSH private"),
        ({"HCLOUD_LOCATION": "ash"}, "server type ccx13 is not offered in ash"),
    ],
    ids=["key-not-registered", "no-key-file", "type-not-offered-here"],
)
def test_a_failed_precondition_creates_nothing(cloud, tmp_path: Path, extra, message):
    s = hetzner_settings(cloud, tmp_path / "home", **extra)
    with pytest.raises(PreconditionError, match=message):
        run_on_worker(s, HetznerProvider(s.hetzner), "extract", log=lambda _: None)
    assert posts(cloud.api) == [] and cloud.api.snapshot() == []


def test_a_retired_server_type_is_refused_before_anything_is_billed(cloud, tmp_path: Path):
    s = hetzner_settings(cloud, tmp_path / "home")
    provider = HetznerProvider(s.hetzner)
    with pytest.raises(MateriaError, match=r"Hetzner offers no server type 'ccx12' \(retired\?\)"):
        provider.preflight("ccx12")  # the type workers used until Hetzner stopped selling it
    provider.preflight("ccx13")  # today's default is orderable
    assert posts(cloud.api) == []


def test_cheapest_moves_on_when_a_cloud_cannot_take_the_run(clouds, client_key, tmp_path: Path):
    """Oracle installs the worker's public key itself; without `<key>.pub` it cannot take
    the run: said before anything is created there, and the run moves to the next cloud."""
    clouds.start("oracle")
    clouds.start("ovh").api.quota_errors = 1
    lonely = tmp_path / "keys" / "worker"  # the private key without its .pub
    lonely.parent.mkdir()
    shutil.copy(client_key, lonely)
    home = tmp_path / "home"
    env = {**clouds.env(home), "MATERIA_WORKER_SSH_KEY": str(lonely)}
    s = settings_mod.load(environ=env, dotenv=tmp_path / "none.env")
    lines: list[str] = []
    with pytest.raises(MateriaError, match="no cloud could run extract: oracle: .*public key"):
        run_cheapest(s, "extract", log=lines.append, attempts=2)
    assert any(
        x.startswith("cheapest: cannot run there on oracle (oracle: workers need the worker SSH")
        and "falling back to ovh" in x
        for x in lines
    ), lines
    assert posts(clouds["oracle"].api) == []  # nothing was even asked of Oracle
    assert clouds.billed() == {"oracle": [], "ovh": []}
    assert [r["provider"] for r in local_run_log(home)] == ["ovh"]  # OVH's quota refusal
