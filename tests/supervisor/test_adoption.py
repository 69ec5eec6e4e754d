"""A broken commit is never adopted: supervisor/supervisor.sh with the real
`materia supervisor check`, against a local bare git origin holding materia itself.

The deployed checkout is a copy of this project (package, SQLMesh project, notebooks,
lockfile). A stand-in `uv` on PATH runs `materia …` from that checkout with this
interpreter (its environment already holds uv.lock's dependencies) and only records
ticks, so a commit broken in extract, transform, the models or the workers meets the
real check, and a fixed commit on top is adopted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testsupport.alert_receiver import AlertReceiver
from testsupport.gitrepo import GIT_ENV, git

from .test_supervisor_sh import SCRIPT

ROOT = Path(__file__).resolve().parents[2]
COPY = ("materia", "sqlmesh_materia", "notebooks", "pyproject.toml", "uv.lock")

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

# Each breaks one part; every earlier step of the check still passes for the later ones.
BREAKS = {
    "extract": ("materia/extract/psd.py", "\ndef half_written(:\n", "does not compile"),
    "transform": (
        "materia/transform.py",
        "\nfrom materia.landed import no_such_function  # noqa\n",
        "import materia.transform failed: ImportError",
    ),
    "workers": (
        "materia/workers/run.py",
        "\nSHIP_TIMEOUT = UNDEFINED_SETTING  # noqa\n",
        "import materia.workers.run failed: NameError",
    ),
}
MODEL = "sqlmesh_materia/models/staging/stg_psdalldata__commodity.sql"


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


@pytest.mark.slow
def test_broken_commits_are_never_adopted(tmp_path: Path) -> None:
    origin, seed, deploy = tmp_path / "origin.git", tmp_path / "seed", tmp_path / "deploy"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uv").write_text(FAKE_UV)
    (bin_dir / "uv").chmod(0o755)
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(seed))
    git(seed, "remote", "add", "origin", str(origin))
    copy_project(seed)

    def push(message: str) -> str:
        git(seed, "add", "-A")
        git(seed, "commit", "--quiet", "-m", message)
        git(seed, "push", "--quiet", "origin", "main")
        return git(seed, "rev-parse", "HEAD")

    good = push("materia")
    git(tmp_path, "clone", "--quiet", str(origin), str(deploy))
    ticks = tmp_path / "ticks.log"
    with AlertReceiver() as rx:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("MATERIA_", "PSD_", "R2_", "ICEBERG_", "HCLOUD_"))
        }
        env |= GIT_ENV | {
            "PATH": f"{bin_dir}:/usr/bin:/bin",  # no esc/pulumi: secrets from the environment
            "MATERIA_REPO": str(deploy),
            "MATERIA_HOME": str(tmp_path / "home"),
            "MATERIA_SUPERVISOR_ITERATIONS": "1",
            "MATERIA_SUPERVISOR_INTERVAL": "0",
            "MATERIA_NOTIFY": rx.url,
            "TICK_LOG": str(ticks),
        }

        def run() -> str:
            proc = subprocess.run(
                ["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300
            )
            assert proc.returncode == 0, proc.stdout + proc.stderr
            return proc.stdout + proc.stderr

        cases = {part: (path, text, why) for part, (path, text, why) in BREAKS.items()}
        # A model that returns no rows: the project loads, but its YAML unit test fails.
        cases["models"] = (MODEL, None, "sqlmesh test failed: test_stg_psdalldata__commodity")
        for part, (path, text, why) in cases.items():
            target = seed / path
            original = target.read_text()
            target.write_text(empty_model(original) if text is None else original + text)
            bad = push(f"broken {part}")
            out = run()
            assert f"update to {bad} failed; staying on {good}" in out, out
            assert "error: check failed: " in out and why in out, (part, out)
            assert git(deploy, "rev-parse", "HEAD") == good
            assert ticks.read_text().split()[-1] == good  # the good commit still ticks
            target.write_text(original)  # the fix arrives together with the next break
        alerts = rx.wait_for(len(cases))
        assert all("was not adopted" in a["message"] for a in alerts)

        fixed = push("fixed")
        out = run()
        assert f"now at {fixed}" in out and "check: ok" in out, out
        assert git(deploy, "rev-parse", "HEAD") == fixed
