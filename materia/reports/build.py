"""`materia report commodities`: a report worth sending, as one HTML file that works offline.

The report is a notebook, `materia/reports/notebook.py`, run once by marimo (`report_runner`)
and made static (`report_html`): for each commodity its own PSD release month, the world
balance sheet with the previous release's estimate and the change, the chosen countries'
sheets, what this release changed, the top producers (with the world) and production over
the newest years, newest first, each table with its CSV embedded as a download; then
the WASDE report of the same run (the U.S. balance sheets of those commodities, farm
prices, world tables, the projection path, what it moved). By default it covers the major
commodities of the landed datasets.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from materia.core.errors import MateriaError
from materia.core.settings import Settings
from materia.core.target import PROD, Target

NOTEBOOK = Path(__file__).resolve().parent / "notebook.py"
# USDA's headline commodities, in WASDE order; the default report shows those published.
MAJOR = (
    "0410000",  # Wheat
    "0440000",  # Corn
    "0422110",  # Rice, Milled
    "2222000",  # Oilseed, Soybean
    "2631000",  # Cotton
    "0612000",  # Sugar, Centrifugal
    "0711100",  # Coffee, Green
    "0111000",  # Meat, Beef and Veal
    "0113000",  # Meat, Swine
    "0115000",  # Meat, Chicken
)
DEFAULT_YEARS = 5
COUNTRY = re.compile(r"^[A-Z0-9]{2}$")


@dataclass(frozen=True)
class Plan:
    """What a report shows, resolved against the newest publication."""

    env: Target
    commodities: list[str]  # codes, in report order
    countries: list[str] = field(default_factory=list)
    years: int = DEFAULT_YEARS

    def cli_args(self) -> dict:
        """The notebook's `mo.cli_args()`."""
        return {
            "env": self.env,
            "commodity": list(self.commodities),
            "country": list(self.countries),
            "years": self.years,
        }


# Settings handed to the notebook's run (its kernel is a thread of this process): the run's
# `mo.cli_args()` carry only a token, never a path or a secret, and nothing is rebuilt
# from os.environ.
_HANDED: dict[str, Settings] = {}


@contextlib.contextmanager
def handing(settings: Settings) -> Iterator[str]:
    """A token the notebook trades for `settings` (`settings_for`) while the run lasts."""
    token = secrets.token_hex(8)
    _HANDED[token] = settings
    try:
        yield token
    finally:
        _HANDED.pop(token, None)


def settings_for(cli_args: dict) -> Settings:
    """The settings `materia report` handed this run; run on its own (`marimo run
    materia/reports/notebook.py`), the environment's."""
    handed = _HANDED.get(str(cli_args.get("settings")))
    if handed is not None:
        return handed
    from materia.core import settings

    return settings.load()


def plan(
    settings: Settings,
    env: Target = PROD,
    commodities: list[str] | None = None,
    countries: list[str] | None = None,
    years: int = DEFAULT_YEARS,
) -> Plan:
    """Commodity names or codes resolved to codes (default: the published majors), country
    codes checked, years at least 2. Fails with one line naming what is wrong."""
    from materia.workbench.data import open_workbench

    wb = open_workbench(settings, env)
    if commodities:
        codes = list(dict.fromkeys(wb.code(c) for c in commodities))
    else:
        published = set(wb.commodities()["commodity_code"])
        codes = [c for c in MAJOR if c in published] or sorted(published)[:8]
    bad = [c for c in countries or [] if not COUNTRY.match(c)]
    if bad:
        raise MateriaError(f"--country {bad[0]!r} is not a PSD country code (two letters, e.g. US)")
    if years < 2:
        raise MateriaError(f"--years {years}: show at least 2 market years")
    return Plan(env, codes, list(dict.fromkeys(countries or [])), years)


def render(
    settings: Settings,
    env: Target = PROD,
    commodities: list[str] | None = None,
    countries: list[str] | None = None,
    years: int = DEFAULT_YEARS,
    notebook: Path = NOTEBOOK,
) -> tuple[str, dt.date | None]:
    """The report's page and the newest release it shows."""
    from materia.reports import html as report_html
    from materia.reports import runner as report_runner
    from materia.workbench.data import open_workbench

    p = plan(settings, env, commodities, countries, years)
    wb = open_workbench(settings, p.env)
    shown = wb.commodities().filter(wb.commodities()["commodity_code"].is_in(p.commodities))
    newest = shown["release_month"].max() if shown.height else None
    charts = report_html.Charts()
    with handing(settings) as token:
        cells = report_runner.run_notebook(notebook, {**p.cli_args(), "settings": token})
    body = report_html.cells_html(cells, charts)
    pub = wb.publication
    from materia.workbench import wasde_data

    sources = "USDA PSD and WASDE" if wasde_data.LATEST in pub.tables else "USDA PSD"
    meta = (
        f"materia report · {sources} · environment {html.escape(p.env)} · run "
        f"{html.escape(pub.run_id)} published {pub.published_at:%Y-%m-%d %H:%M UTC} · "
        f"generated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC}"
    )
    title = f"Commodities report, PSD {newest:%B %Y}" if newest else "Commodities report"
    bundle = report_html.vega_bundle(settings.home / "cache")
    return report_html.page(title, meta, body, charts, bundle), newest  # type: ignore[return-value]


def default_path(settings: Settings, release: dt.date | None) -> Path:
    stamp = release.strftime("%Y-%m") if release else "unknown"
    return settings.reports_dir / f"commodities-{stamp}.html"


def main(
    settings: Settings,
    env: Target = PROD,
    out: Path | None = None,
    commodities: list[str] | None = None,
    countries: list[str] | None = None,
    years: int = DEFAULT_YEARS,
) -> int:
    """Write the report (atomically) and print where; 0 on success."""
    started = time.monotonic()
    page, release = render(settings, env, commodities, countries, years)
    path = Path(out) if out else default_path(settings, release)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"report: {path} ({len(page) / 1e6:.1f} MB, {time.monotonic() - started:.1f} s)")
    return 0
