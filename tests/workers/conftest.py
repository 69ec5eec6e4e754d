"""Worker stand-ins: the loopback Hetzner API whose servers boot as real sshd processes."""

from __future__ import annotations

import getpass
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from testsupport import clean_env
from testsupport.clouds.hetzner_api import FakeHetzner
from testsupport.clouds.registry import Clouds
from testsupport.clouds.sshd import SSHD, SshWorkers
from testsupport.ops.procscan import ProcScanner

# Made per session: a value written here would travel with the shipped source tree.
TOKEN = f"hcloud-{secrets.token_hex(12)}"


def _need_ssh() -> None:
    if not SSHD.exists() or not shutil.which("ssh") or not shutil.which("ssh-keygen"):
        pytest.skip("needs OpenSSH (/usr/sbin/sshd, ssh, ssh-keygen)")


@pytest.fixture(scope="session")
def client_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The operator's SSH key pair (private key path; `.pub` beside it)."""
    _need_ssh()
    key = tmp_path_factory.mktemp("client-key") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


@dataclass
class Cloud:
    api: FakeHetzner
    servers: SshWorkers
    worker_root: Path  # where the workers' files land (the stand-in servers' disks)
    key: Path

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        """CLI environment that points the hetzner provider at the stand-ins."""
        return clean_env(
            home,
            HCLOUD_TOKEN=TOKEN,
            HCLOUD_ENDPOINT=self.api.endpoint,
            HCLOUD_SSH_PORT=str(self.servers.port),
            HCLOUD_SSH_USER=getpass.getuser(),
            HCLOUD_SSH_PRIVATE_KEY=str(self.key),
            MATERIA_WORKER_SSH_TIMEOUT="30",
            **extra,
        )


def _sshd_env(root: Path) -> dict[str, str]:
    """The stand-in servers' environment. A worker builds its own environment from the
    shipped uv.lock (`uv sync --locked`), as on a real cloud; this machine is offline, so
    the servers set UV_OFFLINE=1 and uv installs from its local cache."""
    _need_ssh()
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("needs uv on PATH (workers build their environment with it)")
    return {
        "MATERIA_WORKER_ROOT": str(root),
        "UV_OFFLINE": "1",
        "PATH": f"{Path(uv).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    }


@pytest.fixture
def cloud(tmp_path: Path, client_key: Path):
    """FakeHetzner + sshd-backed servers."""
    root = tmp_path / "worker-disk"
    env = _sshd_env(root)
    servers = SshWorkers(tmp_path / "servers", client_key.with_suffix(".pub").read_text(), env=env)
    api = FakeHetzner(TOKEN, boot=servers.boot, halt=servers.halt, action_seconds=0.2)
    with api:
        api.add_ssh_key("materia", client_key.with_suffix(".pub").read_text())
        yield Cloud(api, servers, root, client_key)
    servers.stop_all()


@pytest.fixture
def clouds(tmp_path: Path, client_key: Path):
    """The Scaleway, OVHcloud and OCI stand-ins (start the ones a test needs with
    `clouds.start(name)`), their servers booting as real sshd processes."""
    root = tmp_path / "worker-disk"
    with Clouds(tmp_path, client_key, _sshd_env(root), worker_root=root) as c:
        yield c


@pytest.fixture(scope="session")
def worker_seaweed(tmp_path_factory: pytest.TempPathFactory):
    """SeaweedFS as R2 with keys made for this session (see worker_runs.private_seaweed)."""
    from testsupport.clouds.worker_runs import private_seaweed
    from testsupport.lakehouse.seaweed import weed_binary

    try:
        weed_binary()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    with private_seaweed(tmp_path_factory.mktemp("seaweed-clouds")) as sw:
        yield sw


@pytest.fixture
def worker_r2(worker_seaweed):
    """(R2 env, s3fs, bucket): a bucket of this test's own on the session's SeaweedFS."""
    from testsupport.clouds.worker_runs import fresh_bucket

    return fresh_bucket(worker_seaweed)


@pytest.fixture
def proc_scanner():
    return ProcScanner


def files_containing(root: Path, secrets: list[str]) -> list[str]:
    """Every file under `root` whose bytes contain one of `secrets`."""
    needles = [s.encode() for s in secrets]
    hits = []
    for p in root.rglob("*"):
        # Files hard-linked from uv's cache (the worker's .venv, ~1 GB) were not written
        # by the run; everything the run created has a single link.
        if p.is_file() and not p.is_symlink() and p.stat().st_nlink == 1:
            data = p.read_bytes()
            if any(n in data for n in needles):
                hits.append(str(p))
    return hits


@pytest.fixture
def scan_files():
    return files_containing
