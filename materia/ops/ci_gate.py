"""Adopt only green code: did CI pass on the commit the supervisor is about to adopt?

Asked of GitLab's API (`GET <project>/pipelines?sha=<commit>`, the newest pipeline of
the commit) with `GITLAB_READ_TOKEN` (a project access token with `read_api`). The
project comes from `MATERIA_CI_API` (`https://gitlab.example/api/v4/projects/<id>`),
else from the checkout's `origin` URL (`https://host/group/name.git` →
`https://host/api/v4/projects/group%2Fname`). A pipeline that passed is green, one that
failed or was canceled is red, one still running is "not yet" (the supervisor tries
again next time, without an alert). Where CI's verdict cannot be known (no token, no
pipeline for the commit, the API unreachable), the fast subset of the commit's own test
suite (`FAST_TESTS`) must pass here instead. Every verdict says which it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

GREEN, RED, PENDING, UNKNOWN = "green", "red", "pending", "unknown"
_PENDING = {"created", "waiting_for_resource", "preparing", "pending", "running", "scheduled"}
# The fast subset of the suite: no browser, no sshd, no SeaweedFS, nothing marked slow.
FAST_TESTS = "not slow and not browser and not ssh and not s3"
_CLEAN_PREFIXES = ("MATERIA_", "PSD_", "R2_", "ICEBERG_", "HCLOUD_", "HETZNER_", "SCW_", "OVH_")
_CLEAN_PREFIXES += ("OCI_", "GITLAB_", "PULUMI_", "AWS_", "ESC_", "SUPERVISOR_", "WORKER_")


@dataclass(frozen=True)
class Verdict:
    state: str  # GREEN, RED, PENDING or UNKNOWN
    how: str  # one line: what was asked and what it said


def project_api(root: Path, environ: Mapping[str, str]) -> str | None:
    """The GitLab project's API URL: MATERIA_CI_API, else derived from `origin`."""
    if environ.get("MATERIA_CI_API", "").strip():
        return environ["MATERIA_CI_API"].strip().rstrip("/")
    try:
        url = subprocess.run(
            ["git", "-C", str(root), "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = urllib.parse.urlsplit(url)
    path = parts.path.strip("/").removesuffix(".git")
    if parts.scheme not in ("https", "http") or not path or "@" in parts.netloc:
        return None
    quoted = urllib.parse.quote(path, safe="")
    return f"{parts.scheme}://{parts.netloc}/api/v4/projects/{quoted}"


def gitlab(api: str, sha: str, token: str, timeout: float = 30) -> Verdict:
    """CI's verdict on `sha` from the project's pipelines."""
    url = f"{api}/pipelines?" + urllib.parse.urlencode({"sha": sha, "per_page": 20})
    req = urllib.request.Request(
        url, headers={"PRIVATE-TOKEN": token, "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - https/loopback
            pipelines = json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return Verdict(UNKNOWN, f"GitLab API answered {e.code} for the pipelines of {sha[:12]}")
    except (OSError, ValueError) as e:
        return Verdict(UNKNOWN, f"GitLab API unreachable ({type(e).__name__}: {e})")
    found = [p for p in pipelines if isinstance(p, dict)] if isinstance(pipelines, list) else []
    if not found:
        return Verdict(UNKNOWN, f"GitLab has no pipeline for {sha[:12]}")
    newest = max(found, key=lambda p: int(p.get("id") or 0))
    status, pid = str(newest.get("status")), newest.get("id")
    where = f"GitLab pipeline #{pid} ({newest.get('web_url') or api})"
    if status == "success":
        return Verdict(GREEN, f"{where} passed on {sha[:12]}")
    if status in ("failed", "canceled"):
        return Verdict(RED, f"{where} {status} on {sha[:12]}")
    if status in _PENDING:
        return Verdict(PENDING, f"{where} is {status} on {sha[:12]}")
    return Verdict(UNKNOWN, f"{where} is {status} on {sha[:12]}")


def ask_ci(root: Path, sha: str, environ: Mapping[str, str]) -> Verdict:
    token = environ.get("GITLAB_READ_TOKEN", "").strip()
    api = project_api(root, environ)
    if api is None:
        return Verdict(UNKNOWN, "no GitLab project to ask (MATERIA_CI_API, or an https origin)")
    if not token:
        return Verdict(UNKNOWN, "no GITLAB_READ_TOKEN to ask GitLab with")
    return gitlab(api, sha, token)


def fast_tests(root: Path, timeout: float) -> Verdict:
    """The fast subset of the commit's own suite, run here with no secret and no
    setting of this machine in its environment."""
    if not (root / "tests").is_dir():
        return Verdict(RED, "no tests/ in this commit to run")
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CLEAN_PREFIXES)}
    with tempfile.TemporaryDirectory(prefix="materia-check-tests-") as home:
        env |= {"MATERIA_HOME": home, "PYTHONDONTWRITEBYTECODE": "1"}
        argv = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
        try:
            proc = subprocess.run(
                [*argv, "-m", FAST_TESTS, "tests"],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return Verdict(RED, f"the fast tests did not finish within {timeout:.0f}s")
    lines = [x.strip() for x in proc.stdout.splitlines() if x.strip()]
    summary = lines[-1] if lines else f"exit {proc.returncode}"
    if proc.returncode == 0:
        return Verdict(GREEN, f"the fast tests passed here ({summary.strip('= ')})")
    failed = next((x for x in lines if x.startswith(("FAILED", "ERROR"))), summary)
    return Verdict(RED, f"the fast tests failed here: {failed}")
