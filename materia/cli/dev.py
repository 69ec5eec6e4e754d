"""`materia dev seed|plan` and `materia env list|drop|expire`: the SQLMesh commands'
inputs, the dev panel's plan, and environments, wired into the app by `materia.cli`.
Thin like the rest of the CLI: the logic lives in `materia.transform.sqlmesh_dev` and `materia.transform.envs`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from materia.cli.options import EnvOpt, settings
from materia.core.target import PROD, Target

dev_app = typer.Typer(no_args_is_help=True, help="SQLMesh's own commands on the project.")
env_app = typer.Typer(no_args_is_help=True, help="Environments: prod and dev_<name>.")


@dev_app.command("seed")
def dev_seed(
    env: EnvOpt = PROD,
    since: Annotated[
        str | None,
        typer.Option("--since", help="YYYY-MM: only archives from then (and the newest)."),
    ] = None,
) -> None:
    """Put the models' input and ENV's published tables in $MATERIA_HOME/warehouse.duckdb,
    for `sqlmesh -p sqlmesh_materia plan|audit|table_diff|ui`."""
    from materia.transform import sqlmesh_dev

    sqlmesh_dev.seed(settings(), env, since)


@dev_app.command("plan")
def dev_plan(env: Annotated[Target, typer.Argument(parser=Target, help="dev_<name>.")]) -> None:
    """Plan ENV with SQLMesh (applied), print each change's category and what it
    recomputes, and table_diff each recomputed model against prod (the dev panel)."""
    from materia.transform import sqlmesh_dev

    done = sqlmesh_dev.plan(settings(), env)
    for c in done.changes:
        print(f"{c['model']}\t{c['change']}\trecomputes {c['recomputes']}")
    for d in done.diffs:
        print("\t".join(f"{k}: {v}" for k, v in d.items()))
    print(done.summary)


@env_app.command("list")
def env_list() -> None:
    """Every environment: where it lives, when it was last published or planned, expiry."""
    from materia.transform import envs

    for e in envs.list_envs(settings()):
        when = f"{e.updated:%Y-%m-%d %H:%M}" if e.updated else "-"
        until = f"expires {e.expires:%Y-%m-%d %H:%M}" if e.expires else "kept"
        print(f"{e.name}\t{e.where}\t{when}\t{until}\t{e.detail}")


@env_app.command("drop")
def env_drop(env: Annotated[Target, typer.Argument(parser=Target, help="dev_<name>.")]) -> None:
    """Drop a dev environment: its Iceberg namespace (with files) and SQLMesh environment."""
    from materia.transform import envs

    for line in envs.drop(settings(), env):
        print(f"dropped {line}")


@env_app.command("expire")
def env_expire() -> None:
    """Drop the dev namespaces nobody published to for MATERIA_DEV_TTL_DAYS (a prod
    transform does it too), and run SQLMesh's janitor on the seeded warehouse."""
    from materia.transform import envs

    s = settings()
    gone = envs.expire(s)
    envs.expire_sqlmesh(s)
    for line in gone:
        print(f"dropped {line}")
    print(f"{len(gone)} dev namespace(s) expired")
