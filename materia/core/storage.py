"""The landing area: one small interface over a local folder or an S3 bucket (R2).

Keys are POSIX paths relative to the root (`psd/psd_coffee_csv/2022/06/sha256-<h>.zip`),
never outside it: a key with a `..` segment is refused. Objects only ever appear whole: locally by `os.replace` from a temp file on the same
filesystem, on S3 because a (multipart) PUT becomes visible only when it completes.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import fsspec

from materia.core import scratch
from materia.core.errors import MateriaError
from materia.core.settings import Settings


class LandingStore:
    def __init__(self, root: str, fs: fsspec.AbstractFileSystem, tmp_dir: Path) -> None:
        self.root = root.rstrip("/")
        self.fs = fs
        self.tmp_dir = tmp_dir
        self.is_s3 = self.root.startswith("s3://")

    @classmethod
    def from_settings(cls, settings: Settings) -> LandingStore:
        if settings.r2 is not None:
            import s3fs

            fs = s3fs.S3FileSystem(**settings.r2.storage_options())
        else:
            fs = fsspec.filesystem("file")
        return cls(settings.landing_root, fs, settings.tmp_dir)

    def __repr__(self) -> str:
        return f"LandingStore({self.root!r})"

    # --- addressing ----------------------------------------------------------
    def url(self, key: str) -> str:
        """Full location of a key: a local path, or `s3://bucket/key`."""
        key = key.lstrip("/")
        if ".." in key.split("/") or "\\" in key or "\0" in key:
            raise MateriaError(f"landing key {key!r} leaves the landing root: refused")
        return f"{self.root}/{key}"

    def _fs_path(self, key: str) -> str:
        url = self.url(key)
        return url[len("s3://") :] if self.is_s3 else url

    # --- reading -------------------------------------------------------------
    def exists(self, key: str) -> bool:
        return self.fs.exists(self._fs_path(key))

    def size(self, key: str) -> int:
        return int(self.fs.size(self._fs_path(key)))

    def modified(self, key: str) -> datetime:
        """When the object was last written (S3: LastModified; locally: mtime), UTC."""
        info = self.fs.info(self._fs_path(key))
        when = info.get("LastModified") or info.get("mtime") or info.get("created")
        if isinstance(when, datetime):
            return when if when.tzinfo else when.replace(tzinfo=UTC)
        return datetime.fromtimestamp(float(when), UTC)

    def list(self, prefix: str = "") -> list[str]:
        """Every key under `prefix`, sorted; empty when the prefix does not exist."""
        base = self._fs_path(prefix).rstrip("/")
        strip = len(self._fs_path("").rstrip("/")) + 1
        try:
            found = self.fs.find(base)
        except FileNotFoundError:
            return []
        return sorted(p[strip:] for p in found)

    def open(self, key: str, mode: str = "rb") -> IO[bytes]:
        return self.fs.open(self._fs_path(key), mode)

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as f:
            return f.read()

    # --- writing (always whole objects) ----------------------------------------
    @contextmanager
    def temp_file(self, suffix: str = "") -> Iterator[Path]:
        """A scratch file on local disk, removed afterwards whatever happens (and by the
        next run if this process is killed: `materia.core.scratch`)."""
        path = scratch.mkstemp(self.tmp_dir, "tmp", suffix)
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)

    def put_file(self, local: Path, key: str) -> None:
        """Move a finished local file into place under `key`, atomically."""
        if self.is_s3:
            self.fs.put_file(str(local), self._fs_path(key))
            return
        dest = Path(self.url(key))
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Rename within one filesystem is atomic; copy across filesystems via a sibling.
        try:
            os.replace(local, dest)
        except OSError:
            sibling = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
            try:
                with open(local, "rb") as src, open(sibling, "wb") as out:
                    while chunk := src.read(1 << 20):
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(sibling, dest)
            finally:
                sibling.unlink(missing_ok=True)

    def write_bytes(self, key: str, data: bytes) -> None:
        with self.temp_file() as tmp:
            tmp.write_bytes(data)
            self.put_file(tmp, key)

    def copy(self, src: str, dst: str) -> None:
        """Copy an object to another key, whole or not at all (S3: a server-side copy)."""
        if self.is_s3:
            self.fs.copy(self._fs_path(src), self._fs_path(dst))
            return
        with self.temp_file() as tmp:
            with self.open(src) as f, open(tmp, "wb") as out:
                while chunk := f.read(1 << 20):
                    out.write(chunk)
            self.put_file(tmp, dst)

    def delete(self, key: str) -> None:
        self.fs.rm(self._fs_path(key))

    def append_jsonl(self, key: str, record: dict) -> None:
        """Append one JSON line (read-modify-write: S3 has no append; logs stay small)."""
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
        existing = self.read_bytes(key) if self.exists(key) else b""
        self.write_bytes(key, existing + line)

    def read_jsonl(self, key: str) -> list[dict]:
        if not self.exists(key):
            return []
        return [json.loads(x) for x in self.read_bytes(key).decode().splitlines() if x.strip()]
