"""The `materia` command line: every command, thin. Logic lives in the modules it calls.

Each command imports its module lazily so that `materia --help` stays fast.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from materia.cli import dev as cli_dev
from materia.cli import ops as cli_ops
from materia.cli.options import EnvOpt, settings
from materia.core.errors import MateriaError
from materia.core.target import PROD

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
extract_app = typer.Typer(no_args_is_help=True, help="Land source releases.")
pipeline_app = typer.Typer(no_args_is_help=True, help="Run whole pipelines.")
report_app = typer.Typer(no_args_is_help=True, help="Export HTML reports.")
worker_app = typer.Typer(no_args_is_help=True, help="Ephemeral workers.")
supervisor_app = typer.Typer(no_args_is_help=True, help="The always-on scheduler.")
secrets_app = typer.Typer(no_args_is_help=True, help="Secrets from Pulumi ESC or the environment.")
landing_app = typer.Typer(no_args_is_help=True, help="Landed archives and their quarantine.")
app.add_typer(extract_app, name="extract")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(report_app, name="report")
app.add_typer(worker_app, name="worker")
app.add_typer(supervisor_app, name="supervisor")
app.add_typer(secrets_app, name="secrets")
app.add_typer(landing_app, name="landing")


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

    code = psd.main(settings(), datasets=dataset, as_of=as_of, backfill_from=backfill_from)
    raise typer.Exit(code)


@extract_app.command("wasde")
def extract_wasde(as_of: AsOfOpt = None, backfill_from: BackfillOpt = None) -> None:
    """Land USDA's monthly WASDE report data (one CSV per report) as immutable files."""
    from materia.extract import wasde

    raise typer.Exit(wasde.main(settings(), as_of=as_of, backfill_from=backfill_from))


# --- transform ---------------------------------------------------------------------
@app.command("transform")
def transform(
    env: EnvOpt = PROD,
    allow_shrink: Annotated[
        bool,
        typer.Option(
            "--allow-shrink",
            help="Publish even if a table shrinks by more than 10 % or loses a release month.",
        ),
    ] = False,
) -> None:
    """Run the SQLMesh models on what landed and publish ENV's serving tables to Iceberg."""
    from materia.transform import run as t

    raise typer.Exit(t.main(settings(), env=env, allow_shrink=allow_shrink))


# --- landing ------------------------------------------------------------------------
@landing_app.command("list")
def landing_list() -> None:
    """Landed archives (key, release, size, and whether a correction or a quarantine
    keeps one out of use) and quarantined ones (key, when, reason)."""
    from materia.core.storage import LandingStore
    from materia.landing import manifest as landed

    store = LandingStore.from_settings(settings())
    found = landed.scan(store)
    replaced = landed.superseded(found.usable)
    print(f"# landed: {len(found.items)} archive(s) under {store.root}/ (psd/, wasde/)")
    for item in found.items:
        note = (
            f"\tsuperseded by {replaced[item.key]}"
            if item.key in replaced
            else f"\theld: the content of quarantined {found.held[item.key]}"
            if item.key in found.held
            else ""
        )
        size = store.size(item.key)
        print(f"{item.key}\t{item.release_month:%Y-%m}\t{size:,} bytes{note}")
    held = landed.quarantined(store)
    print(f"# quarantined: {len(held)} archive(s) under {store.root}/{landed.QUARANTINE}")
    for q in held:
        print(f"{q.key}\t{q.at or '-'}\t{q.reason or '-'}")


@landing_app.command("quarantine")
def landing_quarantine(
    key: Annotated[str, typer.Argument(help="<source>/<dataset>/<YYYY>/<MM>/<name>")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for whoever reads the list.")] = "",
) -> None:
    """Withdraw a landed archive: kept under quarantine/; its content is never used or
    landed again."""
    from materia.core.storage import LandingStore
    from materia.landing import manifest as landed

    item = landed.quarantine(LandingStore.from_settings(settings()), key, reason)
    print(f"quarantined {item.key}: the next transform publishes as if it never landed")


@landing_app.command("restore")
def landing_restore(
    key: Annotated[str, typer.Argument(help="<source>/<dataset>/<YYYY>/<MM>/<name>")],
) -> None:
    """Undo a quarantine: the archive is landed again and the next transform uses it."""
    from materia.core.storage import LandingStore
    from materia.landing import manifest as landed

    item = landed.restore(LandingStore.from_settings(settings()), key)
    print(f"restored {item.key}")


# --- pipeline ---------------------------------------------------------------------
@pipeline_app.command("run")
def pipeline_run(
    name: Annotated[str, typer.Argument(help="extract, transform or all.")] = "all",
    on: Annotated[
        str | None,
        typer.Option("--on", help="local, hetzner, scaleway, ovh, oracle or cheapest."),
    ] = None,
) -> None:
    """Run a pipeline here or on an ephemeral worker."""
    from materia.ops import pipelines

    raise typer.Exit(pipelines.main(settings(), name=name, on=on))


# --- report -----------------------------------------------------------------------
@report_app.command("commodities")
def report_commodities(
    commodity: Annotated[
        list[str] | None,
        typer.Option("--commodity", help="Name or code, repeatable (default: the majors)."),
    ] = None,
    country: Annotated[
        list[str] | None,
        typer.Option(
            "--country", help="PSD code for a balance sheet besides the world, repeatable."
        ),  # fmt: skip
    ] = None,
    years: Annotated[int, typer.Option("--years", help="Market years in each table.")] = 5,
    env: EnvOpt = PROD,
    out: Annotated[
        Path | None, typer.Option("--out", help="Default: reports/commodities-<release>.html.")
    ] = None,  # fmt: skip
    publish: Annotated[
        bool,
        typer.Option("--publish", help="To reports/<date>/ on R2 (prod) or in MATERIA_HOME."),
    ] = False,
) -> None:
    """A self-contained HTML report (world balance sheets, what changed, top countries)."""
    if publish:
        from materia.reports import publish as report_publish

        raise typer.Exit(report_publish.main(settings(), env=env))
    from materia.reports import build as reports

    code = reports.main(
        settings(), env=env, out=out, commodities=commodity, countries=country, years=years
    )
    raise typer.Exit(code)


# --- worker -----------------------------------------------------------------------
OnOpt = Annotated[
    str | None,
    typer.Option("--on", help="local, hetzner, scaleway, ovh or oracle (default: see each)."),
]


@worker_app.command("create")
def worker_create(
    pipeline: Annotated[str, typer.Argument(help="extract or transform (picks the server type).")],
    on: OnOpt = None,
) -> None:
    """Create a worker and leave it running (destroy it yourself, or let reap do it).

    Default provider: MATERIA_WORKER_PROVIDER."""
    from materia.workers import manage

    inst, pinned = manage.create(settings(), pipeline, on)
    print(f"{inst.id}\t{inst.name}\t{inst.server_type}\t{inst.host or '-'}")
    if pinned:
        print(f"known_hosts: {pinned}")


@worker_app.command("list")
def worker_list(on: OnOpt = None) -> None:
    """Every materia worker (default: on every configured provider): provider, id, name,
    pipeline, server type, status, address, age."""
    from materia.workers import manage

    found, errors = manage.list_(settings(), on)
    for i in found:
        print(
            f"{i.provider}\t{i.id}\t{i.name}\t{i.pipeline}\t{i.server_type}\t{i.status}\t"
            f"{i.host or '-'}\t{i.age() / 60:.0f}min"
        )
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    if errors:
        raise typer.Exit(1)


@worker_app.command("destroy")
def worker_destroy(instance_id: Annotated[str, typer.Argument()], on: OnOpt = None) -> None:
    """Destroy one worker by id (default: on the configured provider that has it)."""
    from materia.workers import manage

    where = manage.destroy(settings(), instance_id, on)
    print(f"destroyed {instance_id} on {where}")


@worker_app.command("reap")
def worker_reap(
    on: OnOpt = None,
    ttl_minutes: Annotated[
        float | None, typer.Option("--ttl-minutes", help="Default: MATERIA_WORKER_TTL_MINUTES.")
    ] = None,
) -> None:
    """Destroy the workers of runs that are over, and every worker older than the TTL
    (default: on every configured provider)."""
    from materia.workers import manage

    gone = manage.reap_old(
        settings(), on, ttl_minutes, log=lambda line: print(line, file=sys.stderr)
    )
    print(f"reaped {len(gone)} worker(s)")


# --- supervisor -------------------------------------------------------------------
@supervisor_app.callback()
def _supervisor() -> None:
    """tick | check | alert | watch"""


# --- secrets ----------------------------------------------------------------------
@secrets_app.callback()
def _secrets() -> None:
    """list | env | git-credential"""


@secrets_app.command("list")
def secrets_list() -> None:
    """Names of the secrets in force and where they come from (never values)."""
    from materia.core import secrets

    source, values = secrets.load()
    print(f"# source: {source}")
    for name in sorted(values):
        print(name)


@secrets_app.command("env")
def secrets_env() -> None:
    """NAME='value' lines for `set -a; eval "$(materia secrets env)"` (values shown!)."""
    from materia.core import secrets

    _, values = secrets.load()
    # Straight to the real stdout: this is the one place values are meant to appear.
    sys.__stdout__.write(secrets.as_env_lines(values))
    sys.__stdout__.flush()


# --- operations: the run log, the supervisor's check and alerts, the local stack ---

app.add_typer(cli_ops.runs_app, name="runs")
app.add_typer(cli_ops.stack_app, name="stack")
supervisor_app.command("tick")(cli_ops.supervisor_tick)
app.add_typer(cli_dev.dev_app, name="dev")
app.add_typer(cli_dev.env_app, name="env")
supervisor_app.command("check")(cli_ops.supervisor_check)
supervisor_app.command("alert")(cli_ops.supervisor_alert)
supervisor_app.command("watch")(cli_ops.supervisor_watch)
secrets_app.command("git-credential", hidden=True)(cli_ops.secrets_git_credential)


# --- entry points -----------------------------------------------------------------
def _redact(text: str) -> str:
    from materia.core import secrets

    with contextlib.suppress(Exception):
        settings()  # registers every secret value in force
    return secrets.redact(text)


def _fail(e: BaseException, code: int = 1) -> None:
    """One redacted line on stderr; the (redacted) traceback only with MATERIA_DEBUG=1."""
    import os
    import traceback

    from materia.core.errors import first_line

    text = str(e) if isinstance(e, MateriaError) else first_line(e)
    if os.environ.get("MATERIA_DEBUG") == "1":
        print(_redact("".join(traceback.format_exception(e))), file=sys.stderr, end="")
    print(f"error: {_redact(' '.join(text.split()))}", file=sys.stderr)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    from materia.core import secrets

    # Every line materia prints passes through redaction (see materia.core.secrets).
    with secrets.redacted_output():
        _main(argv)


def _main(argv: list[str] | None = None) -> None:
    try:
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:  # non-standalone click returns Exit codes
            sys.exit(code)
    except MateriaError as e:
        _fail(e, e.exit_code)
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
        # Anything else, a library's: one line, never a raw traceback.
        _fail(e)


def extract_psd_main() -> None:
    """`extract_psd`: the same command as `materia extract psd`."""
    main(["extract", "psd", *sys.argv[1:]])


if __name__ == "__main__":
    main()
