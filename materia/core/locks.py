"""One lock type for the whole project: it knows its holder, and a dead holder never
blocks anyone for long.

A lock records host, pid, start time and an expiry. Two places hold one:

- a local file, held with `flock`: the kernel releases it the moment its process dies,
  so a lock left by a dead process on this host is taken over at once (and said so);
- an object in the landing bucket (R2), created with `If-None-Match: *` so exactly one
  writer wins, renewed by a background thread every `ttl / 3` while its holder lives,
  and taken over once it has expired (a crashed worker blocks for minutes, not hours)
  or at once when its holder is a dead process on this very host.

    with locks.hold(locks.for_name(settings, "transform-prod"), what="a transform of prod"):
        ...
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from materia.core.errors import MateriaError
from materia.core.settings import Settings
from materia.core.storage import LandingStore

log = logging.getLogger(__name__)

REMOTE_TTL = timedelta(minutes=3)
LOCAL_TTL = timedelta(hours=12)  # informational: a local lock dies with its process


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    started: str  # ISO 8601 UTC
    expires: str  # ISO 8601 UTC; renewed while the holder lives
    token: str  # unique per acquisition

    @classmethod
    def me(cls, ttl: timedelta) -> Holder:
        now = _now()
        return cls(
            socket.gethostname(),
            os.getpid(),
            now.isoformat(timespec="seconds"),
            (now + ttl).isoformat(timespec="seconds"),
            uuid.uuid4().hex,
        )

    def renewed(self, ttl: timedelta) -> Holder:
        return Holder(
            self.host,
            self.pid,
            self.started,
            (_now() + ttl).isoformat(timespec="seconds"),
            self.token,
        )

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Holder | None:
        try:
            d = json.loads(data)
            return cls(str(d["host"]), int(d["pid"]), d["started"], d["expires"], d["token"])
        except (ValueError, KeyError, TypeError):
            return None  # unreadable: treated as no holder

    def expired(self) -> bool:
        return _now() >= datetime.fromisoformat(self.expires)

    def dead_here(self) -> bool:
        """The holder is a process of this host that no longer exists."""
        return self.host == socket.gethostname() and not _alive(self.pid)

    def describe(self) -> str:
        return f"{self.host} pid {self.pid} since {self.started}"


def _now() -> datetime:
    return datetime.now(UTC)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- where a lock lives ------------------------------------------------------------------
class LocalLock:
    """`flock` on a file; the file holds the holder record for messages."""

    def __init__(self, path: Path, ttl: timedelta = LOCAL_TTL) -> None:
        self.path = path
        self.ttl = ttl
        self._fd: int | None = None

    def where(self) -> str:
        return str(self.path)

    def acquire(self, me: Holder, say: Callable[[str], None]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held = Holder.from_bytes(os.pread(fd, 4096, 0))
            os.close(fd)
            raise Busy(held) from None
        previous = Holder.from_bytes(os.pread(fd, 4096, 0))
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, me.to_bytes(), 0)
        except OSError as e:  # a full disk: say so, and hold nothing we cannot describe
            os.close(fd)
            raise MateriaError(f"cannot write the lock {self.where()}: {e.strerror}") from None
        if previous is not None:  # the kernel freed it: its holder died without releasing
            say(f"lock {self.where()}: taking over from {previous.describe()}, which is gone")
        self._fd = fd

    def renew(self, me: Holder) -> bool:
        return True  # held by the kernel for as long as we live

    def release(self, me: Holder) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing drops the flock
        self._fd = None


class RemoteLock:
    """An object in the landing bucket, written conditionally."""

    def __init__(self, store: LandingStore, key: str, ttl: timedelta = REMOTE_TTL) -> None:
        self.store = store
        self.key = key
        self.ttl = ttl
        self.bucket, _, prefix = store.root[len("s3://") :].partition("/")
        self.s3_key = f"{prefix}/{key}" if prefix else key
        self._etag: str | None = None

    def where(self) -> str:
        return self.store.url(self.key)

    def _put(self, body: bytes, **condition: str) -> str | None:
        """Conditional PUT; the new ETag, or None when the condition failed."""
        from botocore.exceptions import ClientError

        try:
            resp = self.store.fs.call_s3(
                "put_object", Bucket=self.bucket, Key=self.s3_key, Body=body, **condition
            )
        except ClientError as e:
            if e.response.get("Error", {}).get("Code", "") in (
                "PreconditionFailed",
                "412",
                "ConditionalRequestConflict",
            ):
                return None
            raise
        except OSError as e:  # s3fs maps 412 to OSError("...pre-conditions...")
            text = str(e).lower().replace("-", "")
            if "precondition" in text or "412" in text:
                return None
            raise
        return resp.get("ETag")

    def _read(self) -> tuple[Holder | None, str | None]:
        """The holder and the object's ETag. The ETag is read first: should the object
        change before its body is read, a PUT conditional on that ETag fails, so a
        decision is never taken on a holder we did not see."""
        self.store.fs.invalidate_cache()
        try:
            etag = self.store.fs.info(self.store.url(self.key)[len("s3://") :]).get("ETag")
            body = self.store.read_bytes(self.key)
        except FileNotFoundError:
            return None, None
        return Holder.from_bytes(body), etag

    def acquire(self, me: Holder, say: Callable[[str], None]) -> None:
        etag = self._put(me.to_bytes(), IfNoneMatch="*")
        if etag is None:
            held, held_etag = self._read()
            if held is not None and not (held.expired() or held.dead_here()):
                raise Busy(held)
            why = "expired" if held is None or held.expired() else "whose process is gone"
            if held_etag is None:  # released meanwhile: race for it once more
                etag = self._put(me.to_bytes(), IfNoneMatch="*")
            else:
                etag = self._put(me.to_bytes(), IfMatch=held_etag)
            if etag is None:
                raise Busy(self._read()[0])
            if held is not None:
                say(f"lock {self.where()}: taking over from {held.describe()} ({why})")
        self._etag = etag

    def renew(self, me: Holder) -> bool:
        """Push the expiry forward, only if the lock is still ours."""
        etag = self._put(me.to_bytes(), IfMatch=self._etag) if self._etag else None
        if etag is None:
            return False
        self._etag = etag
        return True

    def release(self, me: Holder) -> None:
        held, _ = self._read()
        if held is not None and held.token == me.token:
            self.store.delete(self.key)
        self._etag = None


class LockBusy(MateriaError):
    """Someone else holds the lock: the message names them (`holder`, when known). Not a
    failure of anything: the supervisor's tick reads it as "still running"."""

    def __init__(self, message: str, holder: Holder | None = None) -> None:
        super().__init__(message)
        self.holder = holder


class Busy(LockBusy):
    """What `acquire` raises: the lock is held by a live holder (or was won by another run
    just now); `held` turns it into the LockBusy that names the job."""

    def __init__(self, holder: Holder | None) -> None:
        super().__init__(holder.describe() if holder else "another run", holder)


def for_name(settings: Settings, name: str) -> LocalLock | RemoteLock:
    """The lock `name`: an object in the landing bucket when it is R2, else a local file."""
    if settings.r2 is not None:
        return RemoteLock(LandingStore.from_settings(settings), f"locks/{name}.json")
    return LocalLock(settings.home / "locks" / f"{name}.lock")


class Held:
    """A lock being held: `check()` before an irreversible step."""

    def __init__(self, lock: LocalLock | RemoteLock, what: str) -> None:
        self.lock = lock
        self.what = what
        self.lost = threading.Event()

    def check(self) -> None:
        if self.lost.is_set():
            raise MateriaError(
                f"lost the lock {self.lock.where()} while {self.what} ran (another run took "
                "it after a renewal failed): stopped before changing anything more"
            )


@contextlib.contextmanager
def hold(
    lock: LocalLock | RemoteLock,
    what: str,
    say: Callable[[str], None] = log.warning,
) -> Iterator[Held]:
    """Hold `lock` for the block, renewing it while we live; LockBusy when it is taken."""
    me = Holder.me(lock.ttl)
    try:
        lock.acquire(me, say)
    except Busy as e:
        until = f" until {e.holder.expires}" if isinstance(lock, RemoteLock) and e.holder else ""
        raise LockBusy(
            f"{lock.where()} is held by {e}{until}: {what} is already running; nothing was changed",
            e.holder,
        ) from None
    stop = threading.Event()
    held = Held(lock, what)

    def renew() -> None:
        nonlocal me
        while not stop.wait(lock.ttl.total_seconds() / 3):
            me = me.renewed(lock.ttl)
            try:
                if not lock.renew(me):
                    held.lost.set()
                    return
            except Exception as e:  # a network blip: try again next round
                log.warning("lock %s: renewal failed: %s", lock.where(), e)

    thread = threading.Thread(target=renew, name="materia-lock", daemon=True)
    thread.start()
    try:
        yield held
        held.check()
    finally:
        stop.set()
        thread.join(timeout=5)
        with contextlib.suppress(Exception):
            lock.release(me)
