"""A private git repository over HTTP on loopback, like GitLab with a read token.

Real `git http-backend` (git's own smart-HTTP server, as CGI) behind a tiny HTTP server
that demands Basic authentication with the given password (any user name), and records
what it saw, so a test can show that a pull authenticated and with what.

    with PrivateGitServer(repos_root, token) as srv:
        srv.url("origin.git")             # http://127.0.0.1:<port>/origin.git
        srv.denied, srv.granted           # request counts
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


class PrivateGitServer:
    def __init__(self, root: Path, token: str) -> None:
        self.root, self.token = Path(root), token
        self.denied = self.granted = 0
        git = shutil.which("git")
        if git is None:
            raise FileNotFoundError("git not found")
        backend = [git, "http-backend"]
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _authorized(self) -> bool:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return False
                _, _, password = base64.b64decode(header[6:]).decode().partition(":")
                return password == server.token

            def _serve(self) -> None:
                if not self._authorized():
                    server.denied += 1
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="materia"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                server.granted += 1
                url = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                env = {
                    "GIT_PROJECT_ROOT": str(server.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "REQUEST_METHOD": self.command,
                    "PATH_INFO": url.path,
                    "QUERY_STRING": url.query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                    "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                    "REMOTE_USER": "reader",
                    "REMOTE_ADDR": "127.0.0.1",
                }
                out = subprocess.run(backend, input=body, env=env, capture_output=True).stdout
                head, _, payload = out.partition(b"\r\n\r\n")
                status, headers = 200, []
                for line in head.decode().split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]

    def url(self, repo: str) -> str:
        return f"http://127.0.0.1:{self.port}/{repo}"

    def __enter__(self) -> PrivateGitServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
