"""The supervisor's check of a new commit before it adopts it (`materia supervisor check`).

A commit is adopted only when all of this passes, in this order, cheapest first:
1. every Python file of the package, the SQLMesh project and the notebooks compiles;
2. every `materia` module imports (the CLI imports its modules lazily, so a broken
   `materia/extract/psd.py` would otherwise surface only when extract runs);
3. the SQLMesh project loads (every model parses, references resolve);
4. `sqlmesh test` passes (the YAML unit tests, in memory: no data needed);
5. settings load and the schedule can be planned (the old dry run).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import materia
from materia.errors import MateriaError
from materia.settings import Settings

ROOT = Path(materia.__file__).resolve().parent.parent
SOURCES = ("materia", "sqlmesh_materia", "notebooks")


def compile_all(root: Path = ROOT) -> int:
    """Compile (in memory) every .py file under SOURCES; how many."""
    count = 0
    for top in SOURCES:
        for path in sorted((root / top).rglob("*.py")):
            if any(p.startswith(".") for p in path.relative_to(root).parts):
                continue  # SQLMesh's .cache and the like
            try:
                compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
            except (SyntaxError, ValueError) as e:
                where = f"{path.relative_to(root)}:{getattr(e, 'lineno', '?')}"
                raise MateriaError(f"{where} does not compile: {type(e).__name__}: {e}") from None
            count += 1
    return count


def import_all() -> int:
    """Import every module of the package; how many."""
    names = [
        m.name
        for m in pkgutil.walk_packages(materia.__path__, "materia.")
        if not m.name.endswith("__main__")
    ]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as e:
            raise MateriaError(f"import {name} failed: {type(e).__name__}: {e}") from None
    return len(names)


def sqlmesh_project(settings: Settings) -> tuple[int, int]:
    """Load the SQLMesh project and run its unit tests; (models, tests)."""
    from sqlmesh import Context

    from materia import sqlmesh_project

    with tempfile.TemporaryDirectory(prefix="materia-check-") as tmp:
        # A scratch home: the check never touches the real warehouse or landing area.
        scratch = dataclasses.replace(settings, home=Path(tmp), deployment="local", r2=None)
        try:
            ctx = Context(
                paths=[str(sqlmesh_project.PROJECT)], config=sqlmesh_project.config(scratch)
            )
        except Exception as e:
            raise MateriaError(f"the SQLMesh project does not load: {_line(e)}") from None
        try:
            result = ctx.test()
        except Exception as e:
            raise MateriaError(f"sqlmesh test could not run: {_line(e)}") from None
        finally:
            ctx.close()
    if not result.wasSuccessful():
        test, trace = (result.failures + result.errors)[0]
        lines = [x.strip() for x in str(trace).splitlines() if x.strip()]
        # The assertion's own line ("AssertionError: Data mismatch …"), else the last one.
        why = next((x for x in lines if x.startswith(("AssertionError", "Error"))), None)
        raise MateriaError(f"sqlmesh test failed: {test}: {why or (lines or ['?'])[-1]}")
    return len(ctx.models), result.testsRun


def _line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:300]}"


def run(settings: Settings, say: Callable[[str], None] = print) -> None:
    """Every check in order; MateriaError naming the first that fails."""
    say(f"check: {compile_all()} Python files compile")
    say(f"check: {import_all()} materia modules import")
    models, tests = sqlmesh_project(settings)
    say(f"check: SQLMesh project loads ({models} models), {tests} unit tests pass")
    from materia import supervisor

    supervisor.main(settings, dry_run=True)


def main(settings: Settings) -> int:
    try:
        run(settings, say=lambda line: print(line, flush=True))
    except MateriaError as e:
        raise MateriaError(f"check failed: {e}") from None
    print("check: ok", flush=True)
    return 0
