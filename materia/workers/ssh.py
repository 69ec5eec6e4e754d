"""SSH to a worker with a pinned host key, through the OpenSSH client.

The host key is never learned from the network: `HostKey.generate()` makes the pair
here, the private half reaches the server in its cloud-init user data (installed before
sshd starts), and the public half is the only entry of a temporary known_hosts file used
with `StrictHostKeyChecking=yes`. A server answering with any other key is refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from materia.core.errors import MateriaError

# Installs uv on a real (Debian) worker; the bootstrap then runs `uv sync --locked`.
_UV_INSTALL = "curl -LsSf https://astral.sh/uv/install.sh | env UV_INSTALL_DIR=/usr/local/bin sh"


@dataclass(frozen=True)
class HostKey:
    private: str
    public: str  # "ssh-ed25519 AAAA… comment"

    def __repr__(self) -> str:
        return f"HostKey(public={self.public!r})"

    @classmethod
    def generate(cls) -> HostKey:
        with tempfile.TemporaryDirectory(prefix="materia-hostkey-") as d:
            path = Path(d) / "key"
            subprocess.run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    "materia-worker",
                    "-f",
                    str(path),
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
            return cls(
                private=path.read_text(), public=path.with_suffix(".pub").read_text().strip()
            )


def cloud_init(host_key: HostKey) -> str:
    """`#cloud-config` user data: install our host key (and nothing generated), install uv."""
    doc = {
        "ssh_deletekeys": True,
        "ssh_genkeytypes": [],
        "ssh_keys": {"ed25519_private": host_key.private, "ed25519_public": host_key.public},
        "runcmd": [["sh", "-c", _UV_INSTALL]],
    }
    # JSON is YAML, so this is a valid cloud-config document.
    return "#cloud-config\n" + json.dumps(doc, indent=1) + "\n"


@dataclass(frozen=True)
class SshTarget:
    host: str
    port: int
    user: str
    identity: Path
    known_hosts: Path
    alias: str  # the name the pinned key is filed under, independent of host:port

    def argv(self, remote_command: str, connect_timeout: int = 10) -> list[str]:
        opts = {
            "BatchMode": "yes",
            "IdentitiesOnly": "yes",
            "StrictHostKeyChecking": "yes",
            "UserKnownHostsFile": str(self.known_hosts),
            "GlobalKnownHostsFile": "/dev/null",
            "HostKeyAlias": self.alias,
            "ConnectTimeout": str(connect_timeout),
            "ServerAliveInterval": "15",
            "ServerAliveCountMax": "4",
            "LogLevel": "ERROR",
        }
        flags = [x for k, v in opts.items() for x in ("-o", f"{k}={v}")]
        return [
            "ssh", "-F", "/dev/null", "-T", "-p", str(self.port), "-i", str(self.identity),
            *flags, f"{self.user}@{self.host}", remote_command,
        ]  # fmt: skip


def pin(known_hosts: Path, alias: str, host_key: HostKey) -> None:
    known_hosts.write_text(f"{alias} {host_key.public}\n")
    known_hosts.chmod(0o600)


def clean_env() -> dict[str, str]:
    """Environment for the ssh client: none of our secrets, nothing to forward."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "USER", "LOGNAME")
    return {k: os.environ[k] for k in keep if k in os.environ}


def wait_until_usable(target: SshTarget, deadline: float, what: str) -> None:
    """Retry `ssh … true` until it works; a host key mismatch is fatal at once."""
    last = ""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise MateriaError(
                f"{what}: SSH not usable before the deadline ({last or 'no answer'})"
            )
        try:
            r = subprocess.run(
                target.argv("true", connect_timeout=max(1, min(10, int(remaining)))),
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                env=clean_env(),
                timeout=max(1.0, remaining),
            )
        except subprocess.TimeoutExpired:
            continue
        if r.returncode == 0:
            return
        last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"
        if "Host key verification failed" in r.stderr or "IDENTIFICATION HAS CHANGED" in r.stderr:
            raise MateriaError(
                f"{what}: host key does not match the key injected at creation; refusing to connect"
            )
        time.sleep(0.3)


def worker_spec(provider: str, pipeline: str, run_id: str, owner: str | None = None):
    """What to create for a pipeline's worker on `provider`, and the host key pinned in
    its cloud-init (None for the local provider, which has no SSH)."""
    from materia.workers.base import InstanceSpec, worker_labels
    from materia.workers.prices import instance_type

    host_key = HostKey.generate() if provider != "local" else None
    spec = InstanceSpec(
        name=f"materia-{pipeline}-{run_id}",
        pipeline=pipeline,
        server_type=instance_type(provider, pipeline),
        labels=worker_labels(pipeline, run_id, owner),
        user_data=cloud_init(host_key) if host_key else None,
    )
    return spec, host_key
