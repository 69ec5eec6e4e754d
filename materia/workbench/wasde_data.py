"""What the WASDE page and the report's WASDE section read: the WASDE tables of one
publication (`fct_wasde_latest`, the newest report as printed; `fct_wasde_vintages`, every
value by report month), read whole (a report is about 5,000 values, its vintages grow by
the values each report moves) through the PSD workbench's reader, so everything a page
shows comes from the same run as the PSD figures beside it. The report months loaded
are the publication's landed WASDE files (`wasde/<dataset>/<YYYY>/<MM>/…`), so a report
that moved nothing still counts.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field

import polars as pl

from materia.core.errors import MateriaError
from materia.core.settings import Settings
from materia.landing.manifest import Landed
from materia.sources.registry import WASDE

LATEST, VINTAGES = "fct_wasde_latest", "fct_wasde_vintages"
KEY = ("report_title", "commodity", "region", "market_year", "attribute", "period", "reliability")


@dataclass
class Wasde:
    """The WASDE tables of one publication."""

    env: str
    run_id: str
    latest: pl.DataFrame  # the newest report, every row as printed
    vintages: pl.DataFrame  # every value by the report month it appeared or moved in
    reports: tuple[dt.date, ...]  # the report months landed, oldest first
    derived: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def report(self) -> dt.date:
        """The newest report's month."""
        return self.latest["release_month"].max()

    @property
    def previous(self) -> dt.date | None:
        """The report before the newest one (None: only one is loaded)."""
        earlier = [m for m in self.reports if m < self.report]
        return max(earlier) if earlier else None

    @property
    def release_date(self) -> dt.date:
        return self.latest["release_date"].max()

    def memo(self, key: object, compute):
        if key not in self.derived:
            self.derived[key] = compute()
        return self.derived[key]


def report_months(archives: list[str]) -> tuple[dt.date, ...]:
    """The WASDE report months among a publication's archives, oldest first."""
    months = {
        item.release_month
        for key in archives
        if (item := Landed.parse(key)) is not None and item.source == WASDE.name
    }
    return tuple(sorted(months))


_cache: dict[tuple, Wasde] = {}
_lock = threading.Lock()


def published(settings: Settings, env: str = "prod") -> bool:
    """Whether the newest publication of `env` holds a WASDE report."""
    from materia.workbench import data as workbench_data

    try:
        pub = workbench_data.publication(settings, env)
    except MateriaError:
        return False
    return LATEST in pub.tables and VINTAGES in pub.tables


def open_wasde(settings: Settings, env: str = "prod") -> Wasde:
    """The WASDE tables of `env`'s newest publication (cached until a newer one lands);
    MateriaError saying what to run when no WASDE report is published there."""
    from materia.lakehouse.catalogs import catalog_key
    from materia.workbench import data as workbench_data

    wb = workbench_data.open_workbench(settings, env)
    pub = wb.publication
    if LATEST not in pub.tables or VINTAGES not in pub.tables:
        raise MateriaError(
            f"no WASDE report is published in {env!r}: run `uv run materia extract wasde`, "
            "then `uv run materia transform`"
        )
    ident = (catalog_key(settings), env, pub.run_id)
    with _lock:
        if ident in _cache:
            return _cache[ident]
    latest = wb.table(LATEST).sort(*KEY)
    vintages = wb.table(VINTAGES).sort(*KEY, "release_month")
    found = Wasde(env, pub.run_id, latest, vintages, report_months(pub.archives))
    with _lock:
        _cache.clear()  # one publication at a time: an older one is never read again
        _cache[ident] = found
    return found
