"""Only green code is adopted: supervisor/supervisor.sh with the real `materia supervisor
check`, against a local bare git origin holding materia itself and a stand-in of
GitLab's pipelines API (real HTTP on loopback, stateful like GitLab).

The deployed checkout is a copy of this project (package, SQLMesh project, notebooks,
lockfile, and a one-test `tests/` as the commit's own suite). A stand-in `uv` on PATH
runs `materia …` from that checkout with this interpreter (its environment already
holds uv.lock's dependencies) and only records ticks. So a commit broken in extract,
transform, the models or the workers meets the real check; a runtime error that every
local check passes is refused because CI failed on it (or, where CI cannot say, because
the commit's own fast tests fail here); a commit whose pipeline still runs is asked
about again, without an alert, and adopted once CI passed; and each alert says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testsupport.ops.alert_receiver import AlertReceiver
from testsupport.ops.gitlab_api import GitLabApi
from testsupport.ops.gitrepo import GIT_ENV, git

from .test_supervisor_sh import SCRIPT

ROOT = Path(__file__).resolve().parents[2]
COPY = ("materia", "sqlmesh_materia", "notebooks", "pyproject.toml", "uv.lock")
PROJECT = "beanflows/materia"
TOKEN = "glpat-ci-read-4f3e2d1c0b"

FAKE_UV = f"""#!/bin/sh
case "$1" in
    sync) exit 0 ;;
    run)
        shift
        [ "$1" = --no-sync ] && shift
        [ "$1" = --quiet ] && shift
        [ "$1" = materia ] || exit 99
        shift
        if [ "$*" = "supervisor tick" ]; then git rev-parse HEAD >> "$TICK_LOG"; exit 0; fi
        exec {sys.executable} -m materia "$@" ;;
esac
"""

# The commit's own suite: one fast test of something a runtime error can break.
FAST_TEST = """
from materia.workbench import units


def test_bushels_per_tonne_of_wheat():
    assert round(units.bushels_per_mt("0410000"), 3) == 36.744
"""

# Each breaks one part; every earlier step of the check still passes for the later ones.
BREAKS = {
    "extract": ("materia/extract/psd.py", "\ndef half_written(:\n", "does not compile"),
    "transform": (
        "materia/transform/run.py",
        "\nfrom materia.landing.manifest import no_such_function  # noqa\n",
        "import materia.transform.run failed: ImportError",
    ),
    "workers": (
        "materia/workers/run.py",
        "\nSHIP_TIMEOUT = UNDEFINED_SETTING  # noqa\n",
        "import materia.workers.run failed: NameError",
    ),
}
MODEL = "sqlmesh_materia/models/staging/stg_psdalldata__commodity.sql"
# Compiles, imports, loads, passes the models' tests: only git's credential helper breaks,
# which would lock the supervisor out of every later update.
CREDENTIAL_BREAK = (
    "materia/cli/ops.py",
    "answer = secrets.git_credential(",
    "answer = secrets.git_credentials(",
    "`materia secrets git-credential get` fails: error: AttributeError",
)
# Compiles, imports, loads: only running it fails (what CI's tests catch).
RUNTIME_BREAK = ("materia/workbench/units.py", "lb = BUSHEL_LB.get(", "lb = BUSHELS_LB.get(")


def empty_model(sql: str) -> str:
    """A SQLMesh model whose query is wrapped to return no rows (it still loads)."""
    start = sql.index("MODEL (")
    depth, i = 0, start + len("MODEL ")
    while True:  # to the parenthesis that closes MODEL (
        depth += (sql[i] == "(") - (sql[i] == ")")
        i += 1
        if depth == 0:
            break
    query = sql[i:].lstrip().removeprefix(";").strip().removesuffix(";")
    return f"{sql[:i]};\n\nSELECT * FROM (\n{query}\n) AS broken WHERE FALSE\n"


def copy_project(dest: Path) -> None:
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(
                src, dest / name, ignore=shutil.ignore_patterns("__pycache__", ".cache", "logs")
            )
        else:
            shutil.copy2(src, dest / name)
    (dest / "tests").mkdir()
    (dest / "tests" / "test_fast.py").write_text(FAST_TEST)


class Deployment:
    """A seed repository, its bare origin, the deployed clone and the GitLab stand-in."""

    def __init__(self, tmp: Path, gitlab: GitLabApi, notify: str) -> None:
        self.tmp, self.gitlab = tmp, gitlab
        self.origin, self.seed, self.deploy = tmp / "origin.git", tmp / "seed", tmp / "deploy"
        self.ticks = tmp / "ticks.log"
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        (bin_dir / "uv").write_text(FAKE_UV)
        (bin_dir / "uv").chmod(0o755)
        git(tmp, "init", "--quiet", "--bare", "--initial-branch=main", str(self.origin))
        git(tmp, "init", "--quiet", "--initial-branch=main", str(self.seed))
        git(self.seed, "remote", "add", "origin", str(self.origin))
        copy_project(self.seed)
        gitlab.add_project(PROJECT)
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("MATERIA_", "PSD_", "R2_", "ICEBERG_", "HCLOUD_", "GITLAB_"))
        }
        self.env |= GIT_ENV | {
            "PATH": f"{bin_dir}:/usr/bin:/bin",  # no esc/pulumi: secrets from the environment
            "MATERIA_REPO": str(self.deploy),
            "MATERIA_HOME": str(tmp / "home"),
            "MATERIA_SUPERVISOR_ITERATIONS": "1",
            "MATERIA_SUPERVISOR_INTERVAL": "0",
            "MATERIA_NOTIFY": notify,
            "MATERIA_CI_API": gitlab.project_api(PROJECT),
            "GITLAB_READ_TOKEN": TOKEN,
            "TICK_LOG": str(self.ticks),
        }

    def push(self, message: str, ci: str | None = "success") -> tuple[str, int | None]:
        """Commit and push the seed; CI's pipeline for it (None: no pipeline)."""
        git(self.seed, "add", "-A")
        git(self.seed, "commit", "--quiet", "--allow-empty", "-m", message)
        git(self.seed, "push", "--quiet", "origin", "main")
        sha = git(self.seed, "rev-parse", "HEAD")
        return sha, self.gitlab.pipeline(PROJECT, sha, ci) if ci else None

    def run(self) -> str:
        proc = subprocess.run(
            ["sh", str(SCRIPT)], env=self.env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout + proc.stderr

    def head(self) -> str:
        return git(self.deploy, "rev-parse", "HEAD")


@pytest.mark.slow
def test_only_green_commits_are_adopted(tmp_path: Path) -> None:
    with AlertReceiver() as rx, GitLabApi(TOKEN) as gitlab:
        d = Deployment(tmp_path, gitlab, rx.url)
        good, _ = d.push("materia")
        git(tmp_path, "clone", "--quiet", str(d.origin), str(d.deploy))

        def refused(bad: str, why: str) -> str:
            out = d.run()
            assert f"update to {bad} failed; staying on {good}" in out, out
            assert why in out, out
            assert d.head() == good and d.ticks.read_text().split()[-1] == good  # still ticks
            return out

        # Broken parts are refused by the local checks even where CI (wrongly) passed.
        cases = {part: (path, text, why) for part, (path, text, why) in BREAKS.items()}
        # A model that returns no rows: the project loads, but its YAML unit test fails.
        cases["models"] = (MODEL, None, "sqlmesh test failed: test_stg_psdalldata__commodity")
        for part, (path, text, why) in cases.items():
            target = d.seed / path
            original = target.read_text()
            target.write_text(empty_model(original) if text is None else original + text)
            bad, _ = d.push(f"broken {part}")
            assert "error: check failed: " in refused(bad, why)
            target.write_text(original)  # the fix arrives together with the next break

        # A broken credential helper, CI (wrongly) green: the check runs the loop's commands.
        path, before, after, why = CREDENTIAL_BREAK
        target = d.seed / path
        original = target.read_text()
        target.write_text(original.replace(before, after))
        bad, _ = d.push("broken git credential helper")
        assert "error: check failed: " in refused(bad, why)
        target.write_text(original)
        cases["credential helper"] = CREDENTIAL_BREAK[:1] + (None, why)

        # A runtime error passes every local check; CI failed on it: refused, and the alert
        # quotes the failing check (the red pipeline).
        path, before, after = RUNTIME_BREAK
        target = d.seed / path
        original = target.read_text()
        target.write_text(original.replace(before, after))
        bad, pipeline = d.push("runtime NameError", ci="failed")
        refused(bad, f"GitLab pipeline #{pipeline} ")
        alerts = rx.wait_for(len(cases) + 1)
        assert all("was not adopted" in a["message"] for a in alerts)
        assert f"CI: GitLab pipeline #{pipeline} " in alerts[-1]["message"]
        assert f"failed on {bad[:12]}" in alerts[-1]["message"]
        assert "sqlmesh test failed: test_stg_psdalldata__commodity" in alerts[-3]["message"]
        assert "git-credential get` fails: error: AttributeError" in alerts[-2]["message"]

        # The same error where CI cannot say (no pipeline): the commit's own fast tests
        # run here and fail.
        bad, _ = d.push("runtime NameError, no CI", ci=None)
        out = refused(bad, "the fast tests failed here: FAILED tests/test_fast.py::")
        assert f"GitLab has no pipeline for {bad[:12]}" in out
        assert "NameError" in rx.wait_for(len(cases) + 2)[-1]["message"]

        # A fixed commit whose pipeline still runs: not yet, no alert; adopted once green.
        target.write_text(original)
        fixed, pipeline = d.push("fixed", ci="running")
        out = d.run()
        assert f"commit {fixed} cannot be judged yet" in out and d.head() == good, out
        assert len(rx.alerts) == len(cases) + 2
        gitlab.set_status(pipeline, "success")
        out = d.run()
        assert f"now at {fixed}" in out and d.head() == fixed, out
        adopted = rx.wait_for(len(cases) + 3)[-1]
        assert adopted["type"] == "info"
        assert (
            f"adopted commit {fixed}: ok, vouched for by GitLab pipeline #{pipeline}"
            in (adopted["message"])
        )

        # No pipeline for the next commit: adopted on the fast tests, and the alert says so.
        (d.seed / "README.md").write_text("materia\n")
        plain, _ = d.push("docs", ci=None)
        out = d.run()
        assert f"now at {plain}" in out, out
        last = rx.wait_for(len(cases) + 4)[-1]["message"]
        assert "vouched for by the fast tests passed here (1 passed" in last
        assert f"CI unknown: GitLab has no pipeline for {plain[:12]}" in last
    assert TOKEN not in out
