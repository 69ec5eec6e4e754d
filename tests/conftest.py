"""Shared fixtures (see docs/TESTING.md): real loopback servers, a clean CLI environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from testsupport import clean_env, run_cli
from testsupport.psd.server import PsdServer

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_PSD = REPO_ROOT.parent / "shared" / "data" / "psd"


@pytest.fixture(scope="session")
def shared_psd_dir() -> Path:
    """The real USDA releases in ../shared/data/psd (skipped when the folder is absent)."""
    if not (SHARED_PSD / "archives").is_dir():
        pytest.skip(f"real PSD data not found at {SHARED_PSD} (needs ../shared/data/psd)")
    return SHARED_PSD


@pytest.fixture
def psd_server(tmp_path: Path):
    """A PSD Online stand-in serving `psd_server.root` (an empty tmp dir to populate)."""
    root = tmp_path / "psd_online"
    root.mkdir()
    with PsdServer(root) as srv:
        yield srv


@pytest.fixture
def shared_psd_server(shared_psd_dir: Path):
    """A PSD Online stand-in serving the real releases (read-only)."""
    with PsdServer(shared_psd_dir) as srv:
        yield srv


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory):
    """SeaweedFS on loopback for the whole session: S3 (bucket `landing`) + Iceberg REST."""
    from testsupport.lakehouse.seaweed import Seaweed, weed_binary

    try:
        weed_binary()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    with Seaweed(tmp_path_factory.mktemp("seaweed")) as sw:
        yield sw


@pytest.fixture
def materia_env(tmp_path: Path) -> dict[str, str]:
    """A clean environment for the CLI with MATERIA_HOME in a fresh tmp dir."""
    home = tmp_path / "materia_home"
    home.mkdir()
    return clean_env(home)


@pytest.fixture
def cli(materia_env: dict[str, str], tmp_path: Path):
    """`cli("extract", "psd", env=...)` runs the real CLI; env defaults to materia_env."""
    workdir = tmp_path / "cwd"  # no .env here, so settings come from env alone

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 300):
        return run_cli(*args, env=env or materia_env, cwd=workdir, timeout=timeout)

    return run


@pytest.fixture
def local_settings(tmp_path: Path):
    """Settings of a fresh local home (landing, catalog, locks under tmp_path/home)."""
    from materia.core import settings

    return settings.load({"MATERIA_HOME": str(tmp_path / "home")}, dotenv=tmp_path / "no.env")


@pytest.fixture
def r2_settings(seaweed, tmp_path: Path):
    """Prod-shaped settings: a fresh landing bucket on SeaweedFS and its Iceberg REST
    catalog (shared by the session: use a unique dev environment to publish into)."""
    import uuid

    from materia.core import settings

    bucket = f"t-{uuid.uuid4().hex[:12]}"
    seaweed.s3fs().mkdir(bucket)
    env = {
        "MATERIA_HOME": str(tmp_path / "home"),
        "MATERIA_ENV": "prod",
        **seaweed.r2_env(),
        "R2_BUCKET": bucket,
        **seaweed.iceberg_env(),
    }
    return settings.load(env, dotenv=tmp_path / "no.env")
