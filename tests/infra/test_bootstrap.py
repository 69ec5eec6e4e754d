"""infra/bootstrap_supervisor.sh run for real inside a directory (BOOTSTRAP_ROOT), twice.

System-changing commands (useradd, systemctl, curl, runuser, chown, install's owner
flags) are stand-ins on PATH that record their calls; git is real and clones a local
bare repository. The second run must change nothing that the first one set up.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from testsupport.ops.gitrepo import git

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "infra" / "bootstrap_supervisor.sh"
UNIT = ROOT / "supervisor" / "materia-supervisor.service"
WRAPPER = ROOT / "supervisor" / "materia.sh"

STANDINS = {
    "useradd": 'echo "useradd $*" >> "$CALLS"; touch "$FAKE/user-materia"',
    "id": '[ "$1" = materia ] && [ -e "$FAKE/user-materia" ]',
    "chown": 'echo "chown $*" >> "$CALLS"',
    "systemctl": 'echo "systemctl $*" >> "$CALLS"',
    "apt-get": 'echo "apt-get $*" >> "$CALLS"',
    # install(1) without owner/group (the test is not root on a real system).
    "install": (
        "args=''; skip=''\n"
        'for a in "$@"; do\n'
        '  if [ -n "$skip" ]; then skip=""; continue; fi\n'
        '  case "$a" in -o|-g) skip=1; continue ;; esac\n'
        '  args="$args $a"\n'
        "done\n"
        "# shellcheck disable=SC2086\n"
        "exec /usr/bin/install $args"
    ),
    "runuser": 'shift 3; echo "runuser $*" >> "$CALLS"; exec "$@"',
    # The installer scripts "download" the payloads below to where they were asked to.
    "curl": (
        'echo "curl $*" >> "$CALLS"\n'
        'case "$*" in\n'
        '  *astral.sh/uv*) echo \'mkdir -p "$UV_INSTALL_DIR"; cp "$FAKE/uv" "$UV_INSTALL_DIR/uv"\' ;;\n'
        '  *get.pulumi.com*) echo \'mkdir -p "$HOME/.pulumi/bin"; cp "$FAKE/pulumi" "$HOME/.pulumi/bin/pulumi"\' ;;\n'
        "esac"
    ),
}


@pytest.fixture
def box(tmp_path: Path):
    fake = tmp_path / "fake"
    fakebin = fake / "bin"
    fakebin.mkdir(parents=True)
    for name, body in STANDINS.items():
        (fakebin / name).write_text(f"#!/bin/sh\n{body}\n")
        (fakebin / name).chmod(0o755)
    payloads = {"uv": 'echo "uv $*" >> "$CALLS"', "pulumi": "exit 0"}
    for name, body in payloads.items():
        (fake / name).write_text(f"#!/bin/sh\n{body}\n")
        (fake / name).chmod(0o755)
    seed = tmp_path / "seed"
    (seed / "supervisor").mkdir(parents=True)
    (seed / "supervisor" / UNIT.name).write_text(UNIT.read_text())
    (seed / "supervisor" / WRAPPER.name).write_text(WRAPPER.read_text())
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(seed))
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "seed")
    git(tmp_path, "clone", "--quiet", "--bare", str(seed), str(tmp_path / "origin.git"))
    calls = tmp_path / "calls.log"
    env = {
        **os.environ,
        "PATH": f"{fakebin}:{os.environ['PATH']}",
        "BOOTSTRAP_ROOT": str(tmp_path / "server"),
        "MATERIA_REPO_URL": str(tmp_path / "origin.git"),
        "FAKE": str(fake),
        "CALLS": str(calls),
    }

    def run() -> list[str]:
        calls.write_text("")
        proc = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return calls.read_text().splitlines()

    run.env = env  # a test may change the environment the script runs with
    return tmp_path / "server", run


def test_first_run_sets_everything_up(box) -> None:
    server, run = box
    calls = run()
    assert any(c.startswith("useradd --system") for c in calls)
    assert sum(c.startswith("curl") for c in calls) == 2
    assert (server / "opt/materia/.git").is_dir()
    assert os.access(server / "usr/local/bin/uv", os.X_OK)
    assert os.access(server / "usr/local/bin/pulumi", os.X_OK)
    assert "uv sync --locked --quiet" in calls
    installed = server / "etc/systemd/system" / UNIT.name
    assert installed.read_text() == UNIT.read_text()
    assert calls[-2:] == ["systemctl daemon-reload", f"systemctl enable --now {UNIT.name}"]
    assert (server / "var/lib/materia/home").is_dir()
    # `ssh root@IP materia …` runs materia as the service does.
    assert (server / "usr/local/bin/materia").read_text() == WRAPPER.read_text()


def test_second_run_changes_nothing(box) -> None:
    server, run = box
    run()
    calls = run()
    assert not any(c.startswith(("useradd", "curl", "apt-get")) for c in calls)
    assert "systemctl daemon-reload" not in calls
    assert calls[-1] == f"systemctl enable --now {UNIT.name}"


def test_changed_unit_is_reinstalled(box) -> None:
    server, run = box
    run()
    unit = server / "opt/materia/supervisor" / UNIT.name
    unit.write_text(unit.read_text().replace("RestartSec=30", "RestartSec=60"))
    calls = run()
    assert "systemctl daemon-reload" in calls
    assert "RestartSec=60" in (server / "etc/systemd/system" / UNIT.name).read_text()


def test_private_repository_is_cloned_with_the_read_token(box, tmp_path) -> None:
    from testsupport.ops.git_http import PrivateGitServer
    from testsupport.ops.procscan import ProcScanner

    server, run = box
    token = "glpat-bootstrap-9a8b7c6d5e"
    with PrivateGitServer(tmp_path, token) as srv:
        run.env["MATERIA_REPO_URL"] = srv.url("origin.git")
        run.env["GITLAB_READ_TOKEN"] = token
        with ProcScanner([token]) as scan:
            run()
    assert (server / "opt/materia/supervisor" / UNIT.name).is_file()
    assert srv.granted > 0 and scan.argv_hits == []
    remote = subprocess.run(
        ["git", "-C", str(server / "opt/materia"), "remote", "get-url", "origin"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert remote == srv.url("origin.git")  # no token in the URL
    leaked = [p for p in server.rglob("*") if p.is_file() and token.encode() in p.read_bytes()]
    assert leaked == []
