"""The one check of a WASDE report data file, shared by the extractor (before anything
lands) and the transform (before anything loads): `materia.sources.check`'s interface for
the WASDE source.

A file passes when it is plain ASCII, its first line is the quoted WASDE header (every
column of `materia.sources.wasde_format.COLUMNS`, none twice; columns USDA might add are read
past), at least one data row follows, every data line has the exact format (each field
quoted, numbers as numbers, known flags) and the rules of its release month (the month
it is served for is the month its rows name), and one report number runs through it.
A fault is `line N: <what, naming the field>`. The file is about 1 MB (5,000 lines), so
one pass in Python names the first bad line directly.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from datetime import date
from pathlib import Path

from materia.core.errors import MateriaError
from materia.core.source_settings import WASDE_DATASET
from materia.sources import check as archive_check
from materia.sources import wasde_format
from materia.sources.check import ArchiveError, machine_fault
from materia.sources.wasde_format import COLUMNS

MAX_LINE = 4096  # the longest real line is about 260 bytes


def check_header(path: Path) -> list[str]:
    """The header's column names; ArchiveError unless every WASDE column is there once."""
    try:
        with open(path, "rb") as f:
            first = f.readline(MAX_LINE)
    except OSError as e:
        raise machine_fault(f"reading {path}", e) from None
    text = first.rstrip(b"\r\n").decode("latin-1")
    if not text:
        raise ArchiveError("line 1: empty CSV file")
    raw = archive_check.raw_fields(text)
    names = [r[1:-1] if len(r) >= 2 and r[0] == r[-1] == '"' else r for r in raw]
    missing = [c for c in COLUMNS if c not in names]
    if len(missing) == len(COLUMNS) or not re.fullmatch(r'"[A-Za-z]+"(,"[A-Za-z]+")*', text):
        if missing:
            raise ArchiveError(f"line 1: not the WASDE header (got {text[:80]!r})")
        raise ArchiveError(f"line 1: the WASDE header must be quoted names (got {text[:80]!r})")
    if missing:
        raise ArchiveError(f"line 1: the WASDE header lacks column(s) {', '.join(missing)}")
    if len(set(names)) != len(names):
        raise ArchiveError(f"line 1: a column is named twice ({text[:80]!r})")
    return names


def check(con, path: Path, release: date) -> int:
    """Check a WASDE CSV of the release month `release`; its data row count, or
    ArchiveError naming the first bad line (`con` is not needed: the file is small)."""
    names = check_header(path)
    pattern = re.compile(wasde_format.line_regex(names, capture=True))
    fields_at = {n: i for i, n in enumerate(names)}
    rows, number = 0, None
    try:
        with open(path, "rb") as f:
            f.readline()  # the header, checked above
            for n, raw in enumerate(f, start=2):
                text = raw.rstrip(b"\n").removesuffix(b"\r").decode("latin-1")
                m = pattern.fullmatch(text)
                if not m:
                    raise ArchiveError(f"line {n}: {wasde_format.format_fault(text, names)}")
                fields = {c: m.group(i + 1) for c, i in fields_at.items()}
                fault = wasde_format.row_fault(fields, release)
                if fault:
                    raise ArchiveError(f"line {n}: {fault}")
                number = number or fields["WasdeNumber"]
                if fields["WasdeNumber"] != number:
                    raise ArchiveError(
                        f"line {n}: WasdeNumber {fields['WasdeNumber']} beside {number}: "
                        "one file holds one report"
                    )
                rows += 1
    except OSError as e:
        raise machine_fault(f"reading {path}", e) from None
    if not rows:
        raise ArchiveError("line 2: header but no data rows")
    return rows


def check_archive(path: Path, scratch: Path, release: date) -> int:
    """The whole check of a downloaded or landed file: its data row count."""
    return check(None, path, release)


def registered(stem: str, where: str) -> None:
    """MateriaError naming the file when it is not of the WASDE source's one dataset."""
    if stem != WASDE_DATASET:
        raise MateriaError(
            f"{where}: {stem} is not the WASDE report data ({WASDE_DATASET}); nothing was published"
        )


def to_csv(path: Path, dest: Path) -> Path:
    """The file as the local CSV `dest` (it is one already: a copy the step owns)."""
    try:
        shutil.copyfile(path, dest)
    except OSError as e:
        raise machine_fault(f"copying {path} to {dest}", e) from None
    return dest


def read_csv_sql(path: Path, names: list[str]) -> str:
    """DuckDB's reader for a checked WASDE CSV: every column as text, strict, nothing
    guessed (a quoted empty field reads as NULL)."""
    columns = ", ".join("'" + n.replace("'", "''") + "': 'VARCHAR'" for n in names)
    p = str(path).replace("'", "''")
    return (
        f"read_csv('{p}', columns = {{{columns}}}, header = true, auto_detect = false, "
        "delim = ',', quote = '\"', escape = '\"', strict_mode = true, null_padding = false)"
    )


def select_sql(csv: Path, names: list[str], facts: str) -> str:
    """One checked CSV as rows of `materia_input.wasde_rows`, after the landing's columns
    (`facts`): the report's fields as published, the value, dates and month typed."""
    return (
        f"SELECT {facts}, "
        "WasdeNumber AS wasde_number, ReportDate AS report_date, ReportTitle AS report_title, "
        "Attribute AS attribute, ReliabilityProjection AS reliability_projection, "
        "Commodity AS commodity, Region AS region, MarketYear AS market_year, "
        "ProjEstFlag AS proj_est_flag, AnnualQuarterFlag AS annual_quarter_flag, "
        "CAST(Value AS DOUBLE) AS value, Unit AS unit, "
        "CAST(ReleaseDate AS DATE) AS release_date, ReleaseTime AS release_time, "
        "CAST(ForecastYear AS INTEGER) AS forecast_year, "
        f"CAST(ForecastMonth AS INTEGER) AS forecast_month FROM {read_csv_sql(csv, names)}"
    )


def rules_version() -> str:
    """Changes whenever a rule does: the format's regexes, flags and bounds, hashed."""
    text = wasde_format.line_regex(list(COLUMNS)) + read_csv_sql(Path("x.csv"), list(COLUMNS))
    text += f"{wasde_format.VALUE_BOUND}/{MAX_LINE}/v1"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def record(rows: int, **facts) -> bytes:
    return archive_check.record(rules_version(), rows, **facts)


def recorded_rows(data: bytes | None) -> int | None:
    return archive_check.recorded_rows(rules_version(), data)
