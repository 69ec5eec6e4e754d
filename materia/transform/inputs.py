"""What the models read, prepared in the run's DuckDB: the rows of the archives a step
needs, one input table per source (`materia_input.psd_rows`, `materia_input.wasde_rows`:
`materia.sources.registry`) and, for a model not recomputed in this run, its published
rows (`published`).

The landed files are the only stored copy of a release. For a step, each file's CSV
becomes a scratch file DuckDB reads (it has no zip reader here): for a PSD archive that
passed the door's check and whose bytes still hash to what it landed with, a gzip view of
the compressed member (`materia.sources.psd_member`: nothing is inflated to disk, DuckDB inflates
while it parses); else the file as its source's check makes it (a zip's member inflated,
a WASDE CSV copied) and checked (`materia.sources.check`): a failure names the landing
key, the line and the fault, and stops the run. Each input is then a view over those
files, so the models read the CSV directly with DuckDB's parallel reader and nothing is
copied again; the files go when the step is over. The next file is prepared in a
background thread meanwhile. These readers are the one place DuckDB-only SQL belongs: the
models themselves are portable (tests/contracts/test_portable_sql.py).
"""

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

from materia.core import scratch as scratch_mod
from materia.core.errors import MateriaError, first_line
from materia.core.settings import Settings
from materia.core.storage import LandingStore
from materia.lakehouse import duck
from materia.lakehouse.publications import TableRef
from materia.landing.manifest import Landed
from materia.sources import check as archive_check
from materia.sources import psd_archive, psd_member
from materia.sources.registry import SOURCES

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
    Compressed (`COMPRESS`): the executor checkpoints after building a table once the
    database holds more than `executor.COMPRESS_AT` of uncompressed rows, which shrinks
    a full-size release's 2.1M long rows from ~300 MB to ~15 MB, so the run stays within
    its memory limit instead of spilling to the scratch folder (measured: spilling cost
    ~2 s of a release's transform, a checkpoint ~0.5 s).
    """
    import duckdb

    from materia.transform.compiled import CATALOG

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
        for table, columns in INPUTS.values():  # until a step loads
            con.execute(f"CREATE VIEW {table} AS {_no_rows(columns)}")
        yield Run(con, scratch)
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)


# --- archives ------------------------------------------------------------------------------
def _readable(store: LandingStore, item: Landed, stem: Path) -> tuple[Path, int | None]:
    """The file's CSV as DuckDB reads it, and its rows when the door's check vouches for
    it (MateriaError naming the file): a gzip view of a PSD archive's member when its bytes
    are the ones checked (`materia.sources.psd_member`), else the source's own (`to_csv`)."""
    where = store.url(item.key)
    check = archive_check.for_key(item.key)
    try:
        local = Path(where)
        if store.is_s3:
            local = stem.with_suffix(".download")
            with store.open(item.key) as src, open(local, "wb") as out:
                shutil.copyfileobj(src, out, 8 << 20)
        rows, sha256 = _record(store, item, check)
        view = None
        if rows is not None and sha256 and _verified(local, sha256) and check is psd_archive:
            view = psd_member.gzip_view(local, stem.with_suffix(".csv.gz"))
        if view is None:
            view = check.to_csv(local, stem.with_suffix(".csv"))
        if store.is_s3:
            local.unlink()
    except MateriaError as e:
        raise MateriaError(f"{where}: {e}; nothing was published") from None
    except FileNotFoundError:
        raise MateriaError(f"{where}: vanished while the transform read it") from None
    except Exception as e:
        raise MateriaError(f"cannot read {where}: {first_line(e)}") from e
    return view, rows


def _record(store: LandingStore, item: Landed, check) -> tuple[int | None, str | None]:
    """Rows the extractor counted when this file passed its source's check under the rules
    in force (None: no such record), and the SHA-256 it landed with (full, or the key's)."""
    key = archive_check.record_key(item.key)
    try:
        data = store.read_bytes(key) if store.exists(key) else None
    except OSError:
        return None, None
    rows = archive_check.recorded_rows(check.rules_version(), data)
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
            return pool.submit(_readable, store, archives[i].item, step / str(i))

        pending = start(0) if archives else None
        for i, load_ in enumerate(archives):
            item = load_.item
            csv, rows = pending.result()
            pending = start(i + 1) if i + 1 < len(archives) else None
            check = archive_check.for_key(item.key)
            try:
                names = check.check_header(csv)
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
