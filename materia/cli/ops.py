"""`materia runs [show]`, `materia stack …`, `materia supervisor tick|check|alert|watch`
and git's credential helper: the operations commands, wired into the app by `materia.cli`.
Thin like the rest of the CLI: the logic lives in the modules they call.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from materia.cli.options import settings

stack_app = typer.Typer(no_args_is_help=True, help="Local stand-ins for production (SeaweedFS).")


# --- runs -------------------------------------------------------------------------
runs_app = typer.Typer()


@runs_app.callback(invoke_without_command=True)
def runs(
    ctx: typer.Context,
    last: Annotated[int, typer.Option("--last", help="Only the newest N runs.")] = 20,
    failed: Annotated[bool, typer.Option("--failed", help="Only failed runs.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per run.")] = False,
) -> None:
    """The run log: every pipeline run, worker run and supervisor job, newest last
    (slot and attempt, next retry). `materia runs show ID`: one run, with its output."""
    if ctx.invoked_subcommand is not None:
        return
    import json

    from materia.cli import runs_view as runlog_view
    from materia.core import runlog

    rows = runlog_view.select(runlog.fold(runlog.read(settings())), last=last, failed=failed)
    if as_json:
        for row in rows:
            print(json.dumps(row, sort_keys=True, default=str))
    elif rows:
        print(runlog_view.table(rows), end="")
    else:
        print("no runs" + (" failed" if failed else "") + " in the run log")


@runs_app.command("show")
def runs_show(run_id: Annotated[str, typer.Argument(help="A run id from `materia runs`.")]) -> None:
    """One run: its record, its parts (worker run, step) and their output."""
    from materia.cli import runs_view as runlog_view

    print(runlog_view.show(settings(), run_id), end="")


# --- supervisor -------------------------------------------------------------------
def supervisor_tick(
    now: Annotated[
        str | None,
        typer.Option("--now", help="ISO-8601 instant (UTC), with --dry-run only; default now."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only print what is due (the smoke check).")
    ] = False,
) -> None:
    """Run every job that is due (extract 02:00, transform 03:00 UTC once the day's
    extract succeeded, then the report); alert a missed night."""
    from materia.core import secrets
    from materia.ops import supervisor, supervisor_watch

    secrets.install_logging()
    try:
        s = settings()
    except secrets.EscError as e:
        if not dry_run:
            supervisor_watch.secrets_failed(e)  # alerts need nothing but the env file
        raise
    raise typer.Exit(supervisor.main(s, now=now, dry_run=dry_run))


def supervisor_check() -> None:
    """Is this checkout fit to adopt? CI green on it (or the fast tests here), compile,
    import, SQLMesh load and test, the commands the loop runs, dry run."""
    import logging

    from materia.core import secrets
    from materia.ops import selfcheck

    secrets.install_logging(logging.WARNING)
    try:
        s = settings()
    except secrets.EscError as e:  # not this commit's fault: judge it when ESC is back
        print(f"check: not yet: {e}", flush=True)
        raise typer.Exit(selfcheck.NOT_YET) from None
    raise typer.Exit(selfcheck.main(s))


def supervisor_alert(
    message: Annotated[str, typer.Argument()],
    info: Annotated[bool, typer.Option("--info", help="An information, not a failure.")] = False,
) -> None:
    """Send MESSAGE to MATERIA_NOTIFY (supervisor.sh uses it). Exit 1 when no destination
    is configured or not every one took it. Works without ESC (the environment file)."""
    import os

    from materia.core import notify, secrets

    try:
        secrets.apply_to_environ()
        esc_error = None
    except secrets.EscError as e:
        esc_error = e
    if not os.environ.get("MATERIA_NOTIFY", "").strip():
        print("error: MATERIA_NOTIFY is not set: no alert was sent", file=sys.stderr)
        raise typer.Exit(1)
    body = message if esc_error is None else f"{message}\n(secrets unavailable: {esc_error})"
    kind = notify.INFO if info else notify.FAILURE
    if not notify.send_env("materia: supervisor", body, kind):
        print("error: not every alert destination took the alert", file=sys.stderr)
        raise typer.Exit(1)
    print("alert: sent")


def supervisor_watch() -> None:
    """The dead-man's switch, run from elsewhere (a scheduled CI job): alert and exit 1
    when the supervisor's heartbeat is old or the night's transform is missing."""
    from datetime import UTC, datetime

    from materia.ops import supervisor_watch as watch
    from materia.ops.schedule import Schedule

    wrong = watch.watch(settings(), datetime.now(UTC), Schedule.from_env())
    for line in wrong:
        print(f"watch: {line}")
    if wrong:
        raise typer.Exit(1)
    print("watch: the supervisor is ticking and the night's transform is in")


def secrets_git_credential(action: Annotated[str, typer.Argument()] = "get") -> None:
    """git credential helper: GITLAB_READ_TOKEN for `git fetch` (through a pipe only)."""
    import os

    from materia.core import secrets

    try:
        _, values = secrets.load()
    except secrets.EscError as e:  # the environment's token, if any, still works
        print(f"materia: {e}", file=sys.stderr)
        values = secrets.from_environment()
    answer = secrets.git_credential(action, sys.stdin.read(), {**os.environ, **values})
    sys.__stdout__.write(answer)  # to git, never through the redacting stream
    sys.__stdout__.flush()


# --- stack ------------------------------------------------------------------------
def _home() -> Path:
    """MATERIA_HOME even when MATERIA_ENV=prod lacks what prod needs (the stack is down)."""
    import os

    from materia.core import settings

    return settings.load(environ={**os.environ, "MATERIA_ENV": "local"}).home


@stack_app.command("up")
def stack_up() -> None:
    """Start SeaweedFS on loopback as R2 and the Iceberg REST catalog (data in MATERIA_HOME)."""
    from materia.ops import stack

    stack.up(_home())


@stack_app.command("down")
def stack_down() -> None:
    """Stop the local stand-ins (their data stays in MATERIA_HOME)."""
    from materia.ops import stack

    stack.down(_home())


@stack_app.command("env")
def stack_env() -> None:
    """`export …` lines pointing materia at the stand-ins: eval "$(materia stack env)"."""
    from materia.ops import stack

    sys.__stdout__.write(stack.env_lines(_home()))  # local keys, meant to be shown
    sys.__stdout__.flush()
