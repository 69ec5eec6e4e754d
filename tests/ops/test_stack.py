"""`materia stack up|env|down`: production's shape on loopback (SeaweedFS as R2 and as the
Iceberg REST catalog), and MATERIA_ENV=prod end to end on it, the notebook included."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from pathlib import Path

import pytest

from testsupport import clean_env, run_cli
from testsupport.psd import fixtures as psd_fixtures

pytestmark = [pytest.mark.s3, pytest.mark.slow]


def exported(text: str) -> dict[str, str]:
    """The variables of `export NAME=value` lines, as a shell would read them."""
    out = {}
    for line in text.splitlines():
        words = shlex.split(line)
        assert words[0] == "export", line
        name, _, value = words[1].partition("=")
        out[name] = value
    return out


@pytest.fixture
def stack_home(tmp_path: Path):
    from materia.ops.stack import weed_binary

    try:
        weed_binary()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    home = tmp_path / "home"
    yield home
    run_cli("stack", "down", env=clean_env(home), cwd=tmp_path)  # whatever the test did


def test_stack_runs_prod_end_to_end(stack_home: Path, tmp_path: Path, psd_server) -> None:
    env = clean_env(stack_home)
    up = run_cli("stack", "up", env=env, cwd=tmp_path)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "stack: SeaweedFS up (S3 http://127.0.0.1:" in up.stdout
    again = run_cli("stack", "up", env=env, cwd=tmp_path)
    assert "already running" in again.stdout

    lines = run_cli("stack", "env", env=env, cwd=tmp_path)
    assert lines.returncode == 0, lines.stderr
    prod = exported(lines.stdout)
    assert prod["MATERIA_ENV"] == "prod" and prod["MATERIA_HOME"] == str(stack_home)
    assert prod["R2_ENDPOINT"].startswith("http://127.0.0.1:")
    assert prod["ICEBERG_REST_URI"].startswith("http://127.0.0.1:")

    # The pipeline and the report (which runs the notebook) as a user would, in prod.
    now = datetime.now(UTC)
    psd_fixtures.archive_layout(psd_server.root, {f"{now:%Y-%m}": psd_fixtures.sample_rows()})
    user = {
        **env,
        **prod,
        "PSD_BASE_URL": psd_server.base_url,
        "PSD_DATASETS": "psd_coffee_csv.zip",
    }
    run = run_cli("pipeline", "run", env=user, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    report = run_cli("report", "commodities", "--publish", env=user, cwd=tmp_path)
    assert report.returncode == 0, report.stdout + report.stderr
    assert f"report: published s3://{prod['R2_BUCKET']}/reports/" in report.stderr
    import s3fs

    fs = s3fs.S3FileSystem(
        key=prod["R2_ACCESS_KEY"], secret=prod["R2_SECRET_KEY"], endpoint_url=prod["R2_ENDPOINT"]
    )
    page = fs.cat(f"{prod['R2_BUCKET']}/reports/latest.html").decode()
    # The notebook's pipeline health section, read from the run log in the bucket.
    assert "Pipeline health" in page and "last successful transform" in page
    table = run_cli("runs", env=user, cwd=tmp_path)  # the run log lives in the bucket too
    assert [r.split()[3] for r in table.stdout.splitlines()[1:]] == ["extract", "transform"]

    down = run_cli("stack", "down", env=env, cwd=tmp_path)
    assert down.returncode == 0 and "stack: stopped" in down.stdout
    gone = run_cli("stack", "env", env=env, cwd=tmp_path)
    assert gone.returncode == 1
    assert gone.stderr.strip() == (
        f"error: the local stack of {stack_home} is not running: `materia stack up` first"
    )
    assert any((stack_home / "stack" / "data").iterdir())  # the data stays


def test_ports_are_stable_across_down_and_up(stack_home: Path, tmp_path: Path) -> None:
    """A shell that ran `eval "$(materia stack env)"` keeps working after `down` and `up`."""
    env = clean_env(stack_home)
    assert run_cli("stack", "up", env=env, cwd=tmp_path).returncode == 0
    before = exported(run_cli("stack", "env", env=env, cwd=tmp_path).stdout)
    assert before["MATERIA_ESC_ENV"] == "off"  # a rehearsal never opens prod's ESC
    assert run_cli("stack", "down", env=env, cwd=tmp_path).returncode == 0
    up = run_cli("stack", "up", env=env, cwd=tmp_path)
    assert up.returncode == 0, up.stdout + up.stderr
    after = exported(run_cli("stack", "env", env=env, cwd=tmp_path).stdout)
    assert after == before
    # The old shell's settings reach the restarted stand-ins.
    listed = run_cli("landing", "list", env={**env, **before}, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
