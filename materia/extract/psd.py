"""Land USDA PSD Online releases as immutable archives (`extract_psd`, `materia extract psd`).

The file of release month YYYY-MM lives at `<base>/archives/<YYYY>/<MM>/<name>`; 404
means no release that month, and no month after today is asked for. Each content lands
once under `psd/<stem>/<YYYY>/<MM>/sha256-<h>.zip` (`materia.landed`): a HEAD tells the
ETag, and when an archive of that month (or a quarantined one) came with it, no body is
transferred. Otherwise the body streams to a local temp file (memory stays flat) and is
hashed: a content already landed that month, or quarantined in any month, is not landed
again, whatever the server's ETags say. A new content is verified (`materia.psd_archive`)
and only then moved into place, so a killed or failed run never leaves a partial object
under a landing key; its record says what it is. Downloads are bounded by a deadline and
a size cap (`materia.extract.sources`); what killed runs left in the temp folder is
removed at the start (`materia.scratch`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from materia import landed, psd_archive, psd_datasets, scratch
from materia.errors import MateriaError
from materia.extract.sources import Progress, check_size, reason, source_for
from materia.landed import safe_etag  # noqa: F401  (part of this module's API)
from materia.settings import Settings
from materia.storage import LandingStore

PROBE_MONTHS = 4  # the as-of month and the 3 before it


# --- release months ----------------------------------------------------------------
Month = tuple[int, int]


def _parse_month(text: str, what: str) -> Month:
    m = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise MateriaError(f"{what} must be YYYY-MM, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _today() -> date:
    return datetime.now(UTC).date()


def _parse_as_of(text: str | None) -> Month:
    today = _today()
    if not text:
        return today.year, today.month
    try:
        d = date.fromisoformat(text.strip())
    except ValueError:
        raise MateriaError(f"--as-of must be YYYY-MM-DD, got {text!r}") from None
    if d > today:
        raise MateriaError(
            f"--as-of {d} is after today ({today}, UTC): no release is dated in the future"
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


def release_url(base: str, name: str, month: Month) -> str:
    return f"{base.rstrip('/')}/archives/{month[0]:04d}/{month[1]:02d}/{name}"


def landing_key(name: str, month: Month, sha256: str) -> str:
    """Where an archive of this content lands (`materia.landed.content_key`)."""
    return landed.content_key(name.removesuffix(".zip"), date(*month, 1), sha256)


# --- verification ----------------------------------------------------------------------
def verify_archive(path: Path, month: Month, scratch: Path) -> int:
    """The shared archive check (`materia.psd_archive`) for the release `month`; data
    rows, or MateriaError naming the line and the fault (the caller adds the URL)."""
    return psd_archive.check_archive(path, scratch, date(month[0], month[1], 1))


# --- the run ---------------------------------------------------------------------------
@dataclass
class Outcome:
    dataset: str
    month: Month
    status: str  # landed | unchanged | missing | quarantined
    key: str | None = None
    size: int = 0


@contextmanager
def _progress_bar(label: str, total: int | None) -> Iterator[Progress]:
    """A rich progress bar on a terminal; nothing otherwise (logs stay one line each)."""
    if not sys.stdout.isatty():
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TransferSpeedColumn,
    )

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


class Extractor:
    def __init__(self, settings: Settings, store: LandingStore | None = None) -> None:
        self.settings = settings
        self.base = settings.psd_base_url
        self.source = source_for(
            self.base, settings.download_deadline_s, settings.max_archive_bytes
        )
        self.store = store or LandingStore.from_settings(settings)

    def land(self, name: str, month: Month) -> Outcome:
        """Land one release month of one dataset (idempotent)."""
        url = release_url(self.base, name, month)
        today = _today()
        if month > (today.year, today.month):
            raise MateriaError(f"{url}: a release dated after today ({today}) is refused")
        found = self.source.head(url)
        if found is None:
            return Outcome(name, month, "missing")
        etag, size = found
        if size is not None:  # refused before any body is transferred
            check_size(url, size, self.source.max_bytes)
        stem, first = name.removesuffix(".zip"), date(*month, 1)
        here = f"psd/{stem}/{first:%Y/%m}/"
        with self._storage(here):
            seen = landed.known(self.store, stem, first)
            hint = seen.by_etag(etag) if etag else None
        if hint:  # an archive that came with this ETag: no download
            return Outcome(name, month, hint[0], hint[1])
        label = f"{name} {month[0]:04d}-{month[1]:02d}"
        with self.store.temp_file(suffix=".zip") as tmp:
            with _progress_bar(label, size) as progress:
                try:
                    got = self.source.download(url, tmp, progress)
                except psd_archive.NotTheArchive as e:
                    raise MateriaError(f"{url}: {e}; nothing landed") from None
            if got is None:  # vanished between HEAD and GET
                return Outcome(name, month, "missing")
            with self._storage(here):
                same = seen.by_content(landed.content_id(got.sha256))
            if same:  # these bytes are landed, or quarantined: whatever the ETag said
                return Outcome(name, month, same[0], same[1])
            try:
                rows = verify_archive(tmp, month, self.store.tmp_dir)
            except MateriaError as e:
                raise MateriaError(f"{url}: {e}; nothing landed") from None
            key = landing_key(name, month, got.sha256)
            facts = {
                "sha256": got.sha256,
                "etag": got.etag or None,
                "size": got.size,
                "landed_at": datetime.now(UTC).isoformat(),
            }
            with self._storage(key):
                self.store.put_file(tmp, key)
                # After the archive: a record without its archive would vouch for nothing.
                self.store.write_bytes(
                    psd_archive.record_key(key), psd_archive.record(rows, **facts)
                )
        return Outcome(name, month, "landed", key, got.size)

    def _exists(self, key: str) -> bool:
        with self._storage(key):
            return self.store.exists(key)

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


def _check_dataset(name: str) -> str:
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
    names = [_check_dataset(d) for d in (datasets or settings.psd_datasets)]
    as_of = as_of or settings.psd_as_of
    backfill_from = backfill_from or settings.psd_backfill_from
    as_of_month = _parse_as_of(as_of)
    since = _parse_month(backfill_from, "--backfill-from") if backfill_from else None
    if since and since > as_of_month:
        raise MateriaError(f"--backfill-from {backfill_from} is after the as-of month")
    months = months_to_probe(as_of_month, since)
    scratch.clean(settings.tmp_dir)
    extractor = Extractor(settings)
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
                    f"no release of {name} under {settings.psd_base_url}/archives for "
                    f"{first[0]:04d}-{first[1]:02d}..{last[0]:04d}-{last[1]:02d}"
                )
        except MateriaError as e:
            failed += 1
            _say(settings, f"error: {e}", err=True)
    return 1 if failed else 0


def _line(o: Outcome) -> str:
    when = f"{o.month[0]:04d}-{o.month[1]:02d}"
    stem = o.dataset.removesuffix(".zip")
    if o.status == "landed":
        return f"{stem} {when} landed {o.key} ({o.size:,} bytes)"
    if o.status == "quarantined":
        return f"{stem} {when} quarantined {o.key}: not landed again (see `materia landing list`)"
    return f"{stem} {when} unchanged {o.key}"


def _say(settings: Settings, text: str, err: bool = False) -> None:
    # URLs and messages may carry secrets (a token in PSD_BASE_URL); never print them.
    from materia import secrets

    print(
        secrets.redactor(settings)(text),
        file=sys.stderr if err else sys.stdout,
        flush=True,
    )
