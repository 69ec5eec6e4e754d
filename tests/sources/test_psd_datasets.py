"""materia.sources.psd_datasets: every file PSD Online publishes, as data, and the one refusal of a
file nobody registered."""

from __future__ import annotations

import csv

import pytest

from materia.core.errors import MateriaError
from materia.sources import psd_commodities, psd_datasets


def test_every_file_is_registered_once_with_its_role_groups_and_units():
    files = [d.file for d in psd_datasets.DATASETS]
    assert len(files) == len(set(files))
    assert {d.file for d in psd_datasets.DATASETS if d.is_breakdown} == {
        "psd_eu_area_prod_csv.zip",
        "psd_russiabreakdown_area_prod_csv.zip",
    }
    groups = {g.name for g in (*psd_commodities.GROUPS, psd_commodities.OTHER)}
    for d in psd_datasets.DATASETS:
        assert d.file.startswith("psd_") and d.file.endswith("_csv.zip"), d.file
        assert d.role in (psd_datasets.PRIMARY, psd_datasets.BREAKDOWN)
        assert d.groups and set(d.groups) <= groups and d.units, d.file
        # A breakdown names the reporting unit it splits; a primary file splits nothing.
        assert (d.parent_country is not None) == d.is_breakdown, d.file
    # Every commodity group has a primary file (alldata holds them all, even a code no
    # group owns).
    for g in groups:
        assert "psd_alldata_csv" in {d.stem for d in psd_datasets.holding(g)}
    assert [d.stem for d in psd_datasets.holding("coffee")] == ["psd_alldata_csv", "psd_coffee_csv"]


def test_a_file_by_name_or_landing_stem():
    assert psd_datasets.dataset("psd_grains_pulses_csv.zip").stem == "psd_grains_pulses_csv"
    assert psd_datasets.dataset("psd_grains_pulses_csv").file == "psd_grains_pulses_csv.zip"
    russia = psd_datasets.dataset("psd_russiabreakdown_area_prod_csv")
    assert (russia.role, russia.parent_country) == ("breakdown", "RS")


def test_an_unregistered_file_is_refused_in_one_line_naming_it():
    with pytest.raises(MateriaError) as refused:
        psd_datasets.dataset("psd_tobacco_csv.zip")
    line = str(refused.value)
    assert "\n" not in line
    assert line.startswith("psd_tobacco_csv.zip is not a registered PSD dataset")
    assert "materia/sources/psd_datasets.py" in line and "psd_alldata_csv.zip" in line
    with pytest.raises(MateriaError, match=r"^psd/x/2022/11/e.zip: psd_x.zip is not"):
        psd_datasets.landed("psd_x", "psd/x/2022/11/e.zip")


def test_the_eu_members_are_psd_country_codes(shared_psd_dir):
    """The member lists use PSD's own codes (lookups/countries.csv), region R05."""
    with open(shared_psd_dir / "lookups" / "countries.csv", newline="") as f:
        region = {r["countryCode"]: r["regionCode"] for r in csv.DictReader(f)}
    for union, members in psd_datasets.UNIONS.items():
        assert region[union] == "R05"
        assert all(region[m] == "R05" for m in members), union
    assert len(set(psd_datasets.EU27)) == 28  # 27 states; Belgium also as Belgium-Luxembourg


def test_every_psd_commodity_belongs_to_a_group(shared_psd_dir):
    """The 63 commodities of PSD's code list (lookups/commodities.csv) each have a group,
    hence a market-year rule."""
    with open(shared_psd_dir / "lookups" / "commodities.csv", newline="") as f:
        codes = {r["commodityCode"]: r["commodityName"] for r in csv.DictReader(f)}
    groups = {code: psd_commodities.group_of(code).name for code in codes}
    assert [c for c, g in groups.items() if g == "other"] == []
    assert groups["0711100"] == "coffee" and groups["0577400"] == "tree_nuts"
    assert groups["0585100"] == "juice" and groups["0574000"] == "fruit"
    assert groups["0813100"] == "oilseeds" and groups["4232000"] == "oilseeds"
    assert groups["0223000"] == "dairy" and groups["0114200"] == "livestock"
    assert psd_commodities.group_of("0412000").name == "grains"  # spring wheat, a breakdown
