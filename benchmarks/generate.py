"""Full-size PSD data for the benchmarks: a psd_alldata-like release and its monthly series.

Release 1 is built from the real releases in `<repo>/../shared/data/psd` when present (the
newest file of each dataset, about 870k rows), replicated under new commodity codes and
names until it has `rows` rows; synthetic otherwise. Release r+1 is release r with about
1 % of the tracked, non-zero values changed (each re-stamped with release r+1) and about
2.6 % of unchanged rows re-stamped, the proportions seen between the two real coffee
releases. Everything is written in the real format byte for byte (header, quoting, CRLF,
4 decimals, zero-padded codes, names <= 30 chars) by DuckDB, and zipped with zipfile.

A series may start at another month (`first`, e.g. 2006-01 for the 240-release history):
release 1 is then the same data moved back in time, every market year and stamp by the
same number of months (rows that would fall before PSD's first market year, 1960, are
left out before scaling), so that every release passes the archive check for its month.

Output is laid out like the PSD Online archive so a PSD server can serve it:
`<root>/archives/<YYYY>/<MM>/psd_alldata_csv.zip`, with `<root>/meta/<YYYY>-<MM>.json`
(rows, changed, restamped) written after each zip. Roots are cached under
`benchmarks/.data/` keyed by source, rows and generator version; a release that exists
is never rebuilt.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from materia.sources.psd_codes import HEADER

GEN_VERSION = 2  # 2: breakdown files left out (their stamps run past the first release)
DATASET = "psd_alldata_csv.zip"
MEMBER = "psd_alldata.csv"
FIRST_RELEASE = (2022, 12)  # the newest real release in the shared data
CHANGE_SHARE = 0.01  # of all rows: values revised per release
RESTAMP_SHARE = 0.026  # of all rows: unchanged values re-stamped per release

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO / "benchmarks" / ".data"
SHARED_PSD = REPO.parent / "shared" / "data" / "psd"


@dataclass(frozen=True)
class Release:
    year: int
    month: int
    zip_path: Path
    rows: int
    changed: int  # values that differ from the previous release
    restamped: int  # unchanged values with a new stamp

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def as_of(self) -> str:
        """A date in the release month: the extractor's --as-of that finds this release."""
        return f"{self.year:04d}-{self.month:02d}-28"


@dataclass(frozen=True)
class Series:
    root: Path  # serve this folder as PSD Online's downloads/
    source: str  # "real" or "synthetic"
    releases: list[Release]


def month_add(ym: tuple[int, int], n: int) -> tuple[int, int]:
    i = ym[0] * 12 + ym[1] - 1 + n
    return i // 12, i % 12 + 1


def shared_archives() -> Path | None:
    path = SHARED_PSD / "archives"
    return path if path.is_dir() and any(path.rglob("*.zip")) else None


def build(
    rows: int = 2_100_000,
    releases: int = 13,
    cache: Path = DATA_DIR,
    source: str | None = None,
    log=print,
    first: tuple[int, int] = FIRST_RELEASE,
) -> Series:
    """Ensure releases 1..`releases` of `rows` rows, from month `first` on, exist under
    `cache`; return them."""
    if source is None:
        source = "real" if shared_archives() else "synthetic"
    if source == "real" and not shared_archives():
        raise FileNotFoundError(f"no real PSD releases under {SHARED_PSD / 'archives'}")
    root = cache / f"psd-{source}-rows{rows}-v{GEN_VERSION}"
    if first != FIRST_RELEASE:
        root = root.with_name(f"{root.name}-from{first[0]:04d}{first[1]:02d}")
    root.mkdir(parents=True, exist_ok=True)
    out: list[Release] = []
    # One DuckDB session for the whole run: table `rel` carries release r into r+1, so a
    # release is read back from its zip only when an earlier run stopped there.
    with tempfile.TemporaryDirectory(prefix="materia-gen-", dir=root) as td:
        tmp = Path(td)
        con = _connect(tmp)
        has_prev = False
        for r in range(releases):
            ym = month_add(first, r)
            meta = _meta_path(root, ym)
            if not meta.exists():
                t0 = time.perf_counter()
                if r == 0:
                    _first(con, tmp, ym, rows, source)
                    changed = restamped = 0
                else:
                    if not has_prev:
                        _read_csvs(con, [out[-1].zip_path], tmp)
                        con.execute("CREATE OR REPLACE TABLE rel AS SELECT * FROM src")
                    changed, restamped = _revise(con, ym, seed=r)
                _emit(con, tmp, root, ym, source, changed, restamped)
                has_prev = True
                log(
                    f"generated {source} release {ym[0]:04d}-{ym[1]:02d} ({rows:,} rows) "
                    f"in {time.perf_counter() - t0:.1f}s"
                )
            else:
                has_prev = False
            m = json.loads(meta.read_text())
            out.append(
                Release(ym[0], ym[1], root / m["zip"], m["rows"], m["changed"], m["restamped"])
            )
        con.close()
    return Series(root=root, source=source, releases=out)


def _meta_path(root: Path, ym: tuple[int, int]) -> Path:
    return root / "meta" / f"{ym[0]:04d}-{ym[1]:02d}.json"


# --- building ------------------------------------------------------------------------
def _connect(tmp: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"SET temp_directory = '{tmp}'")
    con.execute("SET preserve_insertion_order = true")
    return con


def _read_csvs(con: duckdb.DuckDBPyConnection, zips: list[Path], tmp: Path) -> None:
    """Load the CSV member of each zip into table `src` (every column VARCHAR)."""
    csvs = []
    for i, z in enumerate(zips):
        with zipfile.ZipFile(z) as zf:
            (member,) = zf.namelist()
            dest = tmp / f"in{i}.csv"
            with zf.open(member) as src, open(dest, "wb") as f:
                shutil.copyfileobj(src, f, 1 << 20)
            csvs.append(str(dest))
    con.execute(
        "CREATE OR REPLACE TABLE src AS SELECT * FROM read_csv(?, header = true, "
        "all_varchar = true, quote = '\"', escape = '\"')",
        [csvs],
    )
    for c in csvs:
        Path(c).unlink()


def _newest_real_zips() -> list[Path]:
    """The newest release of each real primary dataset (coffee appears twice). Breakdown
    files are not part of an alldata-like release (they split rows it already has)."""
    newest: dict[str, Path] = {}
    for z in sorted((SHARED_PSD / "archives").glob("*/*/*.zip")):
        if "breakdown" not in z.name:
            newest[z.name] = z  # sorted by YYYY/MM, so the last one wins
    return sorted(newest.values())


def _first(
    con: duckdb.DuckDBPyConnection, tmp: Path, ym: tuple[int, int], rows: int, source: str
) -> None:
    if source == "real":
        _read_csvs(con, _newest_real_zips(), tmp)
        _shift(con, _months(ym) - _months(FIRST_RELEASE))
    else:
        _synthetic_src(con, ym)
    _scale(con, rows)
    con.execute("DROP TABLE IF EXISTS src")


def _months(ym: tuple[int, int]) -> int:
    return ym[0] * 12 + ym[1] - 1


def _shift(con: duckdb.DuckDBPyConnection, months: int) -> None:
    """Move table `src` by `months` (<= 0): each stamp by that many months (a pre-tracking
    stamp, Month 00, by the whole years in it), each market year by the whole years; rows
    before PSD's first market year (1960) or stamp year (1950) are left out."""
    if months == 0:
        return
    years = -(-months // 12) if months < 0 else months // 12  # toward zero
    con.execute(
        """
        CREATE OR REPLACE TABLE src AS
        WITH s AS (
            SELECT *,
                CAST(Market_Year AS INTEGER) + $years AS my,
                CASE WHEN Month = '00' THEN CAST(Calendar_Year AS INTEGER) * 12 + $years * 12
                     ELSE CAST(Calendar_Year AS INTEGER) * 12 + CAST(Month AS INTEGER) - 1 + $months
                END AS stamp
            FROM src
        )
        SELECT Commodity_Code, Commodity_Description, Country_Code, Country_Name,
            my::VARCHAR AS Market_Year, (stamp // 12)::VARCHAR AS Calendar_Year,
            CASE WHEN Month = '00' THEN '00' ELSE lpad((stamp % 12 + 1)::VARCHAR, 2, '0') END AS Month,
            Attribute_ID, Attribute_Description, Unit_ID, Unit_Description, Value
        FROM s
        WHERE my >= 1960 AND stamp // 12 >= 1950
        """,
        {"years": years, "months": months},
    )


def _emit(
    con: duckdb.DuckDBPyConnection,
    tmp: Path,
    root: Path,
    ym: tuple[int, int],
    source: str,
    changed: int,
    restamped: int,
) -> None:
    """Write table `rel` as this release's zip (atomically), then its meta file."""
    n = con.execute("SELECT count(*) FROM rel").fetchone()[0]
    csv = tmp / MEMBER
    _write_csv(con, csv)
    rel_key = f"archives/{ym[0]:04d}/{ym[1]:02d}/{DATASET}"
    dest = root / rel_key
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = tmp / DATASET
    _zip(csv, part, datetime(ym[0], ym[1], 20, 15, 0, 0))
    os.replace(part, dest)  # tmp is inside root: same filesystem, atomic
    meta = _meta_path(root, ym)
    meta.parent.mkdir(parents=True, exist_ok=True)
    part = meta.with_suffix(".part")
    part.write_text(
        json.dumps(
            {
                "zip": rel_key,
                "rows": n,
                "changed": changed,
                "restamped": restamped,
                "csv_bytes": len(HEADER) + 2 + csv.stat().st_size,
                "zip_bytes": dest.stat().st_size,
                "source": source,
                "generator_version": GEN_VERSION,
            },
            indent=1,
        )
    )
    os.replace(part, meta)  # the meta file marks the release complete
    csv.unlink()


def _scale(con: duckdb.DuckDBPyConnection, rows: int) -> None:
    """Table `rel`: `rows` rows made of whole copies of `src` under new commodity codes.

    Copy 0 keeps the real codes; copy k re-codes each commodity as 9kkcccc (unique, 7
    digits) and names it '<name, cut> #k' (<= 30 chars). A partial copy takes whole
    (commodity, country) series in a hashed order, so small sizes stay a realistic mix.
    """
    n_src = con.execute("SELECT count(*) FROM src").fetchone()[0]
    copies = max(1, -(-rows // n_src))
    con.execute(
        """
        CREATE OR REPLACE TABLE codes AS
        SELECT Commodity_Code AS code, row_number() OVER (ORDER BY Commodity_Code) AS idx
        FROM (SELECT DISTINCT Commodity_Code FROM src)
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TABLE rel AS
        SELECT
            CASE WHEN k = 0 THEN s.Commodity_Code
                 ELSE printf('9%02d%04d', k, c.idx) END AS Commodity_Code,
            CASE WHEN k = 0 THEN s.Commodity_Description
                 ELSE left(s.Commodity_Description, 30 - length(' #' || k)) || ' #' || k
            END AS Commodity_Description,
            s.* EXCLUDE (Commodity_Code, Commodity_Description)
        FROM src s JOIN codes c ON c.code = s.Commodity_Code, range(?) t(k)
        ORDER BY k, hash(s.Commodity_Code, s.Country_Code), s.Market_Year, s.Attribute_ID
        LIMIT ?
        """,
        [copies, rows],
    )
    # File order, kept by every later step (preserve_insertion_order): no sort per release.
    con.execute(
        """
        CREATE OR REPLACE TABLE rel AS SELECT * FROM rel
        ORDER BY Commodity_Description, Country_Name, Market_Year, Attribute_ID
        """
    )


def _revise(con: duckdb.DuckDBPyConnection, ym: tuple[int, int], seed: int) -> tuple[int, int]:
    """Turn `rel` into the next release; return (values changed, unchanged re-stamped).

    Revisions and re-stamps fall on tracked rows (Month <> '00'; revisions only on non-zero
    values), where USDA revises; probabilities are scaled so that about CHANGE_SHARE and
    RESTAMP_SHARE of all rows are affected.
    """
    total, tracked, eligible = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE Month <> '00'),"
        " count(*) FILTER (WHERE Month <> '00' AND TRY_CAST(Value AS DOUBLE) <> 0) FROM rel"
    ).fetchone()
    p_change = min(0.4, CHANGE_SHARE * total / max(eligible, 1))
    p_restamp = min(0.4, RESTAMP_SHARE * total / max(tracked, 1))
    cy, mm = str(ym[0]), f"{ym[1]:02d}"
    con.execute(
        """
        CREATE OR REPLACE TABLE rel AS
        WITH h AS (
            SELECT *,
                (hash(Commodity_Code, Country_Code, Market_Year, Attribute_ID, $seed) % 1000000)
                    / 1000000.0 AS u,
                hash($seed, Attribute_ID, Market_Year, Country_Code, Commodity_Code) % 900 AS v,
                CAST(Value AS DOUBLE) AS x
            FROM rel
        ), c AS (
            SELECT *,
                Month <> '00' AND x <> 0 AND u < $p_change AS is_change,
                -- 0.5 % .. 5 % up or down
                round(x * (1 + (CASE WHEN v % 2 = 0 THEN 1 ELSE -1 END) * (5 + v // 2 / 10) / 1000), 4)
                    AS x2
            FROM h
        ), d AS (
            SELECT *,
                CASE WHEN NOT is_change THEN x WHEN x2 = x THEN x + 0.0001 ELSE x2 END AS nx,
                NOT is_change AND Month <> '00' AND u >= 0.5 AND u < 0.5 + $p_restamp
                    AS is_restamp
            FROM c
        )
        SELECT
            Commodity_Code, Commodity_Description, Country_Code, Country_Name, Market_Year,
            CASE WHEN is_change OR is_restamp THEN $cy ELSE Calendar_Year END AS Calendar_Year,
            CASE WHEN is_change OR is_restamp THEN $mm ELSE Month END AS Month,
            Attribute_ID, Attribute_Description, Unit_ID, Unit_Description,
            CASE WHEN is_change THEN printf('%.4f', nx) ELSE Value END AS Value,
            is_change, is_restamp
        FROM d
        """,
        {"seed": seed, "p_change": p_change, "p_restamp": p_restamp, "cy": cy, "mm": mm},
    )
    changed, restamped = con.execute(
        "SELECT count(*) FILTER (WHERE is_change), count(*) FILTER (WHERE is_restamp) FROM rel"
    ).fetchone()
    con.execute("ALTER TABLE rel DROP COLUMN is_change")
    con.execute("ALTER TABLE rel DROP COLUMN is_restamp")
    return changed, restamped


def _write_csv(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Write `rel` as PSD CSV lines without the header (`_zip` adds it): quoted text, CRLF
    (the CR is part of each line, DuckDB adds the LF), in the table's order."""
    con.execute(
        f"""
        COPY (
            SELECT concat_ws(',', Commodity_Code, '"' || Commodity_Description || '"',
                Country_Code, '"' || Country_Name || '"', Market_Year, Calendar_Year,
                Month, Attribute_ID, '"' || Attribute_Description || '"', Unit_ID,
                '"' || Unit_Description || '"', Value) || chr(13)
            FROM rel
        ) TO '{path}' (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\t')
        """
    )


def _zip(body: Path, dest: Path, when: datetime) -> None:
    """One deflated CSV member (header + body), as USDA's files have (MS-DOS attributes)."""
    info = zipfile.ZipInfo(MEMBER, date_time=when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 0
    info.external_attr = 0
    with (
        zipfile.ZipFile(dest, "w", compresslevel=6) as zf,
        open(body, "rb") as src,
        zf.open(info, "w", force_zip64=body.stat().st_size > 2**31) as out,
    ):
        out.write(HEADER.encode() + b"\r\n")
        shutil.copyfileobj(src, out, 1 << 20)


# --- synthetic source (no real data on this machine) -----------------------------------
_COMMODITIES = [
    ("0440000", "Corn", "(1000 MT)"),
    ("0410000", "Wheat", "(1000 MT)"),
    ("2222000", "Oilseed, Soybean", "(1000 MT)"),
    ("0422110", "Rice, Milled", "(1000 MT)"),
    ("0430000", "Barley", "(1000 MT)"),
    ("0711100", "Coffee, Green", "(1000 60 KG BAGS)"),
    ("2631000", "Cotton", "(1000 480 LB. BALES)"),
    ("0612000", "Sugar, Centrifugal", "(1000 MT)"),
    ("0011000", "Animal Numbers, Cattle", "(1000 HEAD)"),
    ("0111000", "Meat, Beef and Veal", "(1000 MT CWE)"),
    ("4232000", "Oil, Palm", "(1000 MT)"),
    ("0459200", "Sorghum", "(1000 MT)"),
]
_COUNTRIES = [
    ("US", "United States"), ("BR", "Brazil"), ("AR", "Argentina"), ("CH", "China"),
    ("IN", "India"), ("E4", "European Union"), ("UR", "Union of Soviet Socialist Repu"),
    ("RS", "Russia"), ("UP", "Ukraine"), ("CA", "Canada"), ("AS", "Australia"),
    ("MX", "Mexico"), ("ID", "Indonesia"), ("VM", "Vietnam"), ("TH", "Thailand"),
    ("PK", "Pakistan"), ("EG", "Egypt"), ("JA", "Japan"), ("KS", "Korea, South"),
    ("TU", "Turkey"), ("SF", "South Africa"), ("NI", "Nigeria"), ("ET", "Ethiopia"),
    ("CO", "Colombia"), ("PE", "Peru"), ("KZ", "Kazakhstan"), ("IR", "Iran"),
    ("BG", "Bangladesh"), ("PH", "Philippines"), ("MY", "Malaysia"),
]  # fmt: skip
_ATTRIBUTES = [
    ("004", "Area Harvested", "04", "(1000 HA)"),
    ("020", "Beginning Stocks", None, None),
    ("028", "Production", None, None),
    ("057", "Imports", None, None),
    ("086", "Total Supply", None, None),
    ("088", "Exports", None, None),
    ("125", "Domestic Consumption", None, None),
    ("130", "Feed Dom. Consumption", None, None),
    ("176", "Ending Stocks", None, None),
    ("178", "Total Distribution", None, None),
    ("184", "Yield", "40", "(MT/HA)"),
]


def _synthetic_src(con: duckdb.DuckDBPyConnection, ym: tuple[int, int]) -> None:
    """Table `src`: every commodity x country x attribute for market years 1960..release.

    Values are log-normal-ish per country and commodity with a trend; history before
    2005 carries Month 00; tracked years carry stamps up to the release month.
    """
    con.execute("CREATE TABLE com(code VARCHAR, name VARCHAR, unit VARCHAR)")
    con.executemany("INSERT INTO com VALUES (?, ?, ?)", _COMMODITIES)
    con.execute("CREATE TABLE cty(code VARCHAR, name VARCHAR)")
    con.executemany("INSERT INTO cty VALUES (?, ?)", _COUNTRIES)
    con.execute("CREATE TABLE att(id VARCHAR, name VARCHAR, unit_id VARCHAR, unit VARCHAR)")
    con.executemany("INSERT INTO att VALUES (?, ?, ?, ?)", _ATTRIBUTES)
    last_my = ym[0] + 1
    con.execute(
        f"""
        CREATE TABLE src AS
        WITH g AS (
            SELECT com.*, cty.code AS ccode, cty.name AS cname, att.id AS aid,
                   att.name AS aname, coalesce(att.unit_id, '08') AS uid,
                   coalesce(att.unit, com.unit) AS uname, y AS my,
                   hash(com.code, cty.code, att.id) AS h, hash(com.code, cty.code, att.id, y) AS hy,
                   -- a stamp after the release month becomes the release month
                   y >= {ym[0]} OR (y + 1) * 100 + 1 + hash(com.code, cty.code, att.id, y) % 12
                       > {ym[0] * 100 + ym[1]} AS late
            FROM com, cty, att, range(1960, {last_my + 1}) r(y)
        )
        SELECT code AS Commodity_Code, name AS Commodity_Description, ccode AS Country_Code,
            cname AS Country_Name, my::VARCHAR AS Market_Year,
            CASE WHEN my < 2005 THEN my::VARCHAR
                 WHEN late THEN '{ym[0]}' ELSE (my + 1)::VARCHAR END AS Calendar_Year,
            CASE WHEN my < 2005 THEN '00'
                 WHEN late THEN '{ym[1]:02d}'
                 ELSE lpad((1 + hy % 12)::VARCHAR, 2, '0') END AS Month,
            aid AS Attribute_ID, aname AS Attribute_Description, uid AS Unit_ID,
            uname AS Unit_Description,
            printf('%.4f', CASE
                WHEN aid = '184' THEN round(0.5 + (h % 80) / 10.0 + (my - 1960) / 40.0, 2)
                WHEN h % 5 = 0 THEN 0
                ELSE round(exp(2 + (h % 700) / 100.0) * (1 + (my - 1960) / 50.0)
                           * (0.9 + (hy % 200) / 1000.0), 4) END) AS Value
        FROM g
        """
    )


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_100_000)
    ap.add_argument("--releases", type=int, default=13)
    ap.add_argument("--source", choices=["real", "synthetic"])
    ap.add_argument("--cache", type=Path, default=DATA_DIR)
    ap.add_argument("--first", default="2022-12", help="month of release 1 (YYYY-MM)")
    a = ap.parse_args()
    y, m = (int(x) for x in a.first.split("-"))
    s = build(a.rows, a.releases, a.cache, a.source, first=(y, m))
    for rel in s.releases:
        print(rel.label, rel.rows, rel.changed, rel.restamped, rel.zip_path)
