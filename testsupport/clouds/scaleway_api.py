"""A loopback stand-in for the parts of the Scaleway API that materia uses.

Instance API (`/instance/v1/zones/<zone>/…`): servers created stopped, tags, user data
(`PATCH …/user_data/cloud-init`, text/plain), `poweron` (starting → running after
`boot_seconds`, then the boot hook), `terminate` (stopping → gone after
`delete_seconds`; block volumes are detached, not deleted, as on Scaleway), `DELETE` of a
stopped server, tag filters and pages. Block API (`/block/v1/…/volumes`) and IAM SSH
keys (`/iam/v1alpha1/ssh-keys`). Authentication is the `X-Auth-Token` secret key.
Faults (see `testsupport.clouds.api`): `capacity_errors` answer `poweron` with
`out_of_stock`, `quota_errors` answer creation with `quotas_exceeded`.
"""

from __future__ import annotations

import uuid
from typing import Any

from testsupport.clouds.api import Fault, Request, Response, StandinApi, now_iso

COMMERCIAL_TYPES = {"POP2-2C-8G", "POP2-4C-16G", "DEV1-S", "PRO2-XXS"}
IMAGES = {"debian_bookworm": "Debian Bookworm"}


def _page(items: list[dict[str, Any]], q: dict[str, str], key: str) -> Response:
    per_page, page = int(q.get("per_page", 50)), int(q.get("page", 1))
    chunk = items[(page - 1) * per_page : page * per_page]
    return 200, {key: chunk}, {"X-Total-Count": str(len(items))}


class FakeScaleway(StandinApi):
    def __init__(self, secret_key: str, project_id: str, zone: str = "fr-par-2", **kw: Any):
        super().__init__(**kw)
        self.secret_key, self.project_id, self.zone = secret_key, project_id, zone
        self.volumes: dict[str, dict[str, Any]] = {}
        self.ssh_keys: list[dict[str, Any]] = []

    @property
    def api_url(self) -> str:
        return self.root

    def add_ssh_key(self, name: str, public_key: str) -> None:
        with self._lock:
            self.ssh_keys.append(
                {
                    "id": str(uuid.uuid4()),
                    "name": name,
                    "public_key": public_key.strip(),
                    "fingerprint": "256 MD5:00 (ssh-ed25519)",
                    "project_id": self.project_id,
                    "organization_id": self.project_id,
                    "disabled": False,
                    "created_at": now_iso(),
                    "updated_at": now_iso(),
                }
            )

    def volumes_left(self) -> list[dict[str, Any]]:
        with self._lock:
            self.advance()
            return [dict(v) for v in self.volumes.values()]

    # --- protocol ------------------------------------------------------------------------
    def authenticate(self, req: Request) -> None:
        if req.headers.get("x-auth-token") != self.secret_key:
            raise Fault(401, "denied_authentication", "invalid api key")

    def error_body(self, fault: Fault) -> Any:
        return {"type": fault.kind, "message": fault.message}

    def route(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p]
        m, q = req.method, req.query
        if parts[:1] == ["iam"]:
            keys = [k for k in self.ssh_keys if q.get("project_id") in (None, k["project_id"])]
            return _page(keys, q, "ssh_keys")
        if len(parts) < 4 or parts[2] != "zones" or parts[3] != self.zone:
            raise Fault(404, "not_found", f"{req.path}: no such zone or API here")
        api, rest = parts[0], parts[4:]
        match api, m, rest:
            case "instance", "GET", ["servers"]:
                return _page(self._list(q), q, "servers")
            case "instance", "POST", ["servers"]:
                return 201, {"server": self._create(req.json())}, {}
            case "instance", "GET", ["servers", sid]:
                return 200, {"server": self._server(sid)}, {}
            case "instance", "DELETE", ["servers", sid]:
                self._delete(sid)
                return 204, None, {}
            case "instance", "PATCH", ["servers", sid, "user_data", key]:
                self._server(sid)
                if key == "cloud-init":
                    self.user_data[sid] = req.body.decode()
                return 204, None, {}
            case "instance", "POST", ["servers", sid, "action"]:
                return 202, {"task": self._action(sid, req.json().get("action"))}, {}
            case "block", "GET", ["volumes"]:
                return _page(list(self.volumes.values()), q, "volumes")
            case "block", "GET", ["volumes", vid]:
                return 200, self._volume(vid), {}
            case "block", "DELETE", ["volumes", vid]:
                volume = self._volume(vid)
                if volume["status"] != "available":
                    raise Fault(412, "precondition_failed", f"volume {vid} is {volume['status']}")
                del self.volumes[vid]
                return 204, None, {}
        raise Fault(404, "not_found", f"{m} {req.path} is not implemented by the stand-in")

    # --- resources -----------------------------------------------------------------------
    def _server(self, sid: str) -> dict[str, Any]:
        if sid not in self.servers:
            raise Fault(404, "unknown_resource", '"instance_server" not found')
        return self.servers[sid]

    def _volume(self, vid: str) -> dict[str, Any]:
        if vid not in self.volumes:
            raise Fault(404, "not_found", f"volume {vid} not found")
        return self.volumes[vid]

    def _list(self, q: dict[str, str]) -> list[dict[str, Any]]:
        wanted = [t for t in q.get("tags", "").split(",") if t]
        return [
            s
            for s in sorted(self.servers.values(), key=lambda s: s["creation_date"])
            if set(wanted) <= set(s["tags"]) and q.get("project") in (None, s["project"])
        ]

    def _create(self, d: dict[str, Any]) -> dict[str, Any]:
        if d.get("commercial_type") not in COMMERCIAL_TYPES:
            raise Fault(
                400, "invalid_arguments", f"unknown commercial_type {d.get('commercial_type')!r}"
            )
        if d.get("image") not in IMAGES:
            raise Fault(400, "invalid_arguments", f"unknown image {d.get('image')!r}")
        if d.get("project") != self.project_id:
            raise Fault(403, "permissions_denied", "not allowed in this project")
        tags = d.get("tags") or []
        if not all(isinstance(t, str) for t in tags):
            raise Fault(400, "invalid_arguments", "tags must be strings")
        if self.take("quota_errors"):
            raise Fault(
                403,
                "quotas_exceeded",
                "Quotas exceeded: instances_pop2 has reached its quota (1/1)",
            )
        sid, vid = str(uuid.uuid4()), str(uuid.uuid4())
        self.volumes[vid] = {
            "id": vid,
            "name": f"{d.get('name')}-root",
            "type": "sbs_5k",
            "size": 10_000_000_000,
            "status": "in_use",
            "zone": self.zone,
            "project_id": self.project_id,
            "created_at": now_iso(),
            "references": [
                {"product_resource_type": "instance_server", "product_resource_id": sid}
            ],
            "tags": [],
        }
        ip = {
            "id": str(uuid.uuid4()),
            "address": self.server_ip,
            "family": "inet",
            "dynamic": True,
            "provisioning_mode": "dhcp",
            "state": "attached",
            "tags": [],
        }
        server = {
            "id": sid,
            "name": d.get("name") or "",
            "organization": self.project_id,
            "project": self.project_id,
            "commercial_type": d["commercial_type"],
            "hostname": d.get("name") or "",
            "image": {"id": str(uuid.uuid4()), "name": IMAGES[d["image"]], "arch": "x86_64"},
            "tags": list(tags),
            "state": "stopped",
            "state_detail": "",
            "dynamic_ip_required": bool(d.get("dynamic_ip_required", True)),
            "routed_ip_enabled": bool(d.get("routed_ip_enabled", True)),
            "public_ip": ip,
            "public_ips": [ip],
            "volumes": {
                "0": {
                    "id": vid,
                    "name": f"{d.get('name')}-root",
                    "volume_type": "sbs_volume",
                    "state": "in_use",
                    "zone": self.zone,
                    "boot": False,
                }
            },
            "creation_date": now_iso(),
            "modification_date": now_iso(),
            "allowed_actions": ["poweron", "backup"],
            "arch": "x86_64",
            "zone": self.zone,
            "protected": False,
        }
        self.servers[sid] = server
        return server

    def _task(self, sid: str, description: str) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "description": description,
            "status": "pending",
            "progress": 0,
            "href_from": f"/servers/{sid}/action",
            "started_at": now_iso(),
            "zone": self.zone,
        }

    def _action(self, sid: str, action: str | None) -> dict[str, Any]:
        server = self._server(sid)
        state = server["state"]
        if action == "poweron":
            if state != "stopped":
                raise Fault(400, "invalid_request_error", f"server is {state}, not stopped")
            if self.take("capacity_errors"):
                raise Fault(
                    412,
                    "out_of_stock",
                    f"{server['commercial_type']} is out of stock in {self.zone}",
                )
            server.update(state="starting", allowed_actions=["terminate"])

            def running() -> None:
                if sid in self.servers and self.servers[sid]["state"] == "starting":
                    server.update(
                        state="running", allowed_actions=["poweroff", "terminate", "reboot"]
                    )
                    self.boot_server(sid)

            self.later(self.boot_seconds, running)
            return self._task(sid, "server_batch_poweron")
        if action == "terminate":
            if self.take("delete_failures"):
                raise Fault(500, "internal_error", "injected fault: terminate failed")
            if state not in ("running", "starting"):
                raise Fault(
                    409,
                    "transient_state" if state == "stopping" else "invalid_request_error",
                    f"server is {state}",
                )
            server.update(state="stopping", allowed_actions=[])
            self.later(self.delete_seconds, lambda: self._remove(sid))
            return self._task(sid, "server_terminate")
        raise Fault(400, "invalid_arguments", f"action {action!r} is not supported by the stand-in")

    def _delete(self, sid: str) -> None:
        server = self._server(sid)
        if self.take("delete_failures"):
            raise Fault(500, "internal_error", "injected fault: delete failed")
        if server["state"] != "stopped":
            raise Fault(400, "invalid_request_error", "instance must be stopped to be deleted")
        self._remove(sid)

    def _remove(self, sid: str) -> None:
        """The server is gone: its sshd stops, its block volumes stay, detached."""
        if sid not in self.servers:
            return
        self.halt_server(sid)
        server = self.servers.pop(sid)
        for v in server["volumes"].values():
            if v["id"] in self.volumes:
                self.volumes[v["id"]].update(status="available", references=[])
