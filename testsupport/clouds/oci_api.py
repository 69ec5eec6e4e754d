"""A loopback stand-in for the Oracle Cloud (OCI) APIs that materia uses, on one URL.

Every request must carry OCI's HTTP signature (draft-cavage, rsa-sha256 over date,
(request-target), host, and for bodies content-length, content-type, x-content-sha256),
checked against the API keys registered with `add_api_key`; a date more than five
minutes off is refused. Compute (`/20160918/instances`: PROVISIONING → RUNNING after
`boot_seconds`, then the boot hook with the base64 `user_data`; TERMINATING →
TERMINATED after `delete_seconds`, still listed afterwards as on OCI; pages through
`opc-next-page`), VNIC attachments and VNICs (the public IP), images, availability
domains. Faults: `capacity_errors` answer a launch with 500 "Out of host capacity.",
`quota_errors` with 400 LimitExceeded.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
import uuid
from email.utils import parsedate_to_datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from testsupport.clouds.api import Fault, Request, Response, StandinApi, now_iso

BASE = "/20160918"
SHAPES = {"VM.Standard.A1.Flex": "aarch64", "VM.Standard.E4.Flex": "x86_64"}
_AUTH = re.compile(r'(\w+)="([^"]*)"')


def ocid(kind: str) -> str:
    return f"ocid1.{kind}.oc1.eu-frankfurt-1.{uuid.uuid4().hex}"


class FakeOci(StandinApi):
    def __init__(self, tenancy: str | None = None, page_size: int = 2, **kw: Any) -> None:
        super().__init__(**kw)
        self.tenancy = tenancy or f"ocid1.tenancy.oc1..{uuid.uuid4().hex}"
        self.page_size = page_size  # small, so listing really pages
        self.keys: dict[str, Any] = {}  # keyId -> public key
        self.subnets = {ocid("subnet")}
        self.ads = ["Uocm:EU-FRANKFURT-1-AD-1", "Uocm:EU-FRANKFURT-1-AD-2"]
        self.images = [
            self._image("Canonical Ubuntu", "24.04", "aarch64", "2026-09-01T00:00:00.000Z"),
            self._image("Canonical Ubuntu", "24.04", "aarch64", "2026-10-15T00:00:00.000Z"),
            self._image("Canonical Ubuntu", "24.04", "x86_64", "2026-10-20T00:00:00.000Z"),
            self._image("Oracle Linux", "9", "aarch64", "2026-10-20T00:00:00.000Z"),
        ]
        self.vnics: dict[str, dict[str, Any]] = {}
        self.attachments: dict[str, dict[str, Any]] = {}

    @property
    def subnet(self) -> str:
        return next(iter(self.subnets))

    def add_api_key(self, user: str) -> tuple[str, str]:
        """A new API key for `user`: (private key PEM, fingerprint), registered here."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        digest = hashlib.md5(der).hexdigest()
        fingerprint = ":".join(digest[i : i + 2] for i in range(0, 32, 2))
        self.keys[f"{self.tenancy}/{user}/{fingerprint}"] = key.public_key()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return pem, fingerprint

    @staticmethod
    def _image(os_name: str, version: str, arch: str, created: str) -> dict[str, Any]:
        return {
            "id": ocid("image"),
            "displayName": f"{os_name.replace(' ', '-')}-{version}-{arch}",
            "operatingSystem": os_name,
            "operatingSystemVersion": version,
            "lifecycleState": "AVAILABLE",
            "timeCreated": created,
            "createImageAllowed": True,
            "_arch": arch,
        }

    # --- protocol ------------------------------------------------------------------------
    def authenticate(self, req: Request) -> None:
        h = req.headers
        fields = dict(_AUTH.findall(h.get("authorization", "")))
        key = self.keys.get(fields.get("keyId", ""))
        if key is None or fields.get("algorithm") != "rsa-sha256":
            raise Fault(
                401,
                "NotAuthenticated",
                "The required information to complete authentication was not provided or was incorrect.",
            )
        try:
            skew = abs(time.time() - parsedate_to_datetime(h["date"]).timestamp())
        except (KeyError, TypeError, ValueError):
            skew = float("inf")
        if skew > 300:
            raise Fault(
                401, "NotAuthenticated", "Date header is missing or outside the allowed skew"
            )
        signed = fields.get("headers", "").split()
        needed = ["date", "(request-target)", "host"]
        if req.method in ("POST", "PUT", "PATCH"):
            needed += ["content-length", "content-type", "x-content-sha256"]
            digest = base64.b64encode(hashlib.sha256(req.body).digest()).decode()
            if h.get("x-content-sha256") != digest:
                raise Fault(401, "NotAuthenticated", "x-content-sha256 does not match the body")
        if not set(needed) <= set(signed):
            raise Fault(401, "NotAuthenticated", f"signature must cover {' '.join(needed)}")
        lines = [
            f"(request-target): {req.method.lower()} {req.raw_path}"
            if name == "(request-target)"
            else f"{name}: {h.get(name, '')}"
            for name in signed
        ]
        try:
            key.verify(
                base64.b64decode(fields.get("signature", "")),
                "\n".join(lines).encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            raise Fault(401, "NotAuthenticated", "The signature does not verify") from None

    def error_body(self, fault: Fault) -> Any:
        return {"code": fault.kind, "message": fault.message}

    def route(self, req: Request) -> Response:
        if not req.path.startswith(BASE + "/"):
            raise Fault(404, "NotFound", f"{req.path} is not an API path")
        parts = req.path[len(BASE) + 1 :].split("/")
        q = req.query
        match req.method, parts:
            case "GET", ["availabilityDomains"]:
                ads = [
                    {
                        "name": n,
                        "id": ocid("availabilitydomain"),
                        "compartmentId": q["compartmentId"],
                    }
                    for n in self.ads
                ]
                return 200, ads, {}
            case "GET", ["images"]:
                return 200, self._list_images(q), {}
            case "GET", ["instances"]:
                return self._page(
                    [s for s in self.servers.values() if s["compartmentId"] == q["compartmentId"]],
                    q,
                )
            case "POST", ["instances"]:
                return 200, self._launch(req.json()), {"etag": uuid.uuid4().hex}
            case "GET", ["instances", iid]:
                return 200, self._server(iid), {"etag": uuid.uuid4().hex}
            case "DELETE", ["instances", iid]:
                self._terminate(iid)
                return 204, None, {}
            case "GET", ["vnicAttachments"]:
                found = [
                    a
                    for a in self.attachments.values()
                    if q.get("instanceId") in (None, a["instanceId"])
                ]
                return 200, found, {}
            case "GET", ["vnics", vid]:
                if vid not in self.vnics:
                    raise Fault(
                        404,
                        "NotAuthorizedOrNotFound",
                        "Authorization failed or requested resource not found.",
                    )
                return 200, self.vnics[vid], {}
        raise Fault(404, "NotFound", f"{req.method} {req.path} is not implemented by the stand-in")

    def is_billed(self, server: dict[str, Any]) -> bool:
        return server["lifecycleState"] != "TERMINATED"

    # --- resources -----------------------------------------------------------------------
    def _page(self, items: list[dict[str, Any]], q: dict[str, str]) -> Response:
        start = int(q.get("page") or 0)
        limit = min(int(q.get("limit") or self.page_size), self.page_size)
        headers = {"opc-next-page": str(start + limit)} if start + limit < len(items) else {}
        return 200, items[start : start + limit], headers

    def _list_images(self, q: dict[str, str]) -> list[dict[str, Any]]:
        arch = SHAPES.get(q.get("shape", ""))
        found = [
            i
            for i in self.images
            if q.get("operatingSystem") in (None, i["operatingSystem"])
            and q.get("operatingSystemVersion") in (None, i["operatingSystemVersion"])
            and (arch is None or i["_arch"] == arch)
        ]
        found.sort(key=lambda i: i["timeCreated"], reverse=q.get("sortOrder") != "ASC")
        return [{k: v for k, v in i.items() if not k.startswith("_")} for i in found]

    def _server(self, iid: str) -> dict[str, Any]:
        if iid not in self.servers:
            raise Fault(
                404,
                "NotAuthorizedOrNotFound",
                "Authorization failed or requested resource not found.",
            )
        return self.servers[iid]

    def _launch(self, d: dict[str, Any]) -> dict[str, Any]:
        if d.get("compartmentId") != self.tenancy:
            raise Fault(404, "NotAuthorizedOrNotFound", "compartment not found")
        if d.get("availabilityDomain") not in self.ads:
            raise Fault(
                400,
                "InvalidParameter",
                f"invalid availabilityDomain {d.get('availabilityDomain')!r}",
            )
        shape = d.get("shape")
        cfg = d.get("shapeConfig") or {}
        if shape not in SHAPES or not cfg.get("ocpus") or not cfg.get("memoryInGBs"):
            raise Fault(
                400, "InvalidParameter", "a known flexible shape with shapeConfig is required"
            )
        image = next(
            (i for i in self.images if i["id"] == (d.get("sourceDetails") or {}).get("imageId")),
            None,
        )
        if image is None or image["_arch"] != SHAPES[shape]:
            raise Fault(400, "InvalidParameter", f"image is not compatible with {shape}")
        if (d.get("createVnicDetails") or {}).get("subnetId") not in self.subnets:
            raise Fault(400, "InvalidParameter", "subnetId not found")
        metadata = d.get("metadata") or {}
        if not metadata.get("ssh_authorized_keys"):
            raise Fault(400, "InvalidParameter", "metadata.ssh_authorized_keys is required")
        tags = d.get("freeformTags") or {}
        if not all(isinstance(v, str) for v in tags.values()):
            raise Fault(400, "InvalidParameter", "freeformTags values must be strings")
        if self.take("quota_errors"):
            raise Fault(
                400,
                "LimitExceeded",
                "The following service limits were exceeded: standard-a1-core-count. Request a service limit increase from the service limits page in the console.",
            )
        if self.take("capacity_errors"):
            raise Fault(500, "InternalError", "Out of host capacity.")
        iid = ocid("instance")
        server = {
            "id": iid,
            "displayName": d.get("displayName") or "",
            "compartmentId": d["compartmentId"],
            "availabilityDomain": d["availabilityDomain"],
            "region": "eu-frankfurt-1",
            "shape": shape,
            "shapeConfig": {
                "ocpus": float(cfg["ocpus"]),
                "memoryInGBs": float(cfg["memoryInGBs"]),
                "vcpus": int(cfg["ocpus"]),
            },
            "sourceDetails": d["sourceDetails"],
            "imageId": image["id"],
            "freeformTags": dict(tags),
            "definedTags": {},
            "metadata": dict(metadata),
            "lifecycleState": "PROVISIONING",
            "timeCreated": now_iso(),
        }
        self.servers[iid] = server
        data = metadata.get("user_data")
        self.user_data[iid] = base64.b64decode(data).decode() if data else None
        subnet = d["createVnicDetails"]["subnetId"]

        def running() -> None:
            if server["lifecycleState"] != "PROVISIONING":
                return
            vid = ocid("vnic")
            self.vnics[vid] = {
                "id": vid,
                "publicIp": self.server_ip,
                "privateIp": "10.0.0.2",
                "lifecycleState": "AVAILABLE",
                "isPrimary": True,
                "subnetId": subnet,
                "compartmentId": self.tenancy,
            }
            aid = ocid("vnicattachment")
            self.attachments[aid] = {
                "id": aid,
                "instanceId": iid,
                "vnicId": vid,
                "subnetId": subnet,
                "lifecycleState": "ATTACHED",
                "availabilityDomain": server["availabilityDomain"],
                "compartmentId": self.tenancy,
                "timeCreated": now_iso(),
            }
            server["lifecycleState"] = "RUNNING"
            self.boot_server(iid)

        self.later(self.boot_seconds, running)
        return server

    def _terminate(self, iid: str) -> None:
        server = self._server(iid)
        if self.take("delete_failures"):
            raise Fault(500, "InternalError", "Internal error occurred")
        if server["lifecycleState"] in ("TERMINATING", "TERMINATED"):
            return
        server["lifecycleState"] = "TERMINATING"

        def terminated() -> None:
            self.halt_server(iid)
            server["lifecycleState"] = "TERMINATED"
            for a in self.attachments.values():
                if a["instanceId"] == iid:
                    a["lifecycleState"] = "DETACHED"

        self.later(self.delete_seconds, terminated)
