"""The one check of a PSD archive, shared by the extractor (before anything lands) and the
transform (before anything loads).

An archive passes when its zip is readable with exactly one CSV member whose CRC holds,
the first line is a header naming every PSD column (columns USDA might add are read past,
never guessed at), at least one data row follows, and every row has as many fields as
the header, non-empty codes, an integer Market_Year from 1960 up to a few years after
the release, integer Calendar_Year and Month 00..12, and a plain decimal Value.

DuckDB checks every row in one parallel pass (`check`); only when that pass finds a
fault does a line-by-line Python scan (`locate`) find the first bad line to name it.
Both apply the same rules, written once here.

An archive is immutable once landed, so the extractor records that it passed (`checked/
<landing key>.json`, with the version of these rules) and the transform checks again only
archives without such a record for the rules in force (landed by hand, or before a rule
changed).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import zipfile
from datetime import date
from pathlib import Path
from typing import IO

from materia.errors import MateriaError, first_line
from materia.psd_codes import COLUMNS

# PSD starts in 1960; releases carry projections a year or two ahead (coffee's June 2022
# release already has market year 2023), so anything past this many years is a fault.
FIRST_MARKET_YEAR = 1960
YEARS_AHEAD = 3
CODE_COLUMNS = ("Commodity_Code", "Country_Code", "Attribute_ID", "Unit_ID")
_VALUE = r"-?[0-9]+(\.[0-9]+)?"
_INT = r"[0-9]{1,4}"


class ArchiveError(MateriaError):
    """An archive that fails the check; the message names the fault (callers add where)."""


def last_market_year(release: date) -> int:
    return release.year + YEARS_AHEAD


# --- the zip ---------------------------------------------------------------------------
def inflate(source: Path | IO[bytes], dest: Path) -> str:
    """Write the archive's single CSV member to `dest` (CRC checked); its member name."""
    try:
        with zipfile.ZipFile(source) as zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
            names = [i.filename for i in members]
            if len(members) != 1 or not names[0].lower().endswith(".csv"):
                raise ArchiveError(f"expected exactly one CSV member, found {names or 'none'}")
            with zf.open(members[0]) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)  # zipfile checks the CRC at the end
            return names[0]
    except zipfile.BadZipFile as e:
        if "CRC" in str(e):
            raise ArchiveError(f"corrupt zip: CRC check failed ({e})") from None
        raise ArchiveError(f"not a readable zip archive ({e})") from None
    except (EOFError, OSError, zipfile.LargeZipFile) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ArchiveError(f"corrupt zip ({e})") from None


# --- the rows: one rule set, in SQL for the fast pass ------------------------------------
def read_csv_sql(path: Path, names: list[str], options: str = "") -> str:
    """DuckDB's reader for a PSD CSV with header `names`: every column as text, strict,
    nothing guessed; PSD columns are then selected by name."""
    columns = ", ".join("'" + n.replace("'", "''") + "': 'VARCHAR'" for n in names)
    p = str(path).replace("'", "''")
    return (
        f"read_csv('{p}', columns = {{{columns}}}, header = true, auto_detect = false, "
        "delim = ',', quote = '\"', escape = '\"', strict_mode = true, null_padding = false"
        f"{options})"
    )


def fault_sql(release: date) -> str:
    """A SQL expression over the text columns: the row's first fault, NULL when none."""
    empty = " OR ".join(f"coalesce(trim({c}), '') = ''" for c in CODE_COLUMNS)
    last = last_market_year(release)
    return (
        "CASE "
        f"WHEN {empty} THEN 'a code is empty' "
        f"WHEN NOT regexp_full_match(coalesce(Market_Year, ''), '{_INT}') "
        "THEN 'Market_Year is not a year' "
        f"WHEN TRY_CAST(Market_Year AS INTEGER) NOT BETWEEN {FIRST_MARKET_YEAR} AND {last} "
        f"THEN 'Market_Year outside {FIRST_MARKET_YEAR}..{last}' "
        f"WHEN NOT regexp_full_match(coalesce(Calendar_Year, ''), '{_INT}') "
        "THEN 'Calendar_Year is not a year' "
        "WHEN NOT regexp_full_match(coalesce(Month, ''), '[0-9]{1,2}') "
        "OR TRY_CAST(Month AS INTEGER) > 12 THEN 'Month is not 00..12' "
        f"WHEN NOT regexp_full_match(coalesce(Value, ''), '{_VALUE}') "
        "THEN 'Value is not a number' "
        "END"
    )


def row_fault(row: list[str], release: date, names: list[str]) -> str | None:
    """The same rules as `fault_sql`, for one parsed row (used only to locate a fault)."""
    if len(row) != len(names):
        return f"expected {len(names)} fields, found {len(row)}"
    f = dict(zip(names, row, strict=True))
    if any(not f[c].strip() for c in CODE_COLUMNS):
        return "a code is empty"
    if not re.fullmatch(_INT, f["Market_Year"]):
        return "Market_Year is not a year"
    last = last_market_year(release)
    if not FIRST_MARKET_YEAR <= int(f["Market_Year"]) <= last:
        return f"Market_Year outside {FIRST_MARKET_YEAR}..{last}"
    if not re.fullmatch(_INT, f["Calendar_Year"]):
        return "Calendar_Year is not a year"
    if not re.fullmatch(r"[0-9]{1,2}", f["Month"]) or int(f["Month"]) > 12:
        return "Month is not 00..12"
    if not re.fullmatch(_VALUE, f["Value"]):
        return "Value is not a number"
    return None


def check_header(path: Path) -> list[str]:
    """The header's column names; ArchiveError unless every PSD column is among them."""
    with open(path, "rb") as f:
        first = f.readline(4096)
    header = first.decode("ascii", errors="replace").rstrip("\r\n")
    if not header:
        raise ArchiveError("line 1: empty CSV file")
    names = [n.strip().strip('"') for n in header.split(",")]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        if len(missing) == len(COLUMNS):
            raise ArchiveError(f"line 1: not the PSD header (got {header[:80]!r})")
        raise ArchiveError(f"line 1: the PSD header lacks column(s) {', '.join(missing)}")
    if len(set(names)) != len(names):
        raise ArchiveError(f"line 1: a column is named twice ({header[:80]!r})")
    return names


CANNOT_LOCATE = "a row DuckDB could not parse"


def locate(path: Path, release: date) -> str:
    """`line N: <fault>` for the first bad line (a slow scan, run only after a failure)."""
    names = check_header(path)
    with open(path, newline="", encoding="ascii", errors="replace") as f:
        reader = csv.reader(f, strict=True)
        try:
            next(reader)  # the header, checked above
            for row in reader:
                fault = row_fault(row, release, names)
                if fault:
                    return f"line {reader.line_num}: {fault} ({','.join(row)[:80]!r})"
        except csv.Error as e:
            return f"line {reader.line_num}: malformed CSV ({e})"
        if reader.line_num <= 1:
            return "line 2: header but no data rows"
    return CANNOT_LOCATE


# The check streams the file once: 1 MiB read buffers (PSD lines are short) keep the
# extractor's peak RSS under 90 MiB instead of 150-200 MiB, at the same speed.
CHECK_READ_OPTIONS = ", buffer_size = 1048576"


def check(con, path: Path, release: date) -> int:
    """Check an inflated PSD CSV with DuckDB; its data row count, or ArchiveError."""
    import duckdb

    names = check_header(path)
    reader = read_csv_sql(path, names, CHECK_READ_OPTIONS)
    try:
        rows, bad = con.execute(
            f"SELECT count(*), count({fault_sql(release)}) FROM {reader}"
        ).fetchone()
    except (duckdb.OutOfMemoryException, duckdb.IOException):
        raise  # the machine's fault, not the archive's: never reported as a bad row
    except duckdb.Error as e:  # DuckDB's CSV errors carry no line number: find it ourselves
        fault = locate(path, release)
        if fault == CANNOT_LOCATE:
            fault = f"DuckDB cannot read it ({first_line(e)[:160]})"
        raise ArchiveError(fault) from None
    if bad or not rows:
        raise ArchiveError(locate(path, release))
    return rows


def check_archive(zip_path: Path, scratch: Path, release: date) -> int:
    """Inflate into `scratch` (removed afterwards) and check; the data row count."""
    import tempfile

    import duckdb

    scratch.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="materia-check-", suffix=".csv", dir=scratch)
    os.close(fd)
    csv_path = Path(name)
    try:
        inflate(zip_path, csv_path)
        con = duckdb.connect(config={"memory_limit": "256MB"})
        try:
            return check(con, csv_path, release)
        finally:
            con.close()
    finally:
        csv_path.unlink(missing_ok=True)


# --- the record of a passed check -------------------------------------------------------------
def rules_version() -> str:
    """Changes whenever a rule does: the rules' own SQL, hashed."""
    text = fault_sql(date(2000, 1, 1)) + read_csv_sql(Path("x.csv"), list(COLUMNS))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def record_key(landing_key: str) -> str:
    return f"checked/{landing_key}.json"


def record(rows: int) -> bytes:
    return json.dumps({"rules": rules_version(), "rows": rows}).encode()


def recorded_rows(data: bytes | None) -> int | None:
    """Rows of a record made under the rules in force; None when it is missing or stale."""
    try:
        d = json.loads(data or b"")
    except ValueError:
        return None
    return int(d["rows"]) if isinstance(d, dict) and d.get("rules") == rules_version() else None
