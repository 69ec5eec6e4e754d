"""Which worker providers exist and which are configured here; one by name.

`provider_for(settings, "scaleway")` builds a provider from its settings (a missing
credential is a one-line error naming it). `configured(settings)` lists the providers
whose credentials are set: `local` always, the clouds when their variables are.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from materia.core.errors import MateriaError
from materia.core.settings import Settings

PROVIDERS = ("local", "hetzner", "scaleway", "ovh", "oracle")
CLOUDS = PROVIDERS[1:]


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def missing(settings: Settings, name: str) -> list[str]:
    """Variables the provider `name` still needs ([] when it is usable)."""
    if name == "local":
        return []
    if name == "hetzner":
        return [] if settings.hetzner.token else ["HCLOUD_TOKEN"]
    if name in ("scaleway", "ovh", "oracle"):
        return getattr(settings, name).missing()
    raise MateriaError(f"unknown worker provider {name!r}: use {', '.join(PROVIDERS)}")


def configured(settings: Settings) -> list[str]:
    """Every provider usable with these settings, `local` first."""
    return [name for name in PROVIDERS if not missing(settings, name)]


def authorized_key(settings: Settings) -> str | None:
    """The public half of the worker SSH key (`<private key>.pub`), when it exists."""
    key = settings.hetzner.ssh_private_key
    pub = Path(f"{key}.pub") if key else None
    return pub.read_text().strip() if pub is not None and pub.is_file() else None


def provider_for(settings: Settings, on: str, log: Callable[[str], None] = _log):
    """The worker provider named `on`."""
    if on == "local":
        from materia.workers.providers.local import LocalProvider

        return LocalProvider(settings.home / "workers")
    if on == "hetzner":
        from materia.workers.providers.hetzner import HetznerProvider

        return HetznerProvider(settings.hetzner, log=log)
    if on == "scaleway":
        from materia.workers.providers.scaleway import ScalewayProvider

        return ScalewayProvider(settings.scaleway, authorized_key(settings), log=log)
    if on == "ovh":
        from materia.workers.providers.ovh import OvhProvider

        return OvhProvider(settings.ovh, log=log)
    if on == "oracle":
        from materia.workers.providers.oracle import OracleProvider

        return OracleProvider(settings.oracle, authorized_key(settings), log=log)
    raise MateriaError(f"unknown worker provider {on!r}: use {', '.join(PROVIDERS)} or cheapest")
