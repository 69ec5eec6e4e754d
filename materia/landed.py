"""Landed PSD archives as DuckDB reads them: a manifest of landing keys, and a verified
local CSV per archive.

DuckDB has no zip reader here, so each landed zip's single CSV member is inflated once
into a local cache (`$MATERIA_HOME/cache/psd_csv/<stem>/<YYYY>/<MM>/<etag>.csv`) and
DuckDB's parallel CSV reader takes it from there; the zip stays the immutable archive.
The header is checked while inflating, so a drifted or empty file fails here, with its
landing key, before SQLMesh changes anything.
"""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from materia.errors import MateriaError
from materia.psd_codes import COLUMNS
from materia.settings import Settings
from materia.storage import LandingStore

KEY_RE = re.compile(
    r"^psd/(?P<stem>[A-Za-z0-9_.-]+)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<etag>[^/]+)\.zip$"
)
# Types DuckDB applies while reading: codes stay zero-padded strings.
TYPES = {c: "VARCHAR" for c in COLUMNS} | {
    "Market_Year": "INTEGER",
    "Calendar_Year": "INTEGER",
    "Value": "DOUBLE",
}


@dataclass(frozen=True, order=True)
class Landed:
    """One landed archive: `psd/<stem>/<YYYY>/<MM>/<etag>.zip`."""

    release_month: date
    stem: str
    etag: str
    key: str

    @classmethod
    def parse(cls, key: str) -> Landed | None:
        m = KEY_RE.match(key)
        if not m:
            return None
        return cls(date(int(m["y"]), int(m["m"]), 1), m["stem"], m["etag"], key)


# The settings of the transform in progress; the SQLMesh macro reads landing through
# these (a standalone `sqlmesh` CLI run falls back to the environment).
_active: Settings | None = None


@contextmanager
def using(settings: Settings) -> Iterator[None]:
    global _active
    previous, _active = _active, settings
    try:
        yield
    finally:
        _active = previous


def active_settings() -> Settings:
    if _active is not None:
        return _active
    from materia.settings import load

    return load()


def manifest(store: LandingStore) -> list[Landed]:
    """Every landed PSD archive, oldest release first (non-archive keys are ignored)."""
    return sorted(x for k in store.list("psd/") if (x := Landed.parse(k)) is not None)


def cache_dir(settings: Settings) -> Path:
    return settings.home / "cache" / "psd_csv"


def cached_csv(settings: Settings, item: Landed) -> Path:
    y, m = item.release_month.year, item.release_month.month
    return cache_dir(settings) / item.stem / f"{y:04d}" / f"{m:02d}" / f"{item.etag}.csv"


def ensure_csv(settings: Settings, store: LandingStore, item: Landed) -> Path:
    """The archive's CSV member, inflated and header-checked, as a local file."""
    dest = cached_csv(settings, item)
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    where = store.url(item.key)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        with store.open(item.key) as raw, zipfile.ZipFile(raw) as zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
            if len(members) != 1:
                raise MateriaError(f"{where}: expected one CSV member, found {len(members)}")
            with zf.open(members[0]) as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)  # CRC is checked at the end
        _check_header(tmp, where)
        os.replace(tmp, dest)
    except zipfile.BadZipFile as e:
        raise MateriaError(f"{where}: not a readable zip archive ({e})") from e
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _check_header(path: Path, where: str) -> None:
    with open(path, "rb") as f:
        header = f.readline().decode("ascii", "replace").strip()
        has_data = bool(f.readline().strip())
    if not header:
        raise MateriaError(f"{where}: empty CSV file")
    names = [h.strip().strip('"') for h in header.split(",")]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise MateriaError(f"{where}: CSV header lacks column(s) {', '.join(missing)}")
    if not has_data:
        raise MateriaError(f"{where}: CSV has a header but no data rows")


def select_sql(path: Path, item: Landed) -> str:
    """One file as rows of raw.psd_alldata; extra columns are dropped, names are quoted."""
    types = ", ".join(f"'{c}': '{t}'" for c, t in TYPES.items())
    cols = ", ".join(f'"{c}"' for c in COLUMNS)
    p = str(path).replace("'", "''")
    etag = item.etag.replace("'", "''")
    return (
        f"SELECT '{item.stem}' AS dataset, DATE '{item.release_month.isoformat()}' AS "
        f"release_month, '{etag}' AS etag, {cols} "
        f"FROM read_csv('{p}', header = true, delim = ',', quote = '\"', "
        f"auto_detect = true, types = {{{types}}})"
    )


def empty_sql() -> str:
    """The same columns with no rows: no archive landed in the interval."""
    cols = ", ".join(f'NULL::{t} AS "{c}"' for c, t in TYPES.items())
    return (
        "SELECT NULL::VARCHAR AS dataset, NULL::DATE AS release_month, "
        f"NULL::VARCHAR AS etag, {cols} WHERE false"
    )


def union_sql(settings: Settings, start: date, end: date) -> str:
    """Every archive landed for release months in [start, end] as one query."""
    store = LandingStore.from_settings(settings)
    items = [i for i in manifest(store) if start <= i.release_month <= end]
    parts = [select_sql(ensure_csv(settings, store, i), i) for i in items]
    return " UNION ALL ".join(parts) if parts else empty_sql()
