"""Workers as OVHcloud Public Cloud instances, through the `ovh` SDK (signed API calls).

The instance API takes no tags, so the labels travel in the instance name:
`<name>#app=materia&role=worker&…` (an OpenStack name holds up to 255 characters), and
listing keeps the instances whose decoded labels match. The flavor (b3-8, …), image and
SSH key are looked up by name in the configured region; a flavor marked unavailable
there, a quota answer, or an instance that ends in ERROR (no host for it) is a
CapacityError.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import ovh
import requests

from materia.core.cloud_settings import OvhSettings
from materia.core.errors import MateriaError
from materia.workers.base import WORKER_SELECTOR, Instance, InstanceSpec
from materia.workers.providers import cloud

LABELS_MARK = "#"
MAX_NAME = 255
# Words by which OVHcloud (and OpenStack below it) says "no room for this instance".
_CAPACITY_WORDS = ("quota", "capacity", "not enough", "insufficient", "no valid host")


def encode_name(name: str, labels: dict[str, str]) -> str:
    full = f"{name}{LABELS_MARK}{urlencode(labels)}"
    if len(full) > MAX_NAME:
        raise MateriaError(f"ovh: instance name with labels exceeds {MAX_NAME} characters: {full}")
    return full


def decode_name(full: str) -> tuple[str, dict[str, str]]:
    name, mark, query = full.partition(LABELS_MARK)
    return name, dict(parse_qsl(query)) if mark else {}


class OvhProvider(cloud.CloudProvider):
    name = "ovh"
    settings: OvhSettings

    def __init__(self, settings: OvhSettings, *args: Any, **kw: Any) -> None:
        super().__init__(settings, *args, **kw)
        url = settings.endpoint.startswith(("http://", "https://"))
        try:
            self.client = ovh.Client(
                endpoint="ovh-eu" if url else settings.endpoint,
                application_key=settings.application_key.get(),  # type: ignore[union-attr]
                application_secret=settings.application_secret.get(),  # type: ignore[union-attr]
                consumer_key=settings.consumer_key.get(),  # type: ignore[union-attr]
                timeout=(10, 60),
            )
        except ovh.exceptions.InvalidRegion:
            raise MateriaError(
                f"OVH_ENDPOINT {settings.endpoint!r} is neither an OVH API name "
                f"({', '.join(ovh.client.ENDPOINTS)}) nor a URL"
            ) from None
        if url:
            # python-ovh only knows its named endpoints; a URL (a stand-in in tests) is
            # set where the client keeps the one it resolved. Signing covers the full URL.
            self.client._endpoint = settings.endpoint.rstrip("/")
        self.base = f"/cloud/project/{settings.project_id}"
        self._flavors: dict[str, dict[str, Any]] = {}  # id -> flavor

    def __repr__(self) -> str:
        return f"OvhProvider({self.settings.endpoint!r}, region={self.settings.region!r})"

    # --- errors ------------------------------------------------------------------------
    def _api(self, what: str, call: Callable[[], Any]) -> Any:
        where = f"OVH API ({self.settings.endpoint})"
        try:
            return call()
        except ovh.exceptions.ResourceNotFoundError as e:
            raise cloud.NotFound(f"{where}: {what} failed: not found: {_msg(e)}") from None
        except (ovh.exceptions.HTTPError, ovh.exceptions.NetworkError) as e:
            raise cloud.ApiError(f"{where} unreachable during {what}: {_msg(e)}") from None
        except ovh.exceptions.APIError as e:
            status = e.response.status_code if e.response is not None else 0
            text = f"{where}: {what} failed: {status} {_msg(e)}"
            if any(w in _msg(e).lower() for w in _CAPACITY_WORDS):
                raise cloud.CapacityError(text) from None
            if status >= 500 or status == 429:
                raise cloud.ApiError(text) from None
            raise MateriaError(text) from None
        except (requests.RequestException, OSError) as e:
            raise cloud.ApiError(f"{where} unreachable during {what}: {e}") from None

    def _get(self, path: str, what: str, **query: Any) -> Any:
        return self._api(what, lambda: self.client.get(f"{self.base}{path}", **query))

    # --- lookups -------------------------------------------------------------------------
    def _flavor_map(self, refresh: bool = False) -> dict[str, dict[str, Any]]:
        if refresh or not self._flavors:
            found = self._get("/flavor", "listing flavors", region=self.settings.region)
            self._flavors = {f["id"]: f for f in found}
        return self._flavors

    def _flavor_id(self, flavor: str) -> str:
        region = self.settings.region
        # Fresh each time: availability changes.
        match = [f for f in self._flavor_map(refresh=True).values() if f.get("name") == flavor]
        if not match:
            raise MateriaError(f"ovh: no flavor {flavor!r} in region {region}")
        if not match[0].get("available", True):
            raise cloud.CapacityError(f"ovh: flavor {flavor} is not available in {region} now")
        return match[0]["id"]

    def _image_id(self) -> str:
        images = self._get("/image", "listing images", region=self.settings.region, osType="linux")
        match = [i for i in images if i.get("name") == self.settings.image]
        if not match:
            raise MateriaError(f"ovh: no image {self.settings.image!r} in {self.settings.region}")
        return max(match, key=lambda i: i.get("creationDate") or "")["id"]

    def _ssh_key_id(self) -> str:
        keys = self._get("/sshkey", "listing SSH keys", region=self.settings.region)
        match = [k for k in keys if k.get("name") == self.settings.ssh_key_name]
        if not match:
            raise MateriaError(
                f"ovh: no SSH key named {self.settings.ssh_key_name!r} in project "
                f"{self.settings.project_id} (OVH_SSH_KEY_NAME); add the worker's public key"
            )
        return match[0]["id"]

    # --- instances ---------------------------------------------------------------------
    def _instance(self, d: dict[str, Any]) -> Instance:
        name, labels = decode_name(d.get("name") or "")
        public = [
            a["ip"]
            for a in d.get("ipAddresses") or []
            if a.get("type") == "public" and a.get("version") == 4
        ]
        flavor = self._flavor_map().get(d.get("flavorId", ""), {}).get("name", "")
        status = d.get("status") or ""
        try:
            created = datetime.fromisoformat(d["created"]).timestamp()
        except (KeyError, TypeError, ValueError):
            created = time.time()
        return Instance(
            id=d["id"],
            name=name,
            provider=self.name,
            server_type=flavor,
            status="running" if status == "ACTIVE" else status.lower(),
            created=created,
            labels=labels,
            host=public[0] if public else None,
            port=self.settings.ssh_port,
            ssh_user=self.settings.ssh_user,
        )

    def preflight(self, server_type: str) -> None:
        """Before creating: the credentials work, the key and the flavor exist here."""
        self._ssh_key_id()
        self._flavor_id(server_type)

    def create_instance(self, spec: InstanceSpec) -> Instance:
        full = encode_name(spec.name, spec.labels)
        body = {
            "name": full,
            "flavorId": self._flavor_id(spec.server_type),
            "imageId": self._image_id(),
            "region": self.settings.region,
            "sshKeyId": self._ssh_key_id(),
            "monthlyBilling": False,
        }
        if spec.user_data is not None:
            body["userData"] = spec.user_data
        created = self._api(
            f"creating instance {spec.name}",
            lambda: self.client.post(f"{self.base}/instance", **body),
        )
        return self._instance(created)

    def list_instances(self) -> list[Instance]:
        found = self._get("/instance", "listing workers", region=self.settings.region)
        workers = [self._instance(d) for d in found]
        return [i for i in workers if all(i.labels.get(k) == v for k, v in WORKER_SELECTOR.items())]

    def _read(self, instance_id: str) -> dict[str, Any]:
        return self._get(f"/instance/{instance_id}", f"reading instance {instance_id}")

    def refresh(self, instance_id: str) -> Instance:
        return self._instance(self._read(instance_id))

    def failure(self, instance: Instance) -> str | None:
        if instance.status == "error":
            return "the instance ended in ERROR (no host had room for it)"
        return None

    def destroy_instance(self, instance_id: str) -> None:
        """Delete the instance (retrying API errors) and wait until it is gone."""

        def exists() -> bool:
            try:
                return self._read(instance_id).get("status") != "DELETED"
            except cloud.NotFound:
                return False

        self.delete_and_wait(
            instance_id,
            lambda: self._api(
                f"deleting instance {instance_id}",
                lambda: self.client.delete(f"{self.base}/instance/{instance_id}"),
            ),
            exists,
        )


def _msg(e: Exception) -> str:
    return str(e.args[0]) if e.args else type(e).__name__
