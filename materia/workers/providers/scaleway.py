"""Workers as Scaleway Instances, through the `scaleway` SDK.

Labels travel as `key=value` tags (Scaleway lists servers having every tag asked for).
A server is created stopped, gets its cloud-init as user data, then is powered on; the
out-of-stock or quota answer to that is a CapacityError, and the half-created server is
deleted. SSH keys are the project's IAM keys, which Scaleway's images install at boot.
`terminate` deletes a server with its dynamic IP but only detaches block volumes, so the
root volume is deleted after it.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import requests
from scaleway import Client
from scaleway.block.v1 import BlockV1API
from scaleway.iam.v1alpha1 import IamV1Alpha1API
from scaleway.instance.v1.custom_api import InstanceUtilsV1API
from scaleway_core.api import ScalewayException
from scaleway_core.validations.string_validation import is_access_key, is_project_id, is_secret_key

from materia.core.cloud_settings import ScalewaySettings
from materia.core.errors import MateriaError
from materia.workers.base import WORKER_SELECTOR, Instance, InstanceSpec
from materia.workers.providers import cloud

TAGS = [f"{k}={v}" for k, v in WORKER_SELECTOR.items()]


class ScalewayProvider(cloud.CloudProvider):
    name = "scaleway"
    settings: ScalewaySettings

    def __init__(self, settings: ScalewaySettings, *args: Any, **kw: Any) -> None:
        super().__init__(settings, *args, **kw)
        # The SDK's own format errors quote the keys: check them here, naming only variables.
        checks = [
            ("SCW_ACCESS_KEY", is_access_key(settings.access_key.get())),  # type: ignore[union-attr]
            ("SCW_SECRET_KEY", is_secret_key(settings.secret_key.get())),  # type: ignore[union-attr]
            ("SCW_DEFAULT_PROJECT_ID", is_project_id(settings.project_id or "")),
        ]
        if bad := [name for name, ok in checks if not ok]:
            raise MateriaError(
                f"{', '.join(bad)}: not in Scaleway's format (access key SCW + 17 characters, "
                "secret key and project id UUIDs)"
            )
        client = Client(
            access_key=settings.access_key.get(),  # type: ignore[union-attr]
            secret_key=settings.secret_key.get(),  # type: ignore[union-attr]
            default_project_id=settings.project_id,
            default_zone=settings.zone,
            default_region=settings.zone.rsplit("-", 1)[0],
            api_url=settings.api_url,
        )
        try:
            self.instances = InstanceUtilsV1API(client)
        except ValueError as e:  # zone or URL (the keys passed the checks above)
            raise MateriaError(f"Scaleway settings rejected by the SDK: {e}") from None
        self.block = BlockV1API(client, bypass_validation=True)
        self.iam = IamV1Alpha1API(client, bypass_validation=True)
        self._key_checked = False

    def __repr__(self) -> str:
        return f"ScalewayProvider({self.settings.api_url!r}, zone={self.settings.zone!r})"

    # --- errors ------------------------------------------------------------------------
    def _api(self, what: str, call: Callable[[], Any]) -> Any:
        where = f"Scaleway API ({self.settings.api_url})"
        try:
            return call()
        except ScalewayException as e:
            status, kind, message = _error(e)
            text = f"{where}: {what} failed: {status} {kind}: {message}"
            if status == 404 or kind in ("not_found", "unknown_resource"):
                raise cloud.NotFound(text) from None
            if kind in ("out_of_stock", "quotas_exceeded"):
                raise cloud.CapacityError(text) from None
            if status >= 500 or status == 429 or kind == "transient_state":
                raise cloud.ApiError(text) from None
            raise MateriaError(text) from None
        except (requests.RequestException, OSError) as e:
            raise cloud.ApiError(f"{where} unreachable during {what}: {e}") from None

    # --- instances ---------------------------------------------------------------------
    def _instance(self, server: Any) -> Instance:
        ips = [ip.address for ip in (server.public_ips or []) if ip.address]
        if not ips and server.public_ip is not None and server.public_ip.address:
            ips = [server.public_ip.address]
        created = server.creation_date
        tags = [t.split("=", 1) for t in server.tags or [] if "=" in t]
        return Instance(
            id=server.id,
            name=server.name or "",
            provider=self.name,
            server_type=server.commercial_type or "",
            status=str(server.state),
            created=created.timestamp() if isinstance(created, datetime) else time.time(),
            labels={k: v for k, v in tags},
            host=ips[0] if ips else None,
            port=self.settings.ssh_port,
            ssh_user=self.settings.ssh_user,
        )

    def _check_ssh_key(self) -> None:
        """Scaleway installs the project's IAM SSH keys at boot: ours must be one of them."""
        if self.authorized_key is None or self._key_checked:
            return
        keys = self._api(
            "listing the project's SSH keys",
            lambda: self.iam.list_ssh_keys_all(project_id=self.settings.project_id),
        )
        wanted = self.authorized_key.split()[:2]
        if not any(k.public_key.split()[:2] == wanted for k in keys if not k.disabled):
            raise MateriaError(
                f"the worker SSH public key is not an IAM SSH key of Scaleway project "
                f"{self.settings.project_id}: add it (console: Project → SSH keys)"
            )
        self._key_checked = True

    def preflight(self, server_type: str) -> None:
        """Before creating: the credentials work and the worker key is registered."""
        self._check_ssh_key()

    def create_instance(self, spec: InstanceSpec) -> Instance:
        self._check_ssh_key()
        tags = [f"{k}={v}" for k, v in spec.labels.items()]
        server = self._api(
            f"creating server {spec.name}",
            lambda: self.instances.create_server(
                commercial_type=spec.server_type,
                name=spec.name,
                image=self.settings.image,
                tags=tags,
                dynamic_ip_required=True,
                routed_ip_enabled=True,
                project=self.settings.project_id,
            ),
        ).server
        try:
            if spec.user_data is not None:
                self._api(
                    f"setting the cloud-init of {spec.name}",
                    lambda: self.instances.set_server_user_data(
                        server_id=server.id, key="cloud-init", content=spec.user_data.encode()
                    ),
                )
            self._api(
                f"powering on {spec.name}",
                lambda: self.instances.server_action(server_id=server.id, action="poweron"),
            )
        except Exception:
            # Never leave a half-created server behind (it bills while stopped too).
            try:
                self.destroy_instance(server.id)
            except MateriaError as e:
                self.log(f"scaleway: could not delete half-created server {server.id}: {e}")
            raise
        return self._instance(server)

    def _get(self, instance_id: str) -> Any:
        return self._api(
            f"reading server {instance_id}",
            lambda: self.instances.get_server(server_id=instance_id),
        ).server

    def list_instances(self) -> list[Instance]:
        servers = self._api(
            "listing workers",
            lambda: self.instances.list_servers_all(tags=TAGS, project=self.settings.project_id),
        )
        return [self._instance(s) for s in servers]

    def refresh(self, instance_id: str) -> Instance:
        return self._instance(self._get(instance_id))

    def destroy_instance(self, instance_id: str) -> None:
        """Terminate the server (retrying API errors), wait until it is gone, delete its
        block volumes; gone already counts as done."""
        try:
            server = self.retried(lambda: self._get(instance_id), f"reading {instance_id}")
        except cloud.NotFound:
            return
        volumes = [
            v.id for v in (server.volumes or {}).values() if str(v.volume_type) == "sbs_volume"
        ]
        state = str(server.state)

        def delete() -> None:
            if state == "stopped":  # never started: a plain delete
                self.instances.delete_server(server_id=instance_id)
            elif state != "stopping":  # stopping: a terminate is already under way
                self.instances.server_action(server_id=instance_id, action="terminate")

        self.delete_and_wait(
            instance_id,
            lambda: self._api(f"deleting server {instance_id}", delete),
            lambda: _exists(lambda: self._get(instance_id)),
        )
        for vid in volumes:
            with contextlib.suppress(cloud.NotFound):  # deleted with the server
                self.retried(
                    lambda vid=vid: self._api(
                        f"deleting volume {vid}", lambda: self.block.delete_volume(volume_id=vid)
                    ),
                    f"delete of volume {vid}",
                )


def _exists(get: Callable[[], Any]) -> bool:
    try:
        get()
    except cloud.NotFound:
        return False
    return True


def _error(e: ScalewayException) -> tuple[int, str, str]:
    try:
        body = json.loads(e.response.text or "{}")
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    return e.status_code or 0, str(body.get("type", "")), str(body.get("message", "")).strip()
