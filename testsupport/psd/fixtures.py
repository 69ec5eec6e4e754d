"""PSD-format release zips for tests and benchmarks, written exactly like USDA's.

Format (see ../shared/data/psd/README.md): one CSV member (`psd_coffee.csv` inside
`psd_coffee_csv.zip`), the unquoted PSD header, text columns always quoted, zero-padded
codes, Value with 4 decimals, CRLF line ends, ASCII.

    rows = sample_rows("2022-06")              # small, realistic, deterministic
    write_release(path / "psd_coffee_csv.zip", rows)
    write_release(next_path, revise(rows, "2022-12"))  # the next release: some values revised

`archive_layout(root, {"2022-06": rows, ...}, name)` writes `root/archives/YYYY/MM/name`
the way PSD Online publishes it. `large_rows()` streams rows for big files (benchmarks).
The fault helpers write broken archives: `corrupt_zip`, `wrong_header_zip`,
`truncated_zip`, `two_member_zip` (bytes-level twins are used by the test server).
`eu_breakdown_rows(primary)` builds the EU member-state breakdown file PSD Online
publishes beside a primary release (`psd_eu_area_prod_csv.zip`).
"""

from __future__ import annotations

import io
import random
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

from materia.sources.psd_codes import HEADER

COLUMNS = tuple(HEADER.split(","))
CRLF = "\r\n"


class PsdRow(NamedTuple):  # a tuple: cheap to make by the million for big files
    commodity_code: str
    commodity_description: str
    country_code: str
    country_name: str
    market_year: int
    calendar_year: int
    month: str  # "00".."12", the release that last revised the row
    attribute_id: str
    attribute_description: str
    unit_id: str
    unit_description: str
    value: float

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.commodity_code, self.country_code, self.market_year, self.attribute_id)

    def line(self) -> str:
        """The CSV line as USDA writes it (no line end)."""
        return (
            f'{self.commodity_code},"{self.commodity_description}",{self.country_code},'
            f'"{self.country_name[:30]}",{self.market_year},{self.calendar_year},{self.month},'
            f'{self.attribute_id},"{self.attribute_description}",{self.unit_id},'
            f'"{self.unit_description}",{self.value:.4f}'
        )


def member_for(name: str) -> str:
    """CSV member name inside a PSD zip: `psd_coffee_csv.zip` -> `psd_coffee.csv`."""
    stem = Path(name).name.removesuffix(".zip")
    return f"{stem.removesuffix('_csv')}.csv"


def _release(release: str) -> tuple[int, str]:
    year, month = release.split("-")
    return int(year), f"{int(month):02d}"


# --- writing -------------------------------------------------------------------------
def write_lines(path: Path, lines: Iterable[str], member: str, header: str = HEADER) -> Path:
    """Stream `header` + `lines` (CRLF) into a one-member deflated zip at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf,
        zf.open(member, "w", force_zip64=True) as raw,
        io.TextIOWrapper(raw, encoding="ascii", newline="") as out,
    ):
        out.write(header + CRLF)
        batch: list[str] = []
        for line in lines:
            batch.append(line)
            if len(batch) == 10_000:  # few large writes: much faster for big files
                out.write(CRLF.join(batch) + CRLF)
                batch.clear()
        if batch:
            out.write(CRLF.join(batch) + CRLF)
    return path


def write_raw(path: Path, data: bytes, member: str | None = None) -> Path:
    """A one-member zip holding exactly `data` (for bytes no PSD writer would produce)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member or member_for(path.name), data)
    return path


def write_release(path: Path | str, rows: Iterable[PsdRow], member: str | None = None) -> Path:
    """Write a PSD release zip; `member` defaults to the name USDA uses for `path`."""
    path = Path(path)
    return write_lines(path, (r.line() for r in rows), member or member_for(path.name))


def release_bytes(rows: Iterable[PsdRow], name: str = "psd_coffee_csv.zip") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member_for(name), HEADER + CRLF + "".join(r.line() + CRLF for r in rows))
    return buf.getvalue()


def land(
    where, rows: Iterable[PsdRow], month: str, stem: str = "psd_alldata_csv", etag: str = "e"
) -> str:
    """Put a release where the extractor lands it, `psd/<stem>/<YYYY>/<MM>/<etag>.zip`, in a
    landing store (anything with `write_bytes(key, data)`) or a local MATERIA_HOME's
    `landing/`; its key."""
    key = f"psd/{stem}/{month.replace('-', '/')}/{etag}.zip"
    if hasattr(where, "write_bytes") and not isinstance(where, Path):
        where.write_bytes(key, release_bytes(rows, f"{stem}.zip"))
    else:
        write_release(Path(where) / "landing" / key, rows)
    return key


def archive_layout(
    root: Path, releases: Mapping[str, Iterable[PsdRow]], name: str = "psd_coffee_csv.zip"
) -> dict[str, Path]:
    """Write `root/archives/YYYY/MM/<name>` for each release month "YYYY-MM"."""
    out = {}
    for release, rows in releases.items():
        year, month = _release(release)
        out[release] = write_release(root / "archives" / str(year) / month / name, rows)
    return out


# --- realistic rows ---------------------------------------------------------------------
# (code, description, unit per attribute, countries, attributes)
_COMMODITIES = {
    "0711100": (
        "Coffee, Green",
        [("BR", "Brazil"), ("CO", "Colombia"), ("VM", "Vietnam")],
        [
            ("028", "Production", "02", "(1000 60 KG BAGS)"),
            ("088", "Exports", "02", "(1000 60 KG BAGS)"),
            ("125", "Domestic Consumption", "02", "(1000 60 KG BAGS)"),
            ("176", "Ending Stocks", "02", "(1000 60 KG BAGS)"),
        ],
    ),
    "2631000": (
        "Cotton",
        [("US", "United States"), ("CH", "China")],
        [
            ("004", "Area Harvested", "04", "(1000 HA)"),
            ("028", "Production", "27", "1000 480 lb. Bales"),
            ("088", "Exports", "27", "1000 480 lb. Bales"),
            ("176", "Ending Stocks", "27", "1000 480 lb. Bales"),
        ],
    ),
    "0410000": (
        "Wheat",
        [("US", "United States"), ("E4", "European Union")],
        [
            ("004", "Area Harvested", "04", "(1000 HA)"),
            ("028", "Production", "08", "(1000 MT)"),
            ("088", "Exports", "08", "(1000 MT)"),
            ("184", "Yield", "26", "(MT/HA)"),
        ],
    ),
}
# Real values (README checks): BR coffee production in the 2022-06 release, US cotton 2022.
_KNOWN = {
    ("0711100", "BR", 2020, "028"): 60500.0,
    ("0711100", "BR", 2021, "028"): 69900.0,
    ("0711100", "BR", 2022, "028"): 58100.0,
    ("0711100", "BR", 2023, "028"): 64300.0,
    ("2631000", "US", 2022, "028"): 14031.0,
}
# How the next release revises a known value (BR 2023: 64,300 -> 62,600 in 2022-12).
_REVISIONS = {("0711100", "BR", 2023, "028"): 62600.0}
PRE_TRACKING_YEAR = 2003


def _synthetic(key: tuple[str, str, int, str]) -> float:
    if key in _KNOWN:
        return _KNOWN[key]
    rnd = random.Random("|".join(map(str, key)))
    if key[3] == "184":  # yields are small ratios
        return round(rnd.uniform(2.5, 6.5), 2)
    return float(rnd.randrange(500, 40000, 10))


def sample_rows(
    release: str = "2022-06",
    commodities: Iterable[str] | None = None,
    years: Iterable[int] = range(2020, 2024),
) -> list[PsdRow]:
    """A small deterministic release: a few commodities, countries, attributes, years.

    The two newest market years carry the release's own stamp, older ones an earlier
    stamp, and one pre-tracking year (Month 00) is included, as in real files.
    """
    rel_year, rel_month = _release(release)
    years = sorted(years)
    rows = []
    for code in commodities or _COMMODITIES:
        desc, countries, attributes = _COMMODITIES[code]
        for country_code, country_name in countries:
            for year in [PRE_TRACKING_YEAR, *years]:
                if year == PRE_TRACKING_YEAR:
                    stamp = (year - 1, "00")
                elif year >= years[-1] - 1:
                    stamp = (rel_year, rel_month)
                else:
                    stamp = (rel_year - 1, "12")
                for attr_id, attr_desc, unit_id, unit_desc in attributes:
                    key = (code, country_code, year, attr_id)
                    rows.append(
                        PsdRow(
                            code,
                            desc,
                            country_code,
                            country_name,
                            year,
                            stamp[0],
                            stamp[1],
                            attr_id,
                            attr_desc,
                            unit_id,
                            unit_desc,
                            _synthetic(key),
                        )  # fmt: skip
                    )
    return rows


def revise(
    rows: Iterable[PsdRow], release: str, changes: Mapping[tuple, float] | None = None
) -> list[PsdRow]:
    """The next release: `changes` (default: the real BR 2023 revision) get a new value,
    and those plus every row of the newest market year get the new release's stamp."""
    rows = list(rows)
    year, month = _release(release)
    changes = _REVISIONS if changes is None else changes
    newest = max(r.market_year for r in rows)
    out = []
    for r in rows:
        if r.key in changes:
            r = r._replace(value=changes[r.key], calendar_year=year, month=month)
        elif r.market_year == newest:
            r = r._replace(calendar_year=year, month=month)
        out.append(r)
    return out


# --- a breakdown file -------------------------------------------------------------------
# Member states PSD Online's EU breakdown lists, with a share of the EU's area and
# production (the last takes the remainder, so the members add up to the EU exactly).
EU_MEMBERS: dict[str, list[tuple[str, str, float]]] = {
    "default": [
        ("FR", "France", 0.27), ("GM", "Germany", 0.17), ("PL", "Poland", 0.10),
        ("RO", "Romania", 0.08), ("SP", "Spain", 0.06), ("IT", "Italy", 0.05),
        ("BU", "Bulgaria", 0.05), ("HU", "Hungary", 0.0),
    ],
    "2631000": [("GR", "Greece", 0.8), ("SP", "Spain", 0.18), ("BU", "Bulgaria", 0.0)],
}  # fmt: skip
EU_FILE = "psd_eu_area_prod_csv.zip"


def eu_breakdown_rows(
    primary: Iterable[PsdRow], members: Mapping[str, list[tuple[str, str, float]]] = EU_MEMBERS
) -> list[PsdRow]:
    """The rows of an EU member-state file built like PSD Online's `psd_eu_area_prod_csv.zip`
    for the EU (E4) rows of a primary release: member states (FR, GM, ...) under the same
    commodity codes as the EU row, area harvested (004), production (028) and yield (184),
    each with the EU row's stamp; per commodity, year and attribute the members add up to
    the EU's value exactly (`members`: commodity code -> (code, name, share); the last
    member takes the remainder)."""
    eu_rows = [r for r in primary if r.country_code == "E4"]
    eu = {r.key: r for r in eu_rows if r.attribute_id in ("004", "028")}
    eu_yield = {(r.commodity_code, r.market_year): r for r in eu_rows if r.attribute_id == "184"}
    out: list[PsdRow] = []
    for (code, *_), parent in sorted(eu.items()):
        shares = members.get(code, members["default"])
        rest = parent.value
        for i, (cc, name, share) in enumerate(shares):
            value = rest if i == len(shares) - 1 else float(round(parent.value * share))
            rest -= value
            out.append(parent._replace(country_code=cc, country_name=name, value=value))
    by_key = {r.key: r for r in out}
    for r in list(out):  # yield = production / area, in the EU's own yield unit
        area = by_key.get((r.commodity_code, r.country_code, r.market_year, "004"))
        if r.attribute_id != "028" or area is None or not area.value:
            continue
        parent_yield = eu_yield.get((r.commodity_code, r.market_year))
        unit_id, unit = (parent_yield.unit_id, parent_yield.unit_description) if parent_yield else ("26", "(MT/HA)")  # fmt: skip
        kg = unit == "(KG/HA)"
        value = round(r.value * (217.7243 if kg else 1.0) / area.value, 0 if kg else 2)
        out.append(r._replace(attribute_id="184", attribute_description="Yield", unit_id=unit_id, unit_description=unit, value=value))  # fmt: skip
    return out


def large_rows(n: int, seed: int = 0) -> Iterator[PsdRow]:
    """`n` distinct, valid rows streamed without holding them (for big benchmark files).

    Values are random, so it compresses about 10:1 (real files: ~19:1): about 12 bytes
    of zip per row, so ~1,100,000 rows make a 13 MB zip. Stamps end in 2021, so the rows
    suit any release from 2022 on.
    """
    rnd = random.Random(seed)
    attrs = list(
        {a[0]: a for _, _, attributes in _COMMODITIES.values() for a in attributes}.values()
    )
    countries = [f"{c // 26 + 65:c}{c % 26 + 65:c}" for c in range(676)]
    months = [f"{m:02d}" for m in range(13)]
    for i in range(n):
        # Mixed-radix decomposition of i keeps (commodity, country, year, attribute) unique.
        rest, a = divmod(i, len(attrs))
        rest, y = divmod(rest, 66)
        commodity_n, c = divmod(rest, 676)
        country = countries[c]
        yield PsdRow(
            f"{commodity_n:07d}", "Synthetic Commodity", country, "Country " + country,
            1960 + y, min(1960 + y, 2021), months[i % 13], *attrs[a],
            rnd.getrandbits(30) / 10_000 - 10_000,
        )  # fmt: skip


# --- faults ---------------------------------------------------------------------------
def corrupt_bytes(data: bytes) -> bytes:
    """Flip bytes inside the compressed data: the zip opens but fails its CRC check."""
    buf = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.infolist()[0]
    # Local header is 30 bytes + name + extra; corrupt the middle of the payload.
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    mid = start + max(info.compress_size // 2, 1)
    for i in range(mid, min(mid + 16, start + info.compress_size)):
        buf[i] ^= 0xFF
    return bytes(buf)


def wrong_header_bytes(name: str = "psd_coffee_csv.zip") -> bytes:
    """A valid zip whose CSV has a non-PSD header."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member_for(name), "code,country,year,value\r\n0711100,BR,2023,1.0000\r\n")
    return buf.getvalue()


def two_member_bytes(rows: Iterable[PsdRow], name: str = "psd_coffee_csv.zip") -> bytes:
    buf = io.BytesIO(release_bytes(rows, name))
    with zipfile.ZipFile(buf, "a") as zf:
        zf.writestr("readme.txt", "extra member\r\n")
    return buf.getvalue()


def corrupt_zip(src: Path, dst: Path) -> Path:
    dst.write_bytes(corrupt_bytes(src.read_bytes()))
    return dst


def wrong_header_zip(dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(wrong_header_bytes(dst.name))
    return dst


def truncated_zip(src: Path, dst: Path, keep: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def two_member_zip(dst: Path, rows: Iterable[PsdRow]) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(two_member_bytes(rows, dst.name))
    return dst


def zip_bomb(dst: Path, inflated: int = 2 * 2**30, member: str | None = None) -> Path:
    """A valid one-member zip whose CSV inflates to `inflated` bytes of digits ('0'),
    about a thousandth of that zipped: 2 GiB from 2 MB in about a second.

    Each 1 MiB chunk is deflated once and its output repeated: a full flush resets the
    compressor, so every identical chunk deflates to identical bytes (zipfile still
    computes the real CRC over all the data)."""
    chunk = b"0" * 2**20
    dst.parent.mkdir(parents=True, exist_ok=True)

    class Repeating:
        def __init__(self) -> None:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            self.block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)

        def compress(self, data: bytes) -> bytes:
            assert data == chunk, "only whole chunks of the pattern"
            return self.block

        def flush(self) -> bytes:
            return zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # the final empty block

    original = zipfile._get_compressor  # type: ignore[attr-defined]
    zipfile._get_compressor = lambda *a, **k: Repeating()  # type: ignore[attr-defined]
    try:
        with (
            zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as zf,
            zf.open(member or member_for(dst.name), "w", force_zip64=True) as out,
        ):
            for _ in range(inflated // len(chunk)):
                out.write(chunk)
    finally:
        zipfile._get_compressor = original  # type: ignore[attr-defined]
    return dst
