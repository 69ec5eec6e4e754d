"""Whole pipelines: extract, transform, or all (extract then transform).

`on=None` runs them in this process. `on="local"` or `on="hetzner"` runs each step on its
own fresh worker (extract on a ccx12, transform on a ccx22) through
`materia.workers.run`, which destroys the worker afterwards and logs the run. Steps run
in this process append their own record to the run log (`materia.runlog`), with rows
published and new releases for a transform.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from materia.errors import MateriaError
from materia.settings import Settings

PIPELINES = {"extract": ("extract",), "transform": ("transform",), "all": ("extract", "transform")}
PROVIDERS = ("local", "hetzner")


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def provider_for(settings: Settings, on: str, log: Callable[[str], None] = _log):
    """The worker provider named `on` (local or hetzner)."""
    if on == "local":
        from materia.workers.local import LocalProvider

        return LocalProvider(settings.home / "workers")
    if on == "hetzner":
        from materia.workers.hetzner import HetznerProvider

        return HetznerProvider(settings.hetzner, log=log)
    raise MateriaError(f"unknown worker provider {on!r}: use {' or '.join(PROVIDERS)}")


def _run_here(settings: Settings, step: str) -> int:
    from materia import runlog

    with runlog.recording(settings, step) as rec, runlog.ErrorTap() as tap:
        if step == "extract":
            from materia.extract import psd

            rec["exit_code"] = psd.main(settings)
        else:
            from materia import transform

            result = transform.run(settings, env="prod", progress=lambda m: print(m, flush=True))
            rec["rows_published"] = result.rows_published
            rec["new_releases"] = list(result.new_releases)
            rec["exit_code"] = 0
        rec["error"] = tap.last if rec["exit_code"] else None
    return rec["exit_code"]


def main(settings: Settings, name: str = "all", on: str | None = None) -> int:
    steps = PIPELINES.get(name)
    if steps is None:
        raise MateriaError(f"unknown pipeline {name!r}: use {', '.join(PIPELINES)}")
    if on is None:
        for step in steps:
            code = _run_here(settings, step)
            if code != 0:
                return code
        return 0
    if on == "hetzner" and settings.r2 is None:
        raise MateriaError(
            "pipelines on hetzner need R2 landing (R2_ENDPOINT, R2_BUCKET, R2_ACCESS_KEY, "
            "R2_SECRET_KEY): a worker's disk is destroyed after its run"
        )
    provider = provider_for(settings, on)
    from materia.workers.run import run_on_worker

    for step in steps:
        code = run_on_worker(settings, provider, step).exit_code
        if code != 0:
            return code
    return 0
