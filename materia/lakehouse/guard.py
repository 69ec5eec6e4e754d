"""Never publish a collapse: the checks a run's tables pass before anything is written.

A run refuses (naming the table and both row counts) when it would publish an empty
serving table, shrink one by more than `MAX_SHRINK`, or drop a release month from a
vintages table while that month's archives of its source are still landed. `--allow-shrink` overrides, for
the rare real case (a release withdrawn by quarantine drops its month on its own).

A shrink is measured against the largest of the last `WINDOW` publications (`baseline`),
not only the newest: five releases each 9 % smaller (-38 % in all) would each pass a
comparison with the one before. A publication that `--allow-shrink` let a shrink through
records it (`SHRINK_ALLOWED` in its inputs) and starts a new baseline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from materia.core.errors import MateriaError

MAX_SHRINK = 0.10
WINDOW = 10
SHRINK_ALLOWED = "shrink_allowed"  # key in a publication's inputs


@dataclass
class Planned:
    """What a run would publish, next to what is published now."""

    rows: dict[str, int]  # table → rows after the run
    published_rows: dict[str, int] = field(default_factory=dict)  # table → rows now
    # per history table (a vintages table): its release months now and after the run,
    # and the months its source has no archive landed for any more
    vintage_months_now: dict[str, set[date]] = field(default_factory=dict)
    vintage_months_after: dict[str, set[date]] = field(default_factory=dict)
    withdrawn_months: dict[str, set[date]] = field(default_factory=dict)
    # table → (the most rows among the recent publications, the run that had them)
    baseline: dict[str, tuple[int, str]] = field(default_factory=dict)


def baseline(log: list[dict]) -> dict[str, tuple[int, str]]:
    """From the rows of a publication log (run_id, sequence, table_name, row_count,
    inputs): each table's most rows over the last `WINDOW` runs, back to the newest run
    that an allowed shrink started."""
    runs: dict[int, list[dict]] = {}
    for row in log:
        runs.setdefault(row["sequence"], []).append(row)
    out: dict[str, tuple[int, str]] = {}
    for sequence in sorted(runs, reverse=True)[:WINDOW]:
        rows = runs[sequence]
        for r in rows:
            best = out.get(r["table_name"])
            if best is None or r["row_count"] > best[0]:
                out[r["table_name"]] = (r["row_count"], r["run_id"])
        try:
            allowed = json.loads(rows[0]["inputs"]).get(SHRINK_ALLOWED)
        except (ValueError, AttributeError):
            allowed = None
        if allowed:
            break
    return out


def baseline_of(table) -> dict[str, tuple[int, str]]:
    """`baseline` of a pyiceberg `publications` table (None: nothing published yet)."""
    if table is None or table.current_snapshot() is None:
        return {}
    columns = ["run_id", "sequence", "table_name", "row_count", "inputs"]
    return baseline(table.scan(selected_fields=tuple(columns)).to_arrow().to_pylist())


def check(plan: Planned, allow_shrink: bool = False) -> list[str]:
    """Refuse a collapse (MateriaError), or return what `allow_shrink` let through."""
    faults = []
    for name, after in sorted(plan.rows.items()):
        before = plan.published_rows.get(name)
        most, run = plan.baseline.get(name, (before or 0, ""))
        if after == 0:
            faults.append(f"{name} would be empty ({before or 0:,} rows published now → 0)")
        elif before and after < before * (1 - MAX_SHRINK):
            faults.append(
                f"{name} would shrink by {1 - after / before:.0%} "
                f"({before:,} rows published now → {after:,})"
            )
        elif most and after < most * (1 - MAX_SHRINK):
            faults.append(
                f"{name} would shrink by {1 - after / most:.0%} since run {run} "
                f"({most:,} rows then, {before or 0:,} published now → {after:,}: a slide "
                f"across the last {WINDOW} publications)"
            )
    for name, now in sorted(plan.vintage_months_now.items()):
        after = plan.vintage_months_after.get(name, set())
        lost = sorted(now - after - plan.withdrawn_months.get(name, set()))
        if lost:
            months = ", ".join(f"{m:%Y-%m}" for m in lost)
            faults.append(f"{name} would lose release month(s) {months}")
    if faults and not allow_shrink:
        raise MateriaError(
            "refusing to publish a collapse: "
            + "; ".join(faults)
            + " (nothing was published; if this is intended, run again with --allow-shrink)"
        )
    return faults
