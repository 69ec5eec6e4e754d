"""`materia runs`, `materia stack …`, `materia supervisor check|alert` and git's
credential helper: the operations commands, wired into the app by `materia.cli`.
Thin like the rest of the CLI: the logic lives in the modules they call.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

stack_app = typer.Typer(no_args_is_help=True, help="Local stand-ins for production (SeaweedFS).")


def _settings():
    from materia.cli import _settings as load

    return load()


# --- runs -------------------------------------------------------------------------
def runs(
    last: Annotated[int, typer.Option("--last", help="Only the newest N runs.")] = 20,
    failed: Annotated[bool, typer.Option("--failed", help="Only failed runs.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per run.")] = False,
) -> None:
    """The run log: every pipeline run, worker run and supervisor job, newest last."""
    import json

    from materia import runlog

    rows = runlog.select(runlog.fold(runlog.read(_settings())), last=last, failed=failed)
    if as_json:
        for row in rows:
            print(json.dumps(row, sort_keys=True, default=str))
    elif rows:
        print(runlog.table(rows), end="")
    else:
        print("no runs" + (" failed" if failed else "") + " in the run log")


def supervisor_check() -> None:
    """Is this checkout fit to adopt? Compile, import, SQLMesh load and test, dry run."""
    import logging

    from materia import secrets, selfcheck

    secrets.install_logging(logging.WARNING)
    secrets.apply_to_environ()
    raise typer.Exit(selfcheck.main(_settings()))


def supervisor_alert(message: Annotated[str, typer.Argument()]) -> None:
    """Send MESSAGE as a failure alert to MATERIA_NOTIFY (supervisor.sh uses it)."""
    from materia import notify, secrets

    secrets.apply_to_environ()
    notify.send(_settings(), "materia: supervisor", message, notify.FAILURE)


def secrets_git_credential(action: Annotated[str, typer.Argument()] = "get") -> None:
    """git credential helper: GITLAB_READ_TOKEN for `git fetch` (through a pipe only)."""
    import os

    from materia import secrets

    _, values = secrets.load()
    answer = secrets.git_credential(action, sys.stdin.read(), {**os.environ, **values})
    sys.__stdout__.write(answer)  # to git, never through the redacting stream
    sys.__stdout__.flush()


# --- stack ------------------------------------------------------------------------
def _home() -> Path:
    """MATERIA_HOME even when MATERIA_ENV=prod lacks what prod needs (the stack is down)."""
    import os

    from materia import settings

    return settings.load(environ={**os.environ, "MATERIA_ENV": "local"}).home


@stack_app.command("up")
def stack_up() -> None:
    """Start SeaweedFS on loopback as R2 and the Iceberg REST catalog (data in MATERIA_HOME)."""
    from materia import stack

    stack.up(_home())


@stack_app.command("down")
def stack_down() -> None:
    """Stop the local stand-ins (their data stays in MATERIA_HOME)."""
    from materia import stack

    stack.down(_home())


@stack_app.command("env")
def stack_env() -> None:
    """`export …` lines pointing materia at the stand-ins: eval "$(materia stack env)"."""
    from materia import stack

    sys.__stdout__.write(stack.env_lines(_home()))  # local keys, meant to be shown
    sys.__stdout__.flush()
