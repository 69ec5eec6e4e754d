"""Land USDA's WASDE report data as immutable files (`materia extract wasde`).

USDA's Office of the Chief Economist publishes each month's World Agricultural Supply and
Demand Estimates as one CSV, `<base>/oce-wasde-report-data-YYYY-MM.csv` (`WASDE_BASE_URL`,
default https://www.usda.gov/sites/default/files/documents); it lands as
`wasde/oce-wasde-report-data/<YYYY>/<MM>/sha256-<h>.csv` once it passed
`materia.sources.wasde_archive`'s check. Everything else (probing months, hints, content
identity, quarantine, bounded downloads, one-line errors) is the door every source
shares: `materia.extract.door`.
"""

from __future__ import annotations

from materia.core import source_settings
from materia.core.errors import MateriaError
from materia.core.settings import Settings
from materia.core.source_settings import WASDE_DATASET
from materia.extract import door
from materia.extract.door import Month
from materia.sources.registry import WASDE


def release_url(base: str, month: Month) -> str:
    return f"{base.rstrip('/')}/{WASDE_DATASET}-{month[0]:04d}-{month[1]:02d}.csv"


class Feed:
    """The WASDE report data at the door."""

    source = WASDE

    def __init__(self, settings: Settings) -> None:
        self.config = source_settings.config(settings, WASDE.name)

    def url(self, dataset: str, month: Month) -> str:
        return release_url(self.config.base_url, month)

    def stem(self, dataset: str) -> str:
        return WASDE_DATASET

    def where(self) -> str:
        return self.config.base_url

    def check_dataset(self, name: str) -> str:
        name = name.strip().removesuffix(".csv")
        if name != WASDE_DATASET:
            raise MateriaError(f"the WASDE source has one dataset, {WASDE_DATASET}, not {name!r}")
        return name


def main(
    settings: Settings,
    datasets: list[str] | None = None,
    as_of: str | None = None,
    backfill_from: str | None = None,
) -> int:
    """Land the latest WASDE report (or every report since `backfill_from`).

    Prints one line per release month; returns 0, or 1 when it failed.
    """
    return door.main(settings, Feed(settings), datasets, as_of, backfill_from)
