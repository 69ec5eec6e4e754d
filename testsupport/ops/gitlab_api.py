"""A loopback stand-in for the part of GitLab's REST API the supervisor asks: the
pipelines of a project (`GET /api/v4/projects/:id/pipelines?sha=…`).

Stateful like GitLab: projects by id or URL-encoded path, pipelines with ids that grow,
a status that moves (`created` → `running` → `success`/`failed`, set by the test as CI
would), newest first, `per_page` honoured, `PRIVATE-TOKEN` (or `Authorization: Bearer`)
required (401 otherwise), 404 for an unknown project. Every call is recorded without its
headers.

    with GitLabApi(token) as gl:
        gl.add_project("beanflows/materia")
        pid = gl.pipeline("beanflows/materia", sha, "running")
        env["MATERIA_CI_API"] = gl.project_api("beanflows/materia")
        gl.set_status(pid, "success")
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

from testsupport.clouds.api import Fault, Request, Response, StandinApi, now_iso


class GitLabApi(StandinApi):
    MALFORMED = "400 Bad request"

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.projects: dict[str, int] = {}  # path → id
        self.pipelines: dict[int, dict[str, Any]] = {}

    def add_project(self, path: str) -> int:
        with self._lock:
            return self.projects.setdefault(path, 1000 + len(self.projects))

    def project_api(self, path: str) -> str:
        return f"{self.root}/api/v4/projects/{quote(path, safe='')}"

    def pipeline(self, project: str, sha: str, status: str = "created", ref: str = "main") -> int:
        """A new pipeline of `project` for `sha`; its id."""
        with self._lock:
            pid = self.next_id() + 400
            self.pipelines[pid] = {
                "id": pid,
                "iid": len(self.pipelines) + 1,
                "project_id": self.add_project(project),
                "sha": sha,
                "ref": ref,
                "status": status,
                "source": "push",
                "created_at": now_iso(),
                "updated_at": now_iso(),
                "web_url": f"{self.root}/{project}/-/pipelines/{pid}",
            }
            return pid

    def set_status(self, pid: int, status: str) -> None:
        with self._lock:
            self.pipelines[pid].update(status=status, updated_at=now_iso())

    # --- HTTP -----------------------------------------------------------------------------
    def authenticate(self, req: Request) -> None:
        given = req.headers.get("private-token") or req.headers.get("authorization", "")
        if given not in (self.token, f"Bearer {self.token}"):
            raise Fault(401, "401 Unauthorized", "401 Unauthorized")

    def error_body(self, fault: Fault) -> Any:
        return {"message": fault.kind}

    def route(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p]
        match req.method, parts:
            case "GET", ["api", "v4", "projects", project, "pipelines"]:
                pid = self._project_id(project)
                q = req.query
                found = [
                    p
                    for p in self.pipelines.values()
                    if p["project_id"] == pid
                    and q.get("sha", p["sha"]) == p["sha"]
                    and q.get("ref", p["ref"]) == p["ref"]
                    and q.get("status", p["status"]) == p["status"]
                ]
                found.sort(key=lambda p: p["id"], reverse=True)  # GitLab: newest first
                per_page, page = int(q.get("per_page", 20)), int(q.get("page", 1))
                return 200, found[(page - 1) * per_page : page * per_page], {}
        raise Fault(404, "404 Not Found", f"{req.method} {req.path}")

    def _project_id(self, ref: str) -> int:
        name = unquote(ref)
        if name.isdigit() and int(name) in self.projects.values():
            return int(name)
        if name in self.projects:
            return self.projects[name]
        raise Fault(404, "404 Project Not Found", "404 Project Not Found")
