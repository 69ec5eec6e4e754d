"""Alerts: failures, recoveries and new releases, to wherever `MATERIA_NOTIFY` says.

`MATERIA_NOTIFY` is a list of Apprise URLs (comma or space separated: `slack://…`,
`mailto://…`, `json://host/path`, …; see https://appriseit.com). It is a secret (the
URLs carry tokens) and comes from ESC or the environment like the others. Every title
and body is redacted before it leaves: no secret value reaches a destination.
A destination that cannot be reached is reported on stderr; it never fails a job.
"""

from __future__ import annotations

import sys

from materia.settings import Settings

FAILURE, SUCCESS, INFO = "failure", "success", "info"


def send(settings: Settings, title: str, body: str, kind: str = INFO) -> bool:
    """Notify every destination; True when all of them took it (False: none configured
    or some failed)."""
    if not settings.notify:
        return False
    import apprise

    from materia.secrets import redactor

    redact = redactor(settings)
    ap = apprise.Apprise()
    if not ap.add(settings.notify.get()):
        print("alert: MATERIA_NOTIFY holds no usable Apprise URL", file=sys.stderr)
        return False
    ok = ap.notify(
        title=redact(title),
        body=redact(body),
        notify_type=apprise.NotifyType(kind),
    )
    if not ok:
        print(f"alert: not every destination took {redact(title)!r}", file=sys.stderr)
    return bool(ok)
