"""Unit conversions where USDA uses them: bushels, bales, bags, million metric tons, acres.

PSD serves each commodity's quantities in one unit ("(1000 MT)", "(1000 60 KG BAGS)",
"1000 480 lb. Bales", ...). `choices(code, psd_unit)` lists the units an analyst can
show them in, the PSD unit first, each with the factor that converts a PSD value.
Bushel weights are USDA's: wheat and soybeans 60 lb, corn (and sorghum, rye) 56 lb,
barley 48 lb, oats 32 lb; a pound is 0.45359237 kg. A US balance sheet in bushels shows
area in million acres and yield in bushels per acre, as WASDE's U.S. tables do
(`us_units`).
"""

from __future__ import annotations

from dataclasses import dataclass

from materia.core.errors import MateriaError
from materia.sources.psd_commodities import BALE_KG, LB_KG

# commodity code -> pounds per bushel
BUSHEL_LB = {
    "0410000": 60,  # wheat
    "2222000": 60,  # soybeans
    "0440000": 56,  # corn
    "0459200": 56,  # sorghum
    "0451000": 56,  # rye
    "0430000": 48,  # barley
    "0452000": 32,  # oats
}
BAG_KG = 60.0
ACRES_PER_HA = 1 / 0.40468564224  # an acre is 0.40468564224 ha


@dataclass(frozen=True)
class Unit:
    label: str  # as shown in a header: "million bushels"
    factor: float  # displayed value = PSD value × factor

    def convert(self, value: float | None) -> float | None:
        return None if value is None else value * self.factor


def bushels_per_mt(commodity_code: str) -> float | None:
    lb = BUSHEL_LB.get(commodity_code)
    return None if lb is None else 1000.0 / (lb * LB_KG)


def _key(psd_unit: str) -> str:
    return " ".join(psd_unit.strip().strip("()").lower().replace(".", "").split())


def choices(commodity_code: str, psd_unit: str) -> list[Unit]:
    """Units to show a commodity's quantities in, the PSD unit first."""
    key = _key(psd_unit)
    if key == "1000 mt":
        out = [Unit("1000 MT", 1.0), Unit("MMT", 0.001)]
        if (bu := bushels_per_mt(commodity_code)) is not None:
            out.append(Unit("million bushels", bu / 1000))
        return out
    if key == "1000 60 kg bags":
        return [
            Unit("1000 60-kg bags", 1.0),
            Unit("million 60-kg bags", 0.001),
            Unit("1000 MT", BAG_KG / 1000),
        ]
    if key == "1000 480 lb bales":
        return [
            Unit("1000 480-lb bales", 1.0),
            Unit("million 480-lb bales", 0.001),
            Unit("1000 MT", BALE_KG / 1000),
        ]
    if key == "1000 mt cwe":
        return [Unit("1000 MT CWE", 1.0), Unit("MMT CWE", 0.001)]
    return [Unit(psd_unit.strip().strip("()") or "as reported", 1.0)]


def by_label(commodity_code: str, psd_unit: str, label: str | None) -> Unit:
    """The unit of that label among `choices` (the PSD unit when `label` is None)."""
    options = choices(commodity_code, psd_unit)
    if label is None:
        return options[0]
    for u in options:
        if u.label == label:
            return u
    known = ", ".join(u.label for u in options)
    raise MateriaError(f"unit {label!r} does not apply to {psd_unit}: use one of {known}")


def us_units(commodity_code: str, unit: Unit | None) -> tuple[Unit, Unit] | None:
    """(area, yield) units of a US balance sheet whose quantities are in bushels: million
    acres (from 1000 HA) and bushels per acre (from MT/HA); None for any other unit."""
    bu = bushels_per_mt(commodity_code)
    if unit is None or bu is None or unit.label != "million bushels":
        return None
    return Unit("million acres", ACRES_PER_HA / 1000), Unit("bushels per acre", bu / ACRES_PER_HA)
