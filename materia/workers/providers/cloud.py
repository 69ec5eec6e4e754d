"""What the Scaleway, OVHcloud and Oracle providers share: their error kinds, retried
calls, waiting for a server to answer SSH and to be gone (`CloudProvider`).

Each provider turns its SDK's exceptions into these errors, so the retry and wait logic
is written once. `CapacityError` is what `--on cheapest` falls back on.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

from materia.core.errors import MateriaError
from materia.workers.base import Instance

T = TypeVar("T")


class ApiError(MateriaError):
    """A call failed in a way worth retrying (5xx, network, resource busy)."""


class NotFound(MateriaError):
    """The resource does not exist (deleting it again is done)."""


class CapacityError(MateriaError):
    """No capacity or quota for the worker here; another provider may have it."""


def missing_error(provider: str, missing: list[str]) -> MateriaError:
    """One line naming every variable the provider still needs."""
    verb = "is" if len(missing) == 1 else "are"
    return MateriaError(
        f"{', '.join(missing)} {verb} not set: the {provider} worker provider needs it"
    )


def ssh_banner(host: str, port: int) -> bool:
    """True once something on host:port speaks SSH (sshd is up, not just the port)."""
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.settimeout(2)
            return s.recv(8).startswith(b"SSH-")
    except OSError:
        return False


def retried(
    call: Callable[[], T],
    what: str,
    attempts: int,
    delay: float,
    log: Callable[[str], None],
) -> T:
    """`call()`, retrying ApiError with exponential backoff; the last one propagates."""
    for attempt in range(attempts):
        try:
            return call()
        except ApiError as e:
            if attempt == attempts - 1:
                raise
            log(f"{what} failed ({e}), retrying")
            time.sleep(delay * 2**attempt)
    raise AssertionError("unreachable")


def wait_for_ssh(
    refresh: Callable[[], Instance],
    instance: Instance,
    timeout: float,
    failed: Callable[[Instance], str | None] = lambda _: None,
) -> Instance:
    """Poll `refresh()` until the server runs and answers SSH; MateriaError on timeout.

    `failed(instance)` names a terminal failure (e.g. no host for it): CapacityError.
    """
    deadline = time.monotonic() + timeout
    current = instance
    while time.monotonic() < deadline:
        with contextlib.suppress(ApiError):  # a passing API hiccup; the deadline bounds it
            current = refresh()
        reason = failed(current)
        if reason:
            raise CapacityError(f"worker {instance.name} ({current.provider}): {reason}")
        if current.status == "running" and current.host and ssh_banner(current.host, current.port):
            return current
        time.sleep(0.25)
    raise MateriaError(
        f"worker {instance.name} ({current.host or 'no address'}:{current.port}, status "
        f"{current.status}): SSH not ready after {timeout:.0f}s"
    )


def wait_until_gone(
    exists: Callable[[], bool], what: str, timeout: float, poll: float = 0.25
) -> None:
    """Poll `exists()` until False; MateriaError (naming the reaper) after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if not exists():
                return
        except ApiError:
            pass
        if time.monotonic() >= deadline:
            raise MateriaError(
                f"{what} is still being deleted after {timeout:.0f}s; `materia worker reap` "
                "deletes it if it stays"
            )
        time.sleep(poll)


class CloudProvider:
    """Base of the cloud providers: settings checked when built (a missing variable is one
    line naming it), deletes retried and then waited for, SSH readiness polled.

    A subclass sets `name`, and implements `refresh(instance_id)` (the instance now, with
    its address once it runs) and may implement `failure(instance)` (why it never will).
    """

    name = "cloud"

    def __init__(
        self,
        settings: Any,
        authorized_key: str | None = None,
        delete_attempts: int = 6,
        retry_delay: float = 0.5,
        delete_timeout: float = 600,
        log: Callable[[str], None] = lambda _: None,
    ) -> None:
        if missing := settings.missing():
            raise missing_error(self.name, missing)
        self.settings = settings
        self.authorized_key = authorized_key  # public half of the worker SSH key
        self.delete_attempts, self.retry_delay = delete_attempts, retry_delay
        self.delete_timeout = delete_timeout
        self.log = log

    def refresh(self, instance_id: str) -> Instance:
        raise NotImplementedError

    def failure(self, instance: Instance) -> str | None:
        return None

    def retried(self, call: Callable[[], T], what: str) -> T:
        return retried(
            call, f"{self.name}: {what}", self.delete_attempts, self.retry_delay, self.log
        )

    def delete_and_wait(
        self, instance_id: str, delete: Callable[[], object], exists: Callable[[], bool]
    ) -> None:
        """`delete()` (retrying API errors), then wait until `exists()` is False; an
        instance gone already counts as deleted."""
        try:
            self.retried(delete, f"delete of {instance_id}")
        except NotFound:
            return
        except ApiError as e:
            raise MateriaError(
                f"{e}; {self.name} worker {instance_id} still exists after "
                f"{self.delete_attempts} delete attempts; `materia worker reap` removes it"
            ) from None
        wait_until_gone(exists, f"{self.name} worker {instance_id}", self.delete_timeout)

    def wait_for_ssh(self, instance: Instance, timeout: float) -> Instance:
        return wait_for_ssh(lambda: self.refresh(instance.id), instance, timeout, self.failure)
