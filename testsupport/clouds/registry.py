"""Scaleway, OVHcloud and Oracle Cloud stand-ins whose servers boot as real sshd processes.

    with Clouds(tmp, client_key, sshd_env) as clouds:
        scw = clouds.start("scaleway")          # FakeScaleway on loopback, credentials made now
        env = clouds.env(home, "scaleway")      # CLI environment pointing materia at it
        scw.api.delete_failures = 2             # faults are the stand-in's own knobs
        clouds.billed()                          # {"scaleway": [servers and volumes left]}

Credentials are generated when a stand-in starts, never written in the source tree (a
worker receives the source tree, so a fixed test secret would show up there). Every
stand-in shares one `SshWorkers` and so one SSH port, as port 22 is shared in
production; one server runs at a time.
"""

from __future__ import annotations

import getpass
import secrets
import string
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testsupport import clean_env
from testsupport.clouds.api import StandinApi
from testsupport.clouds.oci_api import FakeOci
from testsupport.clouds.ovh_api import FakeOvh
from testsupport.clouds.scaleway_api import FakeScaleway
from testsupport.clouds.sshd import SshWorkers

NAMES = ("scaleway", "ovh", "oracle")


@dataclass
class StandinCloud:
    name: str
    api: StandinApi
    env: dict[str, str]  # the provider's variables (credentials, API URL)
    secrets: list[str] = field(default_factory=list)  # values that must never leak


def _token(n: int, alphabet: str = string.ascii_uppercase + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


class Clouds:
    def __init__(
        self,
        base: Path,
        client_key: Path,
        sshd_env: dict[str, str],
        worker_root: Path | None = None,  # where the servers' files land (MATERIA_WORKER_ROOT)
        boot_seconds: float = 0.2,
    ) -> None:
        self.key = client_key
        self.worker_root = worker_root
        self.public_key = client_key.with_suffix(".pub").read_text().strip()
        self.servers = SshWorkers(base / "servers", self.public_key, env=sshd_env)
        self.boot_seconds = boot_seconds
        self.started: dict[str, StandinCloud] = {}

    def __enter__(self) -> Clouds:
        return self

    def __exit__(self, *exc: object) -> None:
        for cloud in self.started.values():
            cloud.api.stop()
        self.servers.stop_all()

    def __getitem__(self, name: str) -> StandinCloud:
        return self.started[name]

    def start(self, name: str, **knobs: Any) -> StandinCloud:
        hooks = {"boot": self.servers.boot, "halt": self.servers.halt}
        kw = {"boot_seconds": self.boot_seconds, **hooks, **knobs}
        if name == "scaleway":
            secret, project = str(uuid.uuid4()), str(uuid.uuid4())
            api = FakeScaleway(secret, project, **kw)
            api.start()
            api.add_ssh_key("materia-worker", self.public_key)
            access = f"SCW{_token(17)}"
            env = {
                "SCW_ACCESS_KEY": access,
                "SCW_SECRET_KEY": secret,
                "SCW_DEFAULT_PROJECT_ID": project,
                "SCW_API_URL": api.api_url,
            }
            cloud = StandinCloud(name, api, env, [secret])
        elif name == "ovh":
            app_key, app_secret, consumer = _token(16), _token(32), _token(32)
            project = uuid.uuid4().hex
            api = FakeOvh(app_key, app_secret, consumer, project, clock_skew=-37, **kw)
            api.start()
            api.add_ssh_key("materia", self.public_key)
            env = {
                "OVH_ENDPOINT": api.endpoint,
                "OVH_APPLICATION_KEY": app_key,
                "OVH_APPLICATION_SECRET": app_secret,
                "OVH_CONSUMER_KEY": consumer,
                "OVH_CLOUD_PROJECT_SERVICE": project,
            }
            cloud = StandinCloud(name, api, env, [app_secret, consumer])
        elif name == "oracle":
            api = FakeOci(**kw)
            api.start()
            user = f"ocid1.user.oc1..{uuid.uuid4().hex}"
            pem, fingerprint = api.add_api_key(user)
            env = {
                "OCI_TENANCY_OCID": api.tenancy,
                "OCI_USER_OCID": user,
                "OCI_FINGERPRINT": fingerprint,
                "OCI_PRIVATE_KEY": pem,
                "OCI_REGION": "eu-frankfurt-1",
                "OCI_SUBNET_OCID": api.subnet,
                "OCI_API_URL": api.root,
            }
            # A line of the PEM body: any fragment of the key must stay home.
            cloud = StandinCloud(name, api, env, [pem.splitlines()[1]])
        else:
            raise ValueError(f"no stand-in for {name!r}: use {', '.join(NAMES)}")
        self.started[name] = cloud
        return cloud

    def env(self, home: Path, *names: str, **extra: str) -> dict[str, str]:
        """A clean CLI environment pointing materia at the named stand-ins (default: all
        started), with the worker SSH key, port and user of the sshd stand-ins."""
        env = clean_env(
            home,
            MATERIA_WORKER_SSH_KEY=str(self.key),
            MATERIA_WORKER_SSH_PORT=str(self.servers.port),
            MATERIA_WORKER_SSH_USER=getpass.getuser(),
            MATERIA_WORKER_SSH_TIMEOUT="30",
        )
        for name in names or self.started:
            env.update(self.started[name].env)
        env.update(extra)
        return env

    def secrets(self) -> list[str]:
        return [s for cloud in self.started.values() for s in cloud.secrets]

    def billed(self) -> dict[str, list[dict[str, Any]]]:
        """What each stand-in would still bill: servers (and Scaleway's block volumes)."""
        left: dict[str, list[dict[str, Any]]] = {}
        for name, cloud in self.started.items():
            items = cloud.api.snapshot()
            if isinstance(cloud.api, FakeScaleway):
                items += cloud.api.volumes_left()
            left[name] = items
        return left
