"""The one check of a PSD archive, shared by the extractor (before anything lands) and the
transform (before anything loads).

An archive passes when its zip is readable with exactly one CSV member whose CRC holds and
whose size stays within `MAX_RATIO` times the zip (and `MAX_INFLATED`), the first line is
the PSD header (plain ASCII column names; columns USDA might add are read past, never
guessed at), at least one data row follows, and every data line has the exact PSD format
(`materia.sources.psd_format`: codes of their fixed widths, quoted ASCII text, 4-decimal values)
with a known attribute id, a Market_Year from 1960 up to a few years after the release,
a stamp (Calendar_Year, Month) no later than the release, and a value within its unit's
bound.

DuckDB checks every line in two parallel passes (`check`): the format of each line as
written, then, per unit and attribute, the extremes the other rules bound. Only when they
find a fault does a line-by-line Python scan (`locate`) name the first bad line and
field. Both apply the same rules, written once here and in `psd_format`.

The machine failing while it reads an archive (a full disk, an I/O error, no memory) is
`NotTheArchive`, never an `ArchiveError`: nobody should quarantine a good archive for it.

An archive is immutable once landed, so the extractor records that it passed (`checked/
<landing key>.json`, with the version of these rules) and the transform checks again only
archives without such a record for the rules in force (landed by hand, or before a rule
changed).
"""

from __future__ import annotations

import gzip
import hashlib
import re
import zipfile
import zlib
from contextlib import suppress
from datetime import date
from pathlib import Path
from typing import IO

from materia.core import scratch
from materia.core.errors import MateriaError, first_line
from materia.sources import check as archive_check
from materia.sources import psd_datasets, psd_format

# The door's shared types, here too for the callers that know them from this module.
from materia.sources.check import ArchiveError, NotTheArchive, machine_fault  # noqa: F401
from materia.sources.psd_codes import COLUMNS

# PSD starts in 1960; releases carry projections a year or two ahead (coffee's June 2022
# release already has market year 2023), so anything past this many years is a fault.
FIRST_MARKET_YEAR = 1960
YEARS_AHEAD = 3
FIRST_STAMP_YEAR = 1950  # pre-tracking rows carry stamps like 1959-00
# Real PSD CSVs are 10-21 times their zip; a zip bomb is hundreds or thousands of times.
MAX_RATIO = 100
MAX_INFLATED = 4 * 2**30
_CHUNK = 1 << 20


def last_market_year(release: date) -> int:
    return release.year + YEARS_AHEAD


# --- the zip ---------------------------------------------------------------------------
def _zip_size(source: Path | IO[bytes]) -> int:
    if isinstance(source, Path):
        return source.stat().st_size
    here, size = source.tell(), source.seek(0, 2)
    source.seek(here)
    return size


def inflate(source: Path | IO[bytes], dest: Path) -> str:
    """Write the archive's single CSV member to `dest` (CRC checked, size bounded before
    a byte is written); its member name."""
    with open_zip(source) as zf:
        info, cap = member(zf, source)
        _copy_member(zf, info, dest, cap)
        return info.filename


def open_zip(source: Path | IO[bytes]) -> zipfile.ZipFile:
    try:  # a fault of the zip is the archive's, of reading it the machine's
        return zipfile.ZipFile(source)
    except zipfile.BadZipFile as e:
        raise ArchiveError(f"not a readable zip archive ({e})") from None
    except FileNotFoundError:
        raise
    except OSError as e:
        raise machine_fault("reading the zip", e) from None


def member(zf: zipfile.ZipFile, source: Path | IO[bytes]) -> tuple[zipfile.ZipInfo, int]:
    """The archive's one CSV member and the most it may inflate to (refused beyond)."""
    members = [i for i in zf.infolist() if not i.is_dir()]
    names = [i.filename for i in members]
    if len(members) != 1 or not names[0].lower().endswith(".csv"):
        raise ArchiveError(f"expected exactly one CSV member, found {names or 'none'}")
    info = members[0]
    cap = min(MAX_INFLATED, max(_zip_size(source), 1) * MAX_RATIO)
    if info.file_size > cap:
        raise ArchiveError(
            f"{info.filename} would inflate to {info.file_size:,} bytes, more than "
            f"{MAX_RATIO} times the zip (cap {cap:,} bytes): refused before inflating"
        )
    return info, cap


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, cap: int) -> None:
    """Stream the member to `dest`; a fault of the zip is the archive's, a fault of the
    read or the write is the machine's (`NotTheArchive`)."""
    doing = f"writing {dest}"
    try:
        out = open(dest, "wb")  # noqa: SIM115 - closed below, errors told apart
    except OSError as e:
        raise machine_fault(doing, e) from None
    try:
        with zf.open(info) as src:
            written = 0
            while chunk := _read(src):
                written += len(chunk)
                if written > cap:  # a member larger than its header says
                    raise ArchiveError(f"{info.filename} inflates past {cap:,} bytes: refused")
                try:
                    out.write(chunk)
                except OSError as e:
                    raise machine_fault(doing, e) from None
        try:
            out.flush()  # the last buffered bytes: a full disk can show only here
        except OSError as e:
            raise machine_fault(doing, e) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as e:
        raise ArchiveError(f"corrupt zip ({e})") from None
    except MateriaError:
        raise
    except OSError as e:
        raise machine_fault("reading the zip", e) from None
    finally:
        with suppress(OSError):
            out.close()


def _read(src: IO[bytes]) -> bytes:
    try:
        return src.read(_CHUNK)  # zipfile checks the CRC at the end
    except zipfile.BadZipFile as e:
        if "CRC" in str(e):
            raise ArchiveError(f"corrupt zip: CRC check failed ({e})") from None
        raise


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


# A byte no valid line holds: each line is read whole, quotes and all.
_NO_DELIM = "\x1f"


def read_lines_sql(path: Path, options: str = "") -> str:
    """DuckDB's reader for the data lines of a CSV, verbatim, one `line` each."""
    p = str(path).replace("'", "''")
    return (
        f"read_csv('{p}', columns = {{'line': 'VARCHAR'}}, header = true, auto_detect = "
        f"false, delim = '{_NO_DELIM}', quote = '', escape = '', strict_mode = true{options})"
    )


def _groups(names: list[str]) -> list[str]:
    return [n if n in psd_format.FIELDS else f"extra_{i}" for i, n in enumerate(names)]


def format_sql(path: Path, names: list[str], options: str = "") -> str:
    """Pass 1, the format of every line, verbatim: (data lines, lines without it)."""
    rx = psd_format.line_regex(names)
    return (
        "SELECT count(*), count(*) FILTER (WHERE line IS NULL OR NOT "
        f"regexp_full_match(line, '{rx}')) FROM {read_lines_sql(path, options)}"
    )


def facts_sql(path: Path, names: list[str], options: str = "") -> str:
    """Pass 2, once every line has the format: per unit and attribute, the extremes the
    rules bound (`facts_fault`). Few groups, so this costs about one CSV parse."""
    i = "TRY_CAST({} AS INTEGER)".format
    return (
        f"SELECT Unit_ID, Attribute_ID, min({i('Market_Year')}), max({i('Market_Year')}), "
        f"max({i('Month')}), min({i('Calendar_Year')}), "
        f"max({i('Calendar_Year')} * 100 + {i('Month')}), "
        f"max(abs(TRY_CAST(Value AS DOUBLE))) FROM {read_csv_sql(path, names, options)} "
        "GROUP BY ALL"
    )


def facts_fault(facts: tuple, release: date) -> str | None:
    """The kind of fault some line of a `facts_sql` group has (the order `row_fault`
    checks in), None when every line of the group keeps the rules."""
    unit, attribute, first, last, month, calendar, stamp, value = facts
    if attribute not in psd_format.ATTRIBUTE_IDS:
        return "attribute"
    if first < FIRST_MARKET_YEAR or last > last_market_year(release):
        return "market_year"
    if month > 12:
        return "month"
    if calendar < FIRST_STAMP_YEAR or stamp > release.year * 100 + release.month:
        return "stamp"
    if value > psd_format.bound(unit):
        return "value"
    return None


def row_fault(fields: dict[str, str], release: date) -> tuple[str, str] | None:
    """The rules after the format (`facts_fault` checks them per group), for one line's
    fields: (kind, message) of its first fault, or None."""
    attribute, year = fields["Attribute_ID"], int(fields["Market_Year"])
    month, calendar = int(fields["Month"]), int(fields["Calendar_Year"])
    last = last_market_year(release)
    if attribute not in psd_format.ATTRIBUTE_IDS:
        return "attribute", (
            f"Attribute_ID {attribute} is not a PSD attribute materia knows (if USDA added "
            "it, add it to materia/sources/psd_format.py ATTRIBUTE_IDS)"
        )
    if not FIRST_MARKET_YEAR <= year <= last:
        return "market_year", f"Market_Year {year} outside {FIRST_MARKET_YEAR}..{last}"
    if month > 12:
        return "month", f"Month {fields['Month']} is not 00..12"
    if calendar < FIRST_STAMP_YEAR or calendar * 100 + month > release.year * 100 + release.month:
        return "stamp", (
            f"Calendar_Year/Month {calendar}-{fields['Month']} is not a stamp of this "
            f"release ({FIRST_STAMP_YEAR}-00..{release:%Y-%m})"
        )
    limit = psd_format.bound(fields["Unit_ID"])
    if abs(float(fields["Value"])) > limit:
        return "value", (
            f"Value {fields['Value']} is beyond {limit:,.0f}, the bound of unit {fields['Unit_ID']}"
        )
    return None


def check_header(path: Path) -> list[str]:
    """The header's column names (of a CSV, or a gzipped one: `.gz`); ArchiveError unless
    it is plain ASCII names, every PSD column among them, none twice."""
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
        first = f.readline(4096)
    header = first.rstrip(b"\r\n")
    if not header:
        raise ArchiveError("line 1: empty CSV file")
    text = header.decode("latin-1")
    names = text.split(",")
    if not re.fullmatch(rb"[A-Za-z0-9_,]+", header):
        if not any(c in names for c in COLUMNS):
            raise ArchiveError(f"line 1: not the PSD header (got {text[:80]!r})")
        raise ArchiveError(f"line 1: the PSD header must be plain column names (got {text[:80]!r})")
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        if len(missing) == len(COLUMNS):
            raise ArchiveError(f"line 1: not the PSD header (got {text[:80]!r})")
        raise ArchiveError(f"line 1: the PSD header lacks column(s) {', '.join(missing)}")
    if len(set(names)) != len(names):
        raise ArchiveError(f"line 1: a column is named twice ({text[:80]!r})")
    return names


CANNOT_LOCATE = "a row DuckDB could not parse"


def line_fault(text: str, names: list[str], release: date) -> tuple[str, str] | None:
    """(kind, message) of a data line's first fault ('format' for a line without the PSD
    format), or None."""
    m = re.fullmatch(psd_format.line_regex(names, capture=True), text)
    if not m:
        return "format", psd_format.format_fault(text, names)
    return row_fault(dict(zip(_groups(names), m.groups(), strict=True)), release)


def locate(path: Path, release: date) -> str:
    """`line N: <fault naming the field>` for the first bad line (a slow scan, run only
    after the fast pass found a fault)."""
    names = check_header(path)
    n = 1
    with open(path, "rb") as f:
        f.readline()  # the header, checked above
        for raw in f:
            n += 1
            text = raw.rstrip(b"\n").removesuffix(b"\r").decode("latin-1")
            fault = line_fault(text, names, release)
            if fault:
                return f"line {n}: {fault[1]}"
    if n == 1:
        return "line 2: header but no data rows"
    return CANNOT_LOCATE


# The check streams the file once: 1 MiB read buffers (PSD lines are short) keep the
# extractor's peak RSS under 90 MiB instead of 150-200 MiB, at the same speed.
CHECK_READ_OPTIONS = ", buffer_size = 1048576"


def check(con, path: Path, release: date) -> int:
    """Check an inflated PSD CSV with DuckDB; its data row count, or ArchiveError (or
    NotTheArchive when the machine fails meanwhile)."""
    import duckdb

    names = check_header(path)
    try:
        rows, bad = con.execute(format_sql(path, names, CHECK_READ_OPTIONS)).fetchone()
        facts = []
        if rows and not bad:
            facts = con.execute(facts_sql(path, names, CHECK_READ_OPTIONS)).fetchall()
    except (duckdb.OutOfMemoryException, duckdb.IOException) as e:
        raise machine_fault("checking the archive with DuckDB", e) from None
    except duckdb.Error as e:  # DuckDB's CSV errors carry no line number: find it ourselves
        fault = locate(path, release)
        if fault == CANNOT_LOCATE:
            fault = f"DuckDB cannot read it ({first_line(e)[:160]})"
        raise ArchiveError(fault) from None
    if bad or not rows or any(facts_fault(f, release) for f in facts):
        raise ArchiveError(locate(path, release))
    return rows


def check_archive(zip_path: Path, scratch_dir: Path, release: date) -> int:
    """Inflate into `scratch_dir` (removed afterwards) and check; the data row count."""
    import duckdb

    csv_path = scratch.mkstemp(scratch_dir, "check", ".csv")
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
    """Changes whenever a rule does: the rules' own SQL, regex and limits, hashed."""
    x, names = Path("x.csv"), list(COLUMNS)
    text = format_sql(x, names) + facts_sql(x, names) + read_csv_sql(x, names)
    text += f"{sorted(psd_format.ATTRIBUTE_IDS)}{sorted(psd_format.UNIT_BOUNDS.items())}"
    text += f"{psd_format.OTHER_UNITS}/{FIRST_MARKET_YEAR}/{YEARS_AHEAD}/{FIRST_STAMP_YEAR}"
    text += f"/{MAX_RATIO}/{MAX_INFLATED}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def record_key(landing_key: str) -> str:
    return archive_check.record_key(landing_key)


def record(rows: int, **facts) -> bytes:
    """The record of a passed check, with the archive's identity (`facts`: sha256, etag,
    size, landed_at; see `materia.landing.manifest`)."""
    return archive_check.record(rules_version(), rows, **facts)


def recorded_rows(data: bytes | None) -> int | None:
    """Rows of a record made under the rules in force; None when it is missing or stale."""
    return archive_check.recorded_rows(rules_version(), data)


# --- the shared interface of a source's check (materia.sources.check) ---------------------
def registered(stem: str, where: str) -> None:
    """MateriaError naming the archive when its dataset is not registered."""
    psd_datasets.landed(stem, where)


def to_csv(path: Path, dest: Path) -> Path:
    """The archive's CSV member as the local file `dest`."""
    inflate(path, dest)
    return dest


def select_sql(csv: Path, names: list[str], facts: str) -> str:
    """One checked CSV as rows of `materia_input.psd_rows`, typed, after the landing's
    columns (`facts`: dataset, release_month, etag, newest, month_archives)."""
    return (
        f"SELECT {facts}, "
        "Commodity_Code AS commodity_code, Commodity_Description AS commodity_description, "
        "Country_Code AS country_code, Country_Name AS country_name, "
        "CAST(Market_Year AS INTEGER) AS market_year, "
        "CAST(Calendar_Year AS INTEGER) AS calendar_year, Month AS month, "
        "Attribute_ID AS attribute_id, Attribute_Description AS attribute_description, "
        "Unit_ID AS unit_id, Unit_Description AS unit_description, "
        f"CAST(Value AS DOUBLE) AS value FROM {read_csv_sql(csv, names)}"
    )
