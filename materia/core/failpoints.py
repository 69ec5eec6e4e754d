"""Named points where a test can kill this process (`MATERIA_FAILPOINT=<name>`), to prove
that a crash at that very moment leaves readers on a whole run. Unset, a failpoint costs
one dictionary lookup; nothing else in materia reads this variable."""

from __future__ import annotations

import os
import signal


def hit(name: str) -> None:
    if os.environ.get("MATERIA_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
