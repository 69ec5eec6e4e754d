"""The exact PSD line format, field by field: what `materia.sources.psd_archive` lets through.

Measured on every real release (../shared/data/psd/README.md): codes are zero-padded to
their fixed widths and never quoted (`0711100`, `BR`, `028`, unit `02`), text is always
quoted ASCII without surrounding spaces, Value has exactly 4 decimals. A spreadsheet
re-save (`711100`, `28`, `"0711100 "`) therefore fails here, at the door, instead of
becoming a second commodity or slipping past audits that key on the padded code.

Beyond the shape: an attribute id must be one materia knows (`ATTRIBUTE_IDS`: the official
FAS list plus ids seen in real releases that the list lacks), and a value must lie within
the bound of its unit (`bound`), so no value can overflow to infinity or be off by a
factor of a thousand unnoticed.
"""

from __future__ import annotations

import re

from materia.sources.check import split_line  # every source's CSV quotes alike

# Printable ASCII without `"`: inside quotes, no surrounding spaces (and may be empty).
_TEXT = r'"(?:[!#-~](?:[ !#-~]*[!#-~])?)?"'
# A column USDA might add: quoted text, or a bare token without `,` or `"`.
EXTRA = r'(?:"[ !#-~]*"|[!#-+\--~]*)'

# column -> (the field's regex, how to say what it must be)
FIELDS: dict[str, tuple[str, str]] = {
    "Commodity_Code": (r"[0-9]{7}", "7 digits"),
    "Commodity_Description": (_TEXT, "quoted ASCII text without surrounding spaces"),
    "Country_Code": (r"[A-Z0-9]{2}", "2 capital letters or digits"),
    "Country_Name": (_TEXT, "quoted ASCII text without surrounding spaces"),
    "Market_Year": (r"[0-9]{4}", "4 digits"),
    "Calendar_Year": (r"[0-9]{4}", "4 digits"),
    "Month": (r"[0-9]{2}", "2 digits"),
    "Attribute_ID": (r"[0-9]{3}", "3 digits"),
    "Attribute_Description": (_TEXT, "quoted ASCII text without surrounding spaces"),
    "Unit_ID": (r"[0-9]{2}", "2 digits"),
    "Unit_Description": (_TEXT, "quoted ASCII text without surrounding spaces"),
    # 13 digits at most: every bound below is smaller, so a value is always finite.
    "Value": (r"-?[0-9]{1,13}\.[0-9]{4}", "a number with 4 decimals"),
}


def line_regex(names: list[str], capture: bool = False) -> str:
    """One data line of a file whose header is `names` (PSD columns in any order, extra
    columns anywhere); `capture`: one group per column. RE2 and Python `re` read it alike
    (without groups, RE2 checks a line with its fast DFA)."""
    parts = (FIELDS[n][0] if n in FIELDS else EXTRA for n in names)
    return ",".join(f"({p})" if capture else p for p in parts)


def field_fault(name: str, raw: str) -> str | None:
    """What is wrong with one raw field (quotes included), or None."""
    pattern, must = FIELDS.get(name, (EXTRA, "text or a bare token"))
    return None if re.fullmatch(pattern, raw) else f"{name} must be {must}"


# --- naming what is wrong with a line ----------------------------------------------------
def format_fault(text: str, names: list[str]) -> str:
    """Why a line does not have the format, naming the field."""
    raw, fault = split_line(text, names)
    if fault:
        return fault
    for name, value in zip(names, raw, strict=True):
        fault = field_fault(name, value)
        if fault:
            return f"{fault}, got {value[:40]!r}"
    return "not a PSD line"


# --- attribute ids -----------------------------------------------------------------------
# The FAS PSD attribute list (commodityAttributes, 2026-10), plus 219-221, which real
# releases carry (livestock: "Annual % Change Prod. To Sows", "Annual % Change Per Cap.
# Cons.", "Cows Entering the Herd") although the list lacks them. An id outside this set
# refuses the archive: if USDA has introduced a new attribute, add its id here.
ATTRIBUTE_IDS = frozenset(
    f"{i:03d}"
    for i in (
        *(1, 4, 5, 6, 7, 20, 22, 23, 25, 28, 29, 30, 31, 32, 33, 34, 43, 47, 48, 49, 53, 54),
        *(56, 57, 58, 62, 63, 64, 65, 71, 74, 75, 81, 82, 84, 86, 88, 89, 90, 94, 99, 104),
        *(107, 113, 114, 117, 118, 121, 122, 125, 126, 128, 130, 131, 132, 133, 135, 139),
        *(140, 141, 142, 147, 149, 150, 151, 152, 154, 155, 158, 161, 167, 169, 172, 173),
        *(174, 175, 176, 178, 181, 182, 183, 184, 192, 194, 195, 219, 220, 221),
    )
)

# --- bounds per unit -----------------------------------------------------------------------
# Largest |Value| per unit id, by kind of unit. The largest values in real releases: 1.2
# million (1000 HEAD), 0.5 million (1000 MT), 506 (PERCENT), 2,443 (KG/HA); no country
# reaches a tenth of these bounds, while a value in units instead of thousands, or an
# overflow, lands far beyond them.
THOUSANDS = 1e7  # 1000 MT, 1000 HEAD, 1000 HA, bags, bales, …; and millions, billions
UNITS = 1e12  # plain units: MT, HA, KG, HEAD, PEOPLE, BUSHELS, …
RATES = 1e6  # yields, percents, ratios, rates
_KINDS = {
    THOUSANDS: (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 16, 17, 25, 27, 38, 39),
    UNITS: (12, 13, 14, 18, 19, 20, 21, 22, 30, 31, 32, 36, 37, 40, 41),
    RATES: (11, 23, 24, 26, 28, 29, 33, 34, 35, 42),
}
UNIT_BOUNDS = {f"{u:02d}": limit for limit, units in _KINDS.items() for u in units}
OTHER_UNITS = UNITS  # a unit id not in the FAS list


def bound(unit_id: str) -> float:
    return UNIT_BOUNDS.get(unit_id, OTHER_UNITS)
