"""Alerts: failures, recoveries and new releases, to wherever `MATERIA_NOTIFY` says.

`MATERIA_NOTIFY` is a list of Apprise URLs (comma or space separated: `slack://…`,
`mailto://…`, `json://host/path`, …; see https://appriseit.com). It is a secret (the
URLs carry tokens). Alerts depend on nothing else: the supervisor's environment file
(`/etc/materia/env`) holds a copy, so an alert still goes out when ESC, R2 or the
settings cannot be loaded (`send_env`). Every title and body is redacted before it
leaves: no secret value reaches a destination. A destination that cannot be reached is
reported on stderr and `send` returns False; it never fails a job.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping

from materia.core.settings import Settings

FAILURE, SUCCESS, INFO = "failure", "success", "info"


def deliver(urls: str, title: str, body: str, kind: str, redact: Callable[[str], str]) -> bool:
    """Notify every Apprise URL in `urls`; True when all of them took it."""
    import apprise

    ap = apprise.Apprise()
    if not urls.strip() or not ap.add([u for u in re.split(r"[\s,]+", urls) if u]):
        print("alert: MATERIA_NOTIFY holds no usable Apprise URL", file=sys.stderr)
        return False
    ok = ap.notify(title=redact(title), body=redact(body), notify_type=apprise.NotifyType(kind))
    if not ok:
        print(f"alert: not every destination took {redact(title)!r}", file=sys.stderr)
    return bool(ok)


def send(settings: Settings, title: str, body: str, kind: str = INFO) -> bool:
    """Notify every destination; True when all of them took it (False: none configured
    or some failed)."""
    if not settings.notify:
        return False
    from materia.core.secrets import redactor

    return deliver(settings.notify.get(), title, body, kind, redactor(settings))


def send_env(
    title: str, body: str, kind: str = FAILURE, environ: Mapping[str, str] | None = None
) -> bool:
    """`send` with nothing but the environment: for when settings cannot be loaded
    (ESC down, R2 settings missing). False when MATERIA_NOTIFY is not set."""
    from materia.core.secrets import redact

    urls = (os.environ if environ is None else environ).get("MATERIA_NOTIFY", "")
    if not urls.strip():
        return False
    values = [urls, *re.split(r"[\s,]+", urls)]
    return deliver(urls, title, body, kind, lambda t: redact(redact(t, values)))
