"""The supervisor pulls a private repository with GITLAB_READ_TOKEN (a real git
smart-HTTP server on loopback demanding it) without the token reaching a file on disk
or any process's command line."""

from __future__ import annotations

import subprocess

from testsupport.ops.git_http import PrivateGitServer
from testsupport.ops.gitrepo import git
from testsupport.ops.procscan import ProcScanner

from .test_supervisor_sh import SCRIPT, Rig

TOKEN = "glpat-read-5e4d3c2b1a09f8e7"


def files_with(root, needle: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def test_private_repository_is_pulled_with_the_read_token(tmp_path) -> None:
    rig = Rig(tmp_path)
    rig.commit("1")
    rig.clone()
    c2 = rig.commit("2")
    with PrivateGitServer(tmp_path, TOKEN) as srv:
        git(rig.deploy, "remote", "set-url", "origin", srv.url("origin.git"))

        # Without the token the fetch is refused, and the old commit keeps ticking.
        refused = rig.run(iterations=1)
        assert "fetch failed" in refused.stdout and srv.denied > 0 and srv.granted == 0
        assert rig.head() != c2

        with ProcScanner([TOKEN]) as scan:
            proc = subprocess.run(
                ["sh", str(SCRIPT)],
                env=rig.env(iterations=1, GITLAB_READ_TOKEN=TOKEN),
                capture_output=True,
                text=True,
                timeout=120,
            )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"now at {c2}" in proc.stdout and rig.head() == c2 and srv.granted > 0
    assert scan.argv_hits == [] and scan.samples > 0
    assert files_with(tmp_path, TOKEN) == []
    assert TOKEN not in proc.stdout + proc.stderr
