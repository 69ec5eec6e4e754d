"""The exact format of USDA's WASDE report data CSV, field by field: what
`materia.sources.wasde_archive` lets through.

Measured on the real file (../shared/data/wasde/README.md): a quoted header of 16 named
columns, every field double-quoted printable ASCII without a quote inside, CRLF line
ends. `Value` has up to two decimals and may drop the leading zero (".20") or be empty
(a line USDA prints without a figure); `MarketYear` is "2025/26" for crops, "2025" for
calendar years, empty for the reliability tables; the flags come from short known lists.
Every row of a month's file carries that month (`ForecastYear`, `ForecastMonth`,
`ReleaseDate`) and one report number, so a file served for the wrong month, a
spreadsheet re-save or a new flag USDA introduces stops at the door with a line naming
the field, instead of reaching the models as something else.
"""

from __future__ import annotations

import re
from datetime import date

from materia.sources.check import split_line  # every source's CSV quotes alike

COLUMNS = (
    "WasdeNumber", "ReportDate", "ReportTitle", "Attribute", "ReliabilityProjection",
    "Commodity", "Region", "MarketYear", "ProjEstFlag", "AnnualQuarterFlag", "Value", "Unit",
    "ReleaseDate", "ReleaseTime", "ForecastYear", "ForecastMonth",
)  # fmt: skip
HEADER = ",".join(f'"{c}"' for c in COLUMNS)

MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
RELIABILITY = (
    "average", "above_final", "below_final", "confidence_interval", "largest", "smallest",
    "root_mean_square_error",
)  # fmt: skip
PROJ_EST = ("Est.", "Proj.", "(Est.)", "(Proj.)")
PERIODS = ("Annual", "I", "II", "III", "IV")

_TEXT = r"[!#-~](?:[ !#-~]*[!#-~])?"  # printable ASCII, no quote, no surrounding spaces
_SPACED = r"[!#-~][ !#-~]*"  # titles may carry a double space inside ("Use  (Milled")


def _one_of(options) -> str:
    return "|".join(re.escape(o) for o in options)


# column -> (the unquoted field's regex, how to say what it must be)
FIELDS: dict[str, tuple[str, str]] = {
    "WasdeNumber": (r"[0-9]{1,4}", "a report number"),
    "ReportDate": (rf"(?:{_one_of(MONTHS)}) [0-9]{{4}}", "a month and year like November 2025"),
    "ReportTitle": (_SPACED, "text"),
    "Attribute": (_SPACED, "text"),
    "ReliabilityProjection": (f"(?:{_one_of(RELIABILITY)})?", "empty or a reliability statistic"),
    "Commodity": (_SPACED, "text"),
    "Region": (_SPACED, "text"),
    "MarketYear": (r"(?:[0-9]{4}(?:/[0-9]{2})?)?", "empty, a year (2025) or a crop year (2025/26)"),
    "ProjEstFlag": (f"(?:{_one_of(PROJ_EST)})?", f"empty or one of {', '.join(PROJ_EST)}"),
    "AnnualQuarterFlag": (_one_of(PERIODS), f"one of {', '.join(PERIODS)}"),
    "Value": (r"(?:-?(?:[0-9]{1,9}(?:\.[0-9]{1,4})?|\.[0-9]{1,4}))?", "empty or a number"),
    "Unit": (_TEXT, "text"),
    "ReleaseDate": (r"[0-9]{4}-[0-9]{2}-[0-9]{2}", "a date YYYY-MM-DD"),
    "ReleaseTime": (r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,7})?)?", "a time HH:MM:SS"),
    "ForecastYear": (r"[0-9]{4}", "4 digits"),
    "ForecastMonth": (r"[0-9]{1,2}", "a month number"),
}
EXTRA = r"[ !#-~]*"  # a column USDA might add: read past, never guessed at
VALUE_BOUND = 1e8  # the largest |Value| of a real file is 115,765 (million pounds of meat)


def line_regex(names: list[str], capture: bool = False) -> str:
    """One data line of a file whose header is `names` (every field quoted)."""
    parts = (FIELDS[n][0] if n in FIELDS else EXTRA for n in names)
    return ",".join(f'"({p})"' if capture else f'"(?:{p})"' for p in parts)


def format_fault(text: str, names: list[str]) -> str:
    """Why a line does not have the format, naming the field."""
    raw, fault = split_line(text, names)
    if fault:
        return fault
    for name, value in zip(names, raw, strict=True):
        if len(value) < 2 or value[0] != '"' or value[-1] != '"' or '"' in value[1:-1]:
            return f"{name} must be one double-quoted field, got {value[:40]!r}"
        pattern, must = FIELDS.get(name, (EXTRA, "text"))
        if not re.fullmatch(pattern, value[1:-1]):
            return f"{name} must be {must}, got {value[:40]!r}"
    return "not a WASDE line"


def row_fault(fields: dict[str, str], release: date) -> str | None:
    """The rules after the format, for one line's fields: what is wrong, or None."""
    month = f"{release:%Y-%m}"
    if f"{fields['ForecastYear']}-{int(fields['ForecastMonth']):02d}" != month:
        return (
            f"ForecastYear/ForecastMonth {fields['ForecastYear']}-{fields['ForecastMonth']} "
            f"is not the release month {month}"
        )
    if not fields["ReleaseDate"].startswith(month):
        return f"ReleaseDate {fields['ReleaseDate']} is not in the release month {month}"
    if fields["ReportDate"] != f"{MONTHS[release.month - 1]} {release.year}":
        return f"ReportDate {fields['ReportDate']!r} is not the release month {month}"
    year = fields["MarketYear"]
    if "/" in year and int(year[-2:]) != (int(year[:4]) + 1) % 100:
        return f"MarketYear {year} is not two consecutive years"
    value = fields["Value"]
    if value and abs(float(value)) > VALUE_BOUND:
        return f"Value {value} is beyond {VALUE_BOUND:,.0f}"
    return None
