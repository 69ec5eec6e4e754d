"""The door every source's files come through: probe release months, land each content
once, check it first (`materia extract psd`, `materia extract wasde`).

A source is a `Feed`: where the file of a dataset's release month is, what its landing
stem is, and its check (`materia.sources.check`). The rest is the same for every source:
404 means no release that month, and no month after today is asked for. Each content
lands once under `<source>/<stem>/<YYYY>/<MM>/sha256-<h><suffix>` (`materia.landing.manifest`): a
HEAD tells the hints (ETag; without one, Last-Modified and size), and when an archive of
that month (or a quarantined one) came with them, no body is transferred. Otherwise the
body streams to a local temp file (memory stays flat) and is hashed: a content already
landed that month, or quarantined in any month, is not landed again, whatever the hints
say. A new content is checked and only then moved into place, so a killed or failed run
never leaves a partial object under a landing key; its record says what it is. Downloads
are bounded by a deadline and a size cap (`materia.extract.download`); what killed runs
left in the temp folder is removed at the start (`materia.core.scratch`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

from materia.core import scratch
from materia.core.errors import MateriaError
from materia.core.settings import Settings
from materia.core.source_settings import SourceConfig
from materia.core.storage import LandingStore
from materia.extract.download import Progress, check_size, reason, source_for
from materia.landing import manifest as landed
from materia.sources import check as archive_check
from materia.sources.registry import Source

PROBE_MONTHS = 4  # the as-of month and the 3 before it
Month = tuple[int, int]


class Feed(Protocol):
    """One source at the door."""

    source: Source
    config: SourceConfig

    def url(self, dataset: str, month: Month) -> str: ...

    def stem(self, dataset: str) -> str: ...

    def check_dataset(self, dataset: str) -> str: ...

    def where(self) -> str: ...


# --- release months ----------------------------------------------------------------
def parse_month(text: str, what: str) -> Month:
    m = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise MateriaError(f"{what} must be YYYY-MM, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def today() -> date:
    return datetime.now(UTC).date()


def parse_as_of(text: str | None) -> Month:
    now = today()
    if not text:
        return now.year, now.month
    try:
        d = date.fromisoformat(text.strip())
    except ValueError:
        raise MateriaError(f"--as-of must be YYYY-MM-DD, got {text!r}") from None
    if d > now:
        raise MateriaError(
            f"--as-of {d} is after today ({now}, UTC): no release is dated in the future"
        )
    return d.year, d.month


def _prev(m: Month) -> Month:
    return (m[0] - 1, 12) if m[1] == 1 else (m[0], m[1] - 1)


def months_to_probe(as_of: Month, backfill_from: Month | None = None) -> list[Month]:
    """Newest first: the as-of month and the 3 before, or every month back to backfill."""
    out = [as_of]
    while (len(out) < PROBE_MONTHS) if backfill_from is None else (out[-1] > backfill_from):
        out.append(_prev(out[-1]))
    return out


# --- the run ---------------------------------------------------------------------------
@dataclass
class Outcome:
    dataset: str
    month: Month
    status: str  # landed | unchanged | missing | quarantined
    key: str | None = None
    size: int = 0
    stem: str = ""


@contextmanager
def _progress_bar(label: str, total: int | None) -> Iterator[Progress]:
    """A rich progress bar on a terminal; nothing otherwise (logs stay one line each)."""
    if not sys.stdout.isatty():
        yield lambda n: None
        return
    from rich.progress import BarColumn, DownloadColumn, TransferSpeedColumn
    from rich.progress import Progress as Bar

    with Bar(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


class Extractor:
    def __init__(self, settings: Settings, feed: Feed, store: LandingStore | None = None) -> None:
        self.settings, self.feed = settings, feed
        self.source = source_for(
            feed.config.base_url,
            settings.download_deadline_s,
            settings.max_archive_bytes,
            setting=f"{feed.config.variable}_BASE_URL",
        )
        self.store = store or LandingStore.from_settings(settings)
        self.check = archive_check.for_source(feed.source)

    def land(self, name: str, month: Month) -> Outcome:
        """Land one release month of one dataset (idempotent)."""
        url, stem, kind = self.feed.url(name, month), self.feed.stem(name), self.feed.source
        now = today()
        if month > (now.year, now.month):
            raise MateriaError(f"{url}: a release dated after today ({now}) is refused")
        found = self.source.head(url)
        if found is None:
            return Outcome(name, month, "missing", stem=stem)
        if found.size is not None:  # refused before any body is transferred
            check_size(url, found.size, self.source.max_bytes)
        first = date(*month, 1)
        here = f"{kind.prefix}{stem}/{first:%Y/%m}/"
        with self._storage(here):
            seen = landed.known(self.store, stem, first, kind.name)
            hint = seen.by_hint(found.etag, found.last_modified, found.size)
        if hint:  # an archive that came with these hints: no download
            return Outcome(name, month, hint[0], hint[1], stem=stem)
        label = f"{stem} {month[0]:04d}-{month[1]:02d}"
        with self.store.temp_file(suffix=kind.suffix) as tmp:
            with _progress_bar(label, found.size) as progress:
                try:
                    got = self.source.download(url, tmp, progress)
                except archive_check.NotTheArchive as e:
                    raise MateriaError(f"{url}: {e}; nothing landed") from None
            if got is None:  # vanished between HEAD and GET
                return Outcome(name, month, "missing", stem=stem)
            with self._storage(here):
                same = seen.by_content(landed.content_id(got.sha256))
            if same:  # these bytes are landed, or quarantined: whatever the hints said
                return Outcome(name, month, same[0], same[1], stem=stem)
            try:
                rows = self.check.check_archive(tmp, self.store.tmp_dir, first)
            except MateriaError as e:
                raise MateriaError(f"{url}: {e}; nothing landed") from None
            key = landed.content_key(stem, first, got.sha256, kind.name)
            facts = {
                "sha256": got.sha256,
                "etag": got.etag or None,
                "last_modified": got.last_modified or found.last_modified or None,
                "size": got.size,
                "landed_at": datetime.now(UTC).isoformat(),
            }
            with self._storage(key):
                self.store.put_file(tmp, key)
                # After the archive: a record without its archive would vouch for nothing.
                record = archive_check.record(self.check.rules_version(), rows, **facts)
                self.store.write_bytes(archive_check.record_key(key), record)
        return Outcome(name, month, "landed", key, got.size, stem=stem)

    @contextmanager
    def _storage(self, key: str) -> Iterator[None]:
        """Landing-store failures (credentials, bucket, disk) as one clear line."""
        try:
            yield
        except Exception as e:
            raise MateriaError(f"landing store {self.store.url(key)}: {reason(e)}") from None

    def run(self, name: str, months: list[Month], latest_only: bool) -> Iterator[Outcome]:
        """Probe `months` (newest first); stop at the first release when `latest_only`."""
        for month in months if latest_only else reversed(months):
            outcome = self.land(name, month)
            yield outcome
            if latest_only and outcome.status != "missing":
                return


def main(
    settings: Settings,
    feed: Feed,
    datasets: list[str] | None = None,
    as_of: str | None = None,
    backfill_from: str | None = None,
) -> int:
    """Land the latest release (or every release since `backfill_from`) of each dataset.

    Prints one line per dataset and release month; returns 0, or 1 when any failed.
    """
    config = feed.config
    names = [feed.check_dataset(d) for d in (datasets or config.datasets)]
    as_of = as_of or config.as_of
    backfill_from = backfill_from or config.backfill_from
    as_of_month = parse_as_of(as_of)
    since = parse_month(backfill_from, "--backfill-from") if backfill_from else None
    if since and since > as_of_month:
        raise MateriaError(f"--backfill-from {backfill_from} is after the as-of month")
    months = months_to_probe(as_of_month, since)
    scratch.clean(settings.tmp_dir)
    extractor = Extractor(settings, feed)
    failed = 0
    for name in names:
        try:
            outcomes = []
            for o in extractor.run(name, months, latest_only=since is None):
                outcomes.append(o)
                if o.status != "missing":
                    _say(settings, _line(o))
            if not any(o.status != "missing" for o in outcomes):
                first, last = months[-1], months[0]
                raise MateriaError(
                    f"no release of {name} under {feed.where()} for "
                    f"{first[0]:04d}-{first[1]:02d}..{last[0]:04d}-{last[1]:02d}"
                )
        except MateriaError as e:
            failed += 1
            _say(settings, f"error: {e}", err=True)
    return 1 if failed else 0


def _line(o: Outcome) -> str:
    when = f"{o.month[0]:04d}-{o.month[1]:02d}"
    if o.status == "landed":
        return f"{o.stem} {when} landed {o.key} ({o.size:,} bytes)"
    if o.status == "quarantined":
        return f"{o.stem} {when} quarantined {o.key}: not landed again (see `materia landing list`)"
    return f"{o.stem} {when} unchanged {o.key}"


def _say(settings: Settings, text: str, err: bool = False) -> None:
    # URLs and messages may carry secrets (a token in a base URL); never print them.
    from materia.core import secrets

    print(
        secrets.redactor(settings)(text),
        file=sys.stderr if err else sys.stdout,
        flush=True,
    )
