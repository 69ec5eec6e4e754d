"""Workers as Oracle Cloud (OCI) compute instances, through the `oci` SDK (signed calls).

Labels are freeform tags; ListInstances cannot filter by tag, so listing keeps the
instances whose tags match. Shapes are flexible (A1: Arm, OCPUs and memory chosen at
launch); `SHAPES` maps materia's instance type names to them. The worker's SSH key goes
in the instance metadata (`ssh_authorized_keys`), cloud-init in `user_data`. OCI's
"Out of host capacity" and limit/quota answers are CapacityError. The SDK's own retries
and circuit breaker are off: retries here are explicit and bounded.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import oci
import requests
from oci.core.models import (
    CreateVnicDetails,
    InstanceSourceViaImageDetails,
    LaunchInstanceDetails,
    LaunchInstanceShapeConfigDetails,
)

from materia.core.cloud_settings import OracleSettings
from materia.core.errors import MateriaError
from materia.workers.base import WORKER_SELECTOR, Instance, InstanceSpec
from materia.workers.providers import cloud

# materia instance type -> (shape, OCPUs, memory GB); prices in workers/prices.py.
SHAPES = {
    "a1-flex-2c-8g": ("VM.Standard.A1.Flex", 2, 8),
    "a1-flex-4c-16g": ("VM.Standard.A1.Flex", 4, 16),
}
IMAGE_OS = ("Canonical Ubuntu", "24.04")
GONE_STATES = ("TERMINATED",)
_CAPACITY_CODES = ("LimitExceeded", "QuotaExceeded")


def sdk_config(s: OracleSettings) -> dict[str, Any]:
    """The SDK's config dict: from the config file, or from the OCI_* variables."""
    try:
        if s.config_file is not None:
            config = oci.config.from_file(str(s.config_file), s.profile)
        else:
            config = {
                "tenancy": s.tenancy,
                "user": s.user,
                "fingerprint": s.fingerprint,
                "region": s.region,
                "pass_phrase": s.private_key_password.get() if s.private_key_password else None,
            }
            if s.private_key is not None:
                config["key_content"] = s.private_key.get()
            else:
                config["key_file"] = str(s.private_key_file)
        if s.region:
            config["region"] = s.region
        oci.config.validate_config(config)
    except (oci.exceptions.ClientError, ValueError, OSError) as e:
        where = f"OCI_CONFIG_FILE {s.config_file} [{s.profile}]" if s.config_file else "OCI_*"
        raise MateriaError(f"oracle: the OCI configuration ({where}) is not usable: {e}") from None
    return config


class OracleProvider(cloud.CloudProvider):
    name = "oracle"
    settings: OracleSettings

    def __init__(self, settings: OracleSettings, *args: Any, **kw: Any) -> None:
        super().__init__(settings, *args, **kw)
        config = sdk_config(settings)
        kwargs: dict[str, Any] = {
            "retry_strategy": oci.retry.NoneRetryStrategy(),
            "circuit_breaker_strategy": oci.circuit_breaker.NoCircuitBreakerStrategy(),
            "timeout": (10, 60),
        }
        if settings.api_url:
            kwargs["service_endpoint"] = settings.api_url.rstrip("/")
        try:
            self.compute = oci.core.ComputeClient(config, **kwargs)
            self.network = oci.core.VirtualNetworkClient(config, **kwargs)
            self.identity = oci.identity.IdentityClient(config, **kwargs)
        except (oci.exceptions.ClientError, ValueError, OSError) as e:
            raise MateriaError(f"oracle: cannot use the OCI configuration: {e}") from None
        self.tenancy = config["tenancy"]
        self.compartment = settings.compartment_id or self.tenancy
        self.where = settings.api_url or f"OCI {config['region']}"

    def __repr__(self) -> str:
        return f"OracleProvider({self.where!r})"

    # --- errors ------------------------------------------------------------------------
    def _api(self, what: str, call: Callable[[], Any]) -> Any:
        where = f"OCI API ({self.where})"
        try:
            return call()
        except oci.exceptions.ServiceError as e:
            text = f"{where}: {what} failed: {e.status} {e.code}: {e.message}"
            if e.status == 404:
                raise cloud.NotFound(text) from None
            if e.code in _CAPACITY_CODES or "out of host capacity" in str(e.message).lower():
                raise cloud.CapacityError(text) from None
            if e.status >= 500 or e.status == 429 or e.status == 409:
                raise cloud.ApiError(text) from None
            raise MateriaError(text) from None
        except (oci.exceptions.RequestException, requests.RequestException, OSError) as e:
            raise cloud.ApiError(f"{where} unreachable during {what}: {e}") from None

    # --- lookups -------------------------------------------------------------------------
    def _availability_domain(self) -> str:
        if self.settings.availability_domain:
            return self.settings.availability_domain
        ads = self._api(
            "listing availability domains",
            lambda: self.identity.list_availability_domains(self.tenancy).data,
        )
        if not ads:
            raise MateriaError("oracle: the tenancy lists no availability domain")
        return ads[0].name

    def _image_id(self, shape: str) -> str:
        if self.settings.image_id:
            return self.settings.image_id
        images = self._api(
            "looking up the worker image",
            lambda: (
                self.compute.list_images(
                    self.compartment,
                    operating_system=IMAGE_OS[0],
                    operating_system_version=IMAGE_OS[1],
                    shape=shape,
                    sort_by="TIMECREATED",
                    sort_order="DESC",
                ).data
            ),
        )
        if not images:
            raise MateriaError(f"oracle: no {' '.join(IMAGE_OS)} image for {shape}")
        return images[0].id

    def _public_ip(self, instance_id: str) -> str | None:
        attachments = self._api(
            f"listing the VNICs of {instance_id}",
            lambda: (
                self.compute.list_vnic_attachments(self.compartment, instance_id=instance_id).data
            ),
        )
        for att in attachments:
            if att.lifecycle_state == "ATTACHED":
                vnic = self._api("reading a VNIC", lambda a=att: self.network.get_vnic(a.vnic_id))
                if vnic.data.public_ip:
                    return vnic.data.public_ip
        return None

    # --- instances ---------------------------------------------------------------------
    def _instance(self, i: Any, with_ip: bool = False) -> Instance:
        cfg = i.shape_config
        size = (i.shape, int(cfg.ocpus or 0), int(cfg.memory_in_gbs or 0)) if cfg else None
        kind = next((t for t, s in SHAPES.items() if s == size), i.shape or "")
        state = i.lifecycle_state or ""
        created = i.time_created
        return Instance(
            id=i.id,
            name=i.display_name or "",
            provider=self.name,
            server_type=kind,
            status=state.lower(),
            created=created.timestamp() if isinstance(created, datetime) else time.time(),
            labels=dict(i.freeform_tags or {}),
            host=self._public_ip(i.id) if with_ip and state == "RUNNING" else None,
            port=self.settings.ssh_port,
            ssh_user=self.settings.ssh_user,
        )

    def create_instance(self, spec: InstanceSpec) -> Instance:
        if spec.server_type not in SHAPES:
            raise MateriaError(f"oracle: unknown instance type {spec.server_type!r}")
        if not self.authorized_key:
            raise MateriaError("oracle: workers need the worker SSH public key (<key>.pub)")
        shape, ocpus, memory = SHAPES[spec.server_type]
        metadata = {"ssh_authorized_keys": self.authorized_key}
        if spec.user_data is not None:
            metadata["user_data"] = base64.b64encode(spec.user_data.encode()).decode()
        details = LaunchInstanceDetails(
            availability_domain=self._availability_domain(),
            compartment_id=self.compartment,
            display_name=spec.name,
            shape=shape,
            shape_config=LaunchInstanceShapeConfigDetails(
                ocpus=float(ocpus), memory_in_gbs=float(memory)
            ),
            source_details=InstanceSourceViaImageDetails(
                source_type="image", image_id=self._image_id(shape)
            ),
            create_vnic_details=CreateVnicDetails(
                subnet_id=self.settings.subnet_id, assign_public_ip=True
            ),
            freeform_tags=dict(spec.labels),
            metadata=metadata,
        )
        launched = self._api(
            f"launching instance {spec.name}", lambda: self.compute.launch_instance(details).data
        )
        return self._instance(launched)

    def list_instances(self) -> list[Instance]:
        found = self._api(
            "listing workers",
            lambda: (
                oci.pagination.list_call_get_all_results(
                    self.compute.list_instances, self.compartment
                ).data
            ),
        )
        return [
            self._instance(i)
            for i in found
            if i.lifecycle_state not in GONE_STATES
            and all((i.freeform_tags or {}).get(k) == v for k, v in WORKER_SELECTOR.items())
        ]

    def _read(self, instance_id: str) -> Any:
        return self._api(
            f"reading instance {instance_id}", lambda: self.compute.get_instance(instance_id).data
        )

    def refresh(self, instance_id: str) -> Instance:
        return self._instance(self._read(instance_id), with_ip=True)

    def failure(self, instance: Instance) -> str | None:
        if instance.status in ("terminating", "terminated"):
            return f"the instance is {instance.status} before it ran"
        return None

    def destroy_instance(self, instance_id: str) -> None:
        """Terminate the instance with its boot volume (retrying API errors) and wait
        until it is TERMINATED; gone already counts as done."""

        def exists() -> bool:
            try:
                return self._read(instance_id).lifecycle_state not in GONE_STATES
            except cloud.NotFound:
                return False

        self.delete_and_wait(
            instance_id,
            lambda: self._api(
                f"terminating instance {instance_id}",
                lambda: self.compute.terminate_instance(instance_id, preserve_boot_volume=False),
            ),
            exists,
        )
