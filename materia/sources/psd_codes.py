"""The PSD file format and the codes materia gives meaning to, defined once for the
extractor, the raw layer, the SQLMesh macros and the notebook.

Keyed on PSD attribute ids, never on their labels (labels drift between releases, e.g.
cotton 142 "USE Dom. Consumption" became "Domestic Use").
"""

# The columns of every PSD CSV, in order; the header line is these joined by commas.
COLUMNS = (
    "Commodity_Code",
    "Commodity_Description",
    "Country_Code",
    "Country_Name",
    "Market_Year",
    "Calendar_Year",
    "Month",
    "Attribute_ID",
    "Attribute_Description",
    "Unit_ID",
    "Unit_Description",
    "Value",
)
HEADER = ",".join(COLUMNS)

# The key metrics: the pivoted column name → PSD attribute id.
METRICS = {
    "area_harvested": "004",
    "yield": "184",
    "beginning_stocks": "020",
    "production": "028",
    "imports": "057",
    "total_supply": "086",
    "exports": "088",
    "domestic_consumption": "125",
    "feed_consumption": "130",
    "ending_stocks": "176",
    "total_distribution": "178",
}

# --- the balance sheet: every supply and use line PSD reports, by attribute id -------------
# Supply: beginning stocks + production + imports = total supply (086). Use: the top-level
# use lines + ending stocks = total distribution (178). A line with a parent is part of it
# (shown under it, never added twice); when a commodity reports a part without its parent
# (fruit has Fresh Dom. Consumption and For Processing but no Domestic Consumption), the
# part is a line of its own. What the lines are comes from PSD's own layouts, checked on
# the shared releases: cotton Domestic Consumption (125) = Domestic Use (142) + Loss (150);
# cattle and swine numbers: Exports + Total Slaughter (117) + Loss and Residual (172) +
# Ending Stocks = Total Distribution.
SUPPLY, USE, MEMO = "supply", "use", "memo"
TOTAL_SUPPLY, TOTAL_DISTRIBUTION = "086", "178"
BALANCE_LINES: dict[str, tuple[str, str | None]] = {  # id -> (side, parent id)
    "020": (SUPPLY, None),  # Beginning Stocks
    "022": (SUPPLY, "020"), "023": (SUPPLY, "020"), "025": (SUPPLY, "020"),  # sows, cows
    "028": (SUPPLY, None),  # Production
    "029": (SUPPLY, "028"), "030": (SUPPLY, "028"), "031": (SUPPLY, "028"),
    "032": (SUPPLY, "028"), "034": (SUPPLY, "028"), "043": (SUPPLY, "028"),
    "047": (SUPPLY, "028"), "048": (SUPPLY, "028"), "049": (SUPPLY, "028"),
    "053": (SUPPLY, "028"), "056": (SUPPLY, "028"),
    "057": (SUPPLY, None),  # Imports
    "058": (SUPPLY, "057"), "064": (SUPPLY, "057"), "065": (SUPPLY, "057"),
    "071": (SUPPLY, "057"), "074": (SUPPLY, "057"), "075": (SUPPLY, "057"),
    "082": (SUPPLY, "057"),
    "125": (USE, None),  # Domestic Consumption (sugar's Total Use, oilseeds' Total Dom. Cons.)
    "007": (USE, "125"), "128": (USE, "125"), "130": (USE, "125"), "131": (USE, "125"),
    "132": (USE, "125"), "133": (USE, "125"), "135": (USE, "125"), "139": (USE, "125"),
    "140": (USE, "125"), "141": (USE, "125"), "142": (USE, "125"), "147": (USE, "125"),
    "149": (USE, "125"), "150": (USE, "125"), "151": (USE, "125"), "152": (USE, "125"),
    "154": (USE, "125"), "155": (USE, "125"), "158": (USE, "125"), "161": (USE, "125"),
    "167": (USE, "125"), "169": (USE, "125"), "192": (USE, "125"),
    "088": (USE, None),  # Exports
    "089": (USE, "088"), "090": (USE, "088"), "099": (USE, "088"), "104": (USE, "088"),
    "107": (USE, "088"), "114": (USE, "088"),
    "117": (USE, None),  # Total Slaughter
    "118": (USE, "117"), "121": (USE, "117"), "122": (USE, "117"),
    "172": (USE, None),  # Loss and Residual
    "176": (USE, None),  # Ending Stocks
}  # fmt: skip
# Area and yield head the sheet; other attributes (trade years, rates, ratios) are memo
# lines below it: shown, never part of the identity.
AREA_LINES = ("001", "004")
YIELD = "184"
# Lines that are no quantity: never summed over countries (rates, ratios, percentages).
NOT_ADDITIVE = ("181", "182", "183", "184", "195", "219", "220")
