"""Whole pipelines: extract, transform, or all (extract then transform).

`on=None` runs them in this process. `on="local"` or a cloud (`hetzner`, `scaleway`,
`ovh`, `oracle`) runs each step on its own fresh worker (extract small, transform larger:
`materia.workers.prices`) through `materia.workers.run`, which destroys the worker
afterwards and logs the run. `on="cheapest"` picks the cheapest configured cloud per
step (`materia.workers.cheapest`). Steps run in this process append their own record to
the run log (`materia.core.runlog`), with rows published and new releases for a transform.
"""

from __future__ import annotations

from collections.abc import Callable

from materia.core.errors import MateriaError
from materia.core.settings import Settings
from materia.core.target import PROD
from materia.workers.registry import PROVIDERS, provider_for

PIPELINES = {"extract": ("extract",), "transform": ("transform",), "all": ("extract", "transform")}


def _say(message: str) -> None:
    print(message, flush=True)


def _run_here(settings: Settings, step: str, progress: Callable[[str], None] = _say) -> int:
    from materia.core import runlog

    with runlog.recording(settings, step) as rec, runlog.ErrorTap() as tap:
        if step == "extract":  # every source of MATERIA_EXTRACT_SOURCES (PSD by default)
            from materia import extract

            rec["exit_code"] = extract.main(settings)
        else:
            from materia.transform import run as transform

            result = transform.run(settings, env=PROD, progress=progress)
            rec["rows_published"] = result.rows_published
            rec["new_releases"] = list(result.new_releases)
            rec["models_run"] = list(result.models_run)
            rec["warnings"] = list(result.warnings)  # non-blocking audits that found rows
            rec["exit_code"] = 0
        rec["error"] = tap.last if rec["exit_code"] else None
    return rec["exit_code"]


def main(
    settings: Settings,
    name: str = "all",
    on: str | None = None,
    progress: Callable[[str], None] = _say,
) -> int:
    """Run pipeline `name` here (`on=None`) or on workers; its exit code. Every step is
    recorded in the run log, whoever starts it (the CLI, the supervisor, the notebook's
    button); `progress` hears what a step here is doing."""
    steps = PIPELINES.get(name)
    if steps is None:
        raise MateriaError(f"unknown pipeline {name!r}: use {', '.join(PIPELINES)}")
    if on is None:
        for step in steps:
            progress(f"{step}…")
            code = _run_here(settings, step, progress)
            if code != 0:
                return code
        return 0
    if on not in (*PROVIDERS, "cheapest"):
        raise MateriaError(
            f"unknown worker provider {on!r}: use {', '.join(PROVIDERS)} or cheapest"
        )
    if on != "local" and settings.r2 is None:
        raise MateriaError(
            f"pipelines on {on} need R2 landing (R2_ENDPOINT, R2_BUCKET, R2_ACCESS_KEY, "
            "R2_SECRET_KEY): a worker's disk is destroyed after its run"
        )
    from materia.workers.run import run_on_worker

    for step in steps:
        if on == "cheapest":
            from materia.workers.cheapest import run_cheapest

            code = run_cheapest(settings, step).exit_code
        else:
            code = run_on_worker(settings, provider_for(settings, on), step).exit_code
        if code != 0:
            return code
    return 0
