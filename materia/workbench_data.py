"""What the workbench reads: one commodity at a time, all from one publication.

The notebook and the report never load a whole serving table. `open_workbench(settings,
env)` takes the environment's current publication (the snapshot of every serving table
recorded by one successful run, through `materia.lakehouse`) and reads it with DuckDB
over those Iceberg snapshots (`iceberg_scan(<metadata>, snapshot_from_id => <id>)`,
extensions loaded from their PyPI wheels): a commodity pick reads only that
commodity's rows (filter pushdown), a few tens of milliseconds at full size, and the
last few picks stay cached. Everything a pick shows therefore comes from one run.

S3 locations (the REST catalog on R2) are read with the R2 key pair of the settings,
which prod always has.
"""

from __future__ import annotations

import datetime as dt
import importlib
import threading
from concurrent.futures import ThreadPoolExecutor
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from materia import psd_codes
from materia.errors import MateriaError
from materia.settings import Settings

OBT, VINTAGES, LATEST, DIM_ATTRIBUTE = (
    "obt_commodity_metrics",
    "fct_psd_vintages",
    "fct_psd_latest",
    "dim_attribute",
)
VINTAGE_COLUMNS = (
    "country_code",
    "market_year",
    "attribute_id",
    "unit_id",
    "value",
    "release_month",
)
CACHED_COMMODITIES = 12  # picks kept in memory (a commodity is a few MB at full size)


# --- which snapshots ----------------------------------------------------------------------
@dataclass(frozen=True)
class Ref:
    """One serving table as a publication recorded it."""

    snapshot_id: int | None
    metadata_location: str


@dataclass(frozen=True)
class Publication:
    env: str
    key: str  # identifies the publication: equal keys, equal data
    tables: dict[str, Ref]

    def ref(self, name: str) -> Ref:
        try:
            return self.tables[name]
        except KeyError:
            raise MateriaError(
                f"table {name} is not in the current publication of {self.env!r}"
            ) from None


def publication(settings: Settings, env: str = "prod") -> Publication:
    """The environment's current publication (MateriaError naming what to run when none)."""
    from materia import lakehouse

    tables = {}
    cat = lakehouse.catalog(settings)
    ns = lakehouse.namespace_for(env)
    names = [n for _, n in cat.list_tables(ns)] if cat.namespace_exists(ns) else []
    for name in names or [OBT]:  # nothing published: _load names what to run
        table = lakehouse._load(settings, env, name)
        snap = table.current_snapshot()
        tables[name] = Ref(snap.snapshot_id if snap else None, table.metadata_location)
    key = ",".join(f"{n}={r.snapshot_id}" for n, r in sorted(tables.items()))
    return Publication(env, key, tables)


def envs(settings: Settings) -> list[str]:
    """Published environments, prod first (empty when nothing is published yet)."""
    from materia import lakehouse

    return lakehouse.list_envs(settings)


# --- DuckDB over Iceberg ------------------------------------------------------------------
def _extension(name: str) -> Path:
    """The extension file shipped in the `duckdb-extension-<name>` wheel."""
    module = importlib.import_module(f"duckdb_extension_{name}")
    found = next(Path(module.__file__).parent.rglob(f"{name}.duckdb_extension"), None)
    if found is None:
        raise MateriaError(f"duckdb-extension-{name} holds no {name}.duckdb_extension")
    return found


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Reader:
    """A DuckDB database with the Iceberg extension; one cursor per query (thread-safe)."""

    def __init__(self, settings: Settings) -> None:
        import duckdb

        self.settings = settings
        # Small and bounded: it only filters; polars holds the results.
        self.con = duckdb.connect(
            config={"memory_limit": "256MB", "threads": 2, "autoinstall_known_extensions": False}
        )
        for name in ("avro", "iceberg"):  # avro first: iceberg reads its manifests
            self.con.execute(f"LOAD {_quote(str(_extension(name)))}")
        self.s3 = False
        if settings.r2 is not None:
            self.con.execute(f"LOAD {_quote(str(_extension('httpfs')))}")
            r2 = settings.r2
            endpoint = r2.endpoint.split("://", 1)
            self.con.execute(  # the values stay in this process: no log, no file
                "CREATE OR REPLACE SECRET materia_r2 (TYPE s3, "
                f"KEY_ID {_quote(r2.access_key.get())}, SECRET {_quote(r2.secret_key.get())}, "
                f"ENDPOINT {_quote(endpoint[-1])}, REGION {_quote(r2.region)}, "
                f"URL_STYLE 'path', USE_SSL {str(endpoint[0] != 'http').lower()})"
            )
            self.s3 = True

    def can_read(self, ref: Ref) -> bool:
        loc = ref.metadata_location
        return loc.startswith(("file:", "/")) or (self.s3 and loc.startswith(("s3:", "s3a:")))

    @staticmethod
    def source(ref: Ref) -> str:
        loc = ref.metadata_location.removeprefix("file://")
        snap = f", snapshot_from_id => {int(ref.snapshot_id)}" if ref.snapshot_id else ""
        return f"iceberg_scan({_quote(loc)}{snap})"

    def frame(self, sql: str, params: list | None = None) -> pl.DataFrame:
        cur = self.con.cursor()
        try:
            return cur.execute(sql, params or []).pl()
        finally:
            cur.close()


# --- a commodity --------------------------------------------------------------------------
@dataclass(frozen=True)
class Commodity:
    """One commodity of one publication: its OBT rows and its vintages."""

    code: str
    name: str
    release: dt.date  # the newest landed release holding it
    previous_release: dt.date | None  # the release before, as its vintages know it
    metrics: pl.DataFrame  # obt_commodity_metrics rows
    vintages: pl.DataFrame  # VINTAGE_COLUMNS
    attribute_ids: dict[str, str] = field(default_factory=lambda: dict(psd_codes.METRICS))
    # Frames derived from this one (world totals, …), computed once per pick.
    derived: dict = field(default_factory=dict, repr=False, compare=False)

    def memo(self, key: object, compute):
        """`compute()`, once per key for this commodity (a pick's cells share it)."""
        if key not in self.derived:
            self.derived[key] = compute()
        return self.derived[key]

    @property
    def country_names(self) -> dict[str, str]:
        return self.memo(
            "country_names",
            lambda: dict(self.metrics.select("country_code", "country_name").unique().iter_rows()),
        )


class Workbench:
    """One publication of one environment, read a commodity at a time."""

    def __init__(self, settings: Settings, pub: Publication, reader: Reader) -> None:
        self.settings, self.publication, self.reader = settings, pub, reader
        self.env = pub.env
        self._lock = threading.Lock()
        self._commodities: pl.DataFrame | None = None
        self._cache: OrderedDict[str, Commodity] = OrderedDict()
        self._changes: pl.DataFrame | None = None

    def _read(self, name: str, columns: str, where: str = "", params: list | None = None):
        ref = self.publication.ref(name)
        if not self.reader.can_read(ref):
            raise MateriaError(
                f"cannot read {ref.metadata_location}: S3 locations need R2_ENDPOINT, "
                "R2_BUCKET, R2_ACCESS_KEY and R2_SECRET_KEY"
            )
        return self.reader.frame(f"SELECT {columns} FROM {self.reader.source(ref)} {where}", params)

    def table(self, name: str, columns: str = "*") -> pl.DataFrame:
        """A whole (small) serving table of this publication."""
        return self._read(name, columns)

    def row_counts(self) -> dict[str, int]:
        """Rows of every table in the publication."""
        return {
            n: int(self._read(n, "count(*) AS n")["n"][0]) for n in sorted(self.publication.tables)
        }

    # --- pickers ---------------------------------------------------------------------------
    def commodities(self) -> pl.DataFrame:
        """(commodity_code, commodity_name, release_month, countries), sorted by name."""
        if self._commodities is None:
            self._commodities = self._read(
                OBT,
                "commodity_code, any_value(commodity_name) AS commodity_name, "
                "max(release_month) AS release_month, "
                "count(DISTINCT country_code)::INTEGER AS countries",
                "GROUP BY commodity_code ORDER BY commodity_name, commodity_code",
            )
        if self._commodities.height == 0:
            raise MateriaError(f"environment {self.env!r} has no rows in {OBT}")
        return self._commodities

    def code(self, name_or_code: str) -> str:
        """A commodity's code, given its name (any case) or its code."""
        df = self.commodities()
        wanted = name_or_code.strip()
        hits = df.filter(
            (pl.col("commodity_code") == wanted)
            | (pl.col("commodity_name").str.to_lowercase() == wanted.lower())
        )
        if hits.height == 0:
            raise MateriaError(f"no commodity named {name_or_code!r} in environment {self.env!r}")
        return hits["commodity_code"][0]

    def commodity(self, name_or_code: str) -> Commodity:
        code = self.code(name_or_code)
        with self._lock:
            if code in self._cache:
                self._cache.move_to_end(code)
                return self._cache[code]
        c = self._load(code)
        with self._lock:
            self._cache[code] = c
            while len(self._cache) > CACHED_COMMODITIES:
                self._cache.popitem(last=False)
        return c

    def _load(self, code: str) -> Commodity:
        where = "WHERE commodity_code = ?"
        # Both reads at once: DuckDB works outside the GIL.
        with ThreadPoolExecutor(2) as pool:
            obt = pool.submit(self._read, OBT, "*", where + " ORDER BY country_code, market_year", [code])  # fmt: skip
            vintages = self._read(VINTAGES, ", ".join(VINTAGE_COLUMNS), where, [code])
            metrics = obt.result()
        row = self.commodities().filter(commodity_code=code).row(0, named=True)
        release = row["release_month"]
        earlier = vintages.filter(pl.col("release_month") < release)["release_month"]
        return Commodity(
            code=code,
            name=row["commodity_name"],
            release=release,
            previous_release=earlier.max() if earlier.len() else None,  # type: ignore[arg-type]
            metrics=metrics,
            vintages=vintages,
        )

    # --- what changed in the newest release, across every commodity ------------------------
    def changes(self) -> pl.DataFrame:
        """Every value the newest release of its commodity revised, with its previous value.

        (commodity_code, commodity_name, country_code, country_name, market_year,
        attribute_id, attribute_name, unit, release, previous_release, previous, current).
        New series (no earlier value) are not revisions and are left out.
        """
        if self._changes is None:
            self._changes = self._read_changes()
        return self._changes

    def _read_changes(self) -> pl.DataFrame:
        pub, src = self.publication, self.reader.source
        for name in (OBT, VINTAGES):
            self._read(name, "1", "LIMIT 0")  # readable, or a clear error
        keys = "commodity_code, country_code, market_year, attribute_id"
        attribute_names = (
            f"SELECT attribute_id, any_value(attribute_name) AS attribute_name "
            f"FROM {src(pub.ref(DIM_ATTRIBUTE))} GROUP BY 1"
            if DIM_ATTRIBUTE in pub.tables
            else "SELECT NULL::VARCHAR AS attribute_id, NULL::VARCHAR AS attribute_name"
        )
        unit_names = (
            f"SELECT unit_id, any_value(unit_description) AS unit "
            f"FROM {src(pub.ref(LATEST))} GROUP BY 1"
            if LATEST in pub.tables
            else "SELECT NULL::VARCHAR AS unit_id, NULL::VARCHAR AS unit"
        )
        # `cur` (the newest release's rows, ~1 % of the table) is materialised once; the
        # full table is only scanned, never held: a few tens of MB at full size.
        vintages = src(pub.ref(VINTAGES))
        sql = f"""
        WITH rel AS (
          SELECT commodity_code, max(release_month) AS release
          FROM {src(pub.ref(OBT))} GROUP BY 1
        ), cur AS MATERIALIZED (
          SELECT {keys}, unit_id, value AS current, release
          FROM {vintages} v JOIN rel USING (commodity_code)
          WHERE v.release_month = rel.release
        ), prev AS (
          SELECT {keys}, arg_max(value, release_month) AS previous
          FROM {vintages} v JOIN rel USING (commodity_code) SEMI JOIN cur USING ({keys})
          WHERE v.release_month < rel.release
          GROUP BY ALL
        ), prev_release AS (
          SELECT commodity_code, max(release_month) AS previous_release
          FROM {vintages} v JOIN rel USING (commodity_code)
          WHERE v.release_month < rel.release GROUP BY 1
        ), names AS (
          SELECT commodity_code, country_code, any_value(commodity_name) AS commodity_name,
                 any_value(country_name) AS country_name
          FROM {src(pub.ref(OBT))} GROUP BY ALL
        )
        SELECT commodity_code, n.commodity_name, country_code, n.country_name, market_year,
               attribute_id, a.attribute_name, u.unit, cur.release, pr.previous_release,
               prev.previous, cur.current
        FROM cur
        JOIN prev USING ({keys})
        LEFT JOIN prev_release pr USING (commodity_code)
        LEFT JOIN names n USING (commodity_code, country_code)
        LEFT JOIN ({attribute_names}) a USING (attribute_id)
        LEFT JOIN ({unit_names}) u USING (unit_id)
        WHERE prev.previous IS DISTINCT FROM cur.current
        ORDER BY ALL
        """
        return self.reader.frame(sql)


# --- opening, cached per publication -----------------------------------------------------
_readers: dict[tuple, Reader] = {}
_workbenches: OrderedDict[tuple, Workbench] = OrderedDict()
_open_lock = threading.Lock()


def open_workbench(settings: Settings, env: str = "prod") -> Workbench:
    """The current publication of `env`, ready for picks (cached until a new one lands)."""
    from materia import lakehouse

    lakehouse.check_env(env)
    pub = publication(settings, env)
    where = (settings.iceberg.rest_uri if settings.iceberg else str(settings.lakehouse_dir),)
    ident = (where, pub.key)
    with _open_lock:
        if ident in _workbenches:
            _workbenches.move_to_end(ident)
            return _workbenches[ident]
        reader_key = (where, settings.r2 is not None)
        reader = _readers.get(reader_key) or _readers.setdefault(reader_key, Reader(settings))
        wb = Workbench(settings, pub, reader)
        _workbenches[ident] = wb
        while len(_workbenches) > 4:
            _workbenches.popitem(last=False)
        return wb
