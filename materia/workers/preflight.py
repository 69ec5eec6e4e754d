"""Everything a worker run needs, checked before a server is created (and billed).

Local files first (the worker SSH key, and its `.pub` for the clouds that install it
themselves), then the provider's own `preflight(server_type)` when it has one: the
token works, the key is registered, the instance type can be ordered where we ask.
Quotas only show when a server is asked for: that answer is a `CapacityError`, which
`--on cheapest` falls back on like a failed precondition.
"""

from __future__ import annotations

from materia.core.errors import MateriaError
from materia.core.settings import Settings
from materia.workers.base import Provider
from materia.workers.prices import instance_type
from materia.workers.registry import authorized_key

# Clouds that put the public key on the server themselves (the others: a key by name).
NEEDS_PUBLIC_KEY = ("scaleway", "oracle")


class PreconditionError(MateriaError):
    """A worker cannot be made here; nothing was created."""


def check(settings: Settings, provider: Provider, pipeline: str) -> None:
    """PreconditionError naming the first thing missing for a run of `pipeline`."""
    if provider.name == "local":
        return
    key = settings.hetzner.ssh_private_key
    if key is None or not key.is_file():
        raise PreconditionError(
            f"{provider.name}: MATERIA_WORKER_SSH_KEY (or HCLOUD_SSH_PRIVATE_KEY) must name "
            f"the worker SSH private key file (got {key})"
        )
    if provider.name in NEEDS_PUBLIC_KEY and authorized_key(settings) is None:
        raise PreconditionError(
            f"{provider.name}: workers need the worker SSH public key beside the private "
            f"one ({key}.pub; `ssh-keygen -y -f {key} > {key}.pub` makes it)"
        )
    hook = getattr(provider, "preflight", None)
    if hook is None:
        return
    try:
        hook(instance_type(provider.name, pipeline))
    except PreconditionError:
        raise
    except MateriaError as e:
        text = str(e)
        named = text if text.startswith(provider.name) else f"{provider.name}: {text}"
        raise PreconditionError(named) from e
