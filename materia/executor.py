"""Run the compiled models (`materia.sqlmesh_project`) on a DuckDB connection, in DAG
order, each followed by its audits: a blocking audit that returns rows stops the run
before anything downstream is built, let alone published."""

from __future__ import annotations

import time

from materia.errors import MateriaError, first_line
from materia.sqlmesh_project import Compiled, Model


class AuditFailed(MateriaError):
    """A blocking audit returned rows: which, how many, and the first of them."""

    def __init__(self, model: str, audit: str, rows: int, sample: dict) -> None:
        super().__init__(model, audit, rows)
        self.model, self.audit, self.rows, self.sample = model, audit, rows, sample

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in list(self.sample.items())[:8])
        return f"audit {self.audit} failed on {self.model}: {self.rows:,} row(s), e.g. {shown}"


def run(
    con, compiled: Compiled, only: set[str] | None = None, as_views: frozenset[str] = frozenset()
) -> dict[str, float]:
    """Build the models (all, or `only` these) and audit each; seconds per model.

    `as_views`: models built as views this time, whatever their kind (same rows; for a
    model read once, a view saves writing a table that is dropped right after)."""
    timings: dict[str, float] = {}
    for model in compiled.models:
        if only is not None and model.name not in only:
            continue
        t0 = time.perf_counter()
        _build(con, model, model.name in as_views)
        audit(con, model)
        timings[model.name] = time.perf_counter() - t0
    return timings


def _build(con, model: Model, as_view: bool = False) -> None:
    what = "VIEW" if as_view or model.kind == "VIEW" else "TABLE"
    try:
        if model.name in _built_as(con, "VIEW" if what == "TABLE" else "TABLE"):
            con.execute(f"DROP {'TABLE' if what == 'VIEW' else 'VIEW'} {model.qualified}")
        con.execute(f"CREATE OR REPLACE {what} {model.qualified} AS {model.sql}")
    except Exception as e:
        raise MateriaError(f"model {model.name} failed: {first_line(e)}") from e


def audit(con, model: Model) -> None:
    """Run every audit of `model` on what it holds now; AuditFailed on the first that
    returns rows."""
    for a in model.audits:
        _audit(con, model, a.name, a.sql)


def _built_as(con, what: str) -> set[str]:
    """schema.name of the run database's views (or tables)."""
    src = "duckdb_views() WHERE NOT internal AND" if what == "VIEW" else "duckdb_tables() WHERE"
    rows = con.execute(
        f"SELECT schema_name || '.' || {what.lower()}_name FROM {src} "
        "database_name = current_database()"
    ).fetchall()
    return {r[0] for r in rows}


def _audit(con, model: Model, name: str, sql: str) -> None:
    try:
        rows = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]
        if not rows:
            return
        cur = con.execute(f"SELECT * FROM ({sql}) ORDER BY ALL LIMIT 1")  # the same every run
        cols = [d[0] for d in cur.description]
        sample = dict(zip(cols, cur.fetchone(), strict=True))
    except Exception as e:
        raise MateriaError(f"audit {name} of {model.name} could not run: {first_line(e)}") from e
    raise AuditFailed(model.name, name, rows, sample)
