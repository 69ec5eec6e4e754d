"""A published lakehouse for the workbench's tests, made by the real pipeline.

`releases()` writes small PSD releases exactly like USDA's (testsupport.psd.fixtures):
grains (corn, wheat) in 2022-10 and 2022-11, coffee in 2022-06 and 2022-12, livestock
(beef: no area, no yield) in 2022-10, and the EU member states of the grains release
(`psd_eu_area_prod_csv.zip`, a breakdown) in 2022-11. `published` serves them from the loopback PSD
server, lands them with `materia extract psd` and publishes prod with `materia
transform`, once per test session, so the notebook always reads what the transform
really publishes (nothing here knows the serving schema).

The rows follow PSD's rules: E2 (EU-15) reports to 1998 and E4 (European Union) from
1999, UR (USSR) to 1986 and its successors from 1987, never overlapping; every balance
sheet balances (beginning stocks + production + imports = total supply = domestic
consumption + exports + ending stocks) except Argentina corn 2019, which is off by 3 as
USDA's own numbers sometimes are. Brazil coffee carries USDA's real 2022-12 figures and
the real revision of 2023 production (64,300 in 2022-06, 62,600 in 2022-12).
Tests compute what they expect from `releases()` with plain Python, never from the
code under test.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from materia.core.settings import Settings
from testsupport.psd.fixtures import EU_FILE, PsdRow, archive_layout, eu_breakdown_rows

# attribute id -> (description, unit kind); "q" takes the commodity's quantity unit.
ATTRIBUTES = {
    "004": ("Area Harvested", "area"),
    "020": ("Beginning Stocks", "q"),
    "028": ("Production", "q"),
    "057": ("Imports", "q"),
    "086": ("Total Supply", "q"),
    "088": ("Exports", "q"),
    "113": ("TY Exports", "q"),
    "125": ("Domestic Consumption", "q"),
    "130": ("Feed Dom. Consumption", "q"),
    "176": ("Ending Stocks", "q"),
    "178": ("Total Distribution", "q"),
    "184": ("Yield", "yield"),
}
UNITS = {"area": ("04", "(1000 HA)"), "yield": ("26", "(MT/HA)")}
CORN, WHEAT, COFFEE, BEEF = "0440000", "0410000", "0711100", "0111000"
# code -> (name, dataset, quantity unit (id, description), attributes, market years)
GRAIN_ATTRS = ("004", "020", "028", "057", "086", "088", "113", "125", "130", "176", "178", "184")
BALANCE_ATTRS = ("020", "028", "057", "086", "088", "125", "176", "178")
COMMODITIES = {
    CORN: ("Corn", "psd_grains_pulses_csv.zip", ("08", "(1000 MT)"), GRAIN_ATTRS, range(2005, 2023)),
    WHEAT: ("Wheat", "psd_grains_pulses_csv.zip", ("08", "(1000 MT)"), GRAIN_ATTRS, range(1984, 2023)),
    COFFEE: ("Coffee, Green", "psd_coffee_csv.zip", ("02", "(1000 60 KG BAGS)"), BALANCE_ATTRS, range(2014, 2024)),
    BEEF: ("Meat, Beef and Veal", "psd_livestock_csv.zip", ("07", "(1000 MT CWE)"), BALANCE_ATTRS, range(2010, 2024)),
}  # fmt: skip
RELEASES = {  # dataset -> release months, oldest first
    "psd_grains_pulses_csv.zip": ("2022-10", "2022-11"),
    "psd_coffee_csv.zip": ("2022-06", "2022-12"),
    "psd_livestock_csv.zip": ("2022-10",),
    # A breakdown beside them: EU member states under the EU's wheat and corn codes
    # (built like PSD Online's file); it must change no world total.
    EU_FILE: ("2022-11",),
}
DATASETS = ",".join(RELEASES)
COUNTRY_NAMES = {
    "US": "United States", "CH": "China", "BR": "Brazil", "AR": "Argentina",
    "UP": "Ukraine", "IN": "India", "RS": "Russia", "KZ": "Kazakhstan",
    "UR": "Union of Soviet Socialist Repu", "E2": "EU-15", "E4": "European Union",
    "AS": "Australia", "CA": "Canada", "VM": "Vietnam", "CO": "Colombia", "ID": "Indonesia",
}  # fmt: skip
# commodity -> country -> (production, imports, exports, ending stocks as a share of
# production + imports, yield, years) around the last year; `years` limits a reporting
# unit to its own years.
BASE: dict[str, dict[str, tuple]] = {
    CORN: {
        "US": (370000, 2000, 55000, 0.09, 11.0, None),
        "CH": (272000, 18000, 20, 0.7, 6.3, None),
        "BR": (116000, 2000, 43000, 0.05, 5.5, None),
        "E4": (66000, 17000, 4500, 0.1, 7.4, None),
        "AR": (52000, 5, 38000, 0.05, 7.7, None),
        "UP": (31000, 30, 26000, 0.1, 7.2, None),
        "IN": (32000, 400, 3000, 0.05, 3.2, None),
    },
    WHEAT: {
        "CH": (138000, 9000, 900, 0.9, 5.8, None),
        "E4": (134300, 5000, 32000, 0.1, 5.7, range(1999, 2100)),
        "E2": (90000, 4000, 20000, 0.1, 5.5, range(1900, 1999)),
        "IN": (103000, 30, 7000, 0.15, 3.5, None),
        "RS": (91000, 300, 40000, 0.12, 3.0, range(1987, 2100)),
        "UP": (21000, 100, 15000, 0.1, 4.0, range(1987, 2100)),
        "KZ": (16000, 50, 8000, 0.15, 1.2, range(1987, 2100)),
        "UR": (90000, 20000, 500, 0.1, 1.9, range(1900, 1987)),
        "US": (44900, 3000, 21000, 0.35, 3.1, None),
        "CA": (33800, 500, 25000, 0.2, 3.4, None),
        "AS": (36600, 200, 27500, 0.15, 2.8, None),
        "AR": (17500, 5, 11000, 0.1, 3.0, None),
    },
    COFFEE: {
        "BR": (60000, 75, 36000, 0.05, None, None),
        "VM": (29000, 1500, 26000, 0.05, None, None),
        "CO": (12500, 1700, 12000, 0.1, None, None),
        "ID": (11000, 1200, 6500, 0.1, None, None),
        "E4": (0, 46000, 900, 0.25, None, None),
        "US": (0, 26000, 500, 0.25, None, None),
    },
    BEEF: {
        "US": (12600, 1500, 1400, 0.02, None, None),
        "BR": (10350, 60, 2900, 0.02, None, None),
        "CH": (7180, 2700, 20, 0.02, None, None),
        "E4": (6800, 350, 650, 0.02, None, None),
        "IN": (4350, 0, 1450, 0.02, None, None),
    },
}
# Brazil coffee from the real 2022-12 release (beginning stocks, production, imports,
# total supply, exports, domestic consumption, ending stocks, total distribution).
BR_COFFEE = {
    2014: (9068, 57200, 34, 66302, 34146, 20210, 11946, 66302),
    2015: (11946, 54300, 52, 66298, 36573, 20420, 9305, 66298),
    2016: (9305, 49400, 65, 58770, 35543, 20855, 2372, 58770),
    2017: (2372, 56100, 62, 58534, 33081, 21625, 3828, 58534),
    2018: (3828, 52100, 61, 55989, 30454, 22420, 3115, 55989),
    2019: (3115, 66500, 67, 69682, 41426, 23200, 5056, 69682),
    2020: (5056, 60500, 67, 65623, 40256, 22994, 2373, 65623),
    2021: (2373, 69900, 72, 72345, 45675, 22280, 4390, 72345),
    2022: (4390, 58100, 75, 62565, 39685, 22340, 540, 62565),
    2023: (540, 62600, 75, 63215, 36645, 22450, 4120, 63215),
}
# The revisions each later release makes: (commodity, country, market year) -> production
# in the later release. Consumption and ending stocks follow, so every sheet balances.
REVISIONS = {
    "2022-11": {(CORN, "US", 2022): 353800.0, (CORN, "UP", 2022): 27000.0,
                (WHEAT, "RS", 2022): 92000.0, (WHEAT, "AR", 2022): 15500.0,
                (WHEAT, "E4", 2021): 138200.0},
    "2022-12": {(COFFEE, "BR", 2023): 62600.0, (COFFEE, "VM", 2023): 30200.0},
}  # fmt: skip
FIRST_RELEASE_BR_COFFEE_2023 = 64300.0
IMBALANCED = (CORN, "AR", 2019)  # ending stocks 3 above what the sheet implies


def _sheet(
    code: str, cc: str, year: int, last: int, base: tuple, prev_end: float, revised: float | None
) -> dict:
    """One balanced sheet (attribute -> value) from the base figures and a deterministic
    wobble; `revised` replaces the production (consumption follows, as USDA's would)."""
    prod0, imp0, exp0, stocks, yld0, _ = base
    k = year - last  # 0 in the last year, negative before
    rnd = random.Random(f"{code}|{cc}|{year}")
    wobble = rnd.uniform(-0.04, 0.04)
    prod = revised if revised is not None else float(round(prod0 * (1 + 0.012 * k + wobble)))
    imp = float(round(imp0 * (1 + 0.01 * k)))
    exp = float(round(exp0 * (1 + 0.015 * k + wobble / 2)))
    supply = prev_end + prod + imp
    cons = float(max(1, round(supply - exp - (prod + imp) * stocks)))
    sheet = {"020": prev_end, "028": prod, "057": imp, "088": exp, "125": cons}
    if yld0:
        sheet["184"] = round(yld0 * (1 + 0.01 * k + wobble), 2)
        sheet["004"] = float(round(prod / sheet["184"]))
        sheet["130"] = float(round(cons * 0.55))
        sheet["113"] = exp
    return sheet


def _close(sheet: dict) -> dict:
    sheet["086"] = sheet["020"] + sheet["028"] + sheet["057"]
    sheet["176"] = sheet["086"] - sheet["088"] - sheet["125"]
    sheet["178"] = sheet["086"]
    return sheet


def sheets(release: str | None = None) -> dict[tuple[str, str, int], dict[str, float]]:
    """(commodity, country, market year) -> attribute id -> value, as of `release`.

    `release` None: the newest release of each dataset.
    """
    out: dict[tuple[str, str, int], dict[str, float]] = {}
    for code, (_, dataset, _, _, years) in COMMODITIES.items():
        months = RELEASES[dataset]
        month = months[-1] if release is None else release
        applied = [m for m in months if m <= month and m in REVISIONS]
        for cc, base in BASE[code].items():
            own = base[5] or range(1900, 2100)
            prev_end = float(round((base[0] + base[1]) * base[3]))  # a steady start
            for year in years:
                if year not in own:
                    continue
                revised = None
                for m in applied:
                    revised = REVISIONS[m].get((code, cc, year), revised)
                sheet = _sheet(code, cc, year, years[-1], base, prev_end, revised)
                if (code, cc) == (COFFEE, "BR"):
                    vals = BR_COFFEE[year]
                    sheet = dict(zip(BALANCE_ATTRS, map(float, vals), strict=True))
                    if year == 2023 and "2022-12" not in applied:
                        sheet["028"] = FIRST_RELEASE_BR_COFFEE_2023
                    sheet["020"] = prev_end if year > years[0] else sheet["020"]
                sheet = _close(sheet)
                if (code, cc, year) == IMBALANCED:
                    sheet["176"] += 3.0
                prev_end = sheet["176"]
                out[(code, cc, year)] = sheet
    return out


def total(
    commodity: str, year: int, attr: str, release: str | None = None, country: str | None = None
) -> float:
    """The sum over countries (or one country's value) of an attribute, as of `release`."""
    return sum(
        s.get(attr, 0.0)
        for (c, cc, y), s in sheets(release).items()
        if (c, y) == (commodity, year) and country in (None, cc)
    )


def rows(dataset: str, release: str) -> list[PsdRow]:
    """The PSD rows of one dataset's release, stamped like USDA's files."""
    if dataset == EU_FILE:  # the member states of the grains release's EU rows
        return eu_breakdown_rows(rows("psd_grains_pulses_csv.zip", release))
    year, month = int(release[:4]), release[5:]
    current = sheets(release)
    out = []
    for (code, cc, my), sheet in sorted(current.items()):
        name, ds, (qid, qdesc), attrs, years = COMMODITIES[code]
        if ds != dataset:
            continue
        # The two newest market years carry the release's own stamp; history is older.
        stamp = (year, month) if my >= years[-1] - 1 else (year - 1, "12") if my > 2005 else (my - 1, "00")  # fmt: skip
        for attr in attrs:
            if attr not in sheet:
                continue
            desc, kind = ATTRIBUTES[attr]
            uid, udesc = (qid, qdesc) if kind == "q" else UNITS[kind]
            rows_ = PsdRow(code, name, cc, COUNTRY_NAMES[cc], my, stamp[0], stamp[1], attr,
                           desc, uid, udesc, sheet[attr])  # fmt: skip
            out.append(rows_)
    return out


def releases(root: Path) -> dict[str, list[str]]:
    """Write every release under `root/archives/YYYY/MM/<dataset>`; dataset -> months."""
    for dataset, months in RELEASES.items():
        archive_layout(root, {m: rows(dataset, m) for m in months}, dataset)
    return {d: list(m) for d, m in RELEASES.items()}


def all_rows() -> Iterator[tuple[str, PsdRow]]:
    """(release, row) for every row of every release written by `releases()`."""
    for dataset, months in RELEASES.items():
        for m in months:
            for r in rows(dataset, m):
                yield m, r


# --- building it with the real pipeline ---------------------------------------------------
def settings_for(home: Path, **extra: str) -> Settings:
    """Local settings rooted at `home`, ignoring the developer's .env and environment."""
    from materia.core import settings as settings_mod

    environ = {"MATERIA_HOME": str(home), **extra}
    return settings_mod.load(environ=environ, dotenv=home / "no.env")


def land_and_publish(
    home: Path,
    psd_root: Path,
    datasets: str,
    as_of: str,
    backfill_from: str,
    environ: dict[str, str] | None = None,
) -> Settings:
    """`materia extract psd` from a loopback PSD server serving `psd_root`, then transform
    (`environ` adds settings: R2 and the Iceberg REST catalog, say)."""
    from materia.extract import psd
    from materia.transform import run as transform
    from testsupport.psd.server import PsdServer

    with PsdServer(psd_root) as srv:
        s = settings_for(home, PSD_BASE_URL=srv.base_url, PSD_DATASETS=datasets, **(environ or {}))
        code = psd.main(s, as_of=as_of, backfill_from=backfill_from)
        if code != 0:
            raise RuntimeError(f"extract psd from {psd_root} exited {code}")
    transform.run(s, "prod")
    return s


def build(home: Path, environ: dict[str, str] | None = None) -> Settings:
    """Write the releases, land them and publish prod under `home`; its settings."""
    root = home.parent / f"{home.name}-psd"
    releases(root)
    return land_and_publish(home, root, DATASETS, "2022-12-31", "2022-06", environ)


# Built once per test process: every module that imports these fixtures gets its own
# FixtureDef, so the memo (not pytest's session scope) is what shares the lakehouse.
_BUILT: dict[str, Settings] = {}
SHARED_PSD = Path(__file__).resolve().parents[3] / "shared" / "data" / "psd"
# Coffee (two releases: the 64,300 → 62,600 revision), cotton, grains (the world totals
# of the data README) and livestock, with the real Russia breakdown (2025-11) beside them.
REAL_DATASETS = (
    "psd_coffee_csv.zip,psd_cotton_csv.zip,psd_grains_pulses_csv.zip,psd_livestock_csv.zip,"
    "psd_russiabreakdown_area_prod_csv.zip"
)


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """prod published by extract + transform of `releases()`; its settings."""
    if "fixture" not in _BUILT:
        _BUILT["fixture"] = build(tmp_path_factory.mktemp("workbench") / "home")
    return _BUILT["fixture"]


@pytest.fixture(scope="session")
def empty_home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return settings_for(tmp_path_factory.mktemp("empty"))


@pytest.fixture(scope="session")
def real_published(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """prod built by the real pipeline (extract + transform) from ../shared/data/psd."""
    if not (SHARED_PSD / "archives").is_dir():
        pytest.skip(f"real PSD data not found at {SHARED_PSD} (needs ../shared/data/psd)")
    if "real" not in _BUILT:
        home = tmp_path_factory.mktemp("real") / "home"
        _BUILT["real"] = land_and_publish(home, SHARED_PSD, REAL_DATASETS, "2025-11-30", "2022-06")
    return _BUILT["real"]
