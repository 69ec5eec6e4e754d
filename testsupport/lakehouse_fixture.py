"""A small published lakehouse shaped exactly like the serving tables in docs/CONTRACTS.md.

Written with plain pyiceberg so that the workbench can be tested before (and without)
the extract + transform pipeline. Values are realistic; Brazil coffee 2023 production
carries the real vintages (64,300 in the 2022-06 release, 62,600 in 2022-12) and its
balance sheet is USDA's own from the 2022-12 release. One row (Argentina corn 2019) is
deliberately out of balance, as USDA's numbers sometimes are.

`publish(settings, env, ...)` writes one environment; swapping this module for a real
extract + transform of the shared releases must not change the tests' assertions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from materia.settings import Settings

# (metric, attribute_id) as in the PSD code list; yield and area carry their own units.
ATTRIBUTES = {
    "area_harvested": ("004", "Area Harvested"),
    "beginning_stocks": ("020", "Beginning Stocks"),
    "production": ("028", "Production"),
    "imports": ("057", "Imports"),
    "total_supply": ("086", "Total Supply"),
    "exports": ("088", "Exports"),
    "domestic_consumption": ("125", "Domestic Consumption"),
    "feed_consumption": ("130", "Feed Dom. Consumption"),
    "ending_stocks": ("176", "Ending Stocks"),
    "total_distribution": ("178", "Total Distribution"),
    "yield": ("184", "Yield"),
}
METRICS = tuple(ATTRIBUTES)
UNITS = {
    "(1000 MT)": "08",
    "(1000 60 KG BAGS)": "02",
    "(1000 HA)": "04",
    "(MT/HA)": "26",
}

COMMODITIES = {
    "0440000": ("Corn", "(1000 MT)", dt.date(2022, 11, 1)),
    "0711100": ("Coffee, Green", "(1000 60 KG BAGS)", dt.date(2022, 12, 1)),
    "0410000": ("Wheat", "(1000 MT)", dt.date(2022, 11, 1)),
}
COUNTRIES = {
    "US": ("United States", False),
    "CH": ("China", False),
    "BR": ("Brazil", False),
    "AR": ("Argentina", False),
    "UP": ("Ukraine", False),
    "IN": ("India", False),
    "RS": ("Russia", False),
    "VM": ("Vietnam", False),
    "CO": ("Colombia", False),
    "ID": ("Indonesia", False),
    "E4": ("European Union", True),
    "UR": ("Union of Soviet Socialist Repu", True),
}

# commodity -> country -> (production, imports, exports, consumption, feed share, yield)
# around the last year; earlier years drift by a small deterministic trend.
BASE = {
    "0440000": {
        "US": (370000, 2000, 55000, 310000, 0.45, 11.0),
        "CH": (272000, 18000, 20, 290000, 0.65, 6.3),
        "BR": (116000, 2000, 43000, 76000, 0.75, 5.5),
        "AR": (52000, 5, 38000, 14000, 0.6, 7.7),
        "UP": (31000, 30, 26000, 6500, 0.8, 7.2),
        "IN": (32000, 400, 3000, 29000, 0.6, 3.2),
        "E4": (66000, 17000, 4500, 79000, 0.8, 7.4),
    },
    "0711100": {
        "BR": (60000, 75, 36000, 22400, 0.0, 0.0),
        "VM": (29000, 1500, 26000, 3100, 0.0, 0.0),
        "CO": (12500, 1700, 12000, 2200, 0.0, 0.0),
        "ID": (11000, 1200, 6500, 4800, 0.0, 0.0),
        "E4": (0, 46000, 900, 45000, 0.0, 0.0),
    },
    "0410000": {
        "CH": (137000, 9000, 900, 148000, 0.2, 5.8),
        "IN": (104000, 30, 7000, 108000, 0.05, 3.5),
        "RS": (86000, 300, 40000, 42000, 0.4, 3.0),
        "US": (48000, 3000, 21000, 30500, 0.05, 3.2),
        "E4": (135000, 5000, 32000, 108000, 0.4, 5.7),
    },
}
YEARS = {"0440000": range(2013, 2023), "0711100": range(2014, 2024), "0410000": range(2013, 2023)}
USSR_YEARS = range(1987, 1992)
# Brazil coffee from the real 2022-12 release: beginning stocks, production, imports,
# total supply, exports, domestic consumption, ending stocks, total distribution.
_BR_COFFEE_COLS = (
    "beginning_stocks", "production", "imports", "total_supply",
    "exports", "domestic_consumption", "ending_stocks", "total_distribution",
)  # fmt: skip
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
}  # an old aggregate series: never in world sums


@dataclass(frozen=True)
class Tables:
    obt_commodity_metrics: pl.DataFrame
    fct_psd_latest: pl.DataFrame
    fct_psd_vintages: pl.DataFrame
    dim_commodity: pl.DataFrame
    dim_country: pl.DataFrame
    dim_attribute: pl.DataFrame


def _wide_rows() -> list[dict]:
    rows: list[dict] = []
    for code, by_country in BASE.items():
        name, unit, release = COMMODITIES[code]
        years = list(YEARS[code])
        series = list(by_country.items())
        if code == "0410000":
            series.append(("UR", (90000, 20000, 500, 110000, 0.4, 1.9)))
        for cc, (prod0, imp0, exp0, cons0, feed_share, yld0) in series:
            ending = round(cons0 * 0.12)
            for i, year in enumerate(USSR_YEARS if cc == "UR" else years):
                k = i - len(years) + 1  # 0 for the last year, negative before
                wobble = ((i * 37 + len(cc) * 11 + int(code[:4])) % 9 - 4) / 100
                prod = round(prod0 * (1 + 0.012 * k + wobble))
                imp = round(imp0 * (1 + 0.01 * k))
                exp = round(exp0 * (1 + 0.015 * k + wobble / 2))
                beginning = ending
                supply = beginning + prod + imp
                cons = min(round(cons0 * (1 + 0.01 * k)), supply - exp - 1)
                ending = supply - exp - cons
                yld = round(yld0 * (1 + 0.01 * k + wobble), 2) if yld0 else None
                row = {
                    "commodity_code": code,
                    "country_code": cc,
                    "market_year": year,
                    "release_month": release,
                    "area_harvested": round(prod / yld) if yld else None,
                    "yield": yld,
                    "beginning_stocks": float(beginning),
                    "production": float(prod),
                    "imports": float(imp),
                    "total_supply": float(supply),
                    "exports": float(exp),
                    "domestic_consumption": float(cons),
                    "feed_consumption": float(round(cons * feed_share)) if yld0 else None,
                    "ending_stocks": float(ending),
                    "total_distribution": float(cons + exp + ending),
                }
                rows.append(row)
    for row in rows:
        key = (row["commodity_code"], row["country_code"], row["market_year"])
        if key[:2] == ("0711100", "BR"):  # USDA's own numbers, release 2022-12
            row.update(zip(_BR_COFFEE_COLS, map(float, BR_COFFEE[key[2]]), strict=True))
        if key == ("0440000", "AR", 2019):  # USDA's totals disagree with its parts
            row["ending_stocks"] += 3.0
    return rows


def _with_units_and_names(wide: pl.DataFrame) -> pl.DataFrame:
    unit = pl.col("commodity_code").replace_strict(
        {c: u for c, (_, u, _) in COMMODITIES.items()}, return_dtype=pl.String
    )
    unit_cols = []
    for m in METRICS:
        u = (
            pl.lit("(MT/HA)")
            if m == "yield"
            else pl.lit("(1000 HA)")
            if m == "area_harvested"
            else unit
        )
        unit_cols.append(pl.when(pl.col(m).is_not_null()).then(u).alias(f"{m}_unit"))
    names = pl.col("commodity_code").replace_strict(
        {c: n for c, (n, _, _) in COMMODITIES.items()}, return_dtype=pl.String
    )
    return wide.with_columns(
        names.alias("commodity_name"),
        pl.col("country_code")
        .replace_strict({c: n for c, (n, _) in COUNTRIES.items()}, return_dtype=pl.String)
        .alias("country_name"),
        pl.col("country_code")
        .replace_strict({c: a for c, (_, a) in COUNTRIES.items()}, return_dtype=pl.Boolean)
        .alias("is_aggregate"),
        *unit_cols,
    )


def _derived(df: pl.DataFrame) -> pl.DataFrame:
    world = (
        df.filter(~pl.col("is_aggregate"))
        .group_by("commodity_code", "market_year")
        .agg(pl.col("production").sum().alias("_world"))
    )
    prev = df.select(
        "commodity_code",
        "country_code",
        (pl.col("market_year") + 1).alias("market_year"),
        pl.col("production").alias("_prev"),
    )
    return (
        df.join(world, on=["commodity_code", "market_year"], how="left")
        .join(prev, on=["commodity_code", "country_code", "market_year"], how="left")
        .with_columns(
            (pl.col("ending_stocks") / (pl.col("domestic_consumption") + pl.col("exports"))).alias(
                "stocks_to_use"
            ),
            (pl.col("exports") - pl.col("imports")).alias("net_exports"),
            pl.when(pl.col("_prev") > 0)
            .then((pl.col("production") / pl.col("_prev") - 1) * 100)
            .alias("production_yoy_pct"),
            pl.when(~pl.col("is_aggregate") & (pl.col("_world") > 0))
            .then(pl.col("production") / pl.col("_world"))
            .alias("share_of_world_production"),
        )
        .drop("_world", "_prev")
    )


def _obt(rows: list[dict]) -> pl.DataFrame:
    wide = pl.DataFrame(rows).with_columns(
        pl.col("market_year").cast(pl.Int32),
        pl.col(list(METRICS)).cast(pl.Float64),
    )
    df = _derived(_with_units_and_names(wide))
    cols = ["commodity_code", "commodity_name", "country_code", "country_name", "is_aggregate"]
    cols += ["market_year", "release_month"]
    for m in METRICS:
        cols += [m, f"{m}_unit"]
    cols += ["stocks_to_use", "net_exports", "production_yoy_pct", "share_of_world_production"]
    return df.select(cols).sort("commodity_code", "country_code", "market_year")


def _long(obt: pl.DataFrame) -> pl.DataFrame:
    parts = []
    for m, (attr_id, attr_name) in ATTRIBUTES.items():
        parts.append(
            obt.filter(pl.col(m).is_not_null()).select(
                "commodity_code",
                "commodity_name",
                "country_code",
                "country_name",
                "market_year",
                pl.lit(attr_id).alias("attribute_id"),
                pl.lit(attr_name).alias("attribute_name"),
                pl.col(f"{m}_unit").replace_strict(UNITS, return_dtype=pl.String).alias("unit_id"),
                pl.col(f"{m}_unit").alias("unit_description"),
                pl.col(m).alias("value"),
                "release_month",
                pl.col("release_month").dt.year().cast(pl.Int32).alias("calendar_year"),
                pl.col("release_month").dt.strftime("%m").alias("month"),
            )
        )
    return pl.concat(parts).sort("commodity_code", "country_code", "market_year", "attribute_id")


def _vintages(latest: pl.DataFrame) -> pl.DataFrame:
    """Every latest value as first seen in its release, plus earlier estimates."""
    cur = latest.select(
        "commodity_code",
        "country_code",
        "market_year",
        "attribute_id",
        "unit_id",
        "value",
        "release_month",
    )
    earlier = [  # (commodity, country, year, attribute, value, release)
        ("0711100", "BR", 2023, "028", 64300.0, dt.date(2022, 6, 1)),
        ("0711100", "BR", 2023, "088", 39000.0, dt.date(2022, 6, 1)),
        ("0711100", "VM", 2023, "028", 30800.0, dt.date(2022, 6, 1)),
        ("0440000", "US", 2022, "028", 367300.0, dt.date(2022, 5, 1)),
        ("0440000", "US", 2022, "028", 364700.0, dt.date(2022, 7, 1)),
        ("0440000", "US", 2022, "028", 354200.0, dt.date(2022, 9, 1)),
        ("0440000", "UP", 2022, "028", 25000.0, dt.date(2022, 5, 1)),
    ]
    units = {"0711100": "02", "0440000": "08"}
    old = pl.DataFrame(
        [
            {
                "commodity_code": c,
                "country_code": cc,
                "market_year": y,
                "attribute_id": a,
                "unit_id": units[c],
                "value": v,
                "release_month": r,
            }
            for c, cc, y, a, v, r in earlier
        ],
        schema=cur.schema,
    )
    return (
        pl.concat([old, cur])
        .with_columns(
            pl.col("release_month").dt.year().cast(pl.Int32).alias("calendar_year"),
            pl.col("release_month").dt.strftime("%m").alias("month"),
        )
        .sort("commodity_code", "country_code", "market_year", "attribute_id", "release_month")
    )


def tables() -> Tables:
    obt = _obt(_wide_rows())
    latest = _long(obt)
    return Tables(
        obt_commodity_metrics=obt,
        fct_psd_latest=latest,
        fct_psd_vintages=_vintages(latest),
        dim_commodity=pl.DataFrame(
            {
                "commodity_code": list(COMMODITIES),
                "commodity_name": [n for n, _, _ in COMMODITIES.values()],
            }
        ),
        dim_country=pl.DataFrame(
            {
                "country_code": list(COUNTRIES),
                "country_name": [n for n, _ in COUNTRIES.values()],
                "is_aggregate": [a for _, a in COUNTRIES.values()],
            }
        ),
        dim_attribute=pl.DataFrame(
            {
                "attribute_id": [a for a, _ in ATTRIBUTES.values()],
                "attribute_name": [n for _, n in ATTRIBUTES.values()],
                "metric_name": list(ATTRIBUTES),
            }
        ),
    )


def publish(settings: Settings, env: str = "prod", t: Tables | None = None) -> Tables:
    """Write every serving table of `env` to the local Iceberg catalog (replacing it)."""
    from materia import lakehouse

    t = t or tables()
    catalog = lakehouse.catalog(settings)
    ns = lakehouse.namespace_for(env)
    catalog.create_namespace_if_not_exists(ns)
    for name, df in t.__dict__.items():
        ident = f"{ns}.{name}"
        if catalog.table_exists(ident):
            catalog.drop_table(ident)
        arrow = df.to_arrow()
        table = catalog.create_table(ident, schema=arrow.schema)
        table.append(arrow)
    return t


def dev_variant(t: Tables) -> Tables:
    """A dev environment that changed one value and lost one row, for dev-vs-prod tests."""
    obt = t.obt_commodity_metrics.with_columns(
        pl.when(
            (pl.col("commodity_code") == "0440000")
            & (pl.col("country_code") == "US")
            & (pl.col("market_year") == 2022)
        )
        .then(pl.col("production") + 1000)
        .otherwise(pl.col("production"))
        .alias("production")
    ).filter(
        ~(
            (pl.col("commodity_code") == "0410000")
            & (pl.col("country_code") == "UR")
            & (pl.col("market_year") == 1987)
        )
    )
    return Tables(**{**t.__dict__, "obt_commodity_metrics": obt})


# --- pytest fixtures (imported by the workbench's test modules) ------------------------------
def settings_for(home: Path) -> Settings:
    """Local settings rooted at `home`, ignoring the developer's .env and environment."""
    from materia import settings as settings_mod

    return settings_mod.load(environ={"MATERIA_HOME": str(home)}, dotenv=home / "no.env")


# Built once per test process: every module that imports these fixtures gets its own
# FixtureDef, so the memo (not pytest's session scope) is what shares the lakehouse.
_BUILT: dict[str, Settings] = {}
SHARED_PSD = Path(__file__).resolve().parents[3] / "shared" / "data" / "psd"
# Coffee (two releases: the 64,300 → 62,600 revision) and cotton; grains would triple
# the transform time without adding a check.
REAL_DATASETS = "psd_coffee_csv.zip,psd_cotton_csv.zip"


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A lakehouse with prod and dev_alice published; its settings."""
    if "fixture" not in _BUILT:
        s = settings_for(tmp_path_factory.mktemp("workbench"))
        t = publish(s, "prod")
        publish(s, "dev_alice", dev_variant(t))
        _BUILT["fixture"] = s
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
        from materia import transform
        from materia.extract import psd
        from materia.settings import load
        from testsupport.psd_server import PsdServer

        home = tmp_path_factory.mktemp("real")
        with PsdServer(SHARED_PSD) as srv:
            env = {"MATERIA_HOME": str(home), "PSD_BASE_URL": srv.base_url}
            s = load(environ={**env, "PSD_DATASETS": REAL_DATASETS}, dotenv=home / "no.env")
            assert psd.main(s, as_of="2022-12-31", backfill_from="2022-06") == 0
        transform.run(s, "prod")
        _BUILT["real"] = s
    return _BUILT["real"]
