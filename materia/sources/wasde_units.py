"""WASDE's units, normalized: USDA writes them as free text, inconsistently, so each
spelling seen in a real report maps to one code here (the models join this mapping
through `sqlmesh_materia/macros/wasde_codes.py`, and a unit it lacks fails the audit
`wasde_unit_known`, naming the text: add it here, never guess).

The November 2025 file (../shared/data/wasde/README.md) spells one unit several ways
("Million 480-Pound Bales", "Million 480-lb. Bales", "Million 480-Pounds Bales",
"Million 480 Pound Bales"; "Million Acres" and "mil. acres"; "$/cwt", "Dol./cwt",
"Dollars Per Cwt") and labels a few lines with their table's quantity unit although they
are not quantities (cotton's farm price as "Million 480 Pound Bales", sugar's
stocks-to-use ratio as "1000 Short Tons, Raw Value", meat's per-capita use as "Million
Pounds"): `FIXES` gives those lines, by attribute and printed unit, their real unit.
"""

from __future__ import annotations

QUANTITY, AREA, YIELD, PRICE, RATIO, COUNT = "quantity", "area", "yield", "price", "ratio", "count"

# code -> (label, measure)
CODES: dict[str, tuple[str, str]] = {
    "mmt": ("million metric tons", QUANTITY),
    "kmt_actual": ("1000 metric tons, actual weight", QUANTITY),
    "mil_bu": ("million bushels", QUANTITY),
    "mil_bales": ("million 480-lb bales", QUANTITY),
    "mil_lb": ("million pounds", QUANTITY),
    "bil_lb": ("billion pounds", QUANTITY),
    "mil_doz": ("million dozen", QUANTITY),
    "mil_cwt": ("million hundredweight", QUANTITY),
    "k_st": ("1000 short tons", QUANTITY),
    "k_st_raw": ("1000 short tons, raw value", QUANTITY),
    "mil_acres": ("million acres", AREA),
    "bu_per_acre": ("bushels per acre", YIELD),
    "lb_per_acre": ("pounds per acre", YIELD),
    "mt_per_ha": ("metric tons per hectare", YIELD),
    "usd_per_bu": ("$ per bushel", PRICE),
    "usd_per_cwt": ("$ per cwt", PRICE),
    "usd_per_st": ("$ per short ton", PRICE),
    "usd_per_lb": ("$ per pound", PRICE),
    "cents_per_lb": ("cents per pound", PRICE),
    "cents_per_doz": ("cents per dozen", PRICE),
    "percent": ("percent", RATIO),
    "lb_per_person": ("pounds per person", RATIO),
    "eggs_per_person": ("eggs per person", RATIO),
    "years": ("years", COUNT),
}

# The decimals WASDE prints a unit with (quantities in millions of bushels or pounds
# whole, acres and yields to a tenth, prices to the cent).
DECIMALS = {
    "mil_bu": 0, "mil_lb": 0, "k_st": 0, "k_st_raw": 0, "kmt_actual": 0, "lb_per_acre": 0,
    "mil_acres": 1, "bu_per_acre": 1, "bil_lb": 1, "mil_doz": 1, "mil_cwt": 1, "percent": 1,
    "lb_per_person": 1, "eggs_per_person": 1, "years": 0,
}  # fmt: skip


def decimals(unit_code: str | None) -> int:
    return DECIMALS.get(unit_code or "", 2)


# The unit as USDA prints it -> its code.
UNITS: dict[str, str] = {
    "Million Metric Tons": "mmt",
    "1000 Metric Tons, Actual Weight": "kmt_actual",
    "Million Bushels": "mil_bu",
    "Million 480-Pound Bales": "mil_bales",
    "Million 480-lb. Bales": "mil_bales",
    "Million 480-Pounds Bales": "mil_bales",
    "Million 480 Pound Bales": "mil_bales",
    "Million Pounds": "mil_lb",
    "Billion Pounds": "bil_lb",
    "Million Dozen": "mil_doz",
    "Million Dosen": "mil_doz",  # sic, in the reliability table
    "Million Hundredweight": "mil_cwt",
    "Thousand Short Tons": "k_st",
    "1000 Short Tons, Raw Value": "k_st_raw",
    "Million Acres": "mil_acres",
    "mil. acres": "mil_acres",
    "bushels/acre": "bu_per_acre",
    "pounds/acre": "lb_per_acre",
    "$/bu": "usd_per_bu",
    "$/cwt": "usd_per_cwt",
    "Dol./cwt": "usd_per_cwt",
    "Dollars Per Cwt": "usd_per_cwt",
    "$/s.t.": "usd_per_st",
    "Dollars Per Pound": "usd_per_lb",
    "Cents/lb.": "cents_per_lb",
    "c/lb": "cents_per_lb",
    "Cents/Doz.": "cents_per_doz",
    "%": "percent",
    "Percent": "percent",
    "Years": "years",
}

# (attribute, unit as printed) -> code: a line whose printed unit is not what it is in.
FIXES: dict[tuple[str, str], str] = {
    ("Yield per Harvested Acre", "Bushels"): "bu_per_acre",
    ("Yield per Harvested Acre", "Pounds"): "lb_per_acre",
    ("Yield per Harvested Acre", "Metric Tons"): "mt_per_ha",  # feed grains
    ("Harvested Acres", "mil."): "mil_acres",  # rice by class
    ("Milled", "rough equiv."): "mil_cwt",  # rice exports, milled, in rough equivalent
    ("Avg. Farm Price", "Million 480 Pound Bales"): "cents_per_lb",  # cotton: cents/lb
    ("Stocks to Use Ratio", "1000 Short Tons, Raw Value"): "percent",  # sugar
    ("Per Capita", "Million Pounds"): "lb_per_person",  # meats, retail weight
    ("Per Capita", "number"): "eggs_per_person",
}


def code(attribute: str, unit: str) -> str | None:
    """The unit code of a line, None when the mapping does not know its unit."""
    return FIXES.get((attribute, unit)) or UNITS.get(unit)


def label(unit_code: str) -> str:
    return CODES[unit_code][0]


def unit_rows() -> list[tuple[str, str, str, str]]:
    """(unit as printed, code, label, measure) for the models."""
    return [(u, c, *CODES[c]) for u, c in sorted(UNITS.items())]


def fix_rows() -> list[tuple[str, str, str, str, str]]:
    """(attribute, unit as printed, code, label, measure) for the models."""
    return [(a, u, c, *CODES[c]) for (a, u), c in sorted(FIXES.items())]
