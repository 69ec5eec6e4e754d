"""Run the compiled models (`materia.transform.compiled`) on a DuckDB connection the way SQLMesh
runs them on DuckDB, each followed by its audits.

- VIEW and FULL: `CREATE OR REPLACE VIEW/TABLE … AS <query>` (a view the run reads
  several times may be computed once into a table: the same rows).
- INCREMENTAL_BY_TIME_RANGE, one batch at a time: SQLMesh's DuckDB strategy, the
  batch's rows deleted then the query inserted, both restricted to the batch's months
  (`DELETE … WHERE t BETWEEN s AND e; INSERT INTO … SELECT … FROM (<query>) WHERE t
  BETWEEN s AND e`), then the audits on that batch's rows.
- A blocking audit that returns rows stops the run before anything downstream is built,
  let alone published; a non-blocking one becomes a warning the run reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from materia.core.errors import MateriaError, first_line
from materia.transform.compiled import VIEW, Model, fill

RUN_SCHEMA = "materia_run"  # the executor's own tables, beside the models'


class AuditFailed(MateriaError):
    """A blocking audit returned rows: which, how many, and the first of them."""

    def __init__(self, model: str, audit: str, rows: int, sample: dict) -> None:
        super().__init__(model, audit, rows)
        self.model, self.audit, self.rows, self.sample = model, audit, rows, sample

    def __str__(self) -> str:
        return f"audit {self.audit} failed on {self.model}: {_rows(self.rows, self.sample)}"


def _rows(rows: int, sample: dict) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in list(sample.items())[:8])
    return f"{rows:,} row(s), e.g. {shown}"


@dataclass(frozen=True)
class Batch:
    """The release months start..end (first days, inclusive) of one incremental batch."""

    start: date
    end: date

    @property
    def last_day(self) -> date:
        nxt = date(self.end.year + self.end.month // 12, self.end.month % 12 + 1, 1)
        return date.fromordinal(nxt.toordinal() - 1)


def build(con, model: Model, as_table: bool = False) -> list[str]:
    """Build a VIEW or FULL model, then audit it; the warnings of its non-blocking audits."""
    what = "TABLE" if as_table or model.kind != VIEW else "VIEW"
    try:
        other = "VIEW" if what == "TABLE" else "TABLE"
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{model.schema}"')
        if model.name in _built_as(con, other):
            con.execute(f"DROP {other} {model.qualified}")
        con.execute(f"CREATE OR REPLACE {what} {model.qualified} AS {model.sql}")
        if what == "TABLE":
            compress(con)
    except Exception as e:
        raise MateriaError(f"model {model.name} failed: {first_line(e)}") from e
    return audit(con, model)


COMPRESS_AT = 64 * 2**20  # bytes of uncompressed rows in the run database


def compress(con) -> None:
    """Compress what the run database holds (`materia.transform.inputs.connect`: a no-op elsewhere)
    once its uncompressed rows take more than COMPRESS_AT: a checkpoint, so the next
    steps read compressed rows instead of spilling. Small tables are left as they are (a
    checkpoint costs ~0.1 s for nothing); a full-size release's long rows (~300 MB) are
    not."""
    (held,) = con.execute(
        "SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() "
        "WHERE tag = 'IN_MEMORY_TABLE'"
    ).fetchone()
    if held > COMPRESS_AT:
        con.execute("CHECKPOINT")


def drop(con, model: Model) -> None:
    """Forget a model's rows (a view computed into a table, once its readers are built)."""
    con.execute(f"DROP TABLE IF EXISTS {model.qualified}")


# --- incremental models ------------------------------------------------------------------
def run_table(model: Model) -> str:
    """Where the executor keeps the rows an incremental model computes in this run."""
    return f'"{RUN_SCHEMA}"."{model.schema}__{model.table}"'


def prepare(con, model: Model, history: str | None, restate_from: date) -> None:
    """Set up an incremental model for batches from `restate_from` on.

    Its table (what the query reads when it refers to itself) is what SQLMesh's would
    hold before each batch: the `history` relation (the published rows, if any) outside
    the months restated so far, and the rows this run computed."""
    cols = ", ".join(f'"{c}" {t}' for c, t in model.columns.items())
    names = ", ".join(f'"{c}"' for c in model.columns)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {RUN_SCHEMA}")
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{model.schema}"')
    con.execute(f"CREATE OR REPLACE TABLE {run_table(model)} ({cols})")
    con.execute(f"SET VARIABLE {_END_VAR} = DATE '{restate_from}' - INTERVAL 1 DAY")
    select = f"SELECT {names} FROM {run_table(model)}"
    if history is not None:
        t = f'"{model.time_column}"'
        select = (
            f"SELECT {names} FROM {history} WHERE {t} < DATE '{restate_from}' "
            f"OR {t} > getvariable('{_END_VAR}') UNION ALL {select}"
        )
    con.execute(f"CREATE OR REPLACE VIEW {model.qualified} AS {select}")


_END_VAR = "materia_batch_end"  # the last day restated so far (history beyond it remains)


def run_batch(con, model: Model, batch: Batch) -> list[str]:
    """One batch of an incremental model, as SQLMesh runs it, then its audits."""
    start, end = batch.start, batch.last_day
    where = fill(model.time_filter, start, end)
    names = ", ".join(f'"{c}"' for c in model.columns)
    try:
        con.execute(f"SET VARIABLE {_END_VAR} = DATE '{end}'")
        con.execute(f"DELETE FROM {run_table(model)} WHERE {where}")
        con.execute(
            f"INSERT INTO {run_table(model)} ({names}) SELECT {names} FROM "
            f"({fill(model.sql, start, end)}) AS _subquery WHERE {where}"
        )
        compress(con)
    except Exception as e:
        raise MateriaError(
            f"model {model.name} failed on {start:%Y-%m}…{end:%Y-%m}: {first_line(e)}"
        ) from e
    return audit(con, model, batch)


# --- audits ------------------------------------------------------------------------------
def audit(con, model: Model, batch: Batch | None = None) -> list[str]:
    """Run every audit of `model` on what it holds now (an incremental model: on the
    batch's rows); AuditFailed on the first blocking one that returns rows, else the
    warnings of the non-blocking ones that did."""
    warnings = []
    for a in model.audits:
        sql = fill(a.sql, batch.start, batch.last_day) if batch else a.sql
        found = _audit(con, model, a.name, sql)
        if found is None:
            continue
        if a.blocking:
            raise AuditFailed(model.name, a.name, *found)
        warnings.append(f"audit {a.name} (non-blocking) on {model.name}: {_rows(*found)}")
    return warnings


def _built_as(con, what: str) -> set[str]:
    """schema.name of the run database's views (or tables)."""
    src = "duckdb_views() WHERE NOT internal AND" if what == "VIEW" else "duckdb_tables() WHERE"
    rows = con.execute(
        f"SELECT schema_name || '.' || {what.lower()}_name FROM {src} "
        "database_name = current_database()"
    ).fetchall()
    return {r[0] for r in rows}


def _audit(con, model: Model, name: str, sql: str) -> tuple[int, dict] | None:
    try:
        rows = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]
        if not rows:
            return None
        cur = con.execute(f"SELECT * FROM ({sql}) ORDER BY ALL LIMIT 1")  # the same every run
        cols = [d[0] for d in cur.description]
        return rows, dict(zip(cols, cur.fetchone(), strict=True))
    except Exception as e:
        raise MateriaError(f"audit {name} of {model.name} could not run: {first_line(e)}") from e
