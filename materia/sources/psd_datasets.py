"""Every file PSD Online publishes, as data: what each holds and how its rows may be summed.

PSD Online (https://apps.fas.usda.gov/psdonline/app/index.html#/app/downloads) serves one
zip per dataset, all extracts of the same database and all in the same CSV format:

- **primary** files, whose countries are USDA's reporting units: summed over every row
  they give USDA's world totals (the EU as E4, the USSR as UR before 1987, ...);
- **breakdown** files, which split a reporting unit into parts that must never enter a
  world total: `psd_eu_area_prod_csv.zip` lists EU member states (FR, GM, ...) under the
  same commodity codes as the EU row (E4) of the primary files, and
  `psd_russiabreakdown_area_prod_csv.zip` splits Russia's wheat into spring and winter
  wheat (codes 0412000, 0413000 under 0410000, `psd_commodities.PARENT_COMMODITY`).

A file not listed here is refused, by the extractor and by the transform, with one line
naming it (`dataset`): it is published only once someone has said which kind it is.
The SQLMesh models read this registry through macros (`sqlmesh_materia/macros/
psd_registry.py`), so the models and the read side share this one definition.
"""

from __future__ import annotations

from dataclasses import dataclass

from materia.core.errors import MateriaError

PRIMARY, BREAKDOWN = "primary", "breakdown"


@dataclass(frozen=True)
class Dataset:
    file: str  # as PSD Online names it: psd_grains_pulses_csv.zip
    title: str
    role: str  # PRIMARY or BREAKDOWN
    groups: tuple[str, ...]  # commodity groups it holds (psd_commodities.GROUPS)
    units: tuple[str, ...]  # the units its quantities come in, as PSD writes them
    parent_country: str | None = None  # a breakdown: the reporting unit it splits

    @property
    def stem(self) -> str:
        """The landing key's dataset: the file name without `.zip`."""
        return self.file.removesuffix(".zip")

    @property
    def is_breakdown(self) -> bool:
        return self.role == BREAKDOWN


_ALL_GROUPS = (
    "grains", "oilseeds", "cotton", "sugar", "coffee", "livestock", "dairy", "fruit", "juice",
    "tree_nuts", "other",
)  # fmt: skip
_FILES: tuple[Dataset, ...] = (
    Dataset("psd_coffee_csv.zip", "Coffee", PRIMARY, ("coffee",), ("(1000 60 KG BAGS)",)),
    Dataset(
        "psd_cotton_csv.zip",
        "Cotton",
        PRIMARY,
        ("cotton",),
        ("1000 480 lb. Bales", "(1000 HA)", "(KG/HA)"),
    ),  # fmt: skip
    Dataset("psd_dairy_csv.zip", "Dairy", PRIMARY, ("dairy",), ("(1000 MT)", "(1000 HEAD)")),
    Dataset(
        "psd_fruits_vegetables_csv.zip",
        "Fruits and vegetables",
        PRIMARY,
        ("fruit", "juice", "tree_nuts"),
        ("(1000 MT)", "(HECTARES)", "(1000 TREES)"),
    ),
    Dataset(
        "psd_grains_pulses_csv.zip",
        "Grains and pulses",
        PRIMARY,
        ("grains",),
        ("(1000 MT)", "(1000 HA)", "(MT/HA)"),
    ),  # fmt: skip
    Dataset(
        "psd_livestock_csv.zip",
        "Livestock and poultry",
        PRIMARY,
        ("livestock",),
        ("(1000 MT CWE)", "(1000 MT)", "(1000 HEAD)"),
    ),
    Dataset(
        "psd_oilseeds_csv.zip",
        "Oilseeds",
        PRIMARY,
        ("oilseeds",),
        ("(1000 MT)", "(1000 HA)", "(MT/HA)"),
    ),  # fmt: skip
    Dataset("psd_sugar_csv.zip", "Sugar", PRIMARY, ("sugar",), ("(1000 MT)",)),
    # Breakdowns: area and production of a reporting unit's parts.
    Dataset(
        "psd_eu_area_prod_csv.zip",
        "EU member states: area and production",
        BREAKDOWN,
        ("grains", "oilseeds", "cotton"),
        ("(1000 HA)", "(1000 MT)", "(MT/HA)"),
        parent_country="E4",
    ),
    Dataset(
        "psd_russiabreakdown_area_prod_csv.zip",
        "Russia's spring and winter wheat: area and production",
        BREAKDOWN,
        ("grains",),
        ("(1000 HA)", "(1000 MT)"),
        parent_country="RS",
    ),
)
# All data: every primary file in one (PSD Online's own "All Data" download).
_ALLDATA_UNITS = tuple(dict.fromkeys(u for d in _FILES if d.role == PRIMARY for u in d.units))
DATASETS: tuple[Dataset, ...] = (
    Dataset("psd_alldata_csv.zip", "All data", PRIMARY, _ALL_GROUPS, _ALLDATA_UNITS),
    *_FILES,
)
_BY_STEM = {d.stem: d for d in DATASETS}

# The EU (E4, from 1999) and its member states (lookups/countries.csv, region R05): in
# USDA's primary files they never both report a non-zero value of a commodity in a year
# (the shared releases have only zero Croatia coffee rows beside E4). The audit
# `no_member_beside_union` holds the primary rows to it, so a member-state breakdown
# registered as primary by mistake cannot double count. The older unions are left out on
# purpose: USDA's own history has Finland beside EU-15 (E2) in 1993-94, before it joined,
# and Belarus beside the USSR (UR) in 1987.
EU27 = (
    "AU", "BE", "S8", "LU", "BU", "HR", "CY", "EZ", "DA", "EN", "FI", "FR", "GM", "GR", "HU",
    "EI", "IT", "LG", "LH", "MT", "NL", "PL", "PO", "RO", "LO", "SI", "SP", "SW",
)  # fmt: skip
UNIONS: dict[str, tuple[str, ...]] = {"E4": EU27}


def dataset(name: str) -> Dataset:
    """The registered dataset of a file name or landing stem (`psd_coffee_csv.zip` or
    `psd_coffee_csv`); MateriaError naming the file when PSD Online's file is unknown."""
    stem = name.strip().rsplit("/", 1)[-1].removesuffix(".zip")
    found = _BY_STEM.get(stem)
    if found is None:
        known = ", ".join(d.file for d in DATASETS)
        raise MateriaError(
            f"{stem}.zip is not a registered PSD dataset: say whether it is primary or a "
            f"breakdown in materia/sources/psd_datasets.py before it is landed or published "
            f"(registered: {known})"
        )
    return found


def landed(stem: str, where: str) -> Dataset:
    """`dataset` for a landed archive: the refusal names the archive too."""
    try:
        return dataset(stem)
    except MateriaError as e:
        raise MateriaError(f"{where}: {e}; nothing was published") from None


def holding(group: str) -> list[Dataset]:
    """The primary datasets that hold a commodity group (alldata holds every group)."""
    return [d for d in DATASETS if d.role == PRIMARY and group in d.groups]
