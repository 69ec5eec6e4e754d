"""What the models read, prepared in the run's DuckDB: the rows of the archives a step
needs (`materia_input.psd_rows`, the project's one input) and, for a model not
recomputed in this run, its published rows (`published`).

The landed zips are the only stored copy of a release. For a step, each archive's CSV
member becomes a scratch file DuckDB reads (it has no zip reader here): a gzip view of
the compressed member when the archive passed the door's check and its bytes still hash
to what it landed with (`materia.psd_member`: nothing is inflated to disk, DuckDB
inflates while it parses), else the member inflated and checked by the shared archive
check (`materia.psd_archive`): a failure names the landing key, the line and the fault,
and stops the run. `psd_rows` is then a view over those files, so the models read the
CSV directly with DuckDB's parallel reader and nothing is copied; the files go when the
step is over. The next archive is prepared in a background thread meanwhile. This reader
is the one place DuckDB-only SQL belongs: the models themselves are portable
(tests/test_portable_sql.py)."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from materia import psd_archive, psd_datasets, psd_member
from materia import scratch as scratch_mod
from materia.errors import MateriaError, first_line
from materia.lakehouse import duck
from materia.lakehouse.publications import TableRef
from materia.landed import Landed
from materia.settings import Settings
from materia.storage import LandingStore

if TYPE_CHECKING:
    import duckdb

SCHEMA = "materia_input"
ROWS = f"{SCHEMA}.psd_rows"
COLUMNS = (
    "dataset VARCHAR, release_month DATE, etag VARCHAR, "
    "newest BOOLEAN, month_archives INTEGER, commodity_code VARCHAR, commodity_description VARCHAR, "
    "country_code VARCHAR, country_name VARCHAR, market_year INTEGER, "
    "calendar_year INTEGER, month VARCHAR, attribute_id VARCHAR, "
    "attribute_description VARCHAR, unit_id VARCHAR, unit_description VARCHAR, value DOUBLE"
)


def _no_rows() -> str:
    empty = ", ".join(f"NULL::{t} AS {n}" for n, t in (c.split() for c in COLUMNS.split(", ")))
    return f"SELECT {empty} WHERE false"


@dataclass
class Run:
    """The run's DuckDB connection and its scratch folder (inflated CSVs, spill)."""

    con: duckdb.DuckDBPyConnection
    scratch: Path


@contextmanager
def connect(settings: Settings) -> Iterator[Run]:
    """A fresh in-memory DuckDB database named like the models' catalog (`warehouse`).

    In memory rather than a file: nothing is synced to disk, nothing outlives the run.
    Compressed (`COMPRESS`): the executor checkpoints after building a table once the
    database holds more than `executor.COMPRESS_AT` of uncompressed rows, which shrinks
    a full-size release's 2.1M long rows from ~300 MB to ~15 MB, so the run stays within
    its memory limit instead of spilling to the scratch folder (measured: spilling cost
    ~2 s of a release's transform, a checkpoint ~0.5 s).
    """
    import duckdb

    from materia.compiled import CATALOG

    scratch = scratch_mod.mkdtemp(settings.tmp_dir, "run")  # owner-named: cleanable
    con = duckdb.connect(
        config={
            # Bounded memory (the pipeline's goal is 700 MiB peak); order is not needed.
            "memory_limit": "250MB",
            "preserve_insertion_order": False,
            "temp_directory": str(scratch / "spill"),
        }
    )
    try:
        con.execute("SET enable_progress_bar = false")  # materia reports progress itself
        con.execute(f"ATTACH ':memory:' AS {CATALOG} (COMPRESS)")
        con.execute(f"USE {CATALOG}")
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        con.execute(f"CREATE VIEW {ROWS} AS {_no_rows()}")  # until a step loads
        yield Run(con, scratch)
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)


# --- archives ------------------------------------------------------------------------------
def _readable(store: LandingStore, item: Landed, stem: Path) -> tuple[Path, int | None]:
    """The archive's CSV as DuckDB reads it, and its rows when the door's check vouches for
    it (MateriaError naming the archive): a gzip view of the member when its bytes are the
    ones checked (`materia.psd_member`), else the member inflated, its CRC checked."""
    where = store.url(item.key)
    try:
        local = Path(where)
        if store.is_s3:
            local = stem.with_suffix(".zip")
            with store.open(item.key) as src, open(local, "wb") as out:
                shutil.copyfileobj(src, out, 8 << 20)
        rows, sha256 = _record(store, item)
        view = None
        if rows is not None and sha256 and _verified(local, sha256):
            view = psd_member.gzip_view(local, stem.with_suffix(".csv.gz"))
        if view is None:
            view = stem.with_suffix(".csv")
            psd_archive.inflate(local, view)
        if store.is_s3:
            local.unlink()
    except MateriaError as e:
        raise MateriaError(f"{where}: {e}; nothing was published") from None
    except FileNotFoundError:
        raise MateriaError(f"{where}: vanished while the transform read it") from None
    except Exception as e:
        raise MateriaError(f"cannot read {where}: {first_line(e)}") from e
    return view, rows


def _record(store: LandingStore, item: Landed) -> tuple[int | None, str | None]:
    """Rows the extractor counted when this archive passed the check under the rules in
    force (None: no such record), and the SHA-256 it landed with (full, or the key's)."""
    key = psd_archive.record_key(item.key)
    try:
        data = store.read_bytes(key) if store.exists(key) else None
    except OSError:
        return None, None
    rows = psd_archive.recorded_rows(data)
    sha256 = json.loads(data).get("sha256") if rows is not None else None
    if not isinstance(sha256, str) and item.content:
        sha256 = item.content.removeprefix("sha256-")
    return rows, sha256 if isinstance(sha256, str) else None


def _verified(local: Path, sha256: str) -> bool:
    """Its bytes hash to what it landed with; MateriaError when they do not (the landed
    copy changed since its check: nothing built on it may publish)."""
    h = hashlib.sha256()
    with open(local, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    if not h.hexdigest().startswith(sha256.lower()):
        raise MateriaError(
            f"its bytes no longer hash to sha256 {sha256[:16]}… recorded when it landed (the "
            "landed copy is damaged): restore it, or withdraw it with `materia landing "
            "quarantine`"
        )
    return True


@dataclass(frozen=True)
class Load:
    """An archive a step reads, with its landing facts: whether it is its dataset's
    newest release, and how many archives its release month has landed."""

    item: Landed
    newest: bool
    month_archives: int


def _select(csv: Path, names: list[str], load: Load) -> str:
    """One checked CSV as rows of psd_rows: typed, with the archive's landing facts."""
    item = load.item
    etag = "'" + item.etag.replace("'", "''") + "'"
    return (
        f"SELECT '{item.stem}' AS dataset, DATE '{item.release_month}' AS release_month, "
        f"{etag} AS etag, {load.newest} AS newest, {load.month_archives} AS month_archives, "
        "Commodity_Code AS commodity_code, Commodity_Description AS commodity_description, "
        "Country_Code AS country_code, Country_Name AS country_name, "
        "CAST(Market_Year AS INTEGER) AS market_year, "
        "CAST(Calendar_Year AS INTEGER) AS calendar_year, Month AS month, "
        "Attribute_ID AS attribute_id, Attribute_Description AS attribute_description, "
        "Unit_ID AS unit_id, Unit_Description AS unit_description, "
        f"CAST(Value AS DOUBLE) AS value FROM {psd_archive.read_csv_sql(csv, names)}"
    )


def load(run: Run, store: LandingStore, archives: list[Load]) -> int:
    """Make psd_rows the rows of these archives (none: no rows); rows checked."""
    step = Path(tempfile.mkdtemp(prefix="step-", dir=run.scratch))
    for old in run.scratch.glob("step-*"):  # the previous step's files are done with
        if old != step:
            shutil.rmtree(old, ignore_errors=True)
    for load_ in archives:  # an unregistered dataset is refused before any row loads
        psd_datasets.landed(load_.item.stem, store.url(load_.item.key))
    total, parts = 0, []
    with ThreadPoolExecutor(1, thread_name_prefix="inflate") as pool:

        def start(i: int) -> Future:
            return pool.submit(_readable, store, archives[i].item, step / str(i))

        pending = start(0) if archives else None
        for i, load_ in enumerate(archives):
            item = load_.item
            csv, rows = pending.result()
            pending = start(i + 1) if i + 1 < len(archives) else None
            try:
                names = psd_archive.check_header(csv)
                if rows is None:  # no record of a check under these rules: check now
                    rows = psd_archive.check(run.con, csv, item.release_month)
                total += rows
            except (psd_archive.ArchiveError, psd_archive.NotTheArchive) as e:
                raise MateriaError(f"{store.url(item.key)}: {e}; nothing was published") from None
            parts.append(_select(csv, names, load_))
    rows = " UNION ALL ".join(parts) or _no_rows()
    run.con.execute(f"CREATE OR REPLACE VIEW {ROWS} AS {rows}")
    return total


# --- published rows ------------------------------------------------------------------------
def published(run: Run, settings: Settings, qualified: str, ref: TableRef) -> None:
    """`qualified` (a model's name in the run database) as a view of its published rows:
    what a model recomputed in this run reads of a parent that is not."""
    duck.load_extensions(run.con, settings)
    schema = qualified.rsplit(".", 1)[0]
    run.con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    run.con.execute(f"CREATE OR REPLACE VIEW {qualified} AS SELECT * FROM {published_sql(ref)}")


def published_sql(ref: TableRef) -> str:
    return duck.scan_sql(ref.metadata_location, ref.snapshot_id)
