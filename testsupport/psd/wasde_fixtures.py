"""WASDE report data files for tests, written exactly like USDA's, for any month.

Format (../shared/data/wasde/README.md): a quoted header, every field double-quoted,
CRLF line ends, `Value` with two decimals and no leading zero below one (".64").

    rows = sample_rows()                      # a compact real-shaped report, November 2025
    rows = read_rows(shared_file)             # or the shared real report itself
    sep, oct_ = moved(rows, "2025-09"), moved(rows, "2025-10")   # earlier reports: values moved
    layout(root, {"2025-09": sep, "2025-10": oct_})   # <root>/oce-wasde-report-data-YYYY-MM.csv
    land(home, rows, "2025-11")               # where the extractor lands it

`moved` keeps every identity the audits hold a report to: it moves U.S. production (and
with it supply and ending stocks, so each balance sheet still balances; yield follows),
carries the change into the world tables' United States, World, World Less China and
Major Exporters rows (converted with USDA's bushel weights), and moves the EU's crop.
`psd_rows_for(rows)` writes the PSD release of the same month that agrees with a report
(the world as the sum of a few countries, domestic use by the trade-gap rule), or
disagrees by `world_off` thousand tons of world production.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import NamedTuple

from materia.sources.wasde_format import COLUMNS, HEADER, MONTHS
from materia.sources.wasde_tables import BUSHELS_PER_TONNE
from testsupport.psd.fixtures import PsdRow

CRLF = "\r\n"
DATASET = "oce-wasde-report-data"
BASE = (2025, 11, 665)  # the shared report: November 2025, WASDE number 665


class WasdeRow(NamedTuple):
    WasdeNumber: str
    ReportDate: str
    ReportTitle: str
    Attribute: str
    ReliabilityProjection: str
    Commodity: str
    Region: str
    MarketYear: str
    ProjEstFlag: str
    AnnualQuarterFlag: str
    Value: str
    Unit: str
    ReleaseDate: str
    ReleaseTime: str
    ForecastYear: str
    ForecastMonth: str

    def line(self) -> str:
        return ",".join(f'"{v}"' for v in self)

    @property
    def number(self) -> float | None:
        return float(self.Value) if self.Value else None


def value_text(v: float) -> str:
    """A value as USDA writes it: two decimals, no leading zero below one."""
    text = f"{v:.2f}"
    return text.replace("0.", ".", 1) if text.startswith(("0.", "-0.")) else text


# --- writing ---------------------------------------------------------------------------
def csv_text(rows: Iterable[WasdeRow], header: str = HEADER) -> str:
    return header + CRLF + "".join(r.line() + CRLF for r in rows)


def write(path: Path, rows: Iterable[WasdeRow]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_text(rows).encode("ascii"))
    return path


def file_name(month: str) -> str:
    return f"{DATASET}-{month}.csv"


def layout(root: Path, reports: Mapping[str, Iterable[WasdeRow]]) -> dict[str, Path]:
    """USDA's layout: `<root>/oce-wasde-report-data-YYYY-MM.csv` per report month."""
    return {month: write(Path(root) / file_name(month), rows) for month, rows in reports.items()}


def land(where, rows: Iterable[WasdeRow], month: str, etag: str = "w") -> str:
    """Put a report where the extractor lands it, `wasde/<dataset>/<YYYY>/<MM>/<etag>.csv`,
    in a landing store (anything with `write_bytes`) or a MATERIA_HOME's `landing/`."""
    key = f"wasde/{DATASET}/{month.replace('-', '/')}/{etag}.csv"
    data = csv_text(rows).encode("ascii")
    if hasattr(where, "write_bytes") and not isinstance(where, Path):
        where.write_bytes(key, data)
    else:
        target = Path(where) / "landing" / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return key


def read_rows(path: Path) -> list[WasdeRow]:
    with open(path, newline="", encoding="ascii") as f:
        reader = csv.reader(f)
        assert tuple(next(reader)) == COLUMNS
        return [WasdeRow(*r) for r in reader]


# --- a compact report ------------------------------------------------------------------------
_US = "United States"
_YEARS3, _FLAGS3 = ("2023/24", "2024/25", "2025/26"), ("", "Est.", "Proj.")
_MB, _MA, _BU, _PRICE = "Million Bushels", "Million Acres", "Bushels", "$/bu"
# U.S. sheets of the November 2025 report: (title, commodity, [(attribute, unit, 3 values)])
_US_SHEETS = (
    ("U.S. Feed Grain and Corn Supply and Use", "Corn", (
        ("Area Planted", _MA, (94.6, 90.9, 98.7)), ("Area Harvested", _MA, (86.5, 83.0, 90.0)),
        ("Yield per Harvested Acre", _BU, (177.3, 179.3, 186.0)),
        ("Beginning Stocks", _MB, (1360, 1763, 1532)), ("Production", _MB, (15341, 14892, 16752)),
        ("Imports", _MB, (28, 20, 25)), ("Supply, Total", _MB, (16729, 16675, 18309)),
        ("Feed and Residual", _MB, (5832, 5492, 6100)),
        ("Food, Seed & Industrial", _MB, (6879, 6821, 6980)),
        ("Ethanol & by-products", _MB, (5489, 5436, 5600)),
        ("Domestic, Total", _MB, (12711, 12314, 13080)), ("Exports", _MB, (2255, 2830, 3075)),
        ("Use, Total", _MB, (14966, 15144, 16155)), ("Ending Stocks", _MB, (1763, 1532, 2154)),
        ("Avg. Farm Price", _PRICE, (4.55, 4.24, 4.00)),
    )),
    ("U.S. Wheat Supply and Use", "Wheat", (
        ("Area Planted", _MA, (49.6, 46.3, 45.3)), ("Area Harvested", _MA, (37.1, 38.6, 37.2)),
        ("Yield per Harvested Acre", _BU, (48.7, 51.2, 53.3)),
        ("Beginning Stocks", _MB, (570, 696, 851)), ("Production", _MB, (1804, 1979, 1985)),
        ("Imports", _MB, (138, 149, 120)), ("Supply, Total", _MB, (2511, 2824, 2955)),
        ("Food", _MB, (961, 969, 972)), ("Seed", _MB, (62, 62, 62)),
        ("Feed and Residual", _MB, (86, 117, 120)), ("Domestic, Total", _MB, (1109, 1148, 1154)),
        ("Exports", _MB, (706, 826, 900)), ("Use, Total", _MB, (1815, 1974, 2054)),
        ("Ending Stocks", _MB, (696, 851, 901)), ("Avg. Farm Price", _PRICE, (6.96, 5.52, 5.00)),
    )),
    ("U.S. Soybeans and Products Supply and Use (Domestic Measure)", "Oilseed, Soybean", (
        ("Area Planted", _MA, (83.6, 87.3, 81.1)), ("Area Harvested", _MA, (82.3, 86.2, 80.3)),
        ("Yield per Harvested Acre", _BU, (50.6, 50.7, 53.0)),
        ("Beginning Stocks", _MB, (264, 342, 316)), ("Production", _MB, (4162, 4374, 4253)),
        ("Imports", _MB, (21, 27, 20)), ("Supply, Total", _MB, (4447, 4744, 4590)),
        ("Crushings", _MB, (2285, 2445, 2555)), ("Exports", _MB, (1700, 1875, 1635)),
        ("Seed", _MB, (75, 70, 73)), ("Residual", _MB, (44, 37, 37)),
        ("Use, Total", _MB, (4105, 4427, 4300)), ("Ending Stocks", _MB, (342, 316, 290)),
        ("Avg. Farm Price", _PRICE, (12.40, 10.00, 10.50)),
    )),
)  # fmt: skip
_WORLD_ATTRS = ("Beginning Stocks", "Production", "Imports", "Domestic Feed", "Domestic Total", "Exports", "Ending Stocks")  # fmt: skip
# World tables of the November 2025 report: region -> {year: values in _WORLD_ATTRS order}
_WORLD = {
    ("World Wheat Supply and Use", "Wheat"): {
        "World": {"2024/25": (270.71, 800.79, 200.21, 157.18, 810.06, 209.68, 261.44),
                  "2025/26": (261.44, 828.89, 212.92, 161.45, 818.90, 217.21, 271.43)},
        "World Less China": {"2024/25": (136.18, 660.69, 196.04, 124.18, 660.06, 208.67, 133.66),
                             "2025/26": (133.66, 688.89, 206.92, 130.45, 670.90, 216.21, 146.65)},
        _US: {"2024/25": (18.95, 53.85, 4.05, 3.17, 31.24, 22.48, 23.15),
              "2025/26": (23.15, 54.01, 3.27, 3.27, 31.41, 24.49, 24.52)},
        "Major Exporters": {"2024/25": (41.61, 315.71, 11.86, 74.58, 181.88, 152.09, 35.20),
                            "2025/26": (35.20, 346.80, 6.74, 79.30, 187.65, 159.00, 42.09)},
        "European Union": {"2024/25": (15.79, 122.15, 10.65, 45.00, 109.00, 27.87, 11.71),
                           "2025/26": (11.71, 142.30, 5.50, 49.00, 113.50, 33.00, 13.01)},
        "China": {"2024/25": (134.52, 140.10, 4.17, 33.00, 150.00, 1.02, 127.78),
                  "2025/26": (127.78, 140.00, 6.00, 31.00, 148.00, 1.00, 124.78)},
    },
    ("World Corn Supply and Use", "Corn"): {
        "World": {"2024/25": (315.53, 1230.73, 183.83, 786.67, 1254.61, 188.50, 291.66),
                  "2025/26": (291.66, 1286.23, 191.12, 812.55, 1296.54, 203.47, 281.34)},
        "World Less China": {"2024/25": (104.34, 935.82, 182.01, 552.67, 938.61, 188.50, 99.73),
                             "2025/26": (99.73, 991.23, 183.12, 573.55, 975.54, 203.45, 107.43)},
        _US: {"2024/25": (44.79, 378.27, 0.51, 139.51, 312.78, 71.89, 38.91),
              "2025/26": (38.91, 425.53, 0.64, 154.95, 332.25, 78.11, 54.71)},
        "Major Exporters": {"2024/25": (12.86, 243.75, 1.78, 100.20, 141.70, 97.92, 18.77),
                            "2025/26": (18.77, 246.60, 1.67, 101.10, 145.20, 109.70, 12.14)},
        "European Union": {"2024/25": (7.31, 59.02, 18.70, 56.10, 76.10, 2.75, 6.19),
                           "2025/26": (6.19, 55.75, 21.00, 55.20, 75.30, 1.80, 5.84)},
        "China": {"2024/25": (211.19, 294.92, 1.82, 234.00, 316.00, 0.00, 191.93),
                  "2025/26": (191.93, 295.00, 8.00, 239.00, 321.00, 0.02, 173.91)},
    },
}  # fmt: skip


def _month(text: str) -> tuple[int, int]:
    y, m = text.split("-")
    return int(y), int(m)


def _report_fields(month: str) -> dict[str, str]:
    """The fields every row of a month's report carries."""
    y, m = _month(month)
    number = BASE[2] + (y - BASE[0]) * 12 + (m - BASE[1])
    day = 14 if (y, m) == BASE[:2] else 10
    return {
        "WasdeNumber": str(number),
        "ReportDate": f"{MONTHS[m - 1]} {y}",
        "ReleaseDate": f"{date(y, m, day):%Y-%m-%d}",
        "ReleaseTime": "12:00:00.0000000",
        "ForecastYear": str(y),
        "ForecastMonth": str(m),
    }


def _row(fields: dict, title, attribute, commodity, region, year, flag, value, unit) -> WasdeRow:
    return WasdeRow(
        fields["WasdeNumber"], fields["ReportDate"], title, attribute, "", commodity, region,
        year, flag, "Annual", value_text(value), unit, fields["ReleaseDate"],
        fields["ReleaseTime"], fields["ForecastYear"], fields["ForecastMonth"],
    )  # fmt: skip


def sample_rows(month: str = "2025-11") -> list[WasdeRow]:
    """A compact report shaped like USDA's: the U.S. corn, wheat and soybean balance
    sheets (three market years) and the world wheat and corn tables (countries and
    groups), with the November 2025 report's values, dated `month`."""
    f = _report_fields(month)
    out = []
    for title, commodity, lines in _US_SHEETS:
        for attribute, unit, values in lines:
            for year, flag, v in zip(_YEARS3, _FLAGS3, values, strict=True):
                out.append(_row(f, title, attribute, commodity, _US, year, flag, v, unit))
    for (title, commodity), regions in _WORLD.items():
        for region, years in regions.items():
            for year, values in years.items():
                flag = "Proj." if year == "2025/26" else "Est."
                for attribute, v in zip(_WORLD_ATTRS, values, strict=True):
                    out.append(_row(f, title, attribute, commodity, region, year, flag, v, "Million Metric Tons"))  # fmt: skip
    return out


# --- later (or earlier) reports: values moved ------------------------------------------------
_US_TO_WORLD = {
    "U.S. Feed Grain and Corn Supply and Use": ("World Corn Supply and Use", "0440000"),
    "U.S. Wheat Supply and Use": ("World Wheat Supply and Use", "0410000"),
}
_MOVE = {"Corn": 17.0, "Wheat": 7.0, "Oilseed, Soybean": 11.0}  # million bushels a month
_GROUPS = ("World", "World Less China", "Major Exporters")  # hold the United States
_EU_MOVES = ("World Wheat Supply and Use", "World Corn Supply and Use")  # the EU's crop moves


def dated(rows: Iterable[WasdeRow], month: str) -> list[WasdeRow]:
    """`rows` as the report of `month` (its number, dates and forecast month), values kept."""
    fields = _report_fields(month)
    return [r._replace(**fields) for r in rows]


def moved(rows: Iterable[WasdeRow], month: str, scale: float = 1.0) -> list[WasdeRow]:
    """`rows` as the report of `month`: U.S. production of the newest market year moved by
    a few million bushels per month away from the base report (with supply and ending
    stocks, yield recomputed), the world tables' U.S. rows following it (and the groups
    that hold the United States), the EU's crop moved too. Identities stay whole."""
    rows = list(rows)
    y, m = _month(month)
    steps = (y - BASE[0]) * 12 + (m - BASE[1])
    newest = max(r.MarketYear for r in rows if "/" in r.MarketYear)
    fields = _report_fields(month)
    if steps == 0 or scale == 0:
        return [r._replace(**fields) for r in rows]
    values = {(r.ReportTitle, r.Commodity, r.Region, r.MarketYear, r.Attribute): r.number for r in rows}  # fmt: skip
    new: dict[tuple, float] = {}
    for (title, commodity, region, year, attribute), v in values.items():
        us_sheet = title.startswith("U.S.") and region == _US
        if not us_sheet or year != newest or commodity not in _MOVE or v is None:
            continue
        if attribute in ("Production", "Supply, Total", "Ending Stocks"):
            new[(title, commodity, region, year, attribute)] = v + _MOVE[commodity] * steps * scale
    for (title, commodity, region, year, attribute), v in list(new.items()):
        if attribute == "Production":
            area = values.get((title, commodity, region, year, "Area Harvested"))
            if area:
                new[(title, commodity, region, year, "Yield per Harvested Acre")] = round(v / area, 1)  # fmt: skip
        world = _US_TO_WORLD.get(title)
        if world and attribute in ("Production", "Ending Stocks"):
            wtitle, code = world
            before = values.get((wtitle, commodity, _US, year, attribute))
            if before is None:
                continue
            after = round(v / BUSHELS_PER_TONNE[code], 2)
            new[(wtitle, commodity, _US, year, attribute)] = after
            for group in _GROUPS:
                key = (wtitle, commodity, group, year, attribute)
                if values.get(key) is not None:
                    new[key] = round(values[key] + after - before, 2)
    for (title, commodity, region, year, attribute), v in values.items():
        if title not in _EU_MOVES or region != "European Union" or year != newest:
            continue
        if attribute in ("Production", "Ending Stocks") and v is not None:
            shift = 0.35 * steps * scale
            new[(title, commodity, region, year, attribute)] = round(v + shift, 2)
            for group in ("World", "World Less China"):
                key = (title, commodity, group, year, attribute)
                if values.get(key) is not None:
                    new[key] = round(new.get(key, values[key]) + shift, 2)
    out = []
    for r in rows:
        key = (r.ReportTitle, r.Commodity, r.Region, r.MarketYear, r.Attribute)
        r = r._replace(**fields)
        if key in new:
            r = r._replace(Value=value_text(new[key]))
        out.append(r)
    return out


# --- the PSD release of the same month --------------------------------------------------------
_PSD = {"Wheat": ("0410000", "World Wheat Supply and Use"), "Corn": ("0440000", "World Corn Supply and Use")}  # fmt: skip
_COUNTRIES = (("US", "United States", _US), ("CH", "China", "China"), ("E4", "European Union", "European Union"))  # fmt: skip
_ATTRS = (("028", "Production"), ("176", "Ending Stocks"), ("125", "Domestic Consumption"))


def psd_rows_for(
    rows: Iterable[WasdeRow], month: str, commodities=("Wheat",), world_off: float = 0.0
) -> list[PsdRow]:
    """A PSD release of `month` whose figures are the report's, in 1000 MT: the United
    States, China and the EU as printed, a rest of the world making up WASDE's world
    production and ending stocks, and domestic use adding up to WASDE's world domestic
    total less the trade gap (exports - imports). `world_off` thousand tons more world
    production of the newest market year (on the rest of the world) make a release that
    disagrees."""
    y, m = _month(month)
    values = {(r.ReportTitle, r.Region, r.MarketYear, r.Attribute): r.number for r in rows}
    out = []
    for commodity in commodities:
        code, title = _PSD[commodity]
        years = sorted({k[2] for k in values if k[0] == title})
        for year in years:
            world = {a: values.get((title, "World", year, a)) for a in ("Production", "Ending Stocks", "Domestic Total", "Exports", "Imports")}  # fmt: skip
            world["Domestic Consumption"] = world["Domestic Total"] - (world["Exports"] - world["Imports"])  # fmt: skip
            for attr_id, attribute in _ATTRS:
                source = "Domestic Total" if attr_id == "125" else attribute
                shown = 0.0
                for cc, name, region in _COUNTRIES:
                    v = round(values[(title, region, year, source)] * 1000)
                    shown += v
                    out.append(_psd(code, commodity, cc, name, int(year[:4]), attr_id, attribute, v, y, m))  # fmt: skip
                rest = round(world[attribute] * 1000) - shown
                if attr_id == "028" and year == years[-1]:
                    rest += world_off
                out.append(_psd(code, commodity, "XW", "Rest of world", int(year[:4]), attr_id, attribute, rest, y, m))  # fmt: skip
    return out


def _psd(code, commodity, cc, name, year, attr_id, attribute, value, y, m) -> PsdRow:
    return PsdRow(code, commodity, cc, name, year, y, f"{m:02d}", attr_id, attribute, "08", "(1000 MT)", float(value))  # fmt: skip


def value_of(rows: Iterable[WasdeRow], title: str, commodity: str, region: str, year: str, attribute: str) -> float | None:  # fmt: skip
    """One figure of a report."""
    for r in rows:
        if (r.ReportTitle, r.Commodity, r.Region, r.MarketYear, r.Attribute) == (title, commodity, region, year, attribute):  # fmt: skip
            return r.number
    return None


# --- faults -------------------------------------------------------------------------------
def bad_value_text(rows: Iterable[WasdeRow]) -> str:
    """A report whose first data line has a value that is no number ("1,234")."""
    rows = list(rows)
    return csv_text([rows[0]._replace(Value="1,234"), *rows[1:]])


def wrong_header_text() -> str:
    """A CSV that is not WASDE report data."""
    return '"code","country","year","value"\r\n"0711100","BR","2023","1.00"\r\n'
