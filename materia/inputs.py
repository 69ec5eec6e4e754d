"""What the models read, prepared in the run's DuckDB: the rows of the archives a step
needs (`materia_input.psd_rows`) and the value of every series before it
(`materia_input.vintage_prior`).

Each archive is inflated to a scratch file (DuckDB has no zip reader here), checked by
the shared archive check and loaded in the same parse: every row is loaded with its
fault (NULL when none), and an archive with any fault fails the run, naming its landing
key, the line and the fault. The next archive inflates in a background thread while
DuckDB parses the current one.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from materia import psd_archive
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
PRIOR = f"{SCHEMA}.vintage_prior"
KEY = ("commodity_code", "country_code", "market_year", "attribute_id")


def connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB catalog named like the models' (`warehouse`)."""
    import duckdb

    from materia.sqlmesh_project import CATALOG

    spill = settings.tmp_dir / "duckdb_spill"
    spill.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        config={
            # Bounded memory (the pipeline's goal is 700 MiB peak); order is not needed.
            "memory_limit": "450MB",
            "preserve_insertion_order": False,
            "temp_directory": str(spill),
        }
    )
    con.execute(f"ATTACH ':memory:' AS {CATALOG}")
    con.execute(f"USE {CATALOG}")
    for schema in (SCHEMA, "raw", "staging", "cleaned", "serving", "materia_run"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.execute(
        f"CREATE TABLE {ROWS} (dataset VARCHAR, release_month DATE, etag VARCHAR, "
        "vintage_step BOOLEAN, newest BOOLEAN, commodity_code VARCHAR, "
        "commodity_description VARCHAR, country_code VARCHAR, country_name VARCHAR, "
        "market_year INTEGER, calendar_year INTEGER, month VARCHAR, attribute_id VARCHAR, "
        "attribute_description VARCHAR, unit_id VARCHAR, unit_description VARCHAR, "
        "value DOUBLE, fault VARCHAR)"
    )
    con.execute(
        f"CREATE TABLE {PRIOR} (commodity_code VARCHAR, country_code VARCHAR, "
        "market_year INTEGER, attribute_id VARCHAR, value DOUBLE)"
    )
    return con


# --- archives ------------------------------------------------------------------------------
@contextmanager
def _scratch(settings: Settings) -> Iterator[Path]:
    settings.tmp_dir.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="materia-inputs-", dir=settings.tmp_dir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _inflate(store: LandingStore, item: Landed, dest: Path) -> Path:
    """The archive's CSV member as a local file (ArchiveError/MateriaError naming it)."""
    where = store.url(item.key)
    try:
        if store.is_s3:
            local = dest.with_suffix(".zip")
            with store.open(item.key) as src, open(local, "wb") as out:
                shutil.copyfileobj(src, out, 8 << 20)
            psd_archive.inflate(local, dest)
            local.unlink()
        else:
            psd_archive.inflate(Path(store.url(item.key)), dest)
    except MateriaError as e:
        raise MateriaError(f"{where}: {e}; nothing was published") from None
    except FileNotFoundError:
        raise MateriaError(f"{where}: vanished while the transform read it") from None
    except Exception as e:
        raise MateriaError(f"cannot read {where}: {first_line(e)}") from e
    return dest


def _insert(
    con, csv: Path, names: list[str], item: Landed, vintage_step: bool, newest: bool
) -> None:
    """Load one checked CSV with its faults, in one parse."""
    month = item.release_month
    q = "'" + item.etag.replace("'", "''") + "'"
    con.execute(
        f"INSERT INTO {ROWS} SELECT '{item.stem}', DATE '{month}', {q}, {vintage_step}, "
        f"{newest}, Commodity_Code, Commodity_Description, Country_Code, Country_Name, "
        "TRY_CAST(Market_Year AS INTEGER), TRY_CAST(Calendar_Year AS INTEGER), Month, "
        "Attribute_ID, Attribute_Description, Unit_ID, Unit_Description, "
        f"TRY_CAST(Value AS DOUBLE), {psd_archive.fault_sql(month)} "
        f"FROM {psd_archive.read_csv_sql(csv, names)}"
    )


def load(
    con,
    settings: Settings,
    store: LandingStore,
    archives: list[tuple[Landed, bool, bool]],
) -> int:
    """Add (archive, vintage_step, newest) to psd_rows; rows loaded."""
    total = 0
    with _scratch(settings) as td, ThreadPoolExecutor(1, thread_name_prefix="inflate") as pool:

        def start(i: int) -> Future:
            item = archives[i][0]
            return pool.submit(_inflate, store, item, td / f"{i}.csv")

        pending = start(0) if archives else None
        for i, (item, vintage_step, newest) in enumerate(archives):
            csv = pending.result()
            pending = start(i + 1) if i + 1 < len(archives) else None
            where = store.url(item.key)
            try:
                names = psd_archive.check_header(csv)
                _insert(con, csv, names, item, vintage_step, newest)
                rows, bad = con.execute(
                    f"SELECT count(*), count(fault) FROM {ROWS} WHERE dataset = ? AND "
                    "release_month = ? AND etag = ?",
                    [item.stem, item.release_month, item.etag],
                ).fetchone()
                if bad or not rows:
                    raise psd_archive.ArchiveError(psd_archive.locate(csv, item.release_month))
            except psd_archive.ArchiveError as e:
                raise MateriaError(f"{where}: {e}; nothing was published") from None
            except MateriaError:
                raise
            except Exception:  # DuckDB's CSV errors carry no line: find it ourselves
                fault = psd_archive.locate(csv, item.release_month)
                raise MateriaError(f"{where}: {fault}; nothing was published") from None
            finally:
                csv.unlink(missing_ok=True)
            total += rows
    return total


def clear_rows(con) -> None:
    con.execute(f"DELETE FROM {ROWS}")


# --- the prior -----------------------------------------------------------------------------
def load_prior(con, settings: Settings, vintages: TableRef | None, before: date) -> int:
    """Each series' newest published vintage before `before`: the start of the comparison."""
    con.execute(f"DELETE FROM {PRIOR}")
    if vintages is None:
        return 0
    duck.load_extensions(con, settings)
    keys = ", ".join(KEY)
    con.execute(
        f"INSERT INTO {PRIOR} SELECT {keys}, arg_max(value, release_month) "
        f"FROM {duck.scan_sql(vintages.metadata_location)} "
        f"WHERE release_month < DATE '{before}' GROUP BY ALL"
    )
    return con.execute(f"SELECT count(*) FROM {PRIOR}").fetchone()[0]


def advance_prior(con, step_rows: str) -> None:
    """After a step: its newest value per series becomes the prior of the next step."""
    on = " AND ".join(f"p.{k} = s.{k}" for k in KEY)
    keys = ", ".join(KEY)
    con.execute(f"DELETE FROM {PRIOR} p USING {step_rows} s WHERE {on}")
    con.execute(
        f"INSERT INTO {PRIOR} SELECT {keys}, arg_max(value, release_month) "
        f"FROM {step_rows} GROUP BY ALL"
    )
