"""Land USDA PSD Online releases as immutable archives (`extract_psd`, `materia extract psd`).

The file of release month YYYY-MM lives at `<base>/archives/<YYYY>/<MM>/<name>`; 404
means no release that month. Each release lands once under
`psd/<stem>/<YYYY>/<MM>/<etag>.zip`: a HEAD tells the ETag, and when that key exists no
body is transferred. Otherwise the body streams to a local temp file (memory stays flat),
is verified (zip CRC, exactly one CSV member, the PSD header) and only then moved into
place, so a killed or failed run never leaves a partial object under a landing key.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

from materia import psd_archive
from materia.errors import MateriaError
from materia.landed import quarantine_key
from materia.settings import Settings
from materia.storage import LandingStore

PROBE_MONTHS = 4  # the as-of month and the 3 before it
ATTEMPTS = 4  # per request, on connection errors and 5xx
BACKOFF_S = 0.5  # doubled after each failed attempt
TIMEOUT_S = 60
CHUNK = 1 << 20
STALE_TMP_S = 3600
USER_AGENT = "materia-extract/0.1"


class _Retryable(Exception):
    """A transient failure (connection error, 5xx, short body): try again."""


# --- release months ----------------------------------------------------------------
Month = tuple[int, int]


def _parse_month(text: str, what: str) -> Month:
    m = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise MateriaError(f"{what} must be YYYY-MM, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _parse_as_of(text: str | None) -> Month:
    if not text:
        today = datetime.now(UTC).date()
        return today.year, today.month
    try:
        d = date.fromisoformat(text.strip())
    except ValueError:
        raise MateriaError(f"--as-of must be YYYY-MM-DD, got {text!r}") from None
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


def safe_etag(etag: str) -> str:
    """The ETag as a file name: no `W/`, no quotes, only [A-Za-z0-9._-]."""
    tag = etag.strip()
    tag = tag[2:] if tag.startswith("W/") else tag
    tag = re.sub(r"[^A-Za-z0-9._-]", "_", tag.strip('"')).strip("._")
    if not tag:
        raise ValueError(f"unusable ETag {etag!r}")
    return tag


def landing_key(name: str, month: Month, etag: str) -> str:
    stem = name.removesuffix(".zip")
    return f"psd/{stem}/{month[0]:04d}/{month[1]:02d}/{safe_etag(etag)}.zip"


# --- sources: http(s) and file ---------------------------------------------------------
Progress = Callable[[int], None]


class HttpSource:
    """PSD Online over HTTP: HEAD for the ETag, streamed GET, retries with backoff."""

    def _open(self, url: str, method: str):
        req = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT})
        try:
            return urllib.request.urlopen(req, timeout=TIMEOUT_S)
        except urllib.error.HTTPError as e:
            e.close()
            if e.code == 404:
                return None
            if e.code >= 500 or e.code == 429:
                raise _Retryable(f"HTTP {e.code}") from None
            raise MateriaError(f"{url}: HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            raise _Retryable(_reason(e)) from None

    def head(self, url: str) -> tuple[str, int | None] | None:
        """(ETag, size) of the release, or None when there is none (404)."""
        resp = _retry(url, lambda: self._open(url, "HEAD"))
        if resp is None:
            return None
        with resp:
            etag = _usable(resp.headers.get("ETag"))
            length = resp.headers.get("Content-Length")
        return (etag, int(length) if length and length.isdigit() else None)

    def download(self, url: str, dest: Path, progress: Progress) -> tuple[str, int] | None:
        """Stream the body to `dest`; (ETag, bytes) or None on 404."""

        def attempt():
            resp = self._open(url, "GET")
            if resp is None:
                return None
            with resp:
                expected = resp.headers.get("Content-Length")
                etag = _usable(resp.headers.get("ETag"))
                size = 0
                digest = hashlib.sha256()
                try:
                    with open(dest, "wb") as out:
                        # read1: whatever has arrived, so the progress bar moves smoothly
                        while chunk := resp.read1(CHUNK):
                            out.write(chunk)
                            digest.update(chunk)
                            size += len(chunk)
                            progress(len(chunk))
                except (OSError, http.client.HTTPException) as e:
                    raise _Retryable(
                        f"download interrupted after {size} bytes: {_reason(e)}"
                    ) from None
                if expected and expected.isdigit() and size != int(expected):
                    raise _Retryable(f"short body: {size} of {expected} bytes")
            # No usable ETag from the server: name the object by its content instead.
            return (etag or f'"sha256-{digest.hexdigest()[:32]}"', size)

        return _retry(url, attempt)


class FileSource:
    """A `file://` mirror of the archive layout; the ETag is a hash of the content."""

    @staticmethod
    def _path(url: str) -> Path:
        return Path(urllib.request.url2pathname(urlsplit(url).path))

    def head(self, url: str) -> tuple[str, int | None] | None:
        path = self._path(url)
        if not path.is_file():
            return None
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
        return (f'"sha256-{digest.hexdigest()[:32]}"', path.stat().st_size)

    def download(self, url: str, dest: Path, progress: Progress) -> tuple[str, int] | None:
        found = self.head(url)
        if found is None:
            return None
        size = 0
        with open(self._path(url), "rb") as src, open(dest, "wb") as out:
            while chunk := src.read(CHUNK):
                out.write(chunk)
                size += len(chunk)
                progress(len(chunk))
        return (found[0], size)


def source_for(base_url: str) -> HttpSource | FileSource:
    scheme = urlsplit(base_url).scheme
    if scheme in ("http", "https"):
        return HttpSource()
    if scheme == "file":
        return FileSource()
    raise MateriaError(f"PSD_BASE_URL must be http(s):// or file://, got {base_url!r}")


def _usable(etag: str | None) -> str:
    """The ETag if it makes a file name, else "" (then the content hash names it)."""
    try:
        return etag if etag and safe_etag(etag) else ""
    except ValueError:
        return ""


def _reason(e: BaseException) -> str:
    inner = getattr(e, "reason", None)
    text = str(inner if inner is not None else e) or type(e).__name__
    return text.splitlines()[0] if text else type(e).__name__


def _retry(url: str, fn):
    delay = BACKOFF_S
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return fn()
        except _Retryable as e:
            if attempt == ATTEMPTS:
                raise MateriaError(f"{url}: {e} (gave up after {ATTEMPTS} attempts)") from None
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


# --- verification ----------------------------------------------------------------------
def verify_archive(path: Path, month: Month, scratch: Path) -> int:
    """The shared archive check (`materia.psd_archive`) for the release `month`; data
    rows, or MateriaError naming the line and the fault (the caller adds the URL)."""
    return psd_archive.check_archive(path, scratch, date(month[0], month[1], 1))


# --- the run ---------------------------------------------------------------------------
def clean_stale_temp(tmp_dir: Path, older_than_s: float = STALE_TMP_S) -> int:
    """Remove our temp files left by killed runs (never touched for an hour)."""
    if not tmp_dir.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for p in tmp_dir.glob("materia-*"):
        try:
            if p.is_file() and p.stat().st_mtime < cutoff:
                p.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed


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
        self.source = source_for(self.base)
        self.store = store or LandingStore.from_settings(settings)

    def land(self, name: str, month: Month) -> Outcome:
        """Land one release month of one dataset (idempotent)."""
        url = release_url(self.base, name, month)
        found = self.source.head(url)
        if found is None:
            return Outcome(name, month, "missing")
        etag, size = found
        if etag:
            key = landing_key(name, month, etag)
            if self._exists(key):
                return Outcome(name, month, "unchanged", key)
            if self._exists(quarantine_key(key)):
                return Outcome(name, month, "quarantined", key)
        label = f"{name} {month[0]:04d}-{month[1]:02d}"
        with self.store.temp_file(suffix=".zip") as tmp:
            with _progress_bar(label, size) as progress:
                got = self.source.download(url, tmp, progress)
            if got is None:  # vanished between HEAD and GET
                return Outcome(name, month, "missing")
            etag, size = got
            key = landing_key(name, month, etag)
            if self._exists(key):
                return Outcome(name, month, "unchanged", key)
            if self._exists(quarantine_key(key)):
                return Outcome(name, month, "quarantined", key)
            try:
                verify_archive(tmp, month, self.store.tmp_dir)
            except MateriaError as e:
                raise MateriaError(f"{url}: {e}; nothing landed") from None
            with self._storage(key):
                self.store.put_file(tmp, key)
        return Outcome(name, month, "landed", key, size)

    def _exists(self, key: str) -> bool:
        with self._storage(key):
            return self.store.exists(key)

    @contextmanager
    def _storage(self, key: str) -> Iterator[None]:
        """Landing-store failures (credentials, bucket, disk) as one clear line."""
        try:
            yield
        except Exception as e:
            raise MateriaError(f"landing store {self.store.url(key)}: {_reason(e)}") from None

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
    clean_stale_temp(settings.tmp_dir)
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
    for value in settings.secret_values():
        text = text.replace(value, "***")
    print(text, file=sys.stderr if err else sys.stdout, flush=True)
