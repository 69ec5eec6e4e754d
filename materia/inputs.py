"""What the models read, prepared in the run's DuckDB: the rows of the archives a step
needs, one input table per source (`materia_input.psd_rows`, `materia_input.wasde_rows`:
`materia.source_registry`) and, for a model not recomputed in this run, its published
rows (`published`).

The landed files are the only stored copy of a release. For a step, each archive's CSV
is put in a scratch file (a PSD zip inflated: DuckDB has no zip reader here; a WASDE CSV
copied) and checked by its source's check (`materia.archive_check`): a failure names the
landing key, the line and the fault, and stops the run. Each input is then a view over
those files, so the models read the CSV directly with DuckDB's parallel reader and
nothing is copied again; the files go when the step is over. The next archive is
prepared in a background thread while DuckDB checks the current one. These readers are
the one place DuckDB-only SQL belongs: the models themselves are portable
(tests/test_portable_sql.py).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from materia import archive_check
from materia import scratch as scratch_mod
from materia.errors import MateriaError, first_line
from materia.lakehouse import duck
from materia.lakehouse.publications import TableRef
from materia.landed import Landed
from materia.settings import Settings
from materia.source_registry import SOURCES
from materia.storage import LandingStore

if TYPE_CHECKING:
    import duckdb

SCHEMA = "materia_input"
ROWS = f"{SCHEMA}.psd_rows"
# The landing's facts of an archive, the first columns of every input.
_FACTS = "dataset VARCHAR, release_month DATE, etag VARCHAR, newest BOOLEAN, month_archives INTEGER"
COLUMNS = (
    f"{_FACTS}, commodity_code VARCHAR, commodity_description VARCHAR, "
    "country_code VARCHAR, country_name VARCHAR, market_year INTEGER, "
    "calendar_year INTEGER, month VARCHAR, attribute_id VARCHAR, "
    "attribute_description VARCHAR, unit_id VARCHAR, unit_description VARCHAR, value DOUBLE"
)
WASDE_COLUMNS = (
    f"{_FACTS}, wasde_number VARCHAR, report_date VARCHAR, report_title VARCHAR, "
    "attribute VARCHAR, reliability_projection VARCHAR, commodity VARCHAR, region VARCHAR, "
    "market_year VARCHAR, proj_est_flag VARCHAR, annual_quarter_flag VARCHAR, value DOUBLE, "
    "unit VARCHAR, release_date DATE, release_time VARCHAR, forecast_year INTEGER, "
    "forecast_month INTEGER"
)
# Each source's input table and its columns (external_models.yaml declares the same).
INPUTS = {"psd": (ROWS, COLUMNS), "wasde": (SOURCES["wasde"].input_table, WASDE_COLUMNS)}


def _no_rows(columns: str = COLUMNS) -> str:
    empty = ", ".join(f"NULL::{t} AS {n}" for n, t in (c.split() for c in columns.split(", ")))
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
    The memory limit keeps the run small: beyond it DuckDB spills to the run's scratch
    folder. (Compressing tables with a checkpoint would keep them smaller still, but it
    costs more time than it saves a run that reads each table a few times.)
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
        con.execute(f"ATTACH ':memory:' AS {CATALOG}")
        con.execute(f"USE {CATALOG}")
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        for table, columns in INPUTS.values():  # until a step loads
            con.execute(f"CREATE VIEW {table} AS {_no_rows(columns)}")
        yield Run(con, scratch)
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)


# --- archives ------------------------------------------------------------------------------
def _inflate(store: LandingStore, item: Landed, dest: Path) -> Path:
    """The archive's CSV as a local file (MateriaError naming the archive)."""
    where = store.url(item.key)
    check = archive_check.for_key(item.key)
    try:
        if store.is_s3:
            local = dest.with_suffix(".download")
            with store.open(item.key) as src, open(local, "wb") as out:
                shutil.copyfileobj(src, out, 8 << 20)
            check.to_csv(local, dest)
            local.unlink()
        else:
            check.to_csv(Path(store.url(item.key)), dest)
    except MateriaError as e:
        raise MateriaError(f"{where}: {e}; nothing was published") from None
    except FileNotFoundError:
        raise MateriaError(f"{where}: vanished while the transform read it") from None
    except Exception as e:
        raise MateriaError(f"cannot read {where}: {first_line(e)}") from e
    return dest


def _checked_rows(store: LandingStore, item: Landed) -> int | None:
    """Rows the extractor counted when this archive passed the check, if it recorded so."""
    key = archive_check.record_key(item.key)
    try:
        data = store.read_bytes(key) if store.exists(key) else None
    except OSError:
        return None
    rules = archive_check.for_key(item.key).rules_version()
    return archive_check.recorded_rows(rules, data)


@dataclass(frozen=True)
class Load:
    """An archive a step reads, with its landing facts: whether it is its dataset's
    newest release, and how many archives its release month has landed."""

    item: Landed
    newest: bool
    month_archives: int


def _select(csv: Path, names: list[str], load: Load) -> str:
    """One checked CSV as rows of its source's input: typed by its source's reader, after
    the archive's landing facts."""
    item = load.item
    etag = "'" + item.etag.replace("'", "''") + "'"
    facts = (
        f"'{item.stem}' AS dataset, DATE '{item.release_month}' AS release_month, "
        f"{etag} AS etag, {load.newest} AS newest, {load.month_archives} AS month_archives"
    )
    return archive_check.for_key(item.key).select_sql(csv, names, facts)


def load(run: Run, store: LandingStore, archives: list[Load]) -> int:
    """Make each source's input the rows of its archives among these (none: no rows);
    rows checked."""
    step = Path(tempfile.mkdtemp(prefix="step-", dir=run.scratch))
    for old in run.scratch.glob("step-*"):  # the previous step's files are done with
        if old != step:
            shutil.rmtree(old, ignore_errors=True)
    for load_ in archives:  # an unregistered dataset is refused before any row loads
        archive_check.for_key(load_.item.key).registered(load_.item.stem, store.url(load_.item.key))
    total, parts = 0, {name: [] for name in INPUTS}
    with ThreadPoolExecutor(1, thread_name_prefix="inflate") as pool:

        def start(i: int) -> Future:
            return pool.submit(_inflate, store, archives[i].item, step / f"{i}.csv")

        pending = start(0) if archives else None
        for i, load_ in enumerate(archives):
            item = load_.item
            csv = pending.result()
            pending = start(i + 1) if i + 1 < len(archives) else None
            check = archive_check.for_key(item.key)
            try:
                names = check.check_header(csv)
                rows = _checked_rows(store, item)
                if rows is None:  # no record of a check under these rules: check now
                    rows = check.check(run.con, csv, item.release_month)
                total += rows
            except (archive_check.ArchiveError, archive_check.NotTheArchive) as e:
                raise MateriaError(f"{store.url(item.key)}: {e}; nothing was published") from None
            parts[item.source].append(_select(csv, names, load_))
    for name, (table, columns) in INPUTS.items():
        rows = " UNION ALL ".join(parts[name]) or _no_rows(columns)
        run.con.execute(f"CREATE OR REPLACE VIEW {table} AS {rows}")
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
