"""One typed settings object from the environment (and .env); secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from materia.core.errors import SettingsError
from materia.core.redact import Secret
from materia.core.settings import DEFAULT_PSD_BASE_URL, load

R2 = {
    "R2_ENDPOINT": "http://127.0.0.1:9",
    "R2_BUCKET": "landing",
    "R2_ACCESS_KEY": "ak-1234567890",
    "R2_SECRET_KEY": "sk-abcdefghij",
}


def _load(tmp_path: Path, **env: str):
    return load(environ=env, dotenv=tmp_path / "absent.env")


def test_local_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = _load(tmp_path)
    assert s.deployment == "local" and s.r2 is None and s.iceberg is None
    assert s.home == tmp_path / ".materia" and s.home.is_absolute()
    assert s.psd_base_url == DEFAULT_PSD_BASE_URL
    assert s.psd_datasets == ("psd_alldata_csv.zip",)
    assert s.landing_root == str(tmp_path / ".materia" / "landing")
    assert s.tmp_dir == tmp_path / ".materia" / "tmp"
    assert s.worker_provider == "local"


def test_datasets_base_url_and_home(tmp_path):
    s = _load(
        tmp_path,
        MATERIA_HOME=str(tmp_path / "h"),
        PSD_DATASETS=" psd_coffee_csv.zip, ,psd_cotton_csv.zip ",
        PSD_BASE_URL="http://127.0.0.1:1/psd/",
    )
    assert s.psd_datasets == ("psd_coffee_csv.zip", "psd_cotton_csv.zip")
    assert s.psd_base_url == "http://127.0.0.1:1/psd"
    assert s.home == tmp_path / "h"


def test_r2_only_when_all_four_are_set(tmp_path):
    partial = {k: v for k, v in R2.items() if k != "R2_SECRET_KEY"}
    assert _load(tmp_path, **partial).r2 is None
    s = _load(tmp_path, **R2)
    assert s.r2 is not None and s.landing_root == "s3://landing"
    assert s.r2.storage_options()["secret"] == "sk-abcdefghij"


def test_secrets_never_in_repr(tmp_path):
    s = _load(
        tmp_path,
        **R2,
        HCLOUD_TOKEN="hc-secret-token",
        ICEBERG_REST_URI="http://x",
        ICEBERG_CREDENTIAL="k:s3cr3t-cred",
    )
    shown = repr(s) + str(s.r2) + repr(s.hetzner)
    for value in ("ak-1234567890", "sk-abcdefghij", "hc-secret-token", "k:s3cr3t-cred"):
        assert value not in shown
        assert value in s.secret_values()
    assert repr(Secret("x")) == "Secret('**********')" and Secret("x").get() == "x"


def test_environment_selection_and_errors(tmp_path):
    with pytest.raises(SettingsError, match="MATERIA_ENV must be"):
        _load(tmp_path, MATERIA_ENV="staging")
    with pytest.raises(SettingsError, match="R2_ENDPOINT.*ICEBERG_REST_URI"):
        _load(tmp_path, MATERIA_ENV="prod")
    s = _load(tmp_path, MATERIA_ENV="prod", ICEBERG_REST_URI="http://127.0.0.1:2", **R2)
    assert s.deployment == "prod" and s.worker_provider == "hetzner"


def test_dotenv_is_read_and_environment_wins(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("PSD_DATASETS=psd_coffee_csv.zip\nMATERIA_HOME=/from/dotenv\n")
    s = load(environ={"MATERIA_HOME": str(tmp_path / "env")}, dotenv=dotenv)
    assert s.psd_datasets == ("psd_coffee_csv.zip",)
    assert s.home == tmp_path / "env"


def test_seed_secret_names_are_read(tmp_path):
    # ESC `beanflows/prod` holds HETZNER_TOKEN; HCLOUD_TOKEN wins when both are set.
    s = _load(tmp_path, HETZNER_TOKEN="hz-seed-token", GITLAB_READ_TOKEN="glpat-read-1234")
    assert s.hetzner.token is not None and s.hetzner.token.get() == "hz-seed-token"
    assert s.gitlab_read_token is not None and s.gitlab_read_token.get() == "glpat-read-1234"
    assert {"hz-seed-token", "glpat-read-1234"} <= set(s.secret_values())
    both = _load(tmp_path, HETZNER_TOKEN="hz-seed-token", HCLOUD_TOKEN="hc-explicit")
    assert both.hetzner.token.get() == "hc-explicit"


def test_download_bounds_and_notify(tmp_path):
    s = _load(tmp_path)
    assert (s.download_deadline_s, s.max_archive_bytes, s.notify) == (900.0, 100 * 2**20, None)
    s = _load(
        tmp_path,
        PSD_DOWNLOAD_DEADLINE="30",
        PSD_MAX_ARCHIVE_MB="0.5",
        MATERIA_NOTIFY="json://127.0.0.1:9/hook?token=abcdef123",
    )
    assert (s.download_deadline_s, s.max_archive_bytes) == (30.0, 2**19)
    assert "json://127.0.0.1:9/hook?token=abcdef123" in s.secret_values()
    with pytest.raises(SettingsError, match="PSD_DOWNLOAD_DEADLINE must be a positive number"):
        _load(tmp_path, PSD_DOWNLOAD_DEADLINE="-1")


@pytest.mark.parametrize("name", ["PSD_DOWNLOAD_DEADLINE", "PSD_MAX_ARCHIVE_MB"])
@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "1e400", "0", "1e30"])
def test_numeric_settings_are_finite_and_named(tmp_path, name, text):
    """nan compares false with every bound (PSD_DOWNLOAD_DEADLINE=nan disabled the
    deadline; PSD_MAX_ARCHIVE_MB=nan failed with "cannot convert float NaN")."""
    with pytest.raises(SettingsError, match=f"^{name} must be a positive number"):
        _load(tmp_path, **{name: text})


def test_a_nan_setting_is_one_line_naming_it(cli, materia_env):
    done = cli("extract", "psd", env={**materia_env, "PSD_MAX_ARCHIVE_MB": "nan"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: PSD_MAX_ARCHIVE_MB must be a positive number no larger than 1,048,576"
    ]


def test_to_environ_gives_a_child_the_same_pipeline_settings(tmp_path):
    from datetime import timedelta

    env = {
        "MATERIA_ENV": "prod",
        "MATERIA_HOME": str(tmp_path / "h"),
        "PSD_DATASETS": "psd_coffee_csv.zip,psd_cotton_csv.zip",
        "PSD_AS_OF": "2022-12-31",
        "PSD_DOWNLOAD_DEADLINE": "12.5",
        "PSD_MAX_ARCHIVE_MB": "3",
        "MATERIA_SNAPSHOT_RETENTION_DAYS": "2",
        "R2_ENDPOINT": "http://127.0.0.1:9",
        "R2_BUCKET": "b",
        "R2_ACCESS_KEY": "ak",
        "R2_SECRET_KEY": "sk",
        "ICEBERG_REST_URI": "http://127.0.0.1:8",
        "ICEBERG_CREDENTIAL": "id:secret",
        "HCLOUD_TOKEN": "never-in-a-child",
    }
    s = load(env, dotenv=tmp_path / "none")
    child_env = s.to_environ()
    assert "HCLOUD_TOKEN" not in child_env and "never-in-a-child" not in child_env.values()
    child = load(child_env, dotenv=tmp_path / "none")
    for field in ("deployment", "home", "psd_base_url", "psd_datasets", "psd_as_of", "r2", "iceberg",
                  "download_deadline_s", "max_archive_bytes", "snapshot_retention"):  # fmt: skip
        assert getattr(child, field) == getattr(s, field), field
    assert child.snapshot_retention == timedelta(days=2)
