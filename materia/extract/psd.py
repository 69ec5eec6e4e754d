"""Land USDA PSD Online releases as immutable archives (`extract_psd`, `materia extract psd`).

PSD Online's file of release month YYYY-MM lives at `<base>/archives/<YYYY>/<MM>/<name>`
(`PSD_BASE_URL`); each registered dataset (`materia.sources.psd_datasets`) lands as
`psd/<stem>/<YYYY>/<MM>/sha256-<h>.zip` once it passed `materia.sources.psd_archive`'s check.
Everything else (probing months, hints, content identity, quarantine, bounded downloads,
one-line errors) is the door every source shares: `materia.extract.door`.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from materia.core import source_settings
from materia.core.errors import MateriaError
from materia.core.settings import Settings
from materia.extract import door
from materia.extract.door import Extractor, Month, Outcome, months_to_probe  # noqa: F401
from materia.landing import manifest as landed
from materia.landing.manifest import safe_etag  # noqa: F401  (part of this module's API)
from materia.sources import psd_archive, psd_datasets
from materia.sources.registry import PSD


def release_url(base: str, name: str, month: Month) -> str:
    return f"{base.rstrip('/')}/archives/{month[0]:04d}/{month[1]:02d}/{name}"


def landing_key(name: str, month: Month, sha256: str) -> str:
    """Where an archive of this content lands (`materia.landing.manifest.content_key`)."""
    return landed.content_key(name.removesuffix(".zip"), date(*month, 1), sha256)


def verify_archive(path: Path, month: Month, scratch: Path) -> int:
    """The shared archive check (`materia.sources.psd_archive`) for the release `month`; data
    rows, or MateriaError naming the line and the fault (the caller adds the URL)."""
    return psd_archive.check_archive(path, scratch, date(month[0], month[1], 1))


class Feed:
    """PSD Online at the door."""

    source = PSD

    def __init__(self, settings: Settings) -> None:
        self.config = source_settings.config(settings, PSD.name)

    def url(self, dataset: str, month: Month) -> str:
        return release_url(self.config.base_url, dataset, month)

    def stem(self, dataset: str) -> str:
        return dataset.removesuffix(".zip")

    def where(self) -> str:
        return f"{self.config.base_url}/archives"

    def check_dataset(self, name: str) -> str:
        name = name.strip()
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*\.zip", name):
            raise MateriaError(
                f"dataset must be a PSD file name like psd_alldata_csv.zip, got {name!r}"
            )
        psd_datasets.dataset(name)  # an unregistered file is refused before anything lands
        return name


def main(
    settings: Settings,
    datasets: list[str] | None = None,
    as_of: str | None = None,
    backfill_from: str | None = None,
) -> int:
    """Land the latest release (or every release since `backfill_from`) of each dataset.

    Prints one line per dataset and release month; returns 0, or 1 when any failed.
    """
    return door.main(settings, Feed(settings), datasets, as_of, backfill_from)


__all__ = ["Extractor", "Outcome", "main", "months_to_probe", "release_url", "landing_key"]
