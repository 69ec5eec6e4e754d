"""Never publish a collapse: the checks a run's tables pass before anything is written.

A run refuses (naming the table and both row counts) when it would publish an empty
serving table, shrink one by more than `MAX_SHRINK`, or drop a release month from the
vintages while that month's archives are still landed. `--allow-shrink` overrides, for
the rare real case (a release withdrawn by quarantine drops its month on its own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from materia.errors import MateriaError

MAX_SHRINK = 0.10


@dataclass
class Planned:
    """What a run would publish, next to what is published now."""

    rows: dict[str, int]  # table → rows after the run
    published_rows: dict[str, int] = field(default_factory=dict)  # table → rows now
    vintage_months_now: set[date] = field(default_factory=set)
    vintage_months_after: set[date] = field(default_factory=set)
    withdrawn_months: set[date] = field(default_factory=set)  # no archive landed any more


def check(plan: Planned, allow_shrink: bool = False) -> list[str]:
    """Refuse a collapse (MateriaError), or return what `allow_shrink` let through."""
    faults = []
    for name, after in sorted(plan.rows.items()):
        before = plan.published_rows.get(name)
        if after == 0:
            faults.append(f"{name} would be empty ({before or 0:,} rows published now → 0)")
        elif before and after < before * (1 - MAX_SHRINK):
            faults.append(
                f"{name} would shrink by {1 - after / before:.0%} "
                f"({before:,} rows published now → {after:,})"
            )
    lost = sorted(plan.vintage_months_now - plan.vintage_months_after - plan.withdrawn_months)
    if lost:
        months = ", ".join(f"{m:%Y-%m}" for m in lost)
        faults.append(f"fct_psd_vintages would lose release month(s) {months}")
    if faults and not allow_shrink:
        raise MateriaError(
            "refusing to publish a collapse: "
            + "; ".join(faults)
            + " (nothing was published; if this is intended, run again with --allow-shrink)"
        )
    return faults
