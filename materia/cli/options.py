"""What every command shares: the settings it runs with (secrets applied once, the same
way everywhere) and the options more than one command group takes."""

from __future__ import annotations

from typing import Annotated

import typer

from materia.core.settings import Settings
from materia.core.target import Target


def settings() -> Settings:
    from materia.core import secrets, settings

    # Every command reads secrets the same way: ESC when MATERIA_ESC_ENV (or
    # MATERIA_ENV=prod) names one, else the environment and `.env`.
    secrets.apply_to_environ()
    s = settings.load()
    secrets.register(s.secret_values())  # values from .env too, not only os.environ
    return s


EnvOpt = Annotated[
    Target, typer.Option("--env", parser=Target, help="prod or dev_<name>.", show_default="prod")
]
