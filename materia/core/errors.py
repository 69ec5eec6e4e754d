"""The one exception hierarchy: every failure materia means to report is a `MateriaError`,
which the CLI turns into a single clear line and its `exit_code`; and the one helper that
turns any exception into such a line."""

from __future__ import annotations

from materia.core.redact import redact

MAX_LINE = 500


class MateriaError(Exception):
    """A failure with a one-line, user-facing message naming what and where."""

    exit_code = 1


class SettingsError(MateriaError, ValueError):
    """Configuration is missing or malformed; the message names the variable."""

    exit_code = 2


def first_line(e: BaseException) -> str:
    """`e` as one line: its root cause (libraries wrap DuckDB, botocore and audit errors),
    prefixed by the outermost message when that adds something; secrets redacted."""
    seen: list[BaseException] = []
    cur: BaseException | None = e
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    root = seen[-1]
    text = _one(root)
    if not isinstance(root, MateriaError):
        text = f"{type(root).__name__}: {text}" if text else type(root).__name__
    outer = _one(seen[0])
    if len(seen) > 1 and outer and outer not in text:
        text = f"{outer}: {text}"
    if len(text) > MAX_LINE:
        text = text[:MAX_LINE] + "…"
    return redact(text)


def _one(e: BaseException) -> str:
    return " ".join(str(e).split())
