"""materia.workbench.units: the conversions USDA uses (bushels, bales, bags, million metric tons)."""

from __future__ import annotations

import pytest

from materia.core.errors import MateriaError
from materia.workbench import units

KG_PER_LB = 0.45359237


def _labels(code: str, psd_unit: str) -> list[str]:
    return [u.label for u in units.choices(code, psd_unit)]


def test_bushels_follow_each_grains_bushel_weight():
    wheat = units.by_label("0410000", "(1000 MT)", "million bushels")
    corn = units.by_label("0440000", "(1000 MT)", "million bushels")
    # 1,000 MT of wheat is 1,000,000 kg / 27.2155 kg per 60-lb bushel = 36,744 bushels.
    assert wheat.convert(1000.0) == pytest.approx(1000 * 1_000_000 / (60 * KG_PER_LB) / 1e6)
    assert round(wheat.factor * 1000, 4) == 36.7437
    assert round(corn.factor * 1000, 4) == 39.3683  # 56-lb bushels
    assert _labels("0410000", "(1000 MT)") == ["1000 MT", "MMT", "million bushels"]
    assert _labels("0422110", "(1000 MT)") == ["1000 MT", "MMT"]  # rice: no bushels
    assert units.by_label("0410000", "(1000 MT)", "MMT").convert(782_675.0) == pytest.approx(782.675)  # fmt: skip


def test_bales_bags_and_carcass_weight():
    bales = units.choices("2631000", "1000 480 lb. Bales")
    assert [u.label for u in bales] == ["1000 480-lb bales", "million 480-lb bales", "1000 MT"]
    assert bales[2].convert(14_031.0) == pytest.approx(14_031 * 480 * KG_PER_LB / 1000)
    bags = units.choices("0711100", "(1000 60 KG BAGS)")
    assert bags[2].convert(62_600.0) == pytest.approx(62_600 * 0.06)
    assert bags[1].convert(62_600.0) == pytest.approx(62.6)
    assert _labels("0111000", "(1000 MT CWE)") == ["1000 MT CWE", "MMT CWE"]
    assert _labels("0011000", "(1000 HEAD)") == ["1000 HEAD"]  # nothing to convert
    assert units.by_label("0011000", "(1000 HEAD)", None).convert(None) is None
    with pytest.raises(MateriaError, match="unit 'million bushels' does not apply to"):
        units.by_label("0711100", "(1000 60 KG BAGS)", "million bushels")


def test_a_us_sheet_in_bushels_uses_acres_and_bushels_per_acre():
    bushels = units.by_label("0440000", "(1000 MT)", "million bushels")
    area, per_acre = units.us_units("0440000", bushels)
    # 1,000 ha = 2,471 acres; 10.8 t/ha of corn = 10.8 x 39.368 bu / 2.471 acres.
    assert (area.label, per_acre.label) == ("million acres", "bushels per acre")
    assert area.convert(1000.0) == pytest.approx(1000 / 0.40468564224 / 1000)
    assert per_acre.convert(10.8) == pytest.approx(10.8 * 1000 / (56 * KG_PER_LB) * 0.40468564224)  # fmt: skip
    assert units.us_units("0440000", units.by_label("0440000", "(1000 MT)", "MMT")) is None
    assert units.us_units("0422110", bushels) is None  # rice has no bushels
