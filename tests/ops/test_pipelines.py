"""`materia pipeline run`: choosing what runs where, in this process or on a worker."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from materia.core import settings
from materia.core.errors import MateriaError
from materia.ops import pipelines
from testsupport.psd.fixtures import sample_rows, write_release


def _settings(tmp_path: Path, **env: str) -> settings.Settings:
    return settings.load(
        environ={"MATERIA_HOME": str(tmp_path / "home"), **env}, dotenv=tmp_path / "none"
    )


def test_unknown_names_are_one_clear_error(tmp_path: Path):
    s = _settings(tmp_path)
    with pytest.raises(MateriaError, match="unknown pipeline 'load': use extract, transform, all"):
        pipelines.main(s, name="load")
    with pytest.raises(MateriaError, match="unknown worker provider 'azure'"):
        pipelines.main(s, name="extract", on="azure")


R2 = {
    "R2_ENDPOINT": "http://127.0.0.1:9",
    "R2_BUCKET": "b",
    "R2_ACCESS_KEY": "k",
    "R2_SECRET_KEY": "s",
}


@pytest.mark.parametrize(
    ("on", "missing"),
    [
        ("hetzner", "HCLOUD_TOKEN is not set"),
        ("scaleway", "SCW_ACCESS_KEY, SCW_SECRET_KEY, SCW_DEFAULT_PROJECT_ID are not set"),
        ("ovh", "OVH_APPLICATION_KEY, OVH_APPLICATION_SECRET, OVH_CONSUMER_KEY, OVH_CLOUD_"),
        ("oracle", "OCI_TENANCY_OCID, OCI_USER_OCID, OCI_FINGERPRINT, OCI_PRIVATE_KEY, OCI_RE"),
        ("cheapest", "no cloud provider has credentials"),
    ],
)
def test_cloud_runs_need_r2_and_credentials(tmp_path: Path, on: str, missing: str):
    with pytest.raises(MateriaError, match="need R2 landing"):
        pipelines.main(_settings(tmp_path), name="extract", on=on)
    with pytest.raises(MateriaError, match=missing):
        pipelines.main(_settings(tmp_path, **R2), name="extract", on=on)


def test_extract_runs_in_this_process(psd_server, cli, materia_env):
    now = datetime.now(UTC)
    write_release(
        psd_server.root / "archives" / f"{now:%Y}" / f"{now:%m}" / "psd_coffee_csv.zip",
        sample_rows(),
    )
    env = {**materia_env, "PSD_BASE_URL": psd_server.base_url, "PSD_DATASETS": "psd_coffee_csv.zip"}
    r = cli("pipeline", "run", "extract", env=env)
    assert r.returncode == 0, r.stderr
    assert "landed psd/psd_coffee_csv/" in r.stdout
    home = Path(materia_env["MATERIA_HOME"])
    assert len(list((home / "landing" / "psd").rglob("*.zip"))) == 1
    assert not (home / "workers").exists()  # no worker involved
    r = cli(
        "pipeline", "run", "extract", env={**env, "PSD_BASE_URL": psd_server.base_url + "/nothing"}
    )
    assert r.returncode == 1 and "no release of psd_coffee_csv.zip" in r.stderr
