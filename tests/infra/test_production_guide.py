"""docs/PRODUCTION.md, sections 1 to 5, followed line by line on loopback.

The guide's own shell blocks run, unchanged and in order, in one shell on the "laptop"
(a fresh HOME); the ESC environment is the YAML of section 2 with a test value for every
variable it names (a variable the test cannot fill fails it). What cannot run here
stands in, honestly:

- `pulumi` on the laptop: `env run|open beanflows/prod` from that YAML (logged in),
  `-C infra stack init|up|stack output` (Pulumi's CLI and Hetzner cannot run here: the
  Pulumi program itself is tested with the SDK's mocks in test_infra_program.py), and
  the "created" server is a `ServerBox`: this machine through a private mount namespace
  (its own /etc, empty /opt, /var/lib, /usr/local/bin) behind a real sshd as root;
- `ssh` on the laptop adds the box's port and a known_hosts file of the test's own;
- on the server: systemd (recorded; no init here), `curl` (the uv and Pulumi installers
  install stand-ins: `uv run` runs this interpreter, `pulumi env open` demands the ESC
  token the install wrote), `runuser` (runs as root: this interpreter lives under
  /root), apt-get;
- git is real: a private smart-HTTP server demanding GITLAB_READ_TOKEN, and a GitLab
  pipelines stand-in that says CI passed on the commit (MATERIA_CI_API points at it: a
  loopback origin has no GitLab API to derive).

Then what the scripts left on the server is checked, and section 4 is run again (a
repair) after an operator added a line to /etc/materia/env.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from testsupport.clouds import server_box
from testsupport.ops.alert_receiver import AlertReceiver
from testsupport.ops.git_http import PrivateGitServer
from testsupport.ops.gitlab_api import GitLabApi
from testsupport.ops.gitrepo import GIT_ENV, git
from testsupport.ops.procscan import ProcScanner

pytestmark = [pytest.mark.ssh, pytest.mark.s3, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "PRODUCTION.md"
PROJECT = ("materia", "sqlmesh_materia", "notebooks", "supervisor", "infra")
PROJECT_FILES = ("pyproject.toml", "uv.lock")
ESC_ENV = "beanflows/prod"


# --- the guide ------------------------------------------------------------------------------
def sections(text: str) -> dict[str, str]:
    """`## 3. Create the server` → {"3": its text}."""
    parts = re.split(r"^## (\d+)\. .*$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def blocks(body: str, lang: str) -> list[str]:
    """The fenced blocks of `lang` in `body` (indented ones too), dedented."""
    found = re.findall(rf"^( *)```{lang}\n(.*?)^\1```", body, flags=re.M | re.S)
    return [textwrap.dedent(code) for _, code in found]


# --- stand-ins ------------------------------------------------------------------------------
def executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


PULUMI = """#!{python}
# Stand-in for the Pulumi CLI: ESC from a JSON document, the stack as the test says.
import json, os, sys
doc = json.load(open({doc!r}))
args = sys.argv[1:]
open({calls!r}, "a").write(" ".join(args) + "\\n")
if args[:2] == ["-C", "infra"]:
    args = args[2:]
    if args[:2] == ["stack", "output"]:
        print({outputs!r}[args[2]])
    elif args[:2] == ["stack", "init"] or args[:1] == ["up"]:
        print("stand-in pulumi: " + " ".join(args))
    else:
        sys.exit("stand-in pulumi: unexpected " + " ".join(args))
    sys.exit(0)
need = {token!r}
if need and os.environ.get("PULUMI_ACCESS_TOKEN") != need:
    sys.exit("error: not logged in (PULUMI_ACCESS_TOKEN)")
if args[:2] == ["env", "open"] and args[2] == {env!r} and args[3:] == ["--format", "json"]:
    print(json.dumps(doc))
elif args[:2] == ["env", "run"] and args[2] == {env!r} and args[3] == "--":
    os.execvpe(args[4], args[4:], {{**os.environ, **doc["environmentVariables"]}})
else:
    sys.exit("stand-in pulumi: unexpected " + " ".join(args))
"""

UV = """#!/bin/sh
# Stand-in for uv: the environment is this interpreter's (uv cannot install offline).
echo "uv $*" >> {calls}
case "$1" in
    sync) exit 0 ;;
    run)
        shift
        while [ "${{1#--}}" != "$1" ]; do shift; done
        [ "$1" = materia ] || exit 99
        shift
        exec {python} -m materia "$@" ;;
esac
exit 98
"""

SERVER = {
    "curl": """echo "curl $*" >> "$CALLS"
case "$*" in
  *astral.sh/uv*) echo 'mkdir -p "$UV_INSTALL_DIR"; cp "$FAKE/uv" "$UV_INSTALL_DIR/uv"' ;;
  *get.pulumi.com*) echo 'mkdir -p "$HOME/.pulumi/bin"; cp "$FAKE/pulumi" "$HOME/.pulumi/bin/pulumi"' ;;
  *) exit 22 ;;
esac""",
    "systemctl": 'echo "systemctl $*" >> "$CALLS"',
    "journalctl": (
        'echo "journalctl $*" >> "$CALLS"\n'
        'echo "-- no systemd journal on this test machine; systemd stand-in calls: --"\n'
        'grep "^systemctl" "$CALLS"'
    ),
    "apt-get": 'echo "apt-get $*" >> "$CALLS"',
    # runuser -u USER [-m] -- CMD...: runs CMD, as root (see the module doc).
    "runuser": (
        'echo "runuser $*" >> "$CALLS"\nwhile [ "$1" != "--" ]; do shift; done\nshift\nexec "$@"'
    ),
}


def copy_project(dest: Path) -> None:
    for name in PROJECT:
        shutil.copytree(
            ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", ".cache")
        )
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, dest / name)


def esc_values(names: list[str], known: dict[str, str]) -> dict[str, str]:
    missing = [n for n in names if n not in known]
    assert missing == [], f"the guide's ESC names {missing}: the test has no value for them"
    return {n: known[n] for n in names}


def test_the_production_guide_runs_on_loopback(tmp_path: Path, seaweed) -> None:
    if why := server_box.available():
        pytest.skip(why)
    guide = sections(GUIDE.read_text())
    laptop = tmp_path / "laptop"
    (laptop / ".ssh").mkdir(parents=True)
    laptop_bin, fake, calls = tmp_path / "laptop-bin", tmp_path / "fake", tmp_path / "calls.log"
    base_env = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TERM")}
    laptop_env = {**base_env, **GIT_ENV, "HOME": str(laptop), "PATH": f"{laptop_bin}:/usr/bin:/bin"}

    # Section 1: the two key pairs.
    [keys] = blocks(guide["1"], "sh")
    done = subprocess.run(["sh", "-eu", "-c", keys], env=laptop_env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    supervisor_key = (laptop / ".ssh" / "materia_supervisor").read_text()

    bucket = f"guide-{secrets.token_hex(5)}"
    seaweed.s3fs().mkdir(bucket)
    token = f"glpat-{secrets.token_hex(10)}"
    esc_token = f"pul-{secrets.token_hex(10)}"
    with (
        AlertReceiver() as rx,
        PrivateGitServer(tmp_path / "git", token) as git_server,
        GitLabApi(token) as gitlab,
        server_box.ServerBox(
            tmp_path / "box",
            (laptop / ".ssh" / "materia_supervisor.pub").read_text(),
            tmp_path / "server-bin",
            env={
                "FAKE": str(fake),
                "CALLS": str(calls),
                # runuser stands in as root, so git meets a repository owned by `materia`.
                **{"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory"},
                "GIT_CONFIG_VALUE_0": "*",
            },
        ) as box,
    ):
        # The repository: a copy of this project, CI green on its commit.
        seed = tmp_path / "seed"
        copy_project(seed)
        git(tmp_path, "init", "--quiet", "--initial-branch=main", str(seed))
        git(seed, "add", "-A")
        git(seed, "commit", "--quiet", "-m", "materia")
        (tmp_path / "git").mkdir(exist_ok=True)
        git(tmp_path, "clone", "--quiet", "--bare", str(seed), str(tmp_path / "git" / "origin.git"))
        sha = git(seed, "rev-parse", "HEAD")
        gitlab.pipeline("beanflows/materia", sha, "success")

        # Section 2: the ESC environment, as the guide's YAML names it.
        [esc_yaml] = blocks(guide["2"], "yaml")
        names = list(yaml.safe_load(esc_yaml)["values"]["environmentVariables"])
        doc = {
            "environmentVariables": {
                **esc_values(
                    names,
                    {
                        "MATERIA_ENV": "prod",
                        "HETZNER_TOKEN": f"hcloud-{secrets.token_hex(10)}",
                        **{**seaweed.r2_env(), "R2_BUCKET": bucket},
                        "ICEBERG_REST_URI": seaweed.iceberg_uri,
                        "ICEBERG_WAREHOUSE": seaweed.warehouse,
                        "ICEBERG_TOKEN": f"ice-{secrets.token_hex(10)}",
                        "MATERIA_NOTIFY": rx.url,
                        "GITLAB_READ_TOKEN": token,
                        "GITLAB_READ_USER": "materia-supervisor",
                        "SUPERVISOR_SSH_PRIVATE_KEY": supervisor_key,
                        "WORKER_SSH_PRIVATE_KEY": (laptop / ".ssh" / "materia_worker").read_text(),
                        "SUPERVISOR_ESC_TOKEN": esc_token,
                        "MATERIA_REPO_URL": git_server.url("origin.git"),
                    },
                ),
                "MATERIA_CI_API": gitlab.project_api("beanflows/materia"),  # see module doc
            }
        }
        doc_path = tmp_path / "esc.json"
        doc_path.write_text(json.dumps(doc))
        python = sys.executable
        pulumi = {"python": python, "doc": str(doc_path), "calls": str(calls), "env": ESC_ENV}
        outputs = {"supervisor_ip": "127.0.0.1"}
        executable(laptop_bin / "pulumi", PULUMI.format(**pulumi, token="", outputs=outputs))
        executable(laptop_bin / "uv", UV.format(python=python, calls=calls))
        executable(
            laptop_bin / "ssh",
            f"#!/bin/sh\nexec /usr/bin/ssh -p {box.port} "
            f'-o UserKnownHostsFile={tmp_path / "known_hosts"} "$@"\n',
        )
        executable(fake / "pulumi", PULUMI.format(**pulumi, token=esc_token, outputs=outputs))
        executable(fake / "uv", UV.format(python=python, calls=calls))
        for name, body in SERVER.items():
            executable(tmp_path / "server-bin" / name, f"#!/bin/sh\n{body}\n")

        # Sections 2 (its check) to 5, as one shell session on the laptop.
        script = "\n".join(
            [*blocks(guide["2"], "sh"), *(b for n in "345" for b in blocks(guide[n], "sh"))]
        )
        hidden = [token, esc_token, doc["environmentVariables"]["HETZNER_TOKEN"]]
        with ProcScanner(hidden) as scan:
            run = subprocess.run(
                ["sh", "-eu", "-c", script],
                cwd=ROOT,
                env=laptop_env,
                capture_output=True,
                text=True,
                timeout=900,
            )
        out = run.stdout + run.stderr
        assert run.returncode == 0, out
        # Section 2: the names from ESC, never the values.
        assert f"# source: pulumi:{ESC_ENV}" in out and "HETZNER_TOKEN\n" in out
        # Section 4 left a supervisor: the user, the clone (no token in it), the unit, the
        # wrapper, the env file (mode 600; alerts need no ESC), the worker key pair.
        assert "materia:" in box.path("/etc/passwd").read_text()
        clone = box.path("/opt/materia")
        owned = ("-c", "safe.directory=*")  # the clone is materia's; this test is root
        assert git(clone, *owned, "rev-parse", "HEAD") == sha and git_server.granted > 0
        assert token not in git(clone, *owned, "remote", "get-url", "origin")
        assert box.path("/etc/systemd/system/materia-supervisor.service").is_file()
        assert os.access(box.path("/usr/local/bin/materia"), os.X_OK)
        env_file = box.path("/etc/materia/env")
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        lines = env_file.read_text().splitlines()
        assert lines == [
            f"PULUMI_ACCESS_TOKEN='{esc_token}'",
            "HCLOUD_SSH_PRIVATE_KEY='/var/lib/materia/.ssh/worker'",
            f"MATERIA_NOTIFY='{rx.url}'",
            "GITLAB_READ_USER='materia-supervisor'",
        ]
        worker_key = box.path("/var/lib/materia/.ssh/worker")
        derived = subprocess.run(
            ["ssh-keygen", "-y", "-f", str(worker_key)], capture_output=True, text=True
        ).stdout
        assert worker_key.with_suffix(".pub").read_text() == derived
        assert derived.split()[:2] == (laptop / ".ssh/materia_worker.pub").read_text().split()[:2]
        # Section 5: the check ran on the server as the service runs it (its env file
        # loaded: ESC opened with the token it holds, CI asked with the read token).
        assert "check: CI: GitLab pipeline #" in out and f"passed on {sha[:12]}" in out
        assert "check: the loop's 4 commands work" in out
        assert "check: ok, vouched for by GitLab pipeline #" in out
        assert "supervisor: due at " in out
        assert "journalctl -u materia-supervisor -n 20" in calls.read_text()
        assert "systemctl enable --now materia-supervisor.service" in calls.read_text()
        assert "no runs in the run log" in out  # the laptop read the run log with ESC's keys
        assert scan.argv_hits == [] and scan.samples > 0

        # A repair: section 4 again, after an operator added a line of their own.
        env_file.write_text(env_file.read_text() + "MATERIA_EXTRACT_AT='05:30'\n")
        [install] = blocks(guide["4"], "sh")
        again = subprocess.run(
            ["sh", "-eu", "-c", f"IP=127.0.0.1\n{install}"],
            cwd=ROOT,
            env=laptop_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert again.returncode == 0, again.stdout + again.stderr
        assert env_file.read_text().splitlines() == ["MATERIA_EXTRACT_AT='05:30'", *lines]
