"""One typed settings object, read from the environment (and `.env` when present).

`MATERIA_ENV` picks the whole environment: `local` (the embedded default: landing,
warehouse and Iceberg catalog all under `MATERIA_HOME`) or `prod` (landing on R2, the
Iceberg REST catalog, workers on Hetzner). Secret values are wrapped in `Secret` so that
no `repr`, log line or error message can show them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from materia.core.cloud_settings import OracleSettings, OvhSettings, ScalewaySettings, load_clouds
from materia.core.errors import SettingsError
from materia.core.redact import Secret
from materia.core.source_settings import (  # noqa: F401  (the defaults are part of this API)
    DEFAULT_EXTRACT_SOURCES,
    DEFAULT_PSD_BASE_URL,
    DEFAULT_PSD_DATASETS,
    DEFAULT_WASDE_BASE_URL,
    load_sources,
)

# The Pulumi ESC environment secrets come from: MATERIA_ESC_ENV, else this one only with
# MATERIA_ENV=prod (a rehearsal never opens prod's secrets); `off` turns ESC off.
PROD_ESC_ENV = "beanflows/prod"
DEFAULT_DOWNLOAD_DEADLINE_S = 900.0  # one archive, all attempts included
DEFAULT_MAX_ARCHIVE_MB = 100  # psd_alldata_csv.zip is about 10 MB


@dataclass(frozen=True)
class R2Settings:
    """S3-compatible object storage for landing (and the prod warehouse file)."""

    endpoint: str
    bucket: str
    access_key: Secret
    secret_key: Secret
    region: str = "auto"

    def storage_options(self) -> dict[str, object]:
        """fsspec/s3fs keyword arguments."""
        return {
            "key": self.access_key.get(),
            "secret": self.secret_key.get(),
            "endpoint_url": self.endpoint,
            "client_kwargs": {"region_name": self.region},
        }


@dataclass(frozen=True)
class IcebergSettings:
    """Iceberg REST catalog (Cloudflare R2 Data Catalog in prod, SeaweedFS in tests)."""

    rest_uri: str
    warehouse: str
    token: Secret | None = None
    credential: Secret | None = None


@dataclass(frozen=True)
class HetznerSettings:
    token: Secret | None
    api_endpoint: str = "https://api.hetzner.cloud/v1"
    location: str = "fsn1"
    image: str = "debian-12"
    ssh_key_name: str = "materia"
    ssh_private_key: Path | None = None
    worker_ttl_minutes: int = 180
    # How the client reaches a worker: port 22 as root on real servers (stand-ins differ).
    ssh_port: int = 22
    ssh_user: str = "root"
    ssh_timeout_seconds: int = 300


@dataclass(frozen=True)
class Settings:
    # MATERIA_ENV: where landing, the catalog and workers are. Not to be confused with a
    # transform's target environment (prod, dev_<name>): an Iceberg namespace.
    deployment: str
    home: Path
    psd_base_url: str
    psd_datasets: tuple[str, ...]
    r2: R2Settings | None = None
    # Optional extract window (PSD_AS_OF=YYYY-MM-DD, PSD_BACKFILL_FROM=YYYY-MM): lets
    # `pipeline run`, workers and the supervisor land history without extra arguments.
    psd_as_of: str | None = None
    psd_backfill_from: str | None = None
    iceberg: IcebergSettings | None = None
    hetzner: HetznerSettings = field(default_factory=lambda: HetznerSettings(token=None))
    scaleway: ScalewaySettings = field(default_factory=ScalewaySettings)
    ovh: OvhSettings = field(default_factory=OvhSettings)
    oracle: OracleSettings = field(default_factory=OracleSettings)
    worker_provider: str = "local"
    # Bounded downloads (PSD_DOWNLOAD_DEADLINE seconds, PSD_MAX_ARCHIVE_MB) per archive.
    download_deadline_s: float = DEFAULT_DOWNLOAD_DEADLINE_S
    max_archive_bytes: int = DEFAULT_MAX_ARCHIVE_MB * 2**20
    notify: Secret | None = None  # MATERIA_NOTIFY: Apprise URLs for alerts
    gitlab_read_token: Secret | None = None
    # MATERIA_PARENT_RUN: the run (tick job, worker run) this process runs inside of.
    parent_run: str | None = None
    # WASDE report data (WASDE_BASE_URL, WASDE_AS_OF, WASDE_BACKFILL_FROM), and the
    # sources `materia pipeline run extract` lands (MATERIA_EXTRACT_SOURCES).
    wasde_base_url: str = DEFAULT_WASDE_BASE_URL
    wasde_as_of: str | None = None
    wasde_backfill_from: str | None = None
    extract_sources: tuple[str, ...] = DEFAULT_EXTRACT_SOURCES
    # Published Iceberg snapshots older than this are expired with their files (the
    # vintages table is the history; snapshots only serve readers mid-read and rollback).
    snapshot_retention: timedelta = timedelta(days=7)
    esc_env: str | None = None  # MATERIA_ESC_ENV (see esc_env_name); None: no ESC
    # A dev environment (serving__dev_<name>) not published to for this long is dropped
    # by the next prod transform (MATERIA_DEV_TTL_DAYS).
    dev_ttl: timedelta = timedelta(days=7)

    # --- derived locations -------------------------------------------------------
    @property
    def landing_root(self) -> str:
        """Root of the landing area: `s3://<bucket>` in R2 mode, else a local folder."""
        if self.r2 is not None:
            return f"s3://{self.r2.bucket}"
        return str(self.home / "landing")

    @property
    def tmp_dir(self) -> Path:
        """Scratch space on the same filesystem as the local landing area (atomic rename)."""
        return self.home / "tmp"

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB warehouse file (SQLMesh state + physical tables)."""
        return self.home / "warehouse.duckdb"

    @property
    def lakehouse_dir(self) -> Path:
        return self.home / "lakehouse"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    def to_environ(self) -> dict[str, str]:
        """The variables that give a child process these settings for running pipelines
        (`load(s.to_environ())` reproduces them). Worker and cloud credentials are left
        out on purpose: a pipeline never needs them, so a child never carries them."""
        from materia.core import source_settings

        env = {
            "MATERIA_ENV": self.deployment,
            "MATERIA_HOME": str(self.home),
            "PSD_DOWNLOAD_DEADLINE": repr(self.download_deadline_s),
            "PSD_MAX_ARCHIVE_MB": repr(self.max_archive_bytes / 2**20),
            "MATERIA_SNAPSHOT_RETENTION_DAYS": str(self.snapshot_retention.days),
            "MATERIA_DEV_TTL_DAYS": str(self.dev_ttl.days),
            **source_settings.to_environ(self),
        }
        if self.r2:
            r2 = self.r2
            env |= {"R2_ENDPOINT": r2.endpoint, "R2_BUCKET": r2.bucket, "R2_REGION": r2.region}
            env |= {"R2_ACCESS_KEY": r2.access_key.get(), "R2_SECRET_KEY": r2.secret_key.get()}
        if self.iceberg:
            ice = self.iceberg
            env |= {"ICEBERG_REST_URI": ice.rest_uri, "ICEBERG_WAREHOUSE": ice.warehouse}
            if ice.token:
                env["ICEBERG_TOKEN"] = ice.token.get()
            if ice.credential:
                env["ICEBERG_CREDENTIAL"] = ice.credential.get()
        return env

    def secret_values(self) -> list[str]:
        """Every secret value in force, for redaction."""
        found: list[str] = []
        for s in (
            self.r2 and self.r2.access_key,
            self.r2 and self.r2.secret_key,
            self.iceberg and self.iceberg.token,
            self.iceberg and self.iceberg.credential,
            self.hetzner.token,
            self.notify,
            self.gitlab_read_token,
            self.scaleway.access_key,
            self.scaleway.secret_key,
            self.ovh.application_key,
            self.ovh.application_secret,
            self.ovh.consumer_key,
            self.oracle.private_key,
            self.oracle.private_key_password,
        ):
            if isinstance(s, Secret) and s.get():
                found.append(s.get())
        if self.notify:  # each Apprise URL on its own too: one may be quoted alone
            found += [u for u in re.split(r"[\s,]+", self.notify.get()) if u]
        return found


def esc_env_name(env: Mapping[str, str]) -> str | None:
    """The ESC environment to read secrets from: MATERIA_ESC_ENV (`off` or `none`: no
    ESC), else PROD_ESC_ENV when MATERIA_ENV=prod, else None."""
    named = (env.get("MATERIA_ESC_ENV") or "").strip()
    if named:
        return None if named.lower() in ("off", "none") else named
    prod = (env.get("MATERIA_ENV") or "").strip().lower() == "prod"
    return PROD_ESC_ENV if prod else None


def _dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def load(environ: Mapping[str, str] | None = None, dotenv: Path | None = None) -> Settings:
    """Build settings from `environ` (default: os.environ) over `.env` (default: ./.env)."""
    env: dict[str, str] = dict(_dotenv(dotenv or Path(".env")))
    env.update(os.environ if environ is None else environ)

    def get(name: str, default: str | None = None) -> str | None:
        value = env.get(name, "")
        return value.strip() if value.strip() else default

    def number(name: str, default: int) -> int:
        # The value is never echoed: a secret pasted into the wrong variable stays secret.
        text = get(name)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number") from None
        if value < 0:
            raise SettingsError(f"{name} must not be negative")
        return value

    menv = (get("MATERIA_ENV", "local") or "local").lower()
    if menv not in ("local", "prod"):
        raise SettingsError("MATERIA_ENV must be 'local' or 'prod'")

    home = Path(get("MATERIA_HOME", ".materia") or ".materia").expanduser().absolute()

    r2_names = ("R2_ENDPOINT", "R2_BUCKET", "R2_ACCESS_KEY", "R2_SECRET_KEY")
    r2 = None
    if all(get(n) for n in r2_names):
        r2 = R2Settings(
            endpoint=get("R2_ENDPOINT"),  # type: ignore[arg-type]
            bucket=get("R2_BUCKET"),  # type: ignore[arg-type]
            access_key=Secret(get("R2_ACCESS_KEY")),  # type: ignore[arg-type]
            secret_key=Secret(get("R2_SECRET_KEY")),  # type: ignore[arg-type]
            region=get("R2_REGION", "auto") or "auto",
        )

    iceberg = None
    if get("ICEBERG_REST_URI"):
        token, cred = get("ICEBERG_TOKEN"), get("ICEBERG_CREDENTIAL")
        iceberg = IcebergSettings(
            rest_uri=get("ICEBERG_REST_URI"),  # type: ignore[arg-type]
            warehouse=get("ICEBERG_WAREHOUSE", "") or "",
            token=Secret(token) if token else None,
            credential=Secret(cred) if cred else None,
        )

    if menv == "prod":
        missing = [n for n in r2_names if not get(n)]
        if not get("ICEBERG_REST_URI"):
            missing.append("ICEBERG_REST_URI")
        if missing:
            raise SettingsError(f"MATERIA_ENV=prod needs {', '.join(missing)} to be set")

    def secret(name: str) -> Secret | None:
        value = get(name)
        return Secret(value) if value else None

    def path(name: str) -> Path | None:
        value = get(name)
        return Path(value).expanduser() if value else None

    # HETZNER_TOKEN: the ESC seed's name for it.
    htoken = get("HCLOUD_TOKEN") or get("HETZNER_TOKEN")
    # The worker SSH key serves every provider; HCLOUD_SSH_PRIVATE_KEY is its first name.
    key_path = get("MATERIA_WORKER_SSH_KEY") or get("HCLOUD_SSH_PRIVATE_KEY")
    hetzner = HetznerSettings(
        token=Secret(htoken) if htoken else None,
        api_endpoint=get("HCLOUD_ENDPOINT", "https://api.hetzner.cloud/v1")
        or "https://api.hetzner.cloud/v1",
        location=get("HCLOUD_LOCATION", "fsn1") or "fsn1",
        image=get("HCLOUD_IMAGE", "debian-12") or "debian-12",
        ssh_key_name=get("HCLOUD_SSH_KEY_NAME", "materia") or "materia",
        ssh_private_key=Path(key_path).expanduser() if key_path else None,
        worker_ttl_minutes=number("MATERIA_WORKER_TTL_MINUTES", 180),
        ssh_port=number("HCLOUD_SSH_PORT", 22),
        ssh_user=get("HCLOUD_SSH_USER", "root") or "root",
        ssh_timeout_seconds=number("MATERIA_WORKER_SSH_TIMEOUT", 300),
    )
    clouds = load_clouds(get, secret, path)
    provider = get("MATERIA_WORKER_PROVIDER", "hetzner" if menv == "prod" else "local")
    notify, gitlab = get("MATERIA_NOTIFY"), get("GITLAB_READ_TOKEN")

    return Settings(
        deployment=menv,
        home=home,
        **load_sources(get),
        r2=r2,
        iceberg=iceberg,
        hetzner=hetzner,
        **clouds,
        worker_provider=provider or "local",
        download_deadline_s=_positive(
            get, "PSD_DOWNLOAD_DEADLINE", DEFAULT_DOWNLOAD_DEADLINE_S, most=7 * 86400
        ),
        max_archive_bytes=int(
            _positive(get, "PSD_MAX_ARCHIVE_MB", DEFAULT_MAX_ARCHIVE_MB, most=2**20) * 2**20
        ),
        notify=Secret(notify) if notify else None,
        gitlab_read_token=Secret(gitlab) if gitlab else None,
        parent_run=get("MATERIA_PARENT_RUN"),
        snapshot_retention=timedelta(days=number("MATERIA_SNAPSHOT_RETENTION_DAYS", 7)),
        esc_env=esc_env_name(env),
        dev_ttl=timedelta(days=number("MATERIA_DEV_TTL_DAYS", 7)),
    )


def _positive(get, name: str, default: float, most: float = 1e12) -> float:
    """A positive, finite number no larger than `most` (nan and inf are refused: nan
    compares false with everything, so it would silently disable a bound)."""
    raw = get(name)
    try:
        value = float(raw) if raw is not None else default
    except ValueError:
        # Not echoed: a secret pasted into the wrong variable stays secret.
        raise SettingsError(f"{name} must be a positive number") from None
    if not math.isfinite(value) or value <= 0 or value > most:
        raise SettingsError(f"{name} must be a positive number no larger than {most:,.0f}")
    return value
