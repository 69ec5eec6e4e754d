"""Bounded downloads: an overall deadline and a size cap per archive, each one error line."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from materia.core.errors import MateriaError
from materia.extract.download import HttpSource
from testsupport.psd import fixtures as pf

COFFEE = "psd_coffee_csv.zip"
ARGS = ("extract", "psd", "--dataset", COFFEE, "--as-of", "2022-06-30")


def landed(env: dict) -> list[Path]:
    root = Path(env["MATERIA_HOME"]) / "landing" / "psd"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def error_line(proc) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    [line] = proc.stderr.strip().splitlines()
    return line


def sparse_release(root: Path, size: int) -> Path:
    """An archive of `size` bytes that takes no disk space (a sparse file)."""
    path = root / "archives" / "2022" / "06" / COFFEE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def test_a_dripping_server_is_cut_off_at_the_deadline(psd_server, cli, materia_env):
    [path] = pf.archive_layout(psd_server.root, {"2022-06": pf.sample_rows()}).values()
    psd_server.inject("slow", chunk=16, delay=0.5)  # the whole body would take minutes
    env = {**materia_env, "PSD_BASE_URL": psd_server.base_url, "PSD_DOWNLOAD_DEADLINE": "1"}
    line = error_line(cli(*ARGS, env=env))
    assert line.startswith(f"error: {psd_server.base_url}/archives/2022/06/{COFFEE}: ")
    assert "deadline of 1 s (PSD_DOWNLOAD_DEADLINE)" in line and "nothing landed" in line
    assert psd_server.body_bytes("GET") < path.stat().st_size
    assert landed(env) == []


@pytest.mark.parametrize("scheme", ["http", "file"])
def test_an_archive_over_the_cap_is_refused_before_its_body(scheme, psd_server, cli, materia_env):
    sparse_release(psd_server.root, 300 * 2**20)
    base = psd_server.base_url if scheme == "http" else psd_server.root.as_uri()
    env = {**materia_env, "PSD_BASE_URL": base}  # the default cap: 100 MB
    line = error_line(cli(*ARGS, env=env))
    assert "larger than the cap of 100 MB (PSD_MAX_ARCHIVE_MB): 314,572,800 bytes" in line
    assert psd_server.body_bytes("GET") == 0
    assert landed(env) == []


class _Endless(BaseHTTPRequestHandler):
    """HTTP/1.0 with no Content-Length: the body ends only when the client hangs up."""

    sent = 0

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("ETag", '"endless"')
        self.end_headers()
        block = b"\0" * 65536
        try:
            while True:
                self.wfile.write(block)
                type(self).sent += len(block)
        except OSError:
            pass


def test_a_body_without_length_stops_at_the_cap(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/archives/2022/06/{COFFEE}"
    try:
        with pytest.raises(MateriaError) as err:
            HttpSource(deadline_s=60, max_bytes=2**20).download(url, tmp_path / "x", lambda n: 0)
    finally:
        server.shutdown()
        server.server_close()
    assert str(err.value) == (
        f"{url}: archive larger than the cap of 1 MB (PSD_MAX_ARCHIVE_MB): "
        "more than 1,048,576 bytes received; nothing landed"
    )
    # Stopped near the cap, not at the end of an endless body (socket buffers aside).
    assert _Endless.sent < 64 * 2**20


def test_bad_bound_settings_are_one_clear_error(cli, materia_env):
    proc = cli(*ARGS, env={**materia_env, "PSD_MAX_ARCHIVE_MB": "lots"})
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: PSD_MAX_ARCHIVE_MB must be a positive number"
