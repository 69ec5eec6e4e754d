"""Reports where people are: the nightly report on R2 (prod) or under MATERIA_HOME.

Layout, under the bucket root (R2) or `$MATERIA_HOME` (local):

    reports/<YYYY-MM-DD>/commodities.html   one per day, kept
    reports/latest.html                     the newest one
    reports/index.html                      every day, newest first

Each object is written whole (a temp file renamed into place locally; one PUT on S3),
in that order, so a reader never sees half a report or an index entry without its page.
"""

from __future__ import annotations

import html
import re
import sys
from datetime import UTC, date, datetime

import fsspec

from materia.core.settings import Settings
from materia.core.storage import LandingStore
from materia.core.target import PROD, Target

PREFIX = "reports"
NAME = "commodities.html"
_DAY = re.compile(rf"^{PREFIX}/(\d{{4}}-\d{{2}}-\d{{2}})/{re.escape(NAME)}$")


def store_for(settings: Settings) -> LandingStore:
    """The bucket root on R2, else MATERIA_HOME."""
    if settings.r2 is not None:
        return LandingStore.from_settings(settings)
    return LandingStore(str(settings.home), fsspec.filesystem("file"), settings.tmp_dir)


def _put(store: LandingStore, key: str, text: str) -> None:
    # The .html suffix lets s3fs send Content-Type text/html, so browsers show the page.
    with store.temp_file(suffix=".html") as tmp:
        tmp.write_text(text, encoding="utf-8")
        store.put_file(tmp, key)


def index_html(days: list[str]) -> str:
    items = "\n".join(
        f'<li><a href="{d}/{NAME}">{html.escape(d)}</a></li>' for d in sorted(days, reverse=True)
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>materia reports</title></head>\n<body>\n<h1>materia reports</h1>\n"
        f'<p><a href="latest.html">Latest report</a></p>\n<ul>\n{items}\n</ul>\n</body></html>\n'
    )


def publish(settings: Settings, page: str, day: date | None = None) -> list[str]:
    """Publish one report page for `day` (default today, UTC); the URLs written. Like
    everything materia writes, the page passes through the redactor first."""
    from materia.core.secrets import redactor

    page = redactor(settings)(page)
    store = store_for(settings)
    stamp = (day or datetime.now(UTC).date()).isoformat()
    day_key, latest, index = (
        f"{PREFIX}/{stamp}/{NAME}",
        f"{PREFIX}/latest.html",
        f"{PREFIX}/index.html",
    )
    _put(store, day_key, page)
    days = sorted({m.group(1) for k in store.list(f"{PREFIX}/") if (m := _DAY.match(k))})
    written = [day_key]
    if stamp == days[-1]:  # a re-published older day does not replace the latest
        _put(store, latest, page)
        written.append(latest)
    _put(store, index, index_html(days))
    return [store.url(k) for k in [*written, index]]


def main(settings: Settings, env: Target = PROD) -> int:
    """Render the commodities report of `env` and publish it; 0 on success."""
    from materia.reports import build as reports

    page, _ = reports.render(settings, env)
    for url in publish(settings, page):
        print(f"report: published {url}", file=sys.stderr)
    return 0
