"""The `materia` command line: every command, thin. Logic lives in the modules it calls.

Each command imports its module lazily so that `materia --help` stays fast.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from materia.errors import MateriaError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
extract_app = typer.Typer(no_args_is_help=True, help="Land source releases.")
pipeline_app = typer.Typer(no_args_is_help=True, help="Run whole pipelines.")
report_app = typer.Typer(no_args_is_help=True, help="Export HTML reports.")
worker_app = typer.Typer(no_args_is_help=True, help="Ephemeral workers.")
supervisor_app = typer.Typer(no_args_is_help=True, help="The always-on scheduler.")
secrets_app = typer.Typer(no_args_is_help=True, help="Secrets from Pulumi ESC or the environment.")
stack_app = typer.Typer(no_args_is_help=True, help="Local stand-ins for production (SeaweedFS).")
app.add_typer(extract_app, name="extract")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(report_app, name="report")
app.add_typer(worker_app, name="worker")
app.add_typer(supervisor_app, name="supervisor")
app.add_typer(secrets_app, name="secrets")
app.add_typer(stack_app, name="stack")


def _settings():
    from materia import secrets, settings

    s = settings.load()
    secrets.register(s.secret_values())  # values from .env too, not only os.environ
    return s


# --- extract -------------------------------------------------------------------
DatasetOpt = Annotated[
    list[str] | None,
    typer.Option("--dataset", help="PSD file name, repeatable (default: PSD_DATASETS)."),
]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD; default today (UTC).")]
BackfillOpt = Annotated[
    str | None, typer.Option("--backfill-from", help="YYYY-MM: land every month since.")
]


@extract_app.command("psd")
def extract_psd(
    dataset: DatasetOpt = None, as_of: AsOfOpt = None, backfill_from: BackfillOpt = None
) -> None:
    """Land USDA PSD Online releases as immutable archives."""
    from materia.extract import psd

    code = psd.main(_settings(), datasets=dataset, as_of=as_of, backfill_from=backfill_from)
    raise typer.Exit(code)


# --- transform ---------------------------------------------------------------------
@app.command("transform")
def transform(
    env: Annotated[str, typer.Option("--env", help="prod or dev_<name>.")] = "prod",
) -> None:
    """SQLMesh plan (auto-apply) for ENV, then publish its serving tables to Iceberg."""
    from materia import transform as t

    raise typer.Exit(t.main(_settings(), env=env))


# --- pipeline ---------------------------------------------------------------------
@pipeline_app.command("run")
def pipeline_run(
    name: Annotated[str, typer.Argument(help="extract, transform or all.")] = "all",
    on: Annotated[str | None, typer.Option("--on", help="local or hetzner.")] = None,
) -> None:
    """Run a pipeline here or on an ephemeral worker."""
    from materia import pipelines

    raise typer.Exit(pipelines.main(_settings(), name=name, on=on))


# --- report -----------------------------------------------------------------------
@report_app.command("commodities")
def report_commodities(
    env: Annotated[str, typer.Option("--env")] = "prod",
    out: Annotated[Path | None, typer.Option("--out")] = None,
    publish: Annotated[
        bool,
        typer.Option("--publish", help="To reports/<date>/ on R2 (prod) or in MATERIA_HOME."),
    ] = False,
) -> None:
    """Export notebooks/commodities.py to a self-contained HTML report."""
    if publish:
        from materia import report_publish

        raise typer.Exit(report_publish.main(_settings(), env=env))
    from materia import reports

    raise typer.Exit(reports.main(_settings(), env=env, out=out))


# --- runs -------------------------------------------------------------------------
@app.command("runs")
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


# --- worker -----------------------------------------------------------------------
OnOpt = Annotated[
    str | None, typer.Option("--on", help="local or hetzner (default: MATERIA_WORKER_PROVIDER).")
]


@worker_app.command("create")
def worker_create(
    pipeline: Annotated[str, typer.Argument(help="extract or transform (picks the server type).")],
    on: OnOpt = None,
) -> None:
    """Create a worker and leave it running (destroy it yourself, or let reap do it)."""
    from materia.workers import manage

    inst, pinned = manage.create(_settings(), pipeline, on)
    print(f"{inst.id}\t{inst.name}\t{inst.server_type}\t{inst.host or '-'}")
    if pinned:
        print(f"known_hosts: {pinned}")


@worker_app.command("list")
def worker_list(on: OnOpt = None) -> None:
    """Every materia worker: id, name, pipeline, server type, status, address, age."""
    from materia.workers import manage

    for i in manage.list_(_settings(), on):
        print(
            f"{i.id}\t{i.name}\t{i.pipeline}\t{i.server_type}\t{i.status}\t"
            f"{i.host or '-'}\t{i.age() / 60:.0f}min"
        )


@worker_app.command("destroy")
def worker_destroy(instance_id: Annotated[str, typer.Argument()], on: OnOpt = None) -> None:
    """Destroy one worker by id."""
    from materia.workers import manage

    manage.destroy(_settings(), instance_id, on)
    print(f"destroyed {instance_id}")


@worker_app.command("reap")
def worker_reap(
    on: OnOpt = None,
    ttl_minutes: Annotated[
        float | None, typer.Option("--ttl-minutes", help="Default: MATERIA_WORKER_TTL_MINUTES.")
    ] = None,
) -> None:
    """Destroy the workers of runs that are over, and every worker older than the TTL."""
    from materia.workers import manage

    gone = manage.reap_old(
        _settings(), on, ttl_minutes, log=lambda line: print(line, file=sys.stderr)
    )
    print(f"reaped {len(gone)} worker(s)")


# --- supervisor -------------------------------------------------------------------
@supervisor_app.callback()
def _supervisor() -> None:
    """tick | check | alert"""


@supervisor_app.command("tick")
def supervisor_tick(
    now: Annotated[
        str | None,
        typer.Option("--now", help="ISO-8601 instant (UTC), with --dry-run only; default now."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only print what is due (the smoke check).")
    ] = False,
) -> None:
    """Run every job that is due (extract 02:00, transform 03:00 UTC, then the report)."""
    from materia import secrets, supervisor

    secrets.install_logging()
    # ESC in prod: settings and pipelines need its values (the dry run checks they load).
    secrets.apply_to_environ()
    raise typer.Exit(supervisor.main(_settings(), now=now, dry_run=dry_run))


@supervisor_app.command("check")
def supervisor_check() -> None:
    """Is this checkout fit to adopt? Compile, import, SQLMesh load and test, dry run."""
    import logging

    from materia import secrets, selfcheck

    secrets.install_logging(logging.WARNING)
    secrets.apply_to_environ()
    raise typer.Exit(selfcheck.main(_settings()))


@supervisor_app.command("alert")
def supervisor_alert(message: Annotated[str, typer.Argument()]) -> None:
    """Send MESSAGE as a failure alert to MATERIA_NOTIFY (supervisor.sh uses it)."""
    from materia import notify, secrets

    secrets.apply_to_environ()
    notify.send(_settings(), "materia: supervisor", message, notify.FAILURE)


# --- secrets ----------------------------------------------------------------------
@secrets_app.callback()
def _secrets() -> None:
    """list | env | git-credential"""


@secrets_app.command("list")
def secrets_list() -> None:
    """Names of the secrets in force and where they come from (never values)."""
    from materia import secrets

    source, values = secrets.load()
    print(f"# source: {source}")
    for name in sorted(values):
        print(name)


@secrets_app.command("env")
def secrets_env() -> None:
    """NAME='value' lines for `set -a; eval "$(materia secrets env)"` (values shown!)."""
    from materia import secrets

    _, values = secrets.load()
    # Straight to the real stdout: this is the one place values are meant to appear.
    sys.__stdout__.write(secrets.as_env_lines(values))
    sys.__stdout__.flush()


@secrets_app.command("git-credential", hidden=True)
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


# --- entry points -----------------------------------------------------------------
def _redact(text: str) -> str:
    from materia import secrets

    with contextlib.suppress(Exception):
        _settings()  # registers every secret value in force
    return secrets.redact(text)


def main(argv: list[str] | None = None) -> None:
    from materia import secrets

    # Every line materia prints passes through redaction (see materia.secrets).
    with secrets.redacted_output():
        _main(argv)


def _main(argv: list[str] | None = None) -> None:
    try:
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:  # non-standalone click returns Exit codes
            sys.exit(code)
    except MateriaError as e:
        print(f"error: {_redact(str(e))}", file=sys.stderr)
        sys.exit(1)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # click usage errors and the like
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, click.exceptions.Abort):
            sys.exit(1)
        from materia.settings import SettingsError

        if isinstance(e, SettingsError):
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        raise


def extract_psd_main() -> None:
    """`extract_psd`: the same command as `materia extract psd`."""
    main(["extract", "psd", *sys.argv[1:]])


if __name__ == "__main__":
    main()
