"""What the WASDE report's tables mean, as data: the one definition the SQLMesh models
(through `sqlmesh_materia/macros/wasde_codes.py`) and the workbench read.

- `AGGREGATES`: the regions that are groups of countries (World, Major Exporters, …).
  WASDE prints selected countries and groups side by side and never all countries, so
  no region is ever summed into another: a group is shown as USDA prints it.
- `US_SHEETS`: every U.S. supply-and-use table, its lines in WASDE's order and the
  identities that hold between them (measured on the November 2025 report,
  ../shared/data/wasde/README.md): supply = beginning stocks + production + imports;
  supply = the use lines + ending stocks; a total = its parts (corn's Domestic, Total =
  Feed and Residual + Food, Seed & Industrial). A sub-line USDA prints inside another
  (corn's Ethanol & by-products within Food, Seed & Industrial) is `within` it: at most
  the line, never added.
- `PSD_MATCHES`: which WASDE figures are PSD's, for the cross-source audit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

US = "United States"
WORLD = "World"
AGGREGATES = (
    "World", "World Less China", "Total Foreign", "Foreign", "Major Exporters",
    "Major Importers", "European Union", "N. Africa", "North Africa", "N. Afr & Mideast",
    "Sel. Mideast", "Southeast Asia", "S. Hemis.", "Afr. Fr. Zone", "Central Asia",
    "C. Amer & Carib",
)  # fmt: skip

# The world tables' lines in WASDE's order (rice's domestic use is "Total  Domestic").
WORLD_LINES = (
    "Beginning Stocks", "Production", "Imports", "Domestic Feed", "Domestic Crush",
    "Domestic Total", "Total  Domestic", "Domestic Use", "Loss", "Exports", "Ending Stocks",
    "Output", "Total Supply", "Trade", "Total Use",
)  # fmt: skip
# USDA's balancing lines absorb the statistical discrepancy and may be negative (white
# wheat's feed and residual, cotton's unaccounted and loss, sugar's miscellaneous).
RESIDUALS = ("Unaccounted", "Loss", "Miscellaneous", "Feed and Residual", "Residual")

B, P, I_ = "Beginning Stocks", "Production", "Imports"  # noqa: E741
SUPPLY, USE, END = "Supply, Total", "Use, Total", "Ending Stocks"


@dataclass(frozen=True)
class Sheet:
    """One U.S. supply-and-use table (its commodities share the lines' names)."""

    title: str
    lines: tuple[str, ...]  # in WASDE's order (area, yield, supply side, use side, price)
    supply: str = SUPPLY
    sources: tuple[str, ...] = (B, P, I_)
    # the commodities held to supply = sources ("*": all); USDA's by-class rice rows carry
    # class adjustments in their supply, so only all rice (rough) sums that way
    sources_for: tuple[str, ...] = ("*",)
    uses: tuple[str, ...] = (USE,)
    ending: str = END
    # total -> its parts, per commodity ("*": every commodity of the table)
    parts: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    within: dict[str, tuple[str, ...]] = field(default_factory=dict)  # line -> sub-lines


_AREA = ("Area Planted", "Area Harvested", "Yield per Harvested Acre")
_PRICE = ("Avg. Farm Price",)
US_SHEETS: tuple[Sheet, ...] = (
    Sheet(
        "U.S. Wheat Supply and Use",
        (
            *_AREA,
            B,
            P,
            I_,
            SUPPLY,
            "Food",
            "Seed",
            "Feed and Residual",
            "Domestic, Total",
            "Exports",
            USE,
            END,
            *_PRICE,
        ),
        parts={
            ("*", "Domestic, Total"): ("Food", "Seed", "Feed and Residual"),
            ("*", USE): ("Domestic, Total", "Exports"),
        },
    ),  # fmt: skip
    Sheet(
        "U.S. Feed Grain and Corn Supply and Use",
        (
            *_AREA,
            B,
            P,
            I_,
            SUPPLY,
            "Feed and Residual",
            "Food, Seed & Industrial",
            "Ethanol & by-products",
            "Domestic, Total",
            "Exports",
            USE,
            END,
            *_PRICE,
        ),
        parts={
            ("*", "Domestic, Total"): ("Feed and Residual", "Food, Seed & Industrial"),
            ("*", USE): ("Domestic, Total", "Exports"),
        },
        within={"Food, Seed & Industrial": ("Ethanol & by-products",)},
    ),  # fmt: skip
    Sheet(
        "U.S. Sorghum, Barley, and Oats Supply and Use",
        (
            "Area Planted",
            "Area Harvested",
            "Yield",
            B,
            P,
            I_,
            SUPPLY,
            "Feed and Residual",
            "Food, Seed & Industrial",
            "Total Domestic",
            "Exports",
            USE,
            END,
            *_PRICE,
        ),
        parts={
            ("*", "Total Domestic"): ("Feed and Residual", "Food, Seed & Industrial"),
            ("*", USE): ("Total Domestic", "Exports"),
        },
    ),  # fmt: skip
    Sheet(
        "U.S. Rice Supply and Use",
        (
            "Area Planted",
            "Area Harvested",
            "Harvested Acres",
            "Yield per Harvested Acre",
            "Yield",
            B,
            P,
            "California",
            "Other States",
            I_,
            SUPPLY,
            "Domestic & Residual",
            "Exports",
            "Exports, Total",
            "Rough",
            "Milled",
            USE,
            END,
            *_PRICE,
            "Avg. Milling Yield",
        ),
        parts={
            ("Rice, Rough", USE): ("Domestic & Residual", "Exports, Total"),
            ("Rice, Rough", "Exports, Total"): ("Rough", "Milled"),
            ("Rice, Long", USE): ("Domestic & Residual", "Exports"),
            ("Rice, Med and Short", USE): ("Domestic & Residual", "Exports"),
        },
        sources_for=("Rice, Rough",),
    ),  # fmt: skip
    Sheet(
        "U.S. Soybeans and Products Supply and Use (Domestic Measure)",
        (
            *_AREA,
            B,
            P,
            I_,
            SUPPLY,
            "Crushings",
            "Biofuel",
            "Food, Feed & other Industrial",
            "Domestic Disappearance",
            "Exports",
            "Seed",
            "Residual",
            USE,
            END,
            "Ending stocks",
            *_PRICE,
        ),
        parts={
            ("Oilseed, Soybean", USE): ("Crushings", "Exports", "Seed", "Residual"),
            ("Meal, Soybean", USE): ("Domestic Disappearance", "Exports"),
            ("Oil, Soybean", USE): ("Domestic Disappearance", "Exports"),
            ("Oil, Soybean", "Domestic Disappearance"): (
                "Biofuel",
                "Food, Feed & other Industrial",
            ),
        },
    ),  # fmt: skip
    Sheet(
        "U.S. Cotton Supply and Use",
        (
            "Planted",
            "Harvested",
            "Yield per Harvested Acre",
            B,
            P,
            I_,
            SUPPLY,
            "Domestic Use",
            "Exports, Total",
            USE,
            "Unaccounted",
            END,
            *_PRICE,
        ),
        uses=(USE, "Unaccounted"),  # USDA's balancing line: supply = use + unaccounted + ending
        parts={("*", USE): ("Domestic Use", "Exports, Total")},
    ),  # fmt: skip
    Sheet(
        "U.S. Sugar Supply and Use",
        (
            B,
            P,
            "Beet Sugar",
            "Cane Sugar",
            "Florida",
            "Louisiana",
            "Texas",
            I_,
            "TRQ",
            "Other Program",
            "Non-program",
            "Mexico",
            "High-tier tariff/other",
            "Total Supply",
            "Exports",
            "Deliveries",
            "Food",
            "Miscellaneous",
            "Exports - Other",
            "Total Use",
            END,
            "Stocks to Use Ratio",
        ),
        supply="Total Supply",
        uses=("Total Use",),
        parts={
            ("*", P): ("Beet Sugar", "Cane Sugar"),
            ("*", "Cane Sugar"): ("Florida", "Louisiana", "Texas"),
            ("*", I_): ("TRQ", "Other Program", "Non-program"),
            ("*", "Non-program"): ("Mexico", "High-tier tariff/other"),
            ("*", "Total Use"): ("Exports", "Deliveries", "Miscellaneous"),
        },
        within={"Deliveries": ("Food",)},
    ),  # fmt: skip
    Sheet(
        "U.S. Meats Supply and Use",
        ("Beginning stocks", P, I_, "Total Supply", "Exports", "Total Use", END, "Per Capita"),
        supply="Total Supply",
        sources=("Beginning stocks", P, I_),
        uses=("Total Use", "Exports"),  # Total Use is domestic use: exports beside it
    ),  # fmt: skip
    Sheet(
        "U.S. Egg Supply and Use",
        (
            B,
            P,
            I_,
            "Total Supply",
            "Exports",
            "Hatching Use",
            "Disappearance Total",
            END,
            "Per Capita",
        ),
        supply="Total Supply",
        uses=("Disappearance Total", "Exports", "Hatching Use"),
    ),  # fmt: skip
    Sheet(
        "U.S. Milk Supply and Use",
        (P, "Farm Use", B, "Marketings", I_, "Total Supply", "Exports", "Domestic Use", END),
        supply="Total Supply",
        sources=(B, "Marketings", I_),
        uses=("Domestic Use", "Exports"),
    ),  # fmt: skip
    Sheet(
        "U.S. Wheat by Class: Supply and Use",
        (
            B,
            P,
            I_,
            SUPPLY,
            "Food",
            "Seed",
            "Feed and Residual",
            "Domestic Use",
            "Exports",
            USE,
            "Ending Stocks, Total",
        ),
        ending="Ending Stocks, Total",
        parts={
            ("*", "Domestic Use"): ("Food", "Seed", "Feed and Residual"),
            ("*", USE): ("Domestic Use", "Exports"),
        },
    ),  # fmt: skip
)
SHEETS = {s.title: s for s in US_SHEETS}


def balance_rows() -> list[tuple[str, str, str, str, str, int]]:
    """(report_title, commodity, attribute, role, total, parts) for the audit
    `wasde_us_balance`: the line is a term of an identity whose other side is the line
    `total` (role `sources`: supply = beginning + production + imports; `uses`: supply =
    uses + ending stocks; `parts`: a total = its parts), with `parts` terms in all (so a
    commodity that prints some of them only is not held to it); or a sub-line `within`
    `total`. `commodity` "*": every commodity of the table."""
    out = []
    for s in US_SHEETS:
        n = len(s.sources)
        out += [(s.title, c, a, "sources", s.supply, n) for c in s.sources_for for a in s.sources]
        uses = (*s.uses, s.ending)
        out += [(s.title, "*", a, "uses", s.supply, len(uses)) for a in uses]
        for (commodity, total), parts in s.parts.items():
            out += [(s.title, commodity, a, "parts", total, len(parts)) for a in parts]
        for total, subs in s.within.items():
            out += [(s.title, "*", a, "within", total, 1) for a in subs]
    return out


# --- against PSD -------------------------------------------------------------------------------
# (report_title, WASDE commodity, PSD commodity code, factor to PSD's unit, precision USDA
# prints the table's quantities with, in the WASDE unit). World tables are in million
# metric tons (cotton: million 480-lb bales), PSD in 1000 MT (1000 480-lb bales); U.S.
# tables in million bushels, converted with USDA's bushel weights (bushels per metric
# ton: corn 39.3683, wheat and soybeans 36.7437).
BUSHELS_PER_TONNE = {"0440000": 39.3683, "0410000": 36.7437, "2222000": 36.7437}
WORLD_TABLES = (
    ("World Wheat Supply and Use", "Wheat", "0410000"),
    ("World Corn Supply and Use", "Corn", "0440000"),
    ("World Rice Supply and Use  (Milled Basis)", "Rice", "0422110"),
    ("World Soybean Supply and Use", "Oilseed, Soybean", "2222000"),
    ("World Soybean Meal Supply and Use", "Soybean Meal", "0813100"),
    ("World Soybean Oil Supply and Use", "Soybean Oil", "4232000"),
    ("World Cotton Supply and Use", "Cotton", "2631000"),
)
US_TABLES = (
    ("U.S. Feed Grain and Corn Supply and Use", "Corn", "0440000"),
    ("U.S. Wheat Supply and Use", "Wheat", "0410000"),
    ("U.S. Soybeans and Products Supply and Use (Domestic Measure)", "Oilseed, Soybean", "2222000"),
    ("U.S. Cotton Supply and Use", "Cotton", "2631000"),
)
DOMESTIC = ("Domestic Total", "Total  Domestic")  # world tables' domestic use (not cotton)
# PSD attribute ids: production, ending stocks, domestic consumption
PSD_ATTRIBUTES = {"Production": "028", "Ending Stocks": "176", "Domestic": "125"}


def psd_matches() -> list[tuple[str, str, str, str, str, str, float, float]]:
    """(report_title, commodity, region, attribute, psd commodity code, psd attribute id,
    factor to PSD's unit, half the printed precision in PSD's unit): the figures the
    cross-source audit compares (`cleaned.cln_wasde_psd`). World domestic use is compared
    by the trade-gap rule: PSD's is the sum over countries, WASDE's that minus (world
    exports - world imports)."""
    out = []
    for title, commodity, code in WORLD_TABLES:
        for region in (WORLD, US):
            for attribute in ("Production", "Ending Stocks", *DOMESTIC):
                psd = PSD_ATTRIBUTES["Domestic" if attribute in DOMESTIC else attribute]
                out.append((title, commodity, region, attribute, code, psd, 1000.0, 5.0))
    for title, commodity, code in US_TABLES:
        factor = 1000.0 / BUSHELS_PER_TONNE[code] if code in BUSHELS_PER_TONNE else 1000.0
        half = 0.5 * factor if code in BUSHELS_PER_TONNE else 5.0  # whole bushels; 0.01 bales
        for attribute in ("Production", "Ending Stocks"):
            out.append((title, commodity, US, attribute, code, PSD_ATTRIBUTES[attribute], factor, half))  # fmt: skip
    return out
