"""Secret values: the type that never shows one, and the redaction of any that reaches
text. The bottom of `materia.core`: it imports nothing of materia, so errors, settings and
logs can all redact without an import circle."""

from __future__ import annotations

import os
from collections.abc import Iterable

# Every environment variable whose value is a secret; `materia.core.secrets` redacts these.
SECRET_NAMES = (
    "R2_ACCESS_KEY",
    "R2_SECRET_KEY",
    "ICEBERG_TOKEN",
    "ICEBERG_CREDENTIAL",
    "HCLOUD_TOKEN",
    "HETZNER_TOKEN",  # the ESC seed's name for HCLOUD_TOKEN
    "GITLAB_READ_TOKEN",  # lets the supervisor pull a private repository
    "MATERIA_NOTIFY",  # Apprise URLs carry their destinations' tokens
    "SCW_ACCESS_KEY",
    "SCW_SECRET_KEY",
    "OVH_APPLICATION_KEY",
    "OVH_APPLICATION_SECRET",
    "OVH_CONSUMER_KEY",
    "OCI_PRIVATE_KEY",
    "OCI_PRIVATE_KEY_PASSWORD",
)

MASK = "***"
# ESC may also carry plain config (bucket, region); redacting a value like "auto" would
# mangle output, so non-secret-named values are redacted only when this long.
_MIN_REDACT_LEN = 6

_known: set[str] = set()


def register(values: Iterable[str]) -> None:
    """Remember values to redact from now on (empty strings are ignored)."""
    _known.update(v for v in values if v)


def known_values() -> set[str]:
    """Every value redacted now: registered ones plus secret-named environment values."""
    found = set(_known)
    found.update(os.environ[n] for n in SECRET_NAMES if os.environ.get(n))
    return found


def redact(text: str, values: Iterable[str] | None = None) -> str:
    """`text` with each secret value replaced by `***` (longest first, so no fragments)."""
    for v in sorted(known_values() if values is None else set(values), key=len, reverse=True):
        if v:
            text = text.replace(v, MASK)
    return text


class Secret:
    """A secret string: usable through `.get()`, never shown by `repr` or `str`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)
