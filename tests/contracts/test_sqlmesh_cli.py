"""SQLMesh's own commands on the project, as the README shows them: each line of its
SQLMesh block is run here, as written (in a copy of the repository whose OBT gained a
column, the README's "change a model"), after a real transform published prod."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from testsupport import free_port
from testsupport.psd import fixtures as fx
from testsupport.psd.project import copy_project, edit

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SQLMESH = shutil.which("sqlmesh", path=str(BIN))
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
    "raw.wasde_report",
    "staging.stg_wasde__report",
    "cleaned.cln_wasde_psd",
    "serving.fct_wasde_vintages",
    "serving.fct_wasde_latest",
}
INPUTS = {'"warehouse"."materia_input"."psd_rows"', '"warehouse"."materia_input"."wasde_rows"'}


def readme_lines() -> list[str]:
    """The README's SQLMesh block: its command lines, as written."""
    text = (ROOT / "README.md").read_text()
    (block,) = re.findall(
        r"### The SQLMesh project, the SQLMesh way\n.*?```sh\n(.*?)```", text, re.S
    )
    return [line for line in block.splitlines() if line and not line.startswith("#")]


@pytest.fixture
def sqlmesh_env(materia_env):
    if SQLMESH is None:
        pytest.skip("the sqlmesh console script is not installed in this environment")
    return materia_env


def _run(line: str, env: dict, cwd: Path, **kw) -> subprocess.CompletedProcess:
    """A README line (`uv run PROG ARGS…`) with this environment's PROG."""
    prog, *args = line.removeprefix("uv run ").split()
    return subprocess.run(
        [str(BIN / prog), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        **kw,
    )


@pytest.mark.slow
def test_the_readmes_sqlmesh_lines_work_on_a_seeded_warehouse(sqlmesh_env, tmp_path):
    home = Path(sqlmesh_env["MATERIA_HOME"])
    r06 = fx.sample_rows("2022-06")
    for month, rows in (("2022-06", r06), ("2022-12", fx.revise(r06, "2022-12"))):
        fx.write_release(
            home / "landing" / f"psd/psd_alldata_csv/{month.replace('-', '/')}/e.zip", rows
        )
    repo = tmp_path / "repo"
    assert _run("uv run materia transform", sqlmesh_env, ROOT).returncode == 0
    lines = readme_lines()
    assert [ln.split()[2:4] for ln in lines] == [
        ["materia", "dev"], ["sqlmesh", "-p"], ["sqlmesh", "-p"], ["sqlmesh", "-p"],
        ["sqlmesh", "-p"], ["sqlmesh", "-p"],
    ]  # fmt: skip
    seed, plan, audit, diff, test, ui = lines
    done = _run(seed, sqlmesh_env, ROOT)
    assert done.returncode == 0, done.stderr
    assert "SQLMesh's prod is that run" in done.stdout
    project = copy_project(repo)  # the README's "change a model": a new OBT column
    edit(
        project,
        "models/serving/obt_commodity_metrics.sql",
        "  p.exports - p.imports AS net_exports,\n",
        "  p.exports - p.imports AS net_exports,\n  p.production * 2 AS double_production,\n",
    )
    name = "dev_readme"
    outputs = {}
    for line in (plan, audit, diff, test):
        done = _run(line.replace("dev_<name>", name), sqlmesh_env, repo)
        assert done.returncode == 0, (line, done.stdout[-2000:], done.stderr[-2000:])
        outputs[line.split()[5]] = done.stdout
    assert "serving__dev_readme.obt_commodity_metrics` (Non-breaking)" in outputs["plan"]
    assert "[full refresh" in outputs["plan"] and "fct_psd_vintages" not in outputs["plan"]
    assert "Finished with 0 audit errors" in outputs["audit"]
    assert "double_production (DOUBLE)" in outputs["table_diff"]
    assert "FULL MATCH" in outputs["table_diff"]
    files = sorted((ROOT / "sqlmesh_materia/tests").glob("*.yaml"))
    cases = sum(len(yaml.safe_load(p.read_text())) for p in files)
    assert f"Successfully Ran `{cases}` Tests" in outputs["test"]
    _serves_the_project(ui, sqlmesh_env, repo)
    listed = _run("uv run materia env list", sqlmesh_env, ROOT)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^dev_readme\tsqlmesh\t.*\texpires ", listed.stdout, re.M), listed.stdout
    dropped = _run("uv run materia env drop dev_readme", sqlmesh_env, ROOT)
    assert dropped.returncode == 0 and "dropped SQLMesh environment dev_readme" in dropped.stdout
    assert "dev_readme" not in _run("uv run materia env list", sqlmesh_env, ROOT).stdout


def _serves_the_project(line: str, env: dict, cwd: Path) -> None:
    """`sqlmesh ui` answers its API on loopback (the README's port, here a free one)."""
    port = free_port()
    prog, *args = line.removeprefix("uv run ").replace("8000", str(port)).split()
    proc = subprocess.Popen(
        [str(BIN / prog), *args],
        cwd=cwd,
        env=env,
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
        assert {m["name"] for m in models} == MODELS | INPUTS
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            assert r.status == 200 and b"<html" in r.read(2000).lower()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_one_yaml_test_per_model():
    tests = {p.stem.removeprefix("test_") for p in (ROOT / "sqlmesh_materia/tests").glob("*.yaml")}
    # The three dims share one file.
    dims = {"serving.dim_commodity", "serving.dim_country", "serving.dim_attribute"}
    names = {m.replace("raw.", "raw_").split(".")[-1] for m in MODELS - dims}
    assert names | {"dims"} == tests
