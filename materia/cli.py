"""The `materia` command line: every command, thin. Logic lives in the modules it calls.

Each command imports its module lazily so that `materia --help` stays fast.
"""

from __future__ import annotations

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
app.add_typer(extract_app, name="extract")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(report_app, name="report")
app.add_typer(worker_app, name="worker")
app.add_typer(supervisor_app, name="supervisor")
app.add_typer(secrets_app, name="secrets")


def _settings():
    from materia import settings

    return settings.load()


# --- extract -------------------------------------------------------------------
DatasetOpt = Annotated[
    list[str] | None,
    typer.Option("--dataset", help="PSD file name, repeatable (default: PSD_DATASETS)."),
]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="YYYY-MM-DD; default today (UTC).")
]
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
) -> None:
    """Export notebooks/commodities.py to a self-contained HTML report."""
    from materia import reports

    raise typer.Exit(reports.main(_settings(), env=env, out=out))


# --- worker -----------------------------------------------------------------------
@worker_app.callback()
def _worker() -> None:
    """create | list | destroy | reap"""


# --- supervisor -------------------------------------------------------------------
@supervisor_app.callback()
def _supervisor() -> None:
    """tick"""


# --- secrets ----------------------------------------------------------------------
@secrets_app.callback()
def _secrets() -> None:
    """list | env"""


# --- entry points -----------------------------------------------------------------
def _redact(text: str) -> str:
    try:
        values = _settings().secret_values()
    except Exception:
        values = []
    for v in values:
        text = text.replace(v, "***")
    return text


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, standalone_mode=False)
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

