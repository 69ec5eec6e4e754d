"""The DuckDB warehouse file (SQLMesh state + physical tables), taken under a lock.

Locally the file stays at `$MATERIA_HOME/warehouse.duckdb`. In prod (R2 configured) it
lives in object storage between runs at `s3://$R2_BUCKET/warehouse/warehouse.duckdb`:
a run writes a lock object (`warehouse/lock.json`: owner and expiry) with a conditional
PUT, downloads the file, works on the local copy, uploads it only after success, and
deletes the lock. A second run while the lock is live refuses with a clear message and
changes nothing; a lock past its expiry (a crashed worker) is taken over. Either way
the lock also guards the local file, so two local runs cannot interleave.

Alongside it lives the transform state per environment (`state/<env>.json`): the
fingerprint of the inputs of the last successful transform, so a run with nothing new
can stop before even opening the warehouse.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from materia.errors import MateriaError
from materia.settings import Settings
from materia.storage import LandingStore

PREFIX = "warehouse"
OBJECT = f"{PREFIX}/warehouse.duckdb"
LOCK = f"{PREFIX}/lock.json"
DEFAULT_TTL = timedelta(hours=3)


@dataclass(frozen=True)
class Lock:
    owner: str
    expires: datetime

    def to_bytes(self) -> bytes:
        return json.dumps({"owner": self.owner, "expires": self.expires.isoformat()}).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Lock:
        d = json.loads(data)
        return cls(d["owner"], datetime.fromisoformat(d["expires"]))

    def expired(self, now: datetime) -> bool:
        return now >= self.expires


def _now() -> datetime:
    return datetime.now(UTC)


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _remote(settings: Settings) -> LandingStore | None:
    return LandingStore.from_settings(settings) if settings.r2 is not None else None


# --- the lock ---------------------------------------------------------------------------
class _LocalLock:
    """An exclusive-create lock file next to the warehouse."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def create(self, lock: Lock) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as f:
            f.write(lock.to_bytes())
        return True

    def read(self) -> Lock | None:
        try:
            return Lock.from_bytes(self.path.read_bytes())
        except FileNotFoundError:
            return None

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)

    def where(self) -> str:
        return str(self.path)


class _S3Lock:
    """A lock object written with `If-None-Match: *`, so exactly one writer wins."""

    def __init__(self, store: LandingStore) -> None:
        self.store = store
        self.bucket, _, prefix = store.root[len("s3://") :].partition("/")
        self.key = f"{prefix}/{LOCK}" if prefix else LOCK

    def create(self, lock: Lock) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.store.fs.call_s3(
                "put_object",
                Bucket=self.bucket,
                Key=self.key,
                Body=lock.to_bytes(),
                IfNoneMatch="*",
            )
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                return False
            raise
        except OSError as e:  # s3fs maps 412 to OSError(EINVAL, "...pre-conditions...")
            text = str(e).lower().replace("-", "")
            if "precondition" in text or "412" in text:
                return False
            raise
        self.store.fs.invalidate_cache()
        # Belt and braces for stores that ignore the condition: the object must be ours.
        current = self.read()
        return current is not None and current.owner == lock.owner

    def read(self) -> Lock | None:
        self.store.fs.invalidate_cache()
        if not self.store.exists(LOCK):
            return None
        return Lock.from_bytes(self.store.read_bytes(LOCK))

    def delete(self) -> None:
        if self.store.exists(LOCK):
            self.store.delete(LOCK)

    def where(self) -> str:
        return self.store.url(LOCK)


def _lock_for(settings: Settings):
    remote = _remote(settings)
    if remote is not None:
        return _S3Lock(remote)
    return _LocalLock(settings.warehouse_path.with_name("warehouse.lock"))


def acquire(settings: Settings, owner: str, ttl: timedelta = DEFAULT_TTL) -> Lock:
    """Take the warehouse lock or raise MateriaError naming the holder."""
    lk = _lock_for(settings)
    lock = Lock(owner, _now() + ttl)
    if lk.create(lock):
        return lock
    held = lk.read()
    if held is not None and not held.expired(_now()):
        raise MateriaError(
            f"warehouse is locked by {held.owner} until {held.expires:%Y-%m-%d %H:%M:%S} UTC "
            f"({lk.where()}): another transform is running; nothing was changed"
        )
    # Expired (or vanished between the two calls): clear it and race once more.
    lk.delete()
    if lk.create(lock):
        return lock
    raise MateriaError(f"warehouse lock {lk.where()} was taken by another run; nothing was changed")


def release(settings: Settings, lock: Lock) -> None:
    lk = _lock_for(settings)
    held = lk.read()
    if held is not None and held.owner == lock.owner:
        lk.delete()


# --- the file ---------------------------------------------------------------------------
@contextmanager
def taken(settings: Settings, owner: str | None = None) -> Iterator[Path]:
    """The warehouse file, exclusively ours for the duration of the block.

    Prod: downloaded first, uploaded only when the block succeeds; on failure the local
    copy is discarded, so object storage keeps the last good warehouse.
    """
    lock = acquire(settings, owner or default_owner())
    path = settings.warehouse_path
    remote = _remote(settings)
    ok = False
    try:
        if remote is not None:
            _download(remote, path)
        yield path
        ok = True
        if remote is not None:
            remote.put_file(path, OBJECT)  # on S3 a PUT is whole or absent
    finally:
        if remote is not None and not ok:
            path.unlink(missing_ok=True)
            path.with_name(path.name + ".wal").unlink(missing_ok=True)
        release(settings, lock)


def _download(remote: LandingStore, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
    if remote.exists(OBJECT):
        with remote.open(OBJECT) as src, open(path, "wb") as out:
            shutil.copyfileobj(src, out, 8 << 20)


# --- transform state per environment -----------------------------------------------------
def _state_key(env: str) -> str:
    return f"{PREFIX}/state/{env}.json"


def read_state(settings: Settings, env: str) -> dict:
    remote = _remote(settings)
    if remote is not None:
        remote.fs.invalidate_cache()
        key = _state_key(env)
        return json.loads(remote.read_bytes(key)) if remote.exists(key) else {}
    path = settings.home / "state" / f"{env}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def write_state(settings: Settings, env: str, state: dict) -> None:
    data = json.dumps(state, sort_keys=True, default=str).encode()
    remote = _remote(settings)
    if remote is not None:
        remote.write_bytes(_state_key(env), data)
        return
    path = settings.home / "state" / f"{env}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
