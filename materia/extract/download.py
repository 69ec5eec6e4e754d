"""Where a source's files come from: USDA's site over HTTP(S), or a `file://` mirror.

Every download is bounded: all attempts at one archive end by a deadline, and a body
larger than the size cap is refused before it is stored (from Content-Length when the
server sends it, else as soon as the body grows past the cap). Transient failures
(connection errors, 5xx, short bodies) are retried with backoff within the deadline; a
local failure (a full disk) is not retried and says that it is the machine's.

A download returns the SHA-256 of the bytes it stored: the archive's identity
(`materia.landing.manifest`); the ETag (or, without one, Last-Modified and the size) is only a hint.
"""

from __future__ import annotations

import hashlib
import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from materia.core.errors import MateriaError
from materia.landing.manifest import safe_etag
from materia.sources.check import machine_fault

ATTEMPTS = 4  # per request, on connection errors and 5xx
BACKOFF_S = 0.5  # doubled after each failed attempt
TIMEOUT_S = 60
CHUNK = 1 << 20
DEADLINE_S = 900.0  # defaults; settings carry PSD_DOWNLOAD_DEADLINE / PSD_MAX_ARCHIVE_MB
MAX_ARCHIVE_BYTES = 100 * 2**20
USER_AGENT = "materia-extract/0.1"


class _Retryable(MateriaError):
    """A transient failure (connection error, 5xx, short body): tried again, and reported
    as this one line when the attempts or the deadline run out."""


Progress = Callable[[int], None]


@dataclass(frozen=True)
class Head:
    """What a HEAD tells of a release: its hints (ETag, Last-Modified) and size."""

    etag: str  # "" when the server sent none usable
    size: int | None
    last_modified: str = ""


class HttpSource:
    """USDA's site over HTTP: HEAD for the hints, streamed GET, retries with backoff.

    Each download is bounded: all its attempts together end by `deadline_s`, and a body
    larger than `max_bytes` is refused (from Content-Length, or as soon as it grows past).
    """

    def __init__(self, deadline_s: float = DEADLINE_S, max_bytes: int = MAX_ARCHIVE_BYTES) -> None:
        self.deadline_s, self.max_bytes = deadline_s, max_bytes

    def _open(self, url: str, method: str, deadline: float):
        req = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT})
        # The socket timeout never reaches past the deadline: a silent server ends there.
        timeout = max(0.1, min(TIMEOUT_S, deadline - time.monotonic()))
        try:
            return urllib.request.urlopen(req, timeout=timeout)
        except urllib.error.HTTPError as e:
            e.close()
            if e.code == 404:
                return None
            if e.code >= 500 or e.code == 429:
                raise _Retryable(f"HTTP {e.code}") from None
            raise MateriaError(f"{url}: HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            raise _Retryable(reason(e)) from None

    def head(self, url: str) -> Head | None:
        """The release's hints and size, or None when there is none (404)."""
        deadline = time.monotonic() + self.deadline_s
        resp = _retry(url, lambda: self._open(url, "HEAD", deadline), deadline, self.deadline_s)
        if resp is None:
            return None
        with resp:
            etag = _usable(resp.headers.get("ETag"))
            length = resp.headers.get("Content-Length")
            modified = (resp.headers.get("Last-Modified") or "").strip()[:64]
        return Head(etag, int(length) if length and length.isdigit() else None, modified)

    def download(self, url: str, dest: Path, progress: Progress) -> Downloaded | None:
        """Stream the body to `dest`; (ETag or "", bytes, SHA-256) or None on 404."""
        deadline = time.monotonic() + self.deadline_s

        def attempt():
            resp = self._open(url, "GET", deadline)
            if resp is None:
                return None
            with resp:
                expected = resp.headers.get("Content-Length")
                if expected and expected.isdigit():
                    check_size(url, int(expected), self.max_bytes)
                etag = _usable(resp.headers.get("ETag"))
                modified = (resp.headers.get("Last-Modified") or "").strip()[:64]
                with _Body(url, dest, self.max_bytes, deadline, self.deadline_s, progress) as body:
                    while True:
                        # read1: whatever has arrived, so the progress bar moves smoothly
                        try:
                            chunk = resp.read1(CHUNK)
                        except (OSError, http.client.HTTPException) as e:
                            raise _Retryable(
                                f"download interrupted after {body.size} bytes: {reason(e)}"
                            ) from None
                        if not chunk:
                            break
                        body.add(chunk)
                if expected and expected.isdigit() and body.size != int(expected):
                    raise _Retryable(f"short body: {body.size} of {expected} bytes")
            return Downloaded(etag, body.size, body.sha256.hexdigest(), modified)

        return _retry(url, attempt, deadline, self.deadline_s)


@dataclass(frozen=True)
class Downloaded:
    etag: str  # "" when the server sent none usable
    size: int
    sha256: str
    last_modified: str = ""


class _Body:
    """Where a download goes: bounded (size cap, deadline), hashed and written to `dest`;
    a failure to write (a full disk) is the machine's, never retried, and the last
    buffered bytes are flushed before the body counts as written."""

    def __init__(self, url, dest: Path, max_bytes: int, deadline, deadline_s, progress):
        self.url, self.dest, self.max_bytes = url, dest, max_bytes
        self.deadline, self.deadline_s, self.progress = deadline, deadline_s, progress
        self.size, self.sha256 = 0, hashlib.sha256()

    def _fault(self, e: OSError) -> MateriaError:
        return machine_fault(f"writing the download to {self.dest}", e)

    def __enter__(self) -> _Body:
        try:
            self.f = open(self.dest, "wb")  # noqa: SIM115 - closed in __exit__
        except OSError as e:
            raise self._fault(e) from None
        return self

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        check_size(self.url, self.size, self.max_bytes, partial=True)
        check_deadline(self.url, self.deadline, self.deadline_s, self.size)
        try:
            self.f.write(chunk)
        except OSError as e:
            raise self._fault(e) from None
        self.sha256.update(chunk)
        self.progress(len(chunk))

    def __exit__(self, kind, *_) -> None:
        try:
            if kind is None:
                self.f.flush()
        except OSError as e:
            raise self._fault(e) from None
        finally:
            with suppress(OSError):  # after a failure, or flushed already
                self.f.close()


def check_size(url: str, size: int, max_bytes: int, partial: bool = False) -> None:
    """MateriaError when an archive is (or has grown) larger than the cap."""
    if size > max_bytes:
        seen = f"more than {max_bytes:,} bytes received" if partial else f"{size:,} bytes"
        raise MateriaError(
            f"{url}: archive larger than the cap of {max_bytes / 2**20:g} MB "
            f"(PSD_MAX_ARCHIVE_MB): {seen}; nothing landed"
        )


def check_deadline(url: str, deadline: float, deadline_s: float, size: int) -> None:
    if time.monotonic() > deadline:
        raise MateriaError(
            f"{url}: download not finished within its deadline of {deadline_s:g} s "
            f"(PSD_DOWNLOAD_DEADLINE), {size:,} bytes received; nothing landed"
        )


class FileSource:
    """A `file://` mirror of the archive layout; the ETag is a hash of the content."""

    def __init__(self, deadline_s: float = DEADLINE_S, max_bytes: int = MAX_ARCHIVE_BYTES) -> None:
        self.deadline_s, self.max_bytes = deadline_s, max_bytes

    @staticmethod
    def _path(url: str) -> Path:
        return Path(urllib.request.url2pathname(urlsplit(url).path))

    def head(self, url: str) -> Head | None:
        path = self._path(url)
        if not path.is_file():
            return None
        check_size(url, path.stat().st_size, self.max_bytes)
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
        return Head(f'"sha256-{digest.hexdigest()[:32]}"', path.stat().st_size)

    def download(self, url: str, dest: Path, progress: Progress) -> Downloaded | None:
        deadline = time.monotonic() + self.deadline_s
        found = self.head(url)
        if found is None:
            return None
        try:
            src = open(self._path(url), "rb")  # noqa: SIM115 - closed below
        except OSError as e:
            raise machine_fault(f"reading {self._path(url)}", e) from None
        with src, _Body(url, dest, self.max_bytes, deadline, self.deadline_s, progress) as body:
            while chunk := src.read(CHUNK):
                body.add(chunk)
        return Downloaded(found.etag, body.size, body.sha256.hexdigest())


def source_for(
    base_url: str,
    deadline_s: float = DEADLINE_S,
    max_bytes: int = MAX_ARCHIVE_BYTES,
    setting: str = "PSD_BASE_URL",
) -> HttpSource | FileSource:
    scheme = urlsplit(base_url).scheme
    if scheme in ("http", "https"):
        return HttpSource(deadline_s, max_bytes)
    if scheme == "file":
        return FileSource(deadline_s, max_bytes)
    raise MateriaError(f"{setting} must be http(s):// or file://, got {base_url!r}")


def _usable(etag: str | None) -> str:
    """The ETag if it makes a file name, else "" (then the content hash names it)."""
    try:
        return etag if etag and safe_etag(etag) else ""
    except ValueError:
        return ""


def reason(e: BaseException) -> str:
    inner = getattr(e, "reason", None)
    text = str(inner if inner is not None else e) or type(e).__name__
    return text.splitlines()[0] if text else type(e).__name__


def _retry(url: str, fn, deadline: float, deadline_s: float):
    """Call `fn` until it succeeds, retrying transient failures until the deadline."""
    delay = BACKOFF_S
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return fn()
        except _Retryable as e:
            if attempt == ATTEMPTS:
                raise MateriaError(f"{url}: {e} (gave up after {ATTEMPTS} attempts)") from None
            if time.monotonic() + delay > deadline:
                raise MateriaError(
                    f"{url}: {e}; no time left to retry within the deadline of "
                    f"{deadline_s:g} s (PSD_DOWNLOAD_DEADLINE); nothing landed"
                ) from None
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")
