"""What a PSD commodity's numbers mean, by commodity group: how USDA labels its market
years and on which basis a world yield is computed. Each rule cites the USDA publication
it was checked against.

PSD commodity codes are hierarchical (04xxxxx grains, 22xxxxx oilseeds, 0711xxx coffee,
...), so a group is found by the longest code prefix it owns (`group_of`); a code no
group owns (a synthetic benchmark code, say) falls back to `OTHER`.
"""

from __future__ import annotations

from dataclasses import dataclass

BEGINS, ENDS, CALENDAR = "begins", "ends", "calendar"
LB_KG = 0.45359237
BALE_KG = 480 * LB_KG  # a 480-lb bale of lint: 217.72 kg


@dataclass(frozen=True)
class YieldBasis:
    """World yield = factor × Σ numerator / Σ area harvested (attribute 004), in `unit`."""

    numerator: str  # attribute id summed over countries
    factor: float
    unit: str
    basis: str = ""  # said next to the unit when it is not the production's own


@dataclass(frozen=True)
class Group:
    name: str
    title: str
    # How PSD's Market_Year becomes USDA's label: BEGINS 2022 -> "2022/23", ENDS 2023 ->
    # "2022/23", CALENDAR 2022 -> "2022".
    years: str
    prefixes: tuple[str, ...]
    yield_basis: YieldBasis | None = None


MT_PER_HA = YieldBasis("028", 1.0, "(MT/HA)")
GROUPS: tuple[Group, ...] = (
    # WASDE-630 (9 Nov 2022): world wheat production 2022/23 "782.7 million" tons
    # (https://scribd.com/document/609647360/USDA-WASDE-Nov-2022); the Nov 2022 grains file
    # sums to 782,675 for Market_Year 2022 (shared data README): 2022 is 2022/23.
    Group("grains", "Grains", BEGINS, ("04",), MT_PER_HA),
    # WASDE Nov 2022 soybeans are 2022/23 (U.S. year September-August), the year starting
    # in the calendar year PSD files it under, as for grains. Not checked against an
    # oilseeds file here (none in shared/): the rule is USDA's WASDE labelling.
    Group("oilseeds", "Oilseeds", BEGINS, ("22", "0813", "0814", "42"), MT_PER_HA),
    # WASDE Nov 2022: world cotton 2022/23 "116.43 million bales", U.S. "14.0 million"
    # (https://www.agriwatch.com/newsdetails.php?...&sid=621274); the Nov 2022 cotton file
    # has 116,429 and 14,031 for Market_Year 2022: 2022 is 2022/23. Yields are lint kg per
    # harvested hectare: U.S. 2022 14,031 bales x 217.72 kg / 3,187 thousand ha = 958.5,
    # PSD's own U.S. yield 959 kg/ha, NASS's 855 lb/acre x 1.12085 = 958 kg/ha
    # (https://www.hpj.com/crops/usda-issues-cotton-crop-report/article_b24ed9d4-70d2-11ed-b58f-279230503c57.html).
    Group("cotton", "Cotton", BEGINS, ("26",), YieldBasis("028", BALE_KG, "(KG/HA)")),
    # USDA's Nov 2022 "Sugar: World Markets and Trade": "in 2022/2023 global sugar
    # production ... 183,2 million tonnes" (http://ukrsugar.com/en/post/global-sugar-output-
    # 20222023-will-up-almost-3-stonex): a November release's newest year is the one that
    # began that October. Not checked against a sugar file here (none in shared/).
    Group("sugar", "Sugar", BEGINS, ("06",)),
    # Coffee is labelled by the year its season ends: the June 2022 coffee file's
    # Market_Year 2023 holds Brazil 64,300 thousand bags, USDA's June 2022 forecast for
    # "Marketing Year (MY) 2022/23 (July-June) at 64.3 million 60-kg bags"
    # (https://www.fas.usda.gov/data/search?reports%5B0%5D=report_commodities%3A609&reports%5B2%5D=report_datetime%3A2022-06)
    # and world consumption 167.04 million bags in 22/23
    # (https://safras.com.br/eng/usda-points-to-a-global-coffee-surplus-of-7-91-mln-bags-in-22-23).
    Group("coffee", "Coffee", ENDS, ("0711",)),
    # Livestock and poultry are calendar years: WASDE Oct 2022 forecasts U.S. beef for 2023
    # at 26.365 billion lb (11.96 million t; https://ziacommodities.com/wasde-raises-2022-
    # 2023-red-meat-poultry-production-forecasts/), the Oct 2022 livestock file's
    # Market_Year 2023 (12,017 thousand t CWE, PSD's carcass basis).
    Group("livestock", "Livestock and poultry", CALENDAR, ("00", "01")),
    # "Dairy: World Markets and Trade" reports calendar years, like livestock (no dairy file
    # in shared/ to check it against).
    Group("dairy", "Dairy", CALENDAR, ("02",)),
    # "Fresh Deciduous Fruit", "Citrus" and "Tree Nuts: World Markets and Trade" label split
    # years by the year the harvest begins (2022/23 = Market_Year 2022), as for grains; no
    # horticulture file in shared/ to check it against.
    Group("tree_nuts", "Tree nuts", BEGINS, ("05774", "05779")),
    Group("juice", "Juice", BEGINS, ("0585",)),
    Group("fruit", "Fruit", BEGINS, ("057",)),
)
OTHER = Group("other", "Other", BEGINS, ())
_BY_NAME = {g.name: g for g in (*GROUPS, OTHER)}

# Breakdown commodities and the primary commodity they split (psd_datasets: the Russia
# breakdown file's spring and winter wheat add up to Russia's wheat in the grains file).
PARENT_COMMODITY = {"0412000": "0410000", "0413000": "0410000"}

# Per commodity, where the group's rule does not fit: PSD's rice production (028) is
# milled, its country yields rough (paddy) basis: U.S. 2022 Rough Production (054) 7,454 /
# 881 thousand ha = 8.46, PSD's U.S. yield 8.46 (production 5,218 milled would give 5.92).
# The world's is then Σ rough production / Σ area, on the countries' basis.
YIELD_BASIS = {"0422110": YieldBasis("054", 1.0, "(MT/HA)", "rough basis")}


def group(name: str) -> Group:
    return _BY_NAME[name]


def group_of(commodity_code: str) -> Group:
    """The group owning the longest prefix of the code (OTHER when none does)."""
    code = PARENT_COMMODITY.get(commodity_code, commodity_code)
    best = OTHER
    for g in GROUPS:
        for p in g.prefixes:
            if code.startswith(p) and len(p) > max((len(q) for q in best.prefixes), default=0):
                best = g
    return best


def year_label(commodity_code: str, year: int) -> str:
    """USDA's label of a PSD Market_Year: "2022/23", or "2022" for calendar years."""
    rule = group_of(commodity_code).years
    if rule == CALENDAR:
        return str(year)
    start = year - 1 if rule == ENDS else year
    return f"{start}/{(start + 1) % 100:02d}"


def yield_basis(commodity_code: str) -> YieldBasis | None:
    """How a world yield of this commodity is computed (None: PSD reports no yield)."""
    code = PARENT_COMMODITY.get(commodity_code, commodity_code)
    return YIELD_BASIS.get(code) or group_of(code).yield_basis
