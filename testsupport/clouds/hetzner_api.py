"""A loopback stand-in for the part of the Hetzner Cloud API that materia uses.

A real HTTP server on 127.0.0.1 that keeps state like the real API: servers
(create/get/list/delete, label selectors, pagination), actions whose status progresses
from `running` to `success`, and SSH keys. `hcloud` talks to it unchanged through
`Client(token=…, api_endpoint=fake.endpoint)`.

A created server "boots" when its create action finishes: the `boot` hook is called with
the server and its cloud-init user data (tests start a real sshd there), `halt` when it
is deleted. Faults: `delete_failures` (the next N deletes answer 500),
`action_seconds` (how long every action stays `running`), and those of
`testsupport.clouds.api` (`capacity_errors`: placement_error, `quota_errors`:
resource_limit_exceeded, `server_errors`).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
from collections.abc import Callable
from typing import Any

from testsupport.clouds.api import Fault, Hook, Request, Response, StandinApi, now_iso

LOCATIONS = {
    name: {"id": i, "name": name, "city": city, "country": cc, "network_zone": "eu-central"}
    for i, (name, city, cc) in enumerate(
        [("fsn1", "Falkenstein", "DE"), ("nbg1", "Nuremberg", "DE"), ("hel1", "Helsinki", "FI")],
        start=1,
    )
}
# The catalog as `hcloud server-type list` showed it after Hetzner retired CPX Gen 1 and
# CX Gen 2 at the end of 2025 (hetznercloud/cli#1211, packer-plugin-hcloud#317): retired
# types are gone from the listing and cannot be ordered.
SERVER_TYPES = {
    name: {
        "id": i,
        "name": name,
        "description": name.upper(),
        "cores": cores,
        "memory": mem,
        "disk": disk,
        "cpu_type": "dedicated" if name.startswith("ccx") else "shared",
        "architecture": "x86",
        "storage_type": "local",
        "prices": [],
        "deprecation": None,
        "locations": [
            {**loc, "deprecation": None, "available": True, "recommended": True}
            for loc in LOCATIONS.values()
        ],
    }
    for i, (name, cores, mem, disk) in enumerate(
        [
            ("cx23", 2, 4, 40),
            ("cx33", 4, 8, 80),
            ("cpx22", 2, 4, 80),
            ("ccx13", 2, 8, 80),
            ("ccx23", 4, 16, 160),
            ("ccx33", 8, 32, 240),
        ],
        start=100,
    )
}
RETIRED_TYPES = ("cx22", "cpx11", "cpx21", "ccx12", "ccx22")
IMAGES = {
    "debian-12": {"id": 114690387, "name": "debian-12", "type": "system", "os_flavor": "debian"}
}

ApiError = Fault  # (status, code, message), the Hetzner way


# --- label selectors (the subset of the API's syntax: =, ==, !=, exists, !, in, notin) ---
_TERM = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9_./-]+)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[A-Za-z0-9_./-]*)"
    r"|\s+(?P<set>in|notin)\s*\((?P<values>[^)]*)\))?\s*$"
)


def _split_terms(selector: str) -> list[str]:
    terms, depth, cur = [], 0, ""
    for ch in selector:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    terms.append(cur)
    return [t for t in terms if t.strip()]


def label_matches(labels: dict[str, str], selector: str) -> bool:
    """True when `labels` satisfy every term of the label `selector`."""
    for term in _split_terms(selector):
        m = _TERM.match(term)
        if not m:
            raise ApiError(400, "invalid_input", f"invalid label_selector term {term!r}")
        key, op, value = m["key"], m["op"], m["value"]
        if m["neg"]:
            ok = key not in labels
        elif op in ("=", "=="):
            ok = labels.get(key) == value
        elif op == "!=":
            ok = labels.get(key) != value
        elif m["set"]:
            values = {v.strip() for v in m["values"].split(",")}
            ok = (labels.get(key) in values) == (m["set"] == "in")
        else:
            ok = key in labels
        if not ok:
            return False
    return True


class FakeHetzner(StandinApi):
    """The API state plus an HTTP server on a free loopback port (use as a context manager)."""

    MALFORMED = "invalid_input"

    def __init__(
        self,
        token: str,
        *,
        boot: Hook | None = None,
        halt: Hook | None = None,
        action_seconds: float = 0.0,
        delete_failures: int = 0,
        server_ip: str = "127.0.0.1",
    ) -> None:
        super().__init__(boot=boot, halt=halt, server_ip=server_ip)
        self.token = token
        self.action_seconds = action_seconds
        self.delete_failures = delete_failures
        self.actions: dict[int, dict[str, Any]] = {}
        self.ssh_keys: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1000)

    @property
    def endpoint(self) -> str:
        return f"{self.root}/v1"

    # --- request dispatch ------------------------------------------------------
    def call_path(self, req: Request) -> str:
        return req.path.removeprefix("/v1")

    def authenticate(self, req: Request) -> None:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            raise ApiError(401, "unauthorized", "unable to authenticate")

    def error_body(self, fault: Fault) -> Any:
        return {"error": {"code": fault.kind, "message": fault.message}}

    def route(self, req: Request) -> Response:
        status, out = self._route(req.method, self.call_path(req), req.query, req.body)
        return status, out, {}

    def _route(self, method: str, path: str, q: dict[str, str], body: bytes) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        data = json.loads(body) if body else {}
        match method, parts:
            case "GET", ["servers"]:
                found = [
                    s
                    for s in self.servers.values()
                    if ("name" not in q or s["name"] == q["name"])
                    and label_matches(s["labels"], q.get("label_selector", ""))
                    and ("status" not in q or s["status"] == q["status"])
                ]
                return 200, self._page("servers", found, q)
            case "POST", ["servers"]:
                return 201, self._create_server(data)
            case "GET", ["servers", sid]:
                return 200, {"server": self._server(sid)}
            case "DELETE", ["servers", sid]:
                return 200, {"action": self._delete_server(sid)}
            case "GET", ["actions", aid] | ["servers", _, "actions", aid]:
                action = self.actions.get(int(aid)) if aid.isdigit() else None
                if action is None:
                    raise ApiError(404, "not_found", f"action {aid} not found")
                return 200, {"action": action}
            case "GET", ["server_types"]:
                found = [t for t in SERVER_TYPES.values() if q.get("name", t["name"]) == t["name"]]
                return 200, self._page("server_types", found, q)
            case "GET", ["server_types", tid]:
                match = [t for t in SERVER_TYPES.values() if str(t["id"]) == tid]
                if not match:
                    raise ApiError(404, "not_found", f"server_type {tid} not found")
                return 200, {"server_type": match[0]}
            case "GET", ["ssh_keys"]:
                found = [
                    k for k in self.ssh_keys.values() if "name" not in q or k["name"] == q["name"]
                ]
                return 200, self._page("ssh_keys", found, q)
            case "POST", ["ssh_keys"]:
                return 201, {
                    "ssh_key": self.add_ssh_key(data.get("name", ""), data.get("public_key", ""))
                }
            case "GET", ["ssh_keys", kid]:
                key = self.ssh_keys.get(int(kid)) if kid.isdigit() else None
                if key is None:
                    raise ApiError(404, "not_found", f"ssh_key {kid} not found")
                return 200, {"ssh_key": key}
        raise ApiError(404, "not_found", f"{method} {path} is not implemented by the stand-in")

    @staticmethod
    def _page(kind: str, items: list[dict[str, Any]], q: dict[str, str]) -> dict[str, Any]:
        items = sorted(items, key=lambda x: x["id"])
        per_page = int(q.get("per_page", 25))
        page = int(q.get("page", 1))
        last = max(1, -(-len(items) // per_page))
        return {
            kind: items[(page - 1) * per_page : page * per_page],
            "meta": {
                "pagination": {
                    "page": page,
                    "per_page": per_page,
                    "previous_page": page - 1 if page > 1 else None,
                    "next_page": page + 1 if page < last else None,
                    "last_page": last,
                    "total_entries": len(items),
                }
            },
        }

    # --- resources -------------------------------------------------------------
    def add_ssh_key(self, name: str, public_key: str) -> dict[str, Any]:
        with self._lock:
            parts = public_key.split()
            if not name or len(parts) < 2:
                raise ApiError(400, "invalid_input", "ssh_key needs a name and a public_key")
            if any(k["name"] == name for k in self.ssh_keys.values()):
                raise ApiError(409, "uniqueness_error", f"SSH key name {name!r} is already used")
            try:
                digest = hashlib.md5(base64.b64decode(parts[1], validate=True)).hexdigest()
            except ValueError as e:
                raise ApiError(
                    400, "invalid_input", "public_key is not an OpenSSH public key"
                ) from e
            key = {
                "id": next(self._ids),
                "name": name,
                "public_key": public_key.strip(),
                "fingerprint": ":".join(digest[i : i + 2] for i in range(0, 32, 2)),
                "labels": {},
                "created": now_iso(),
            }
            self.ssh_keys[key["id"]] = key
            return key

    def _server(self, sid: str) -> dict[str, Any]:
        server = self.servers.get(int(sid)) if sid.isdigit() else None
        if server is None:
            raise ApiError(404, "not_found", f"server with ID '{sid}' not found")
        return server

    def _create_server(self, data: dict[str, Any]) -> dict[str, Any]:
        name = data.get("name") or ""
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", name):
            raise ApiError(400, "invalid_input", f"invalid server name {name!r}")
        if any(s["name"] == name for s in self.servers.values()):
            raise ApiError(409, "uniqueness_error", f"server name {name!r} is already used")
        if data.get("server_type") in RETIRED_TYPES:
            raise ApiError(400, "invalid_input", f"server type {data['server_type']} not found")
        stype = SERVER_TYPES.get(str(data.get("server_type")))
        image = IMAGES.get(str(data.get("image")))
        location = LOCATIONS.get(str(data.get("location", "fsn1")))
        if stype is None or image is None or location is None:
            raise ApiError(400, "invalid_input", "unknown server_type, image or location")
        keys = []
        for ref in data.get("ssh_keys", []):
            match = [k for k in self.ssh_keys.values() if ref in (k["id"], k["name"])]
            if not match:
                raise ApiError(400, "invalid_input", f"unknown ssh_key {ref!r}")
            keys.append(match[0])
        labels = data.get("labels") or {}
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            raise ApiError(400, "invalid_input", "labels must map strings to strings")
        user_data = data.get("user_data")
        if user_data is not None and len(user_data.encode()) > 32 * 1024:
            raise ApiError(400, "invalid_input", "user_data is limited to 32 KiB")
        if self.take("quota_errors"):
            raise ApiError(403, "resource_limit_exceeded", "server limit exceeded")
        if self.take("capacity_errors"):
            raise ApiError(412, "placement_error", "error during placement")
        sid = next(self._ids)
        server = {
            "id": sid,
            "name": name,
            "status": "initializing",
            "created": now_iso(),
            "public_net": {
                "ipv4": {
                    "id": sid + 500000,
                    "ip": self.server_ip,
                    "blocked": False,
                    "dns_ptr": "localhost",
                },
                "ipv6": None,
                "floating_ips": [],
                "firewalls": [],
            },
            "private_net": [],
            "server_type": stype,
            "location": location,
            "image": image,
            "iso": None,
            "rescue_enabled": False,
            "locked": False,
            "backup_window": None,
            "outgoing_traffic": 0,
            "ingoing_traffic": 0,
            "included_traffic": 21990232555520,
            "protection": {"delete": False, "rebuild": False},
            "labels": dict(labels),
            "volumes": [],
            "load_balancers": [],
            "primary_disk_size": stype["disk"],
            "placement_group": None,
        }
        self.servers[sid] = server
        self.user_data[sid] = user_data

        def booted() -> None:
            if sid in self.servers:
                server["status"] = "running"
                if self.boot:
                    self.boot(server, user_data)

        action = self._action("create_server", sid, booted)
        return {"server": server, "action": action, "next_actions": [], "root_password": None}

    def _delete_server(self, sid: str) -> dict[str, Any]:
        server = self._server(sid)
        if self.delete_failures > 0:
            self.delete_failures -= 1
            raise ApiError(500, "server_error", "injected fault: delete failed")
        del self.servers[server["id"]]
        if self.halt:
            self.halt(server, self.user_data.get(server["id"]))
        return self._action("delete_server", server["id"], None)

    def _action(
        self, command: str, sid: int, on_finish: Callable[[], None] | None
    ) -> dict[str, Any]:
        aid = next(self._ids)
        action = {
            "id": aid,
            "command": command,
            "status": "running",
            "progress": 0,
            "started": now_iso(),
            "finished": None,
            "resources": [{"id": sid, "type": "server"}],
            "error": None,
        }
        self.actions[aid] = action

        def finish() -> None:
            action.update(status="success", progress=100, finished=now_iso())
            if on_finish:
                on_finish()

        self.later(self.action_seconds, finish)
        return action
