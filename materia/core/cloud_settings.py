"""Settings of the worker clouds beside Hetzner: Scaleway, OVHcloud and Oracle Cloud.

Each vendor's usual variable names; `materia.core.settings.load` builds them (this module
only holds their shape, so `Settings` stays one object read in one place). `missing()`
names the variables a provider still needs, for a one-line error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from materia.core.redact import Secret


@dataclass(frozen=True)
class ScalewaySettings:
    """Scaleway Instances, with the variable names of Scaleway's own SDK and CLI."""

    access_key: Secret | None = None  # SCW_ACCESS_KEY
    secret_key: Secret | None = None  # SCW_SECRET_KEY
    project_id: str | None = None  # SCW_DEFAULT_PROJECT_ID
    zone: str = "fr-par-2"  # SCW_DEFAULT_ZONE
    api_url: str = "https://api.scaleway.com"  # SCW_API_URL
    image: str = "debian_bookworm"  # SCW_IMAGE: an image label or id
    ssh_user: str = "root"
    ssh_port: int = 22

    def missing(self) -> list[str]:
        pairs = [
            ("SCW_ACCESS_KEY", self.access_key),
            ("SCW_SECRET_KEY", self.secret_key),
            ("SCW_DEFAULT_PROJECT_ID", self.project_id),
        ]
        return [name for name, value in pairs if not value]


@dataclass(frozen=True)
class OvhSettings:
    """OVHcloud Public Cloud, with the variable names of python-ovh and OVH's Terraform."""

    endpoint: str = "ovh-eu"  # OVH_ENDPOINT: an API name (ovh-eu, ovh-ca, …) or a base URL
    application_key: Secret | None = None  # OVH_APPLICATION_KEY
    application_secret: Secret | None = None  # OVH_APPLICATION_SECRET
    consumer_key: Secret | None = None  # OVH_CONSUMER_KEY
    project_id: str | None = None  # OVH_CLOUD_PROJECT_SERVICE
    region: str = "GRA11"  # OVH_REGION
    image: str = "Debian 12"  # OVH_IMAGE: image name
    ssh_key_name: str = "materia"  # OVH_SSH_KEY_NAME: a key registered in the project
    ssh_user: str = "debian"
    ssh_port: int = 22

    def missing(self) -> list[str]:
        pairs = [
            ("OVH_APPLICATION_KEY", self.application_key),
            ("OVH_APPLICATION_SECRET", self.application_secret),
            ("OVH_CONSUMER_KEY", self.consumer_key),
            ("OVH_CLOUD_PROJECT_SERVICE", self.project_id),
        ]
        return [name for name, value in pairs if not value]


@dataclass(frozen=True)
class OracleSettings:
    """Oracle Cloud: the SDK's config file (OCI_CONFIG_FILE) or OCI_* variables (the names
    of OCI's Terraform provider), plus where workers go (compartment, subnet)."""

    config_file: Path | None = None  # OCI_CONFIG_FILE
    profile: str = "DEFAULT"  # OCI_CONFIG_PROFILE
    tenancy: str | None = None  # OCI_TENANCY_OCID
    user: str | None = None  # OCI_USER_OCID
    fingerprint: str | None = None  # OCI_FINGERPRINT
    private_key: Secret | None = None  # OCI_PRIVATE_KEY (PEM text)
    private_key_file: Path | None = None  # OCI_PRIVATE_KEY_PATH
    private_key_password: Secret | None = None  # OCI_PRIVATE_KEY_PASSWORD
    region: str | None = None  # OCI_REGION
    compartment_id: str | None = None  # OCI_COMPARTMENT_OCID (default: the tenancy)
    subnet_id: str | None = None  # OCI_SUBNET_OCID: a public subnet
    availability_domain: str | None = None  # OCI_AVAILABILITY_DOMAIN (default: the first)
    image_id: str | None = None  # OCI_IMAGE_OCID (default: newest Canonical Ubuntu 24.04)
    api_url: str | None = None  # OCI_API_URL: one endpoint for every OCI service (tests)
    ssh_user: str = "ubuntu"
    ssh_port: int = 22

    def missing(self) -> list[str]:
        if self.config_file is not None:
            found = []
        else:
            pairs = [
                ("OCI_TENANCY_OCID", self.tenancy),
                ("OCI_USER_OCID", self.user),
                ("OCI_FINGERPRINT", self.fingerprint),
                ("OCI_PRIVATE_KEY", self.private_key or self.private_key_file),
                ("OCI_REGION", self.region),
            ]
            found = [name for name, value in pairs if not value]
        return found + ([] if self.subnet_id else ["OCI_SUBNET_OCID"])


def load_clouds(
    get: Callable[..., str | None],
    secret: Callable[[str], Secret | None],
    path: Callable[[str], Path | None],
) -> dict[str, object]:
    """`scaleway`, `ovh` and `oracle` settings from the variables `get` reads."""
    # How the client reaches a worker of the other clouds (stand-ins need a port and user).
    ssh_port, ssh_user = get("MATERIA_WORKER_SSH_PORT"), get("MATERIA_WORKER_SSH_USER")
    ssh = {"ssh_port": int(ssh_port)} if ssh_port else {}
    ssh |= {"ssh_user": ssh_user} if ssh_user else {}
    scaleway = ScalewaySettings(
        access_key=secret("SCW_ACCESS_KEY"),
        secret_key=secret("SCW_SECRET_KEY"),
        project_id=get("SCW_DEFAULT_PROJECT_ID"),
        zone=get("SCW_DEFAULT_ZONE", "fr-par-2") or "fr-par-2",
        api_url=(get("SCW_API_URL", "https://api.scaleway.com") or "").rstrip("/"),
        image=get("SCW_IMAGE", "debian_bookworm") or "debian_bookworm",
        **ssh,
    )
    ovh = OvhSettings(
        endpoint=get("OVH_ENDPOINT", "ovh-eu") or "ovh-eu",
        application_key=secret("OVH_APPLICATION_KEY"),
        application_secret=secret("OVH_APPLICATION_SECRET"),
        consumer_key=secret("OVH_CONSUMER_KEY"),
        project_id=get("OVH_CLOUD_PROJECT_SERVICE"),
        region=get("OVH_REGION", "GRA11") or "GRA11",
        image=get("OVH_IMAGE", "Debian 12") or "Debian 12",
        ssh_key_name=get("OVH_SSH_KEY_NAME", "materia") or "materia",
        **ssh,
    )
    oracle = OracleSettings(
        config_file=path("OCI_CONFIG_FILE"),
        profile=get("OCI_CONFIG_PROFILE", "DEFAULT") or "DEFAULT",
        tenancy=get("OCI_TENANCY_OCID"),
        user=get("OCI_USER_OCID"),
        fingerprint=get("OCI_FINGERPRINT"),
        private_key=secret("OCI_PRIVATE_KEY"),
        private_key_file=path("OCI_PRIVATE_KEY_PATH"),
        private_key_password=secret("OCI_PRIVATE_KEY_PASSWORD"),
        region=get("OCI_REGION"),
        compartment_id=get("OCI_COMPARTMENT_OCID"),
        subnet_id=get("OCI_SUBNET_OCID"),
        availability_domain=get("OCI_AVAILABILITY_DOMAIN"),
        image_id=get("OCI_IMAGE_OCID"),
        api_url=get("OCI_API_URL"),
        **ssh,
    )
    return {"scaleway": scaleway, "ovh": ovh, "oracle": oracle}
