"""Secrets: from a Pulumi ESC environment, else the environment and `.env`.

Which ESC environment: `MATERIA_ESC_ENV`, else `beanflows/prod` with MATERIA_ENV=prod
only (`esc_target`). It is read through `esc env open <env> --format json`, or, where the
standalone `esc` CLI is absent (it is retired), its successor `pulumi env open …` with
the same output. `git_credential` lets git pull a private repository with
GITLAB_READ_TOKEN without the token ever reaching a file or a command line.

`redact()` and `RedactingFilter` replace every known secret value with `***`; the CLI
installs both on its output so no log line or error message can carry a secret.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from materia.core.errors import MateriaError
from materia.core.redact import _MIN_REDACT_LEN, SECRET_NAMES, known_values, redact, register
from materia.core.settings import PROD_ESC_ENV, esc_env_name


def redactor(settings) -> Callable[[str], str]:
    """`redact` for one run: this settings object's secrets and every value known here."""
    values = set(settings.secret_values()) | known_values()
    return lambda text: redact(text, values)


def redact_doc(doc: object, redact_text: Callable[[str], str] | None = None) -> object:
    """`doc` (JSON-like) with every string in it, keys included, redacted: what is
    written to the run log, the state file and the heartbeat passes through here."""
    fix = redact_text or redact
    if isinstance(doc, str):
        return fix(doc)
    if isinstance(doc, dict):
        return {fix(str(k)): redact_doc(v, fix) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [redact_doc(v, fix) for v in doc]
    return doc


class RedactingFilter(logging.Filter):
    """A logging filter that renders the message and redacts it; attach it to handlers."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            # Render the traceback now, redacted, and drop the raw exception.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class RedactingStream(io.TextIOBase):
    """A text stream wrapper that redacts whole lines before they reach `inner`."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner
        self._buf = ""

    def write(self, s: str) -> int:
        self._buf += s
        # Whole lines only, so a value split across writes is still seen; "\r" counts as
        # a line end so progress bars keep moving.
        cut = max(self._buf.rfind("\n"), self._buf.rfind("\r"))
        if cut >= 0:
            done, self._buf = self._buf[: cut + 1], self._buf[cut + 1 :]
            self.inner.write(redact(done))
        return len(s)

    def flush(self) -> None:
        if self._buf:
            self.inner.write(redact(self._buf))
            self._buf = ""
        self.inner.flush()

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.inner, "encoding", "utf-8")

    @property
    def buffer(self):  # binary writers bypass redaction, as subprocesses do
        return self.inner.buffer

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


@contextmanager
def redacted_output() -> Iterator[None]:
    """Route sys.stdout/sys.stderr through redaction for the duration; restore after."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = RedactingStream(saved[0]), RedactingStream(saved[1])
    try:
        yield
    finally:
        for wrapped in (sys.stdout, sys.stderr):
            if isinstance(wrapped, RedactingStream):
                wrapped.flush()
        sys.stdout, sys.stderr = saved


def install_logging(level: int = logging.INFO) -> None:
    """Root logging to stderr, every record redacted; idempotent."""
    root = logging.getLogger()
    for h in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in h.filters):
            h.addFilter(RedactingFilter())
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
        root.setLevel(level)


# --- sources ---------------------------------------------------------------------
class EscError(MateriaError):
    """Pulumi ESC was asked for and could not be read (the CLI failed, bad output)."""


def esc_tool(environ: Mapping[str, str] | None = None) -> str | None:
    """The CLI that opens ESC environments: `esc`, else `pulumi`; None when neither."""
    path = (os.environ if environ is None else environ).get("PATH")
    return shutil.which("esc", path=path) or shutil.which("pulumi", path=path)


def from_esc(esc: str, env_name: str = PROD_ESC_ENV) -> dict[str, str]:
    """`esc env open <env> --format json` (or `pulumi env open …`) → its
    `environmentVariables` block."""
    what = f"{Path(esc).name} env open {env_name}"
    try:
        proc = subprocess.run(
            [esc, "env", "open", env_name, "--format", "json"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise EscError(f"could not run {what}: {redact(str(e))}") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise EscError(f"{what} failed (exit {proc.returncode}): {redact(last)}")
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        raise EscError(f"{what} printed invalid JSON: {e.msg}") from None
    block = doc.get("environmentVariables", {}) if isinstance(doc, dict) else None
    if not isinstance(block, dict):
        raise EscError(f"{what}: 'environmentVariables' is not an object")
    return {str(k): str(v) for k, v in block.items() if v is not None}


def _merged(environ: Mapping[str, str] | None, dotenv: Path | None) -> dict[str, str]:
    """`environ` (default os.environ) over `.env`, as settings reads them."""
    merged: dict[str, str] = {}
    path = dotenv or Path(".env")
    if path.is_file():
        from dotenv import dotenv_values

        merged.update({k: v for k, v in dotenv_values(path).items() if v})
    merged.update(os.environ if environ is None else environ)
    return merged


def from_environment(
    environ: Mapping[str, str] | None = None, dotenv: Path | None = None
) -> dict[str, str]:
    """Secret-named values from `environ` (default os.environ) over `.env`."""
    merged = _merged(environ, dotenv)
    return {n: merged[n] for n in SECRET_NAMES if merged.get(n, "").strip()}


def esc_target(
    environ: Mapping[str, str] | None = None, dotenv: Path | None = None
) -> tuple[str | None, str | None]:
    """(the ESC environment to open, the CLI to open it with), or Nones: no ESC.

    MATERIA_ESC_ENV names the environment (`off`: none); unset, it is `beanflows/prod`
    only with MATERIA_ENV=prod, so a laptop logged in to Pulumi never reads prod's
    secrets by accident. A named environment without a CLI is an error; prod's default
    without one falls back to the environment (CI jobs, tests)."""
    merged = _merged(environ, dotenv)
    name = esc_env_name(merged)
    if name is None:
        return None, None
    tool = esc_tool(environ)
    if tool is None and (merged.get("MATERIA_ESC_ENV") or "").strip():
        raise EscError(
            f"MATERIA_ESC_ENV={name} but neither `esc` nor `pulumi` is on PATH to open it"
        )
    return (name, tool) if tool else (None, None)


_loaded: dict[tuple[str, str], dict[str, str] | EscError] = {}


def load(
    environ: Mapping[str, str] | None = None, dotenv: Path | None = None
) -> tuple[str, dict[str, str]]:
    """(source, values): the ESC environment of `esc_target`, else the environment's
    secret-named variables; values registered for redaction. ESC is opened once per
    process (EscError when it fails, every time it is asked again)."""
    name, tool = esc_target(environ, dotenv)
    if name and tool:
        if (tool, name) not in _loaded:
            try:
                _loaded[(tool, name)] = from_esc(tool, name)
            except EscError as e:
                _loaded[(tool, name)] = e  # one attempt per process: fail the same way
        found = _loaded[(tool, name)]
        if isinstance(found, EscError):
            raise found
        values = found
        source = f"{Path(tool).name}:{name}"
        register(v for k, v in values.items() if k in SECRET_NAMES or len(v) >= _MIN_REDACT_LEN)
    else:
        source, values = "environment", from_environment(environ, dotenv)
        register(values.values())
    return source, values


def apply_to_environ() -> list[str]:
    """Fill unset variables of this process from the secret source; names that were set.
    Every command does this first (`materia.cli`), so each reads secrets the same way."""
    _, values = load()
    added = [k for k, v in values.items() if not os.environ.get(k)]
    for k in added:
        os.environ[k] = values[k]
    return added


def as_env_lines(values: Mapping[str, str]) -> str:
    """`NAME='value'` lines, shell- and dotenv-readable."""
    return "".join(f"{k}={shlex.quote(v)}\n" for k, v in sorted(values.items()))


def git_credential(action: str, request: str, values: Mapping[str, str]) -> str:
    """Answer git's credential-helper protocol: for `get`, GITLAB_READ_TOKEN as the
    password (user GITLAB_READ_USER, default oauth2); nothing for store/erase or when
    no token is set (git then fails with its own message)."""
    token = values.get("GITLAB_READ_TOKEN", "")
    asked = dict(line.split("=", 1) for line in request.splitlines() if "=" in line)
    host = asked.get("host", "").rsplit(":", 1)[0]
    # Never over plain HTTP, except to this machine (the tests' git server).
    secure = asked.get("protocol") == "https" or host in ("127.0.0.1", "localhost")
    if action != "get" or not token or not secure:
        return ""
    user = values.get("GITLAB_READ_USER") or "oauth2"
    return f"username={user}\npassword={token}\n\n"
