"""A loopback stand-in for the OVHcloud API (`/1.0/cloud/project/<id>/…`) that materia uses.

Signed like the real API: every call but `GET /auth/time` must carry X-Ovh-Application,
X-Ovh-Consumer, X-Ovh-Timestamp (within 60 s of the stand-in's clock, which may run
`clock_skew` seconds apart, so python-ovh's /auth/time delta matters) and
X-Ovh-Signature = "$1$" + sha1(secret+consumer+METHOD+full URL+body+timestamp).
State: flavors (one can be made unavailable), images, SSH keys, instances (BUILD →
ACTIVE after `boot_seconds`, then the boot hook; DELETING → gone after
`delete_seconds`). Faults: `capacity_errors` make the next created instances end in
ERROR ("no valid host"), `quota_errors` refuse creation with a quota message.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

from testsupport.clouds.api import Fault, Request, Response, StandinApi, now_iso

FLAVORS = {"b3-8": (2, 8000), "b3-16": (4, 16000), "d2-2": (1, 2000)}
NULL = b"null"  # python-ovh decodes every 200 body as JSON


class FakeOvh(StandinApi):
    def __init__(
        self,
        application_key: str,
        application_secret: str,
        consumer_key: str,
        project_id: str,
        region: str = "GRA11",
        clock_skew: int = 0,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.application_key, self.application_secret = application_key, application_secret
        self.consumer_key, self.project_id, self.region = consumer_key, project_id, region
        self.clock_skew = clock_skew
        self.unavailable_flavors: set[str] = set()
        self.flavors = {
            str(uuid.uuid4()): {"name": n, "vcpus": c, "ram": r} for n, (c, r) in FLAVORS.items()
        }
        self.images = {
            str(uuid.uuid4()): {"name": "Debian 12", "created": "2025-06-01T00:00:00Z"},
            str(uuid.uuid4()): {"name": "Debian 12", "created": "2026-10-01T00:00:00Z"},
            str(uuid.uuid4()): {"name": "Ubuntu 24.04", "created": "2026-10-01T00:00:00Z"},
        }
        self.ssh_keys: dict[str, dict[str, Any]] = {}

    @property
    def endpoint(self) -> str:
        return f"{self.root}/1.0"

    def add_ssh_key(self, name: str, public_key: str) -> None:
        with self._lock:
            kid = uuid.uuid4().hex
            self.ssh_keys[kid] = {
                "id": kid,
                "name": name,
                "publicKey": public_key.strip(),
                "regions": [self.region],
            }

    # --- protocol ------------------------------------------------------------------------
    def now(self) -> int:
        return int(time.time()) + self.clock_skew

    def authenticate(self, req: Request) -> None:
        if req.path == "/1.0/auth/time":
            return
        h = req.headers
        if h.get("x-ovh-application") != self.application_key:
            raise Fault(403, "INVALID_KEY", "This application key is invalid")
        if h.get("x-ovh-consumer") != self.consumer_key:
            raise Fault(403, "INVALID_CREDENTIAL", "This credential does not exist")
        stamp = h.get("x-ovh-timestamp", "")
        if not stamp.isdigit() or abs(int(stamp) - self.now()) > 60:
            raise Fault(400, "QUERY_TIME_OUT", "Query out of time")
        url = f"http://{h.get('host', '')}{req.raw_path}"
        text = "+".join(
            [self.application_secret, self.consumer_key, req.method, url, req.body.decode(), stamp]
        )
        if h.get("x-ovh-signature") != "$1$" + hashlib.sha1(text.encode()).hexdigest():
            raise Fault(400, "INVALID_SIGNATURE", "Invalid signature")

    def error_body(self, fault: Fault) -> Any:
        body = {"message": fault.message}
        if fault.kind.isupper():
            body["errorCode"] = fault.kind
        return body

    def route(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p]
        if parts == ["1.0", "auth", "time"]:
            return 200, self.now(), {}
        if parts[:4] != ["1.0", "cloud", "project", self.project_id]:
            raise Fault(404, "", f"The requested object ({req.path}) does not exist")
        q, rest = req.query, parts[4:]
        match req.method, rest:
            case "GET", ["flavor"]:
                return 200, [self._flavor(fid) for fid in self.flavors], {}
            case "GET", ["image"]:
                return 200, [self._image(iid) for iid in self.images], {}
            case "GET", ["sshkey"]:
                return 200, list(self.ssh_keys.values()), {}
            case "GET", ["instance"]:
                region = q.get("region")
                found = [s for s in self.servers.values() if region in (None, s["region"])]
                return 200, found, {}
            case "POST", ["instance"]:
                return 200, self._create(req.json()), {}
            case "GET", ["instance", iid]:
                server = self._server(iid)
                return 200, {**server, "flavor": self._flavor(server["flavorId"])}, {}
            case "DELETE", ["instance", iid]:
                self._delete(iid)
                return 200, NULL, {}
        raise Fault(404, "", f"{req.method} {req.path} is not implemented by the stand-in")

    # --- resources -----------------------------------------------------------------------
    def _flavor(self, fid: str) -> dict[str, Any]:
        f = self.flavors[fid]
        return {
            "id": fid,
            "name": f["name"],
            "region": self.region,
            "vcpus": f["vcpus"],
            "ram": f["ram"],
            "disk": 50,
            "type": "ovh.ssd.eg",
            "osType": "linux",
            "available": f["name"] not in self.unavailable_flavors,
            "planCodes": {"hourly": f"{f['name']}.consumption", "monthly": f"{f['name']}.monthly"},
        }

    def _image(self, iid: str) -> dict[str, Any]:
        i = self.images[iid]
        return {
            "id": iid,
            "name": i["name"],
            "region": self.region,
            "type": "linux",
            "status": "active",
            "visibility": "public",
            "creationDate": i["created"],
            "minDisk": 0,
            "user": "debian",
        }

    def _server(self, iid: str) -> dict[str, Any]:
        if iid not in self.servers:
            raise Fault(404, "", f"The requested object (instanceId = {iid}) does not exist")
        return self.servers[iid]

    def _create(self, d: dict[str, Any]) -> dict[str, Any]:
        name = d.get("name") or ""
        if not name or len(name) > 255:
            raise Fault(400, "", "Invalid name: 1 to 255 characters")
        if d.get("region") != self.region:
            raise Fault(400, "", f"Invalid region {d.get('region')!r}")
        if d.get("flavorId") not in self.flavors or d.get("imageId") not in self.images:
            raise Fault(400, "", "Invalid flavorId or imageId")
        if d.get("sshKeyId") not in self.ssh_keys:
            raise Fault(400, "", f"Invalid sshKeyId {d.get('sshKeyId')!r}")
        if self.take("quota_errors"):
            raise Fault(400, "", f"Quota exceeded for instances in {self.region} (maximum: 1)")
        iid = str(uuid.uuid4())
        flavor = self.flavors[d["flavorId"]]["name"]
        server = {
            "id": iid,
            "name": name,
            "ipAddresses": [],
            "flavorId": d["flavorId"],
            "imageId": d["imageId"],
            "sshKeyId": d["sshKeyId"],
            "created": now_iso(),
            "region": self.region,
            "monthlyBilling": None,
            "status": "BUILD",
            "planCode": f"{flavor}.consumption",
            "operationIds": [],
        }
        self.servers[iid] = server
        self.user_data[iid] = d.get("userData")
        no_host = self.take("capacity_errors")

        def built() -> None:
            if self.servers.get(iid) is not server or server["status"] != "BUILD":
                return
            if no_host:
                server["status"] = "ERROR"  # OpenStack: "No valid host was found"
                return
            server["status"] = "ACTIVE"
            server["ipAddresses"] = [
                {"ip": self.server_ip, "type": "public", "version": 4, "networkId": "ext-net"}
            ]
            self.boot_server(iid)

        self.later(self.boot_seconds, built)
        return server

    def _delete(self, iid: str) -> None:
        server = self._server(iid)
        if self.take("delete_failures"):
            raise Fault(500, "", "Internal server error")
        if server["status"] == "DELETING":
            return
        server["status"] = "DELETING"

        def gone() -> None:
            self.halt_server(iid)
            self.servers.pop(iid, None)

        self.later(self.delete_seconds, gone)
