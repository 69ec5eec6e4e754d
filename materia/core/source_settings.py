"""Settings of the sources materia lands: where each one's files are, which of its
datasets, and an optional extract window; `materia.core.settings.load` reads them (this module
holds their shape and defaults, so `Settings` stays one object read in one place).

`config(settings, name)` gives one source's as a `SourceConfig`, so the extractor reads
every source the same way, with the variable names to quote in an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from materia.core.errors import MateriaError, SettingsError


class Settings(Protocol):
    """The sources' fields of `materia.core.settings.Settings` (named here so that the
    settings module can read this one without an import circle)."""

    psd_base_url: str
    psd_datasets: tuple[str, ...]
    psd_as_of: str | None
    psd_backfill_from: str | None
    wasde_base_url: str
    wasde_as_of: str | None
    wasde_backfill_from: str | None
    extract_sources: tuple[str, ...]


DEFAULT_PSD_BASE_URL = "https://apps.fas.usda.gov/psdonline/downloads"
DEFAULT_PSD_DATASETS = ("psd_alldata_csv.zip",)
# USDA's OCE serves each month's WASDE report data as
# <base>/oce-wasde-report-data-YYYY-MM.csv
DEFAULT_WASDE_BASE_URL = "https://www.usda.gov/sites/default/files/documents"
WASDE_DATASET = "oce-wasde-report-data"  # its one dataset: the file name without the month
DEFAULT_EXTRACT_SOURCES = ("psd",)  # the nightly extract; WASDE runs on WASDE days
KNOWN = ("psd", "wasde")


@dataclass(frozen=True)
class SourceConfig:
    name: str  # psd, wasde
    base_url: str
    datasets: tuple[str, ...]
    as_of: str | None
    backfill_from: str | None

    @property
    def variable(self) -> str:
        """The prefix of its variables: PSD_BASE_URL, WASDE_AS_OF, …"""
        return self.name.upper()


def load_sources(get: Callable[..., str | None]) -> dict[str, object]:
    """The sources' fields of `Settings`, from the variables `get` reads."""
    datasets = tuple(d.strip() for d in (get("PSD_DATASETS", "") or "").split(",") if d.strip())
    listed = (get("MATERIA_EXTRACT_SOURCES", "") or "").split(",")
    sources = tuple(dict.fromkeys(s.strip().lower() for s in listed if s.strip()))
    unknown = [s for s in sources if s not in KNOWN]
    if unknown:
        raise SettingsError(
            f"MATERIA_EXTRACT_SOURCES names {unknown[0]!r}: use psd and/or wasde, comma separated"
        )
    return {
        "psd_base_url": (get("PSD_BASE_URL", DEFAULT_PSD_BASE_URL) or "").rstrip("/"),
        "psd_datasets": datasets or DEFAULT_PSD_DATASETS,
        "psd_as_of": get("PSD_AS_OF"),
        "psd_backfill_from": get("PSD_BACKFILL_FROM"),
        "wasde_base_url": (get("WASDE_BASE_URL", DEFAULT_WASDE_BASE_URL) or "").rstrip("/"),
        "wasde_as_of": get("WASDE_AS_OF"),
        "wasde_backfill_from": get("WASDE_BACKFILL_FROM"),
        "extract_sources": sources or DEFAULT_EXTRACT_SOURCES,
    }


def to_environ(s: Settings) -> dict[str, str]:
    """The variables that give a child process these sources' settings."""
    env = {
        "PSD_BASE_URL": s.psd_base_url,
        "PSD_DATASETS": ",".join(s.psd_datasets),
        "WASDE_BASE_URL": s.wasde_base_url,
        "MATERIA_EXTRACT_SOURCES": ",".join(s.extract_sources),
    }
    optional = {"PSD_AS_OF": s.psd_as_of, "PSD_BACKFILL_FROM": s.psd_backfill_from}
    optional |= {"WASDE_AS_OF": s.wasde_as_of, "WASDE_BACKFILL_FROM": s.wasde_backfill_from}
    return env | {k: v for k, v in optional.items() if v}


def config(s: Settings, name: str) -> SourceConfig:
    """One source's settings."""
    if name == "psd":
        return SourceConfig("psd", s.psd_base_url, s.psd_datasets, s.psd_as_of, s.psd_backfill_from)  # fmt: skip
    if name == "wasde":
        return SourceConfig(
            "wasde", s.wasde_base_url, (WASDE_DATASET,), s.wasde_as_of, s.wasde_backfill_from
        )
    raise MateriaError(f"{name!r} is not a source materia lands (known: {', '.join(KNOWN)})")
