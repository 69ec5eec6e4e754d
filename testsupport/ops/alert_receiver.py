"""A loopback HTTP endpoint that records what Apprise's `json://` schema posts to it.

with AlertReceiver() as rx:
    env["MATERIA_NOTIFY"] = rx.url          # json://127.0.0.1:<port>/alerts
    ...
    rx.wait_for(1)                          # the alerts received, oldest first
    rx.alerts[0]["title"], ["message"], ["type"]   # type: failure | success | info
    rx.raw                                  # every request body, as bytes
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class AlertReceiver:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.alerts: list[dict] = []
        self.raw: list[bytes] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.raw.append(body)
                    receiver.alerts.append(json.loads(body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"json://127.0.0.1:{self.port}/alerts"

    def __enter__(self) -> AlertReceiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, n: int, timeout: float = 30) -> list[dict]:
        """The alerts once at least `n` have arrived (AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.alerts) >= n:
                    return list(self.alerts)
            time.sleep(0.05)
        raise AssertionError(f"expected {n} alert(s), got {len(self.alerts)}: {self.alerts}")
