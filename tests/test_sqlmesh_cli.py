"""The SQLMesh CLI works on the project as its users know it, from the repository root."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from testsupport import free_port

ROOT = Path(__file__).resolve().parents[1]
SQLMESH = shutil.which("sqlmesh", path=str(Path(sys.executable).parent))
MODELS = {
    "raw.psd_alldata",
    "staging.stg_psdalldata__commodity",
    "cleaned.cln_psd_latest",
    "cleaned.cln_psd_dataset",
    "cleaned.cln_psdalldata__commodity_pivoted",
    "serving.obt_commodity_metrics",
    "serving.fct_psd_latest",
    "serving.fct_psd_vintages",
    "serving.dim_commodity",
    "serving.dim_country",
    "serving.dim_attribute",
    "serving.dim_dataset",
}


@pytest.fixture
def sqlmesh_env(materia_env):
    if SQLMESH is None:
        pytest.skip("the sqlmesh console script is not installed in this environment")
    return materia_env


def test_sqlmesh_test_runs_every_models_yaml_test(sqlmesh_env):
    done = subprocess.run(
        [SQLMESH, "-p", "sqlmesh_materia", "test"],
        cwd=ROOT,
        env=sqlmesh_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    files = sorted((ROOT / "sqlmesh_materia/tests").glob("*.yaml"))
    cases = sum(len(yaml.safe_load(p.read_text())) for p in files)
    assert f"Successfully Ran `{cases}` Tests" in out
    tests = {p.stem.removeprefix("test_") for p in files}
    # One YAML unit test file per model (the three dims share one).
    dims = {"serving.dim_commodity", "serving.dim_country", "serving.dim_attribute"}
    names = {m.split(".")[1] for m in MODELS - dims} - {"psd_alldata"} | {"raw_psd_alldata"}
    assert names | {"dims"} == tests


def test_sqlmesh_ui_serves_the_project(sqlmesh_env):
    port = free_port()
    proc = subprocess.Popen(
        [SQLMESH, "-p", "sqlmesh_materia", "ui", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=sqlmesh_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        models = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/models", timeout=5) as r:
                    models = json.load(r)
                break
            except OSError:
                time.sleep(0.5)
        assert models is not None, "sqlmesh ui did not answer /api/models"
        # The inputs materia prepares are external models, named as SQLMesh names them.
        inputs = {
            '"warehouse"."materia_input"."psd_rows"',
            '"warehouse"."materia_input"."vintage_prior"',
        }
        assert {m["name"] for m in models} == MODELS | inputs
    finally:
        proc.terminate()
        proc.wait(timeout=30)
