"""What the loopback cloud API stand-ins share (Scaleway, OVHcloud, OCI).

A real HTTP server on 127.0.0.1 with state behind one lock, every call recorded as
(method, path, status) (never headers: they carry credentials), and state that moves
with time: `later(seconds, fn)` runs `fn` on the first request after `seconds`, so a
server boots `boot_seconds` after its start and disappears `delete_seconds` after its
deletion, as on a real cloud.

Servers "boot" through the `boot(server, user_data)` hook (tests start a real sshd with
the host key from the cloud-init user data) and stop through `halt(server, user_data)`.
Faults every stand-in offers: `delete_failures` (the next N deletes answer 500),
`capacity_errors` and `quota_errors` (the next N creations fail the vendor's way),
`server_errors` (the next N requests of any kind answer 500), and slow boots/deletes.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Hook = Callable[[dict[str, Any], str | None], None]


def now_iso(t: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if t is None else t, UTC).isoformat()


class Fault(Exception):
    """An API error answer: status, the vendor's error kind, a message."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


class Request:
    def __init__(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> None:
        url = urlsplit(raw_path)
        self.method, self.raw_path, self.path = method, raw_path, url.path
        self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.query_lists = parse_qs(url.query)
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body) if self.body else {}


Response = tuple[int, Any, dict[str, str]]


class StandinApi:
    """Subclasses implement `authenticate`, `route` and `error_body`."""

    MALFORMED = "invalid_request"  # the vendor's error kind for a malformed request

    def __init__(
        self,
        *,
        boot: Hook | None = None,
        halt: Hook | None = None,
        boot_seconds: float = 0.0,
        delete_seconds: float = 0.0,
        server_ip: str = "127.0.0.1",
    ) -> None:
        self.boot, self.halt = boot, halt
        self.boot_seconds, self.delete_seconds = boot_seconds, delete_seconds
        self.server_ip = server_ip
        self.delete_failures = 0
        self.capacity_errors = 0
        self.quota_errors = 0
        self.server_errors = 0
        self.servers: dict[str, dict[str, Any]] = {}
        self.user_data: dict[str, str | None] = {}
        self.calls: list[tuple[str, str, int]] = []
        self._pending: list[tuple[float, Callable[[], None]]] = []
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None

    # --- lifecycle -----------------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet; calls are recorded
                pass

            def _serve(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                req = Request(self.command, self.path, dict(self.headers.items()), body)
                status, out, headers = api.handle(req)
                # bytes go out as they are (e.g. a JSON `null` body); None: no body.
                data = (
                    out
                    if isinstance(out, bytes)
                    else b""
                    if out is None
                    else json.dumps(out).encode()
                )
                self.send_response(status)
                if out is not None:
                    self.send_header("Content-Type", "application/json")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        with self._lock:  # halt whatever still "runs" so test processes do not leak
            for server in list(self.servers.values()):
                if self.halt:
                    self.halt(server, None)

    @property
    def root(self) -> str:
        assert self._httpd is not None, f"{type(self).__name__} is not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # --- requests ------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        with self._lock:
            try:
                self.authenticate(req)
                self.advance()
                if self.server_errors > 0:
                    self.server_errors -= 1
                    raise Fault(500, "internal_error", "injected fault: internal error")
                status, out, headers = self.route(req)
            except Fault as f:
                status, out, headers = f.status, self.error_body(f), {}
            except (ValueError, TypeError, KeyError) as e:  # a malformed request
                f = Fault(400, self.MALFORMED, f"malformed request: {e!r}")
                status, out, headers = 400, self.error_body(f), {}
            self.calls.append((req.method, self.call_path(req), status))
            return status, out, headers

    def call_path(self, req: Request) -> str:
        """The path as `calls` records it."""
        return req.path

    def authenticate(self, req: Request) -> None:
        raise NotImplementedError

    def route(self, req: Request) -> Response:
        raise NotImplementedError

    def error_body(self, fault: Fault) -> Any:
        raise NotImplementedError

    # --- time and faults -------------------------------------------------------------------
    def later(self, seconds: float, fn: Callable[[], None]) -> None:
        self._pending.append((time.time() + seconds, fn))
        self.advance()

    def finish_pending(self) -> None:
        """Run every transition now, whatever its time (for one held with `math.inf`)."""
        pending, self._pending = self._pending, []
        for _, fn in pending:
            fn()

    def advance(self) -> None:
        """Run every transition whose time has come (state moves on each request)."""
        now = time.time()
        due = [p for p in self._pending if p[0] <= now]
        self._pending = [p for p in self._pending if p[0] > now]
        for _, fn in due:
            fn()

    def take(self, counter: str) -> bool:
        """Consume one injected fault of kind `counter` (e.g. "delete_failures")."""
        left = getattr(self, counter)
        if left > 0:
            setattr(self, counter, left - 1)
            return True
        return False

    def next_id(self) -> int:
        return next(self._ids)

    def boot_server(self, sid: str) -> None:
        """The server's hardware is up: run the boot hook with its user data."""
        server = self.servers.get(sid)
        if server is not None and self.boot:
            self.boot(server, self.user_data.get(sid))

    def halt_server(self, sid: str) -> None:
        server = self.servers.get(sid)
        if server is not None and self.halt:
            self.halt(server, self.user_data.get(sid))

    def snapshot(self) -> list[dict[str, Any]]:
        """The servers that exist now (for assertions): anything still billed."""
        with self._lock:
            self.advance()
            return [dict(s) for s in self.servers.values() if self.is_billed(s)]

    def is_billed(self, server: dict[str, Any]) -> bool:
        return True
