"""The SQLMesh project compiled to plain SQL: what `materia.transform.executor` runs, with no SQLMesh
import at run time (`materia.transform.sqlmesh_project` compiles it and caches it as JSON).

Each model carries the query SQLMesh renders for it, its audits, the facts the executor
needs (kind, time column, batch size, parents, columns, grain) and SQLMesh's own
fingerprints of it: `fingerprint` changes exactly when the data the model produces may
change (its query, or any parent's: SQLMesh's data hash and parents' data hashes), and
`metadata` when only what describes it changes (description, audits, owner…).

An incremental model's SQL is a template for one batch: `{{start}}` and `{{end}}` stand
for the batch's first and last day, as SQLMesh renders them (`YYYY-MM-DD` inside its
date literals); the compiler checks the substitution against a second real rendering.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date

CATALOG = "warehouse"  # the DuckDB catalog name models are qualified with
VIEW, FULL, INCREMENTAL = "VIEW", "FULL", "INCREMENTAL_BY_TIME_RANGE"
# What a model reads from the landing, for the loader (`materia.transform`):
READS_MONTHS = "months"  # only the release months of its batch (an incremental model)
READS_NEWEST = "newest"  # only each dataset's newest archives (and their months' others)
READS_ALL = "all"  # a view passing every landed row through: its readers must filter


def fill(template: str, start: date, end: date) -> str:
    """A batch's SQL from its template: the batch covers start..end (both inclusive)."""
    return template.replace("{{start}}", start.isoformat()).replace("{{end}}", end.isoformat())


@dataclass(frozen=True)
class Audit:
    name: str
    sql: str  # a template for an incremental model (its batch's rows only)
    blocking: bool = True


@dataclass(frozen=True)
class Model:
    name: str  # schema.table
    kind: str  # VIEW, FULL or INCREMENTAL_BY_TIME_RANGE
    sql: str
    audits: list[Audit] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)  # models and inputs (schema.table)
    audit_parents: list[str] = field(default_factory=list)  # other models its audits read
    columns: dict[str, str] = field(default_factory=dict)  # name → DuckDB type
    grain: list[str] = field(default_factory=list)
    fingerprint: str = ""  # SQLMesh's data version of the model and its parents
    metadata: str = ""  # SQLMesh's metadata hash (description, audits, …)
    reads: str = ""  # READS_MONTHS / READS_NEWEST when it reads the landing itself
    time_column: str | None = None  # incremental: the batch's column
    batch_size: int | None = None  # incremental: release months per batch (None: all)
    start: str | None = None  # incremental: the model's first month
    time_filter: str = ""  # incremental: the batch's rows, a condition (template)

    @property
    def schema(self) -> str:
        return self.name.split(".")[0]

    @property
    def table(self) -> str:
        return self.name.split(".")[1]

    @property
    def qualified(self) -> str:
        return f'"{CATALOG}"."{self.schema}"."{self.table}"'

    @property
    def incremental(self) -> bool:
        return self.kind == INCREMENTAL

    @property
    def stored(self) -> bool:
        """SQLMesh keeps its rows in a table (a view is only its query)."""
        return self.kind != VIEW

    @property
    def published(self) -> bool:
        """Published to Iceberg: every serving model, and every model SQLMesh stores (so a
        change downstream recomputes from published tables, not from the archives)."""
        return self.schema == "serving" or self.stored

    @property
    def published_name(self) -> str:
        """Its table in the environment's Iceberg namespace."""
        return self.table if self.schema == "serving" else f"{self.schema}__{self.table}"


@dataclass(frozen=True)
class Compiled:
    fingerprint: str  # of the project's files (the cache key)
    models: list[Model]  # in DAG order
    inputs: list[str]  # external tables the models read (schema.table)

    def model(self, name: str) -> Model:
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(name)

    def published(self) -> list[Model]:
        return [m for m in self.models if m.published]

    def downstream(self, names: set[str]) -> set[str]:
        """`names` and every model that reads them, directly or not."""
        out = set(names)
        for m in self.models:  # DAG order: parents come first
            if out & set(m.parents):
                out.add(m.name)
        return out

    def readers(self, name: str) -> list[str]:
        """The models that read `name`: in their query, or in one of their audits."""
        return [m.name for m in self.models if name in m.parents or name in m.audit_parents]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Compiled:
        d = json.loads(text)
        models = [Model(**{**m, "audits": [Audit(**a) for a in m["audits"]]}) for m in d["models"]]
        return cls(d["fingerprint"], models, d["inputs"])
