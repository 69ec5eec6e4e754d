"""The supervisor's check of a new commit before it adopts it (`materia supervisor check`).

A commit is adopted only when all of this passes, in this order:
1. CI passed on it (`materia.ops.ci_gate`: GitLab's pipeline for the commit). A red pipeline
   refuses it at once; a running one means "not yet" (exit `NOT_YET`: tried again next
   time, no alert). Where CI's verdict cannot be known, step 7 runs the fast tests here;
2. every Python file of the package, the SQLMesh project and the notebooks compiles;
3. every `materia` module imports (the CLI imports its modules lazily, so a broken
   `materia/extract/psd.py` would otherwise surface only when extract runs);
4. only where CI could not say: the fast subset of the commit's suite passes here;
5. the SQLMesh project loads (every model parses, references resolve), and
   `sqlmesh test` passes (the YAML unit tests, in memory: no data needed);
6. the commands the supervisor loop itself runs work from this checkout: git's
   credential helper (a commit that breaks it would lock the supervisor out of every
   later update), `supervisor alert`, `supervisor watch` and `supervisor tick --dry-run`
   (settings load, the schedule can be planned).
The last line names what vouched for the commit: CI's pipeline, or the tests here.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import pkgutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import materia
from materia.core.errors import MateriaError
from materia.core.settings import Settings
from materia.ops import ci_gate

ROOT = Path(materia.__file__).resolve().parent.parent
SOURCES = ("materia", "sqlmesh_materia", "notebooks")
NOT_YET = 75  # EX_TEMPFAIL: CI still runs, or secrets are unreadable: ask again later
FAST_TESTS_TIMEOUT = 1200.0


class NotYet(MateriaError):
    """The commit cannot be judged now (CI still running); not a rejection."""


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

    from materia.transform import sqlmesh_project

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


# The loop's own commands, run as the loop runs them (a subprocess of this checkout).
LOOP_COMMANDS = (
    ("secrets", "git-credential", "get"),
    ("supervisor", "alert", "--help"),
    ("supervisor", "watch", "--help"),
    ("supervisor", "tick", "--dry-run"),
)


def loop_commands(root: Path = ROOT) -> int:
    """Run each of LOOP_COMMANDS from `root`; how many. git's credential helper gets a
    real request and must answer it (its answer is never shown)."""
    ask = "protocol=https\nhost=gitlab.invalid\n\n"
    for args in LOOP_COMMANDS:
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "materia", *args],
                cwd=root,
                input=ask if args[1] == "git-credential" else "",
                capture_output=True,
                text=True,
                timeout=300,
                env={**os.environ, "PYTHONPATH": str(root)},
            )
        except subprocess.TimeoutExpired:
            raise MateriaError(f"`materia {' '.join(args)}` did not finish in 300s") from None
        answer = proc.stdout if args[1] == "git-credential" else ""
        bad = answer and not answer.startswith("username=")
        if proc.returncode != 0 or bad:
            why = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
            raise MateriaError(f"`materia {' '.join(args)}` fails: {why}")
    return len(LOOP_COMMANDS)


def run(settings: Settings, say: Callable[[str], None] = print) -> str:
    """Every check in order; what vouched for the commit. MateriaError naming the first
    that fails (NotYet: CI has not finished)."""
    from materia.core.secrets import redact

    sha = _head(ROOT)
    ci = ci_gate.ask_ci(ROOT, sha, os.environ)
    say(f"check: CI: {redact(ci.how)}")
    if ci.state == ci_gate.RED:
        raise MateriaError(f"CI: {redact(ci.how)}")
    if ci.state == ci_gate.PENDING:
        raise NotYet(f"CI has not finished: {redact(ci.how)}")
    say(f"check: {compile_all()} Python files compile")
    say(f"check: {import_all()} materia modules import")
    vouched = ci.how
    if ci.state != ci_gate.GREEN:
        say(f"check: CI's verdict is unknown, running the fast tests ({ci_gate.FAST_TESTS})")
        local = ci_gate.fast_tests(ROOT, FAST_TESTS_TIMEOUT)
        if local.state != ci_gate.GREEN:
            raise MateriaError(f"{local.how} (CI: {redact(ci.how)})")
        vouched = f"{local.how}; CI unknown: {ci.how}"
    models, tests = sqlmesh_project(settings)
    say(f"check: SQLMesh project loads ({models} models), {tests} unit tests pass")
    say(f"check: the loop's {loop_commands()} commands work (git credential helper included)")
    return redact(vouched)


def _head(root: Path) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "HEAD"


def main(settings: Settings) -> int:
    """0: adopt (the last line says what vouched for it); NOT_YET: ask again later."""
    try:
        how = run(settings, say=lambda line: print(line, flush=True))
    except NotYet as e:
        print(f"check: not yet: {e}", flush=True)
        return NOT_YET
    except MateriaError as e:
        raise MateriaError(f"check failed: {e}") from None
    print(f"check: ok, vouched for by {how}", flush=True)
    return 0
