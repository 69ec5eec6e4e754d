"""`--on cheapest`: the configured cloud with the lowest hourly price for the pipeline.

The choice and the runner-up are printed with their prices. When the chosen provider
cannot take the run (a failed precondition, checked before anything is created: a key
it lacks, a type it no longer sells; or no capacity or quota, a CapacityError from
creating the worker or waiting for it), the run falls back to the next cheapest, at
most `MAX_ATTEMPTS` providers in all.
Each attempt is a whole `run_on_worker`, so whatever a failed attempt half-created is
destroyed by it, and each attempt has its own line in the run log.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from materia.core.errors import MateriaError
from materia.core.settings import Settings
from materia.workers import prices, registry
from materia.workers.preflight import PreconditionError
from materia.workers.providers.cloud import CapacityError

MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Choice:
    provider: str
    server_type: str
    hourly: float  # in `currency`, excl. VAT
    currency: str
    hourly_eur: float  # for ranking
    estimated: bool

    def describe(self) -> str:
        note = ", estimated" if self.estimated else ""
        return f"{self.provider} {self.server_type} ({self.hourly:.4f} {self.currency}/h{note})"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def ranked(settings: Settings, pipeline: str, on: date | None = None) -> list[Choice]:
    """The configured clouds priced for `pipeline`, cheapest first (ties: by name)."""
    choices = []
    for name in registry.configured(settings):
        table = prices.price_table(name, on)
        eur = prices.hourly_eur(name, pipeline, on)
        if name == "local" or table is None or eur is None:
            continue
        kind = table.classes[pipeline]
        choices.append(
            Choice(name, kind, table.hourly[kind], table.currency, eur, kind in table.estimated)
        )
    return sorted(choices, key=lambda c: (c.hourly_eur, c.provider))


def announce(choices: list[Choice], pipeline: str) -> str:
    runner_up = choices[1].describe() if len(choices) > 1 else "none"
    return f"cheapest: {pipeline} on {choices[0].describe()}; runner-up {runner_up}"


def run_cheapest(
    settings: Settings,
    pipeline: str,
    log: Callable[[str], None] = _stderr,
    attempts: int = MAX_ATTEMPTS,
):
    """Run `pipeline` on the cheapest configured cloud, falling back on capacity errors."""
    from materia.workers.run import run_on_worker

    choices = ranked(settings, pipeline)
    if not choices:
        raise MateriaError(
            "--on cheapest: no cloud provider has credentials (set HCLOUD_TOKEN, SCW_*, "
            "OVH_* or OCI_*; `materia worker list` shows which are configured)"
        )
    log(announce(choices, pipeline))
    candidates = choices[:attempts]
    reasons: list[str] = []
    for i, choice in enumerate(candidates):
        provider = registry.provider_for(settings, choice.provider, log=log)
        try:
            return run_on_worker(settings, provider, pipeline, log=log)
        except (CapacityError, PreconditionError) as e:
            following = candidates[i + 1] if i + 1 < len(candidates) else None
            then = f"falling back to {following.describe()}" if following else "none left"
            why = "cannot run there" if isinstance(e, PreconditionError) else "no capacity"
            log(f"cheapest: {why} on {choice.provider} ({e}); {then}")
            reasons.append(f"{choice.provider}: {e}")
    raise MateriaError(f"--on cheapest: no cloud could run {pipeline}: " + "; ".join(reasons))
