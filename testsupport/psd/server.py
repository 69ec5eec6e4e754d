"""A real loopback HTTP server that behaves like PSD Online, for tests and benchmarks.

It serves a folder at its base URL, so `<base_url>/archives/2022/06/psd_coffee_csv.zip`
is `<root>/archives/2022/06/psd_coffee_csv.zip` (the real site's layout). Like the real
site it answers HEAD and GET with a strong, quoted ETag derived from the content,
`If-None-Match` with 304 and 404 for a missing file. Faults can be injected, and every
request is recorded with the body bytes actually sent, so a test can assert that a
re-run transferred no body at all.

    with PsdServer(root) as srv:
        srv.base_url                     # http://127.0.0.1:<free port>
        srv.fail_next(2)                 # next 2 requests answer 500
        srv.inject("truncate")           # send half the body, then hang up
        srv.inject("corrupt", times=1)   # zip whose CRC check fails
        srv.inject("wrong_header")       # valid zip, non-PSD CSV header
        srv.inject("slow", chunk=1024, delay=0.2)   # dribble the body
        srv.body_bytes("GET")            # bytes of body sent so far
        srv.clear()                      # drop faults and the request log
        srv.etags = "none"               # no ETag header at all ("rotate": a new one per
                                         # request; "content", the default: from the bytes)
        srv.last_modified = True         # also Last-Modified (the file's mtime) and 304 on
                                         # If-Modified-Since, as a real web server does

`testsupport.psd.wasde_server.WasdeServer` is the same server for USDA's WASDE CSVs.
"""

from __future__ import annotations

import hashlib
import mimetypes
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from testsupport.psd import fixtures as psd_fixtures

FAULTS = ("truncate", "corrupt", "wrong_header", "slow", "status")
ETAGS = ("content", "none", "rotate")


@dataclass
class Request:
    method: str
    path: str
    status: int
    body_bytes: int = 0
    if_none_match: str | None = None


@dataclass
class Fault:
    kind: str
    path: str | None = None  # only requests whose path contains this
    times: int | None = None  # None: every matching request
    status: int = 500
    chunk: int = 1024
    delay: float = 0.2
    methods: tuple[str, ...] = ("GET",)

    def matches(self, method: str, path: str) -> bool:
        return method in self.methods and (self.path is None or self.path in path)


@dataclass
class _Body:
    """What one response carries: a file to stream, or bytes (fault bodies are small)."""

    etag: str
    size: int
    file: Path | None = None
    data: bytes | None = None
    extra: dict = field(default_factory=dict)


def default_etag(digest: str) -> str:
    return f'"{digest[:20]}"'


class PsdServer:
    def __init__(
        self,
        root: Path | str,
        host: str = "127.0.0.1",
        port: int = 0,
        etag_format=default_etag,
    ) -> None:
        self.root = Path(root)
        self.etag_format = etag_format
        self.etags = "content"  # see ETAGS
        self.last_modified = False  # send Last-Modified (PSD Online's stand-in does not)
        self._rotation = 0
        self.requests: list[Request] = []
        self._faults: list[Fault] = []
        self._lock = threading.Condition()
        self._etags: dict[tuple[str, int, int], str] = {}
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, release: str, name: str) -> str:
        year, month = release.split("-")
        return f"{self.base_url}/archives/{year}/{month}/{name}"

    def start(self) -> PsdServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # lets slow bodies give up
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> PsdServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- faults and accounting -----------------------------------------------------
    def inject(self, kind: str, **kw) -> Fault:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULTS}")
        fault = Fault(kind, **kw)
        with self._lock:
            self._faults.append(fault)
        return fault

    def fail_next(self, n: int, status: int = 500, path: str | None = None) -> Fault:
        """The next `n` requests (any method) answer `status`."""
        return self.inject("status", times=n, status=status, path=path, methods=("GET", "HEAD"))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.requests.clear()

    def body_bytes(self, method: str | None = None) -> int:
        with self._lock:
            return sum(r.body_bytes for r in self.requests if method in (None, r.method))

    def count(self, method: str | None = None, status: int | None = None) -> int:
        with self._lock:
            return sum(
                1
                for r in self.requests
                if method in (None, r.method) and status in (None, r.status)
            )

    def wait_for(self, predicate, timeout: float = 30.0) -> bool:
        """Block until `predicate(server)` holds (re-checked as bytes go out)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.1))
        return True

    def _etag_header(self, body_etag: str) -> str | None:
        """The ETag this response carries, as `etags` says."""
        if self.etags not in ETAGS:
            raise ValueError(f"etags must be one of {ETAGS}, got {self.etags!r}")
        if self.etags == "none":
            return None
        if self.etags == "rotate":
            with self._lock:
                self._rotation += 1
                return f'"rotating-{self._rotation}"'
        return body_etag

    def etag_of(self, path: Path) -> str:
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size)
        if key not in self._etags:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            self._etags[key] = self.etag_format(h.hexdigest())
        return self._etags[key]

    # --- internals -----------------------------------------------------------------
    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def _record(self, req: Request) -> None:
        with self._lock:
            self.requests.append(req)
            self._lock.notify_all()

    def _sent(self, req: Request, n: int) -> None:
        with self._lock:
            req.body_bytes += n
            self._lock.notify_all()

    def content_type(self, file: Path) -> str:
        if file.suffix == ".zip":
            return "application/x-zip-compressed"
        return mimetypes.guess_type(file.name)[0] or "application/octet-stream"

    def _modified(self, file: Path, body: _Body) -> str | None:
        """The Last-Modified header of a served file (None unless `last_modified`)."""
        if not self.last_modified or body.file is None:
            return None
        return formatdate(file.stat().st_mtime, usegmt=True)

    def _resolve(self, url_path: str) -> Path | None:
        rel = unquote(urlsplit(url_path).path).lstrip("/")
        target = (self.root / rel).resolve()
        root = self.root.resolve()
        if root not in target.parents or not target.is_file():
            return None
        return target

    def _body_for(self, file: Path, fault: Fault | None) -> _Body:
        kind = fault.kind if fault else None
        if kind == "corrupt":
            data = psd_fixtures.corrupt_bytes(file.read_bytes())
        elif kind == "wrong_header":
            data = psd_fixtures.wrong_header_bytes(file.name)
        else:
            return _Body(self.etag_of(file), file.stat().st_size, file=file)
        digest = hashlib.sha256(data).hexdigest()
        return _Body(self.etag_format(digest), len(data), data=data)

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "PsdOnlineStandIn/1.0"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:
                self._serve(head=True)

            def do_GET(self) -> None:
                self._serve(head=False)

            def _serve(self, head: bool) -> None:
                method = "HEAD" if head else "GET"
                inm = self.headers.get("If-None-Match")
                req = Request(method, self.path, 0, if_none_match=inm)
                fault = server._take_fault(method, self.path)
                if fault and fault.kind == "status":
                    return self._empty(req, fault.status)
                file = server._resolve(self.path)
                if file is None:
                    return self._empty(req, HTTPStatus.NOT_FOUND)
                body = server._body_for(file, fault)
                etag = server._etag_header(body.etag)
                if inm and etag and _etag_matches(inm, etag):
                    return self._empty(req, HTTPStatus.NOT_MODIFIED, etag=etag)
                modified = server._modified(file, body)
                ims = self.headers.get("If-Modified-Since")
                if modified and ims and not inm and _not_modified_since(ims, file):
                    return self._empty(req, HTTPStatus.NOT_MODIFIED, etag=etag)
                req.status = 200
                server._record(req)
                self.send_response(200)
                self.send_header("Content-Type", server.content_type(file))
                self.send_header("Content-Length", str(body.size))
                if etag:
                    self.send_header("ETag", etag)
                if modified:
                    self.send_header("Last-Modified", modified)
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if head:
                    return
                try:
                    self._write_body(req, body, fault)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def _write_body(self, req: Request, body: _Body, fault: Fault | None) -> None:
                kind = fault.kind if fault else None
                limit = body.size // 2 if kind == "truncate" else body.size
                chunk = fault.chunk if kind == "slow" else 1 << 16
                src = open(body.file, "rb") if body.file else None  # noqa: SIM115
                try:
                    sent = 0
                    while sent < limit and not server._stopping.is_set():
                        n = min(chunk, limit - sent)
                        data = src.read(n) if src else body.data[sent : sent + n]
                        if not data:
                            break
                        self.wfile.write(data)
                        self.wfile.flush()
                        sent += len(data)
                        server._sent(req, len(data))
                        if kind == "slow":
                            server._stopping.wait(fault.delay)
                finally:
                    if src:
                        src.close()
                if sent < body.size:  # hang up mid-body, as a dropped connection would
                    self.close_connection = True

            def _empty(self, req: Request, status: int, etag: str | None = None) -> None:
                req.status = int(status)
                server._record(req)
                self.send_response(status)
                if etag:
                    self.send_header("ETag", etag)
                if status != HTTPStatus.NOT_MODIFIED:
                    self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler


def _etag_matches(header: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison: `W/` prefixes are ignored; `*` matches."""

    def norm(tag: str) -> str:
        tag = tag.strip()
        return tag[2:] if tag.startswith("W/") else tag

    return any(t.strip() == "*" or norm(t) == norm(etag) for t in header.split(","))


def _not_modified_since(header: str, file: Path) -> bool:
    """If-Modified-Since holds: the file is not newer than the date (whole seconds)."""
    try:
        since = parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        return False
    return int(file.stat().st_mtime) <= since


def serve(root: Path | str) -> PsdServer:
    """A started server; stop it with `.stop()` or use `with PsdServer(root) as srv`."""
    return PsdServer(root).start()


__all__ = ["PsdServer", "Request", "Fault", "serve"]
