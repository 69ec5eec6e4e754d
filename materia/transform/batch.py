"""What a transform must (re)compute, decided only from facts a failed run cannot corrupt:
the landing manifest (and its quarantine) and the newest publication of the environment.

- Nothing published yet, or the transform itself changed (its fingerprint differs from
  the one the publication records): rebuild from the oldest landed release.
- Otherwise the releases from the oldest month that gained or lost an archive onward
  are recomputed (normally just the one new release); nothing changed means no run.

An archive the publication covers that is neither landed nor quarantined any more is a
loss, not a change: the run refuses (an empty or wrong landing area never publishes)
unless `allow_shrink` says the operator means it.

A same-month correction (a second archive of one dataset and release month) supersedes
the earlier one (`materia.landing.manifest.superseded`): both stay landed and covered by the
publication, the run reads the newer, and recomputes from that month. A release dated
after today is refused: it could only be a wrong archive, and would stay "latest".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from materia.core.errors import MateriaError
from materia.landing.manifest import Landed, superseded


@dataclass(frozen=True)
class Step:
    """The archives of one release month, compared into the vintages together."""

    month: date
    archives: tuple[Landed, ...]


@dataclass
class Batch:
    vintages_from: date  # the vintages from this month on are recomputed
    steps: list[Step]  # oldest first; may be empty (a withdrawn newest release)
    newest: list[Landed]  # each dataset's newest release: what latest and the OBT show
    reason: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    # per source: months no archive of that source is left for
    withdrawn: dict[str, set[date]] = field(default_factory=dict)
    superseded: dict[str, str] = field(default_factory=dict)  # key → the correction read instead

    @property
    def withdrawn_months(self) -> set[date]:
        """Months some source has no archive left for."""
        return set().union(*self.withdrawn.values())

    @property
    def archives(self) -> list[Landed]:
        """Every archive the run reads, each once."""
        seen = {a.key: a for s in self.steps for a in s.archives}
        seen.update({a.key: a for a in self.newest})
        return sorted(seen.values())


def newest_per_dataset(items: list[Landed]) -> list[Landed]:
    by_stem: dict[tuple[str, str], list[Landed]] = defaultdict(list)
    for item in items:
        by_stem[(item.source, item.stem)].append(item)
    out = []
    for group in by_stem.values():
        top = max(i.release_month for i in group)
        out.extend(i for i in group if i.release_month == top)
    return sorted(out)


def plan(
    landed: list[Landed],
    quarantined: set[str],
    published_archives: list[str] | None,
    published_fingerprint: str | None,
    fingerprint: str,
    where: str,
    allow_shrink: bool = False,
    today: date | None = None,
) -> Batch | None:
    """The batch to run, or None when the publication already covers exactly `landed`."""
    if not landed:
        raise MateriaError(
            f"no landed PSD archives under {where}/psd/ (nor WASDE reports under "
            f"{where}/wasde/): nothing to publish (run `materia extract psd` first, or check "
            "MATERIA_HOME / R2_BUCKET)"
        )
    today = today or datetime.now(UTC).date()
    future = [i.key for i in landed if i.release_month > today.replace(day=1)]
    if future:
        raise MateriaError(
            f"{len(future)} landed archive(s) are dated after today ({today}): "
            f"{', '.join(future[:3])}; a release cannot come from the future: quarantine it "
            "with `materia landing quarantine KEY`; nothing was published"
        )
    keys = {i.key: i for i in landed}
    before = set(published_archives or [])
    added = sorted(set(keys) - before)
    removed = sorted(before - set(keys))
    lost = [k for k in removed if k not in quarantined]
    if lost and not allow_shrink:
        shown = ", ".join(lost[:3]) + (f" and {len(lost) - 3} more" if len(lost) > 3 else "")
        raise MateriaError(
            f"{len(lost)} published archive(s) are no longer landed under {where}: {shown}; "
            "restore them, or withdraw them with `materia landing quarantine KEY`, or run "
            "again with --allow-shrink; nothing was published"
        )

    gone = [x for k in removed if (x := Landed.parse(k)) is not None]
    replaced = superseded(landed)
    in_use = [i for i in landed if i.key not in replaced]
    months_left = {i.release_month for i in in_use}
    withdrawn: dict[str, set[date]] = defaultdict(set)
    for g in gone:  # a month another source still has is withdrawn from this one
        if not any(i.source == g.source and i.release_month == g.release_month for i in in_use):
            withdrawn[g.source].add(g.release_month)
    if published_archives is None or published_fingerprint != fingerprint:
        start = min(months_left)
        reason = "first publication" if published_archives is None else "the transform changed"
    elif added or removed:
        start = min([keys[k].release_month for k in added] + [g.release_month for g in gone])
        reason = f"{len(added)} archive(s) new, {len(removed)} withdrawn"
    else:
        return None
    corrections = sorted(
        f"{keys[k].label} {keys[k].etag} supersedes {keys[old].etag}"
        for old, k in replaced.items()
        if k in added
    )
    if corrections:
        reason += f" (a same-month correction: {'; '.join(corrections)})"

    by_month: dict[date, list[Landed]] = defaultdict(list)
    for item in in_use:
        if item.release_month >= start:
            by_month[item.release_month].append(item)
    steps = [Step(m, tuple(sorted(by_month[m]))) for m in sorted(by_month)]
    newest = newest_per_dataset(in_use)
    return Batch(start, steps, newest, reason, added, removed, dict(withdrawn), replaced)
