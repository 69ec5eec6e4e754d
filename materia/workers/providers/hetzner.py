"""Workers as Hetzner Cloud servers, through `hcloud`."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from hcloud import APIException, Client
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.server_types import ServerType
from hcloud.servers import BoundServer, Server
from hcloud.ssh_keys import SSHKey

from materia.core.errors import MateriaError
from materia.core.settings import HetznerSettings
from materia.workers.base import WORKER_SELECTOR, Instance, InstanceSpec
from materia.workers.providers.cloud import CapacityError, ssh_banner

SELECTOR = ",".join(f"{k}={v}" for k, v in WORKER_SELECTOR.items())
_CAPACITY_CODES = ("resource_unavailable", "placement_error", "resource_limit_exceeded")


class HetznerProvider:
    name = "hetzner"

    def __init__(
        self,
        settings: HetznerSettings,
        delete_attempts: int = 6,
        retry_delay: float = 0.5,
        log: Callable[[str], None] = lambda _: None,
    ) -> None:
        if not settings.token:
            raise MateriaError("HCLOUD_TOKEN is not set: the hetzner worker provider needs it")
        self.settings = settings
        self.delete_attempts = delete_attempts
        self.retry_delay = retry_delay
        self.log = log
        self.client = Client(
            token=settings.token.get(),
            api_endpoint=settings.api_endpoint,
            application_name="materia",
            poll_interval=0.5,
            timeout=30,
        )

    def __repr__(self) -> str:
        return f"HetznerProvider({self.settings.api_endpoint!r})"

    def _instance(self, server: BoundServer) -> Instance:
        ip = server.public_net.ipv4.ip if server.public_net and server.public_net.ipv4 else None
        created = (
            server.created.timestamp() if isinstance(server.created, datetime) else time.time()
        )
        return Instance(
            id=str(server.id),
            name=server.name or "",
            provider=self.name,
            server_type=server.server_type.name if server.server_type else "",
            status=server.status or "",
            created=created,
            labels=dict(server.labels or {}),
            host=ip,
            port=self.settings.ssh_port,
        )

    def _api(self, what: str, call: Callable[[], object]) -> object:
        try:
            return call()
        except APIException as e:
            # No room for the server (type or location) or no quota: another cloud may have it.
            kind = CapacityError if e.code in _CAPACITY_CODES else MateriaError
            raise kind(
                f"Hetzner API ({self.settings.api_endpoint}): {what} failed: {e.code} {e.message}"
            ) from e
        except OSError as e:  # requests' ConnectionError is an OSError
            raise MateriaError(
                f"Hetzner API ({self.settings.api_endpoint}) unreachable during {what}: {e}"
            ) from e

    def preflight(self, server_type: str) -> None:
        """Before a server is created (and billed): the token works, the worker SSH key is
        registered, and the server type can be ordered in the location (Hetzner retires
        types: CPX Gen 1 and CX Gen 2 left the API at the end of 2025)."""
        where = self.settings.location
        key = self._api(
            "reading the SSH key",
            lambda: self.client.ssh_keys.get_by_name(self.settings.ssh_key_name),
        )
        if key is None:
            raise MateriaError(
                f"no SSH key named {self.settings.ssh_key_name!r} in the Hetzner project "
                "(HCLOUD_SSH_KEY_NAME; `pulumi up` registers the worker key)"
            )
        found = self._api(
            f"reading server type {server_type}",
            lambda: self.client.server_types.get_by_name(server_type),
        )
        if found is None:
            raise MateriaError(f"Hetzner offers no server type {server_type!r} (retired?)")
        here = [x for x in found.locations or [] if x.location.name == where]
        if found.locations is not None and not here:
            raise MateriaError(f"Hetzner server type {server_type} is not offered in {where}")
        if here and here[0].deprecation is not None:
            gone = here[0].deprecation.unavailable_after
            if gone is not None and gone <= datetime.now(gone.tzinfo):
                raise MateriaError(f"Hetzner server type {server_type} was retired on {gone:%F}")
        if here and here[0].available is False:
            raise CapacityError(f"Hetzner server type {server_type} is not available in {where}")

    def create_instance(self, spec: InstanceSpec) -> Instance:
        resp = self._api(
            f"creating server {spec.name}",
            lambda: self.client.servers.create(
                name=spec.name,
                server_type=ServerType(name=spec.server_type),
                image=Image(name=self.settings.image),
                location=Location(name=self.settings.location),
                ssh_keys=[SSHKey(name=self.settings.ssh_key_name)],
                user_data=spec.user_data,
                labels=spec.labels,
            ),
        )
        return self._instance(resp.server)  # type: ignore[attr-defined]

    def list_instances(self) -> list[Instance]:
        servers = self._api(
            "listing workers", lambda: self.client.servers.get_all(label_selector=SELECTOR)
        )
        return [self._instance(s) for s in servers]  # type: ignore[attr-defined]

    def destroy_instance(self, instance_id: str) -> None:
        """Delete the server, retrying API errors; gone already counts as done."""
        last: APIException | OSError | None = None
        for attempt in range(self.delete_attempts):
            try:
                self.client.servers.delete(Server(id=int(instance_id)))
                return
            except APIException as e:
                if e.code == "not_found":
                    return
                last = e
            except OSError as e:
                last = e
            self.log(f"hetzner: delete of server {instance_id} failed ({_brief(last)}), retrying")
            time.sleep(self.retry_delay * 2**attempt)
        raise MateriaError(
            f"Hetzner API ({self.settings.api_endpoint}): server {instance_id} still exists after "
            f"{self.delete_attempts} delete attempts ({_brief(last)}); `materia worker reap` removes it"
        )

    def wait_for_ssh(self, instance: Instance, timeout: float) -> Instance:
        deadline = time.monotonic() + timeout
        current = instance
        while time.monotonic() < deadline:
            server = self._api(
                f"reading server {instance.id}",
                lambda: self.client.servers.get_by_id(int(instance.id)),
            )
            current = self._instance(server)  # type: ignore[arg-type]
            if (
                current.status == "running"
                and current.host
                and ssh_banner(current.host, current.port)
            ):
                return current
            time.sleep(0.25)
        raise MateriaError(
            f"worker {instance.name} ({current.host or 'no address'}:{current.port}, status "
            f"{current.status}): SSH not ready after {timeout:.0f}s"
        )


def _brief(e: BaseException | None) -> str:
    if isinstance(e, APIException):
        return f"{e.code}: {e.message}"
    return str(e)
