"""What the workbench reads: one commodity at a time, all from one publication.

The notebook and the report never load a whole serving table. `open_workbench(settings,
env)` takes the environment's newest publication (the snapshot of every serving table
one successful run published: `materia.lakehouse.current_publication`) and reads those
snapshots with DuckDB (`materia.lakehouse.duck`): a commodity pick reads only that
commodity's rows (filter pushdown), a few tens of milliseconds at full size, and the
last picks stay cached. Everything a pick shows comes from one run; a newer publication
opens a new Workbench.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import polars as pl

from materia.core.errors import MateriaError
from materia.core.settings import Settings
from materia.core.target import PROD, Target
from materia.lakehouse import Publication
from materia.lakehouse.serving import LATEST, OBT, VINTAGES
from materia.sources import psd_codes
from materia.workbench import releases
from materia.workbench.releases import Release

VINTAGE_COLUMNS = ("country_code", "market_year", "attribute_id", "value", "release_month")
LATEST_SCHEMA = {
    "commodity_code": pl.String, "commodity_name": pl.String, "country_code": pl.String,
    "country_name": pl.String, "market_year": pl.Int32, "attribute_id": pl.String,
    "attribute_name": pl.String, "unit_description": pl.String, "value": pl.Float64,
    "release_month": pl.Date, "dataset": pl.String, "dataset_role": pl.String,
    "parent_country_code": pl.String,
}  # fmt: skip
# Picks kept in memory: the one shown and the one before it (a full-size commodity holds
# ~50 MB of frames and derived tables; 3 kept the notebook above 400 MiB, goal of issue 22).
CACHED_COMMODITIES = 2
FRAME_BATCH = 16_384  # rows per Arrow batch of a result (`Reader`)
READER_MEMORY = "64MB"
_BACKGROUND = ThreadPoolExecutor(2, thread_name_prefix="materia-read")


def envs(settings: Settings) -> list[str]:
    """Published environments, prod first (empty when nothing is published yet)."""
    from materia import lakehouse

    return lakehouse.list_envs(settings)


def publication(settings: Settings, env: Target = PROD) -> Publication:
    """The environment's newest publication (MateriaError naming what to run when none)."""
    from materia import lakehouse

    pub = lakehouse.current_publication(settings, lakehouse.check_env(env))
    if pub is None:
        hint = (
            "run `uv run materia pipeline run` first"
            if env == "prod"
            else f"run `uv run materia transform --env {env}` first"
        )
        raise MateriaError(f"nothing published for {env!r} in {lakehouse.where(settings)}: {hint}")  # fmt: skip
    return pub


class Reader:
    """A DuckDB database that reads published snapshots; one cursor per query.

    Results come as polars frames fetched in small Arrow batches (`FRAME_BATCH` rows): a
    frame keeps the Arrow buffers DuckDB filled, and DuckDB sizes each batch's buffers for
    the whole batch, so the default (1M rows) pinned ~8 MB per numeric column of every
    frame held, ~250 MB for one commodity's OBT rows (measured: the notebook's RSS fell
    by about that much per cached commodity). The memory limit is small too: DuckDB keeps
    the buffers a query freed up to it, and these queries only filter (the largest, what
    changed across every commodity, needs less than 64 MB).
    """

    def __init__(self, settings: Settings) -> None:
        from materia.lakehouse import duck

        self.con = duck.connect(settings, memory_limit=READER_MEMORY)

    @staticmethod
    def source(metadata_location: str) -> str:
        from materia.lakehouse import duck

        return duck.scan_sql(metadata_location)

    def frame(self, sql: str, params: list | None = None) -> pl.DataFrame:
        cur = self.con.cursor()
        try:
            return cur.execute(sql, params or []).pl(FRAME_BATCH).rechunk()
        finally:
            cur.close()


# --- a commodity --------------------------------------------------------------------------
@dataclass(frozen=True)
class Commodity:
    """One commodity of one publication: its OBT rows now; its vintages and its long-form
    latest rows (every attribute, and the breakdowns under it) when first used (they are
    read in the background meanwhile, so the first charts need not wait).

    Only primary rows make the commodity's own data (`metrics`, `lines`, `vintages`):
    breakdown rows (EU member states under the EU's codes) are `breakdown`, never part of
    a world. `releases` are the months the landed primary files holding it were published
    (from the publication's archives and the dataset registry), whether or not a value
    changed in them."""

    code: str
    name: str
    release: dt.date  # the newest landed release holding it
    metrics: pl.DataFrame  # obt_commodity_metrics rows
    pending_vintages: Future = field(repr=False, compare=False)  # -> VINTAGE_COLUMNS
    pending_latest: Future | None = field(default=None, repr=False, compare=False)
    releases: tuple[Release, ...] = ()
    attribute_ids: dict[str, str] = field(default_factory=lambda: dict(psd_codes.METRICS))
    # Frames derived from this one (world totals, …), computed once per pick.
    derived: dict = field(default_factory=dict, repr=False, compare=False)

    def memo(self, key: object, compute):
        """`compute()`, once per key for this commodity (a pick's cells share it)."""
        if key not in self.derived:
            self.derived[key] = compute()
        return self.derived[key]

    @property
    def latest(self) -> pl.DataFrame:
        """fct_psd_latest rows of this commodity and of the breakdowns under it."""
        if self.pending_latest is None:
            return pl.DataFrame(schema=LATEST_SCHEMA)
        return self.pending_latest.result()

    @property
    def lines(self) -> pl.DataFrame:
        """Every attribute of the commodity's primary rows, long form (balance sheets)."""
        return self.memo(
            "lines",
            lambda: self.latest.filter(
                (pl.col("commodity_code") == self.code) & (pl.col("dataset_role") == "primary")
            ),
        )

    @property
    def breakdown(self) -> pl.DataFrame:
        """Rows of breakdown datasets that split this commodity's reporting units."""
        return self.memo(
            "breakdown", lambda: self.latest.filter(pl.col("dataset_role") == "breakdown")
        )

    @property
    def vintages(self) -> pl.DataFrame:
        """The commodity's primary vintages: keys of breakdown rows are left out."""

        def compute() -> pl.DataFrame:
            parts = self.breakdown.filter(commodity_code=self.code)
            v = self.pending_vintages.result()
            if parts.height == 0:
                return v
            keys = parts.select("country_code", "market_year").unique()
            return v.join(keys, on=["country_code", "market_year"], how="anti")

        return self.memo("vintages", compute)

    @property
    def previous_release(self) -> dt.date | None:
        """The commodity's release before `release` (None: only one is loaded)."""
        earlier = [r.month for r in self.releases if r.month < self.release]
        return max(earlier) if earlier else None

    def release_of(self, month: dt.date | None) -> Release | None:
        return next((r for r in self.releases if r.month == month), None)

    def header(self, unit: str = "", **more: str) -> dict[str, str]:
        """An export's header block: commodity, the files and release it comes from (and
        the release compared with), its unit, and whatever `more` adds."""
        current = self.release_of(self.release)
        previous = self.previous_release
        out = {
            "Commodity": f"{self.name} ({self.code})",
            "Dataset": ", ".join(f"{d}.zip" for d in current.datasets) if current else "",
            "Release": f"{self.release:%B %Y}"
            + (f" (compared with {previous:%B %Y})" if previous else " (the only one loaded)"),
        }
        if unit:
            out["Unit"] = unit
        return {**out, **more}

    @property
    def country_names(self) -> dict[str, str]:
        return self.memo(
            "country_names",
            lambda: dict(self.metrics.select("country_code", "country_name").unique().iter_rows()),
        )


class Workbench:
    """One publication of one environment, read a commodity at a time."""

    def __init__(self, settings: Settings, env: Target, pub: Publication, reader: Reader) -> None:
        self.settings, self.publication, self.reader = settings, pub, reader
        self.env = env
        self._lock = threading.Lock()
        self._commodities: pl.DataFrame | None = None
        self._cache: OrderedDict[str, Commodity] = OrderedDict()
        self._changes: dict[tuple[str, ...] | None, pl.DataFrame] = {}

    def _source(self, name: str) -> str:
        ref = self.publication.tables.get(name)
        if ref is None:
            raise MateriaError(f"table {name} is not in the newest publication of {self.env!r}")
        return self.reader.source(ref.metadata_location)

    def _read(self, name: str, columns: str, where: str = "", params: list | None = None):
        return self.reader.frame(f"SELECT {columns} FROM {self._source(name)} {where}", params)

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
        # DuckDB works outside the GIL: the vintages arrive while the pick's first cells run.
        vintages = _BACKGROUND.submit(self._read, VINTAGES, ", ".join(VINTAGE_COLUMNS), where, [code])  # fmt: skip
        latest = _BACKGROUND.submit(self._read_latest, code)
        metrics = self._read(OBT, "*", where + " ORDER BY country_code, market_year", [code])
        row = self.commodities().filter(commodity_code=code).row(0, named=True)
        return Commodity(
            code=code,
            name=row["commodity_name"],
            release=row["release_month"],
            metrics=metrics,
            pending_vintages=vintages,
            pending_latest=latest,
            releases=releases.of_commodity(self.publication.archives, code),
        )

    def _read_latest(self, code: str) -> pl.DataFrame:
        """fct_psd_latest rows of the commodity and of the breakdowns splitting it."""
        if LATEST not in self.publication.tables:
            return pl.DataFrame(schema=LATEST_SCHEMA)
        cols = ", ".join(LATEST_SCHEMA)
        where = "WHERE commodity_code = ? OR parent_commodity_code = ?"
        df = self._read(LATEST, cols, where + " ORDER BY ALL", [code, code])
        return df.cast(LATEST_SCHEMA)  # type: ignore[arg-type]

    # --- what changed in the newest release, across every commodity ------------------------
    def changes(self, codes: list[str] | None = None) -> pl.DataFrame:
        """Every value the newest release of its commodity revised since the release before
        it (of every commodity, or of `codes` only); commodities with one release loaded
        have nothing to compare yet (`materia.workbench.releases`).

        (commodity_code, commodity_name, country_code, country_name, market_year,
        attribute_id, attribute_name, unit, release, previous_release, previous, current).
        New series (no earlier value) and breakdown rows are not revisions: left out.
        """
        key = tuple(sorted(codes)) if codes is not None else None
        if key not in self._changes:
            self._changes[key] = releases.read_changes(self, key)
        return self._changes[key]

    def compared(self) -> list[tuple[str, dt.date, dt.date]]:
        """(commodity, newest release, the release before it) of every commodity with two
        releases loaded: what `changes` compares."""
        return releases.compared(self, None)

    def source(self, name: str) -> str:
        """The SQL that reads a table of this publication (MateriaError when absent)."""
        return self._source(name)


# --- opening, cached per publication -----------------------------------------------------
_readers: dict[tuple, Reader] = {}
_workbenches: OrderedDict[tuple, Workbench] = OrderedDict()
_open_lock = threading.Lock()


def open_workbench(settings: Settings, env: Target = PROD) -> Workbench:
    """The newest publication of `env`, ready for picks (cached until a newer one lands)."""
    from materia.lakehouse.catalogs import catalog_key

    pub = publication(settings, env)
    ident = (catalog_key(settings), env, pub.run_id)
    with _open_lock:
        if ident in _workbenches:
            _workbenches.move_to_end(ident)
            return _workbenches[ident]
        reader_key = (catalog_key(settings), settings.r2 is not None)
        reader = _readers.get(reader_key) or _readers.setdefault(reader_key, Reader(settings))
        wb = Workbench(settings, env, pub, reader)
        _workbenches[ident] = wb
        while len(_workbenches) > 4:
            _workbenches.popitem(last=False)
        return wb
