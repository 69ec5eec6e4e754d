"""The days a source publishes, as data: WASDE's release dates, read from a file USDA's
calendar fills (`materia/ops/wasde_release_dates.txt`; `MATERIA_WASDE_DATES_FILE` names
another), and what that means for the supervisor's extract.

A WASDE day is an extract slot after a release (12:00 ET, at the latest 17:00 UTC) and
within `WINDOW` of it: the nightly extract at 02:00 UTC follows the release of the day
before; the following nights land a report that came late or failed once (the door's
dedupe makes a second try of an unchanged report free). When the file has no date from
the current month on, the calendar has run out: nothing is guessed, the supervisor says
so in its log each tick (and `tick --dry-run`) until someone adds USDA's next dates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

from materia.core.errors import MateriaError

DEFAULT_FILE = Path(__file__).with_name("wasde_release_dates.txt")
RELEASED_BY = dtime(17, 0)  # 12:00 ET is 16:00 UTC in summer, 17:00 in winter
WINDOW = timedelta(days=3)


def read(path: Path) -> tuple[date, ...]:
    """The release dates in `path` (one YYYY-MM-DD a line; `#` starts a comment)."""
    try:
        text = path.read_text()
    except OSError as e:
        raise MateriaError(f"WASDE release dates {path}: {e.strerror or e}") from None
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            found.append(date.fromisoformat(line))
        except ValueError:
            raise MateriaError(
                f"WASDE release dates {path} line {n}: {line!r} is not a date (YYYY-MM-DD)"
            ) from None
    return tuple(sorted(set(found)))


def release_after(dates: tuple[date, ...], when: datetime) -> date | None:
    """The release that `when` (an extract's slot time, UTC) follows within WINDOW."""
    for day in reversed(dates):
        released = datetime.combine(day, RELEASED_BY, UTC)
        if released <= when <= released + WINDOW:
            return day
    return None


def run_out(dates: tuple[date, ...], when: datetime) -> date | None:
    """The last date known when none is in `when`'s month or later (the calendar ran
    out; `date.min` for an empty one), else None. A month without a report (October
    2025's, cancelled) is no gap while a later date follows."""
    month = when.date().replace(day=1)
    if any(d >= month for d in dates):
        return None
    return dates[-1] if dates else date.min
