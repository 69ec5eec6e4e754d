"""The door's one idea, for every source: a landed file is checked before anything lands
and again before anything loads, by the rules of its source, and the record of a passed
check says so.

Each source's module (`materia.sources.registry.Source.checker`: `materia.sources.psd_archive`,
`materia.sources.wasde_archive`) offers the same five functions:

- `check_archive(path, scratch, release) -> rows`: the whole check of a downloaded or
  landed file (ArchiveError naming the line and the field, NotTheArchive when the machine
  fails meanwhile);
- `to_csv(path, dest)`: the file's CSV as a local file (PSD inflates its zip);
- `check_header(csv) -> names` and `check(con, csv, release) -> rows`: the check of that
  CSV, as the transform runs it on its own DuckDB connection;
- `select_sql(csv, names, facts) -> SQL`: its rows as the model input reads them (the one
  place DuckDB-only SQL belongs; `facts` are the landing's columns);
- `rules_version()`: changes whenever one of its rules does.

A landed file is immutable, so the extractor records that it passed (`checked/<landing
key>.json`, with its source's rules version); the transform checks again only files
without such a record for the rules in force.
"""

from __future__ import annotations

import errno
import importlib
import json
import re
from types import ModuleType

from materia.core.errors import MateriaError, first_line
from materia.sources.registry import Source, of_key


class ArchiveError(MateriaError):
    """A file that fails its check; the message names the fault (callers add where)."""


class NotTheArchive(MateriaError):
    """This machine failed while reading a file (disk full, I/O error, no memory): the
    message says so, and never suggests that the file is bad."""


def machine_fault(doing: str, e: BaseException) -> NotTheArchive:
    """The one wording of a local failure: what failed, why, and that the archive is not
    at fault."""
    code = getattr(e, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT):
        why = "the disk is full"
    elif code == errno.EFBIG:
        why = "a file size limit was reached"
    elif isinstance(e, OSError):
        why = "an I/O error"
    else:
        why = "this machine ran out of a resource"
    return NotTheArchive(
        f"{doing} failed: {why} ({first_line(e)[:200]}); this is the machine's fault, not "
        "the archive's: do not quarantine it, fix the cause and run again"
    )


def for_source(source: Source) -> ModuleType:
    """The module that checks and reads `source`'s files."""
    return importlib.import_module(source.checker)


def for_key(key: str) -> ModuleType:
    found = of_key(key)
    if found is None:
        raise MateriaError(f"{key}: not the landing key of any source")
    return for_source(found)


# --- the record of a passed check -------------------------------------------------------------
def record_key(landing_key: str) -> str:
    return f"checked/{landing_key}.json"


def record(rules: str, rows: int, **facts) -> bytes:
    """The record of a passed check under `rules`, with the file's identity (`facts`:
    sha256, etag, last_modified, size, landed_at; see `materia.landing.manifest`)."""
    return json.dumps({"rules": rules, "rows": rows, **facts}, sort_keys=True).encode()


def recorded_rows(rules: str, data: bytes | None) -> int | None:
    """Rows of a record made under `rules`; None when it is missing or stale."""
    try:
        d = json.loads(data or b"")
    except ValueError:
        return None
    if not isinstance(d, dict) or d.get("rules") != rules:
        return None
    rows = d.get("rows")
    return rows if isinstance(rows, int) and not isinstance(rows, bool) else None


# --- naming what is wrong with a line -------------------------------------------------
def raw_fields(text: str) -> list[str]:
    """A line split at the commas outside quotes, each field as written (quotes kept)."""
    out, cur, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def split_line(text: str, names: list[str]) -> tuple[list[str], str | None]:
    """A line's raw fields, and what is wrong with its bytes or its count of fields (None:
    nothing): the first faults every source's format names, before its own per field."""
    bad = re.search(r"[^ -~]", text)
    if bad:
        field = names[min(len(raw_fields(text[: bad.start()])), len(names)) - 1]
        return [], f"byte 0x{ord(bad.group()):02x} in {field} is not printable ASCII"
    raw = raw_fields(text)
    if len(raw) != len(names):
        return raw, f"expected {len(names)} fields, found {len(raw)}"
    return raw, None
