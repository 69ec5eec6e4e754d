"""The SQLMesh project (`sqlmesh_materia/`): its configuration, and its models compiled
to plain DuckDB statements for `materia transform`.

SQLMesh is where the models, their audits and their unit tests are defined, and what
`sqlmesh plan/test/ui` run on. A nightly transform executes the very SQL SQLMesh renders
for each model and audit (`compile`), in DAG order, on a fresh DuckDB: the run is then
a handful of statements, with no SQLMesh state to carry between runs or workers, and
SQLMesh itself (about 2 s to import and load) is needed only when the project changed:
the compiled statements are cached by the fingerprint of the project's files.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from materia.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "sqlmesh_materia"
CATALOG = "warehouse"  # the DuckDB catalog name models are qualified with
# Bump when `compile` changes what it produces for the same project files.
COMPILER_VERSION = "1"
# Files outside the project that decide what the models compute.
_ALSO = tuple(
    ROOT / "materia" / f for f in ("psd_codes.py", "psd_datasets.py", "psd_commodities.py")
)


def config(settings: Settings, database: Path | None = None):
    """The SQLMesh Config: a DuckDB file named `warehouse.duckdb` (the catalog name the
    compiled statements use), `$MATERIA_HOME/warehouse.duckdb` by default."""
    from sqlmesh.core.config import (
        Config,
        DuckDBConnectionConfig,
        GatewayConfig,
        ModelDefaultsConfig,
    )

    db = database or settings.home / f"{CATALOG}.duckdb"
    db.parent.mkdir(parents=True, exist_ok=True)
    gateway = GatewayConfig(connection=DuckDBConnectionConfig(database=str(db)))
    return Config(
        gateways={"local": gateway},
        default_gateway="local",
        # SQLMesh would report usage to tobikodata.com on every load: materia talks to no one.
        disable_anonymized_analytics=True,
        model_defaults=ModelDefaultsConfig(dialect="duckdb", start="2006-01-01", cron="@daily"),
    )


def _sources() -> list[Path]:
    files = []
    for path in sorted(PROJECT.rglob("*")):
        rel = path.relative_to(PROJECT)
        # Sources only: SQLMesh writes its own .cache/ and logs/ inside the project.
        if (
            path.is_file()
            and path.suffix in (".sql", ".py", ".yaml", ".yml", ".csv")
            and not any(p.startswith(".") or p in ("logs", "__pycache__") for p in rel.parts)
        ):
            files.append(path)
    return files + list(_ALSO)


def fingerprint() -> str:
    """Of every project source file (and what the macros import): the compile cache key."""
    h = hashlib.sha256(COMPILER_VERSION.encode())
    for path in _sources():
        h.update(b"\0" + str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


@dataclass(frozen=True)
class Audit:
    name: str
    sql: str


@dataclass(frozen=True)
class Model:
    name: str  # schema.table
    kind: str  # VIEW or FULL
    sql: str
    audits: list[Audit] = field(default_factory=list)

    @property
    def schema(self) -> str:
        return self.name.split(".")[0]

    @property
    def qualified(self) -> str:
        schema, table = self.name.split(".")
        return f'"{CATALOG}"."{schema}"."{table}"'


@dataclass(frozen=True)
class Compiled:
    fingerprint: str
    models: list[Model]
    inputs: list[str]  # external tables the models read (schema.table)

    def model(self, name: str) -> Model:
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(name)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Compiled:
        d = json.loads(text)
        models = [Model(**{**m, "audits": [Audit(**a) for a in m["audits"]]}) for m in d["models"]]
        return cls(d["fingerprint"], models, d["inputs"])


def _short(fqn: str) -> str:
    """`"warehouse"."raw"."psd_alldata"` → `raw.psd_alldata`."""
    return ".".join(fqn.replace('"', "").split(".")[-2:])


def compile_project(settings: Settings) -> Compiled:
    """Load the project with SQLMesh and render every model and audit to DuckDB SQL."""
    from sqlmesh import Context
    from sqlmesh.core.console import NoopConsole, set_console

    fp = fingerprint()
    set_console(NoopConsole())
    with tempfile.TemporaryDirectory(prefix="materia-compile-") as td:
        ctx = Context(paths=[str(PROJECT)], config=config(settings, Path(td) / f"{CATALOG}.duckdb"))
        try:
            models, inputs = [], []
            for fqn in ctx.dag.sorted:
                model = ctx.get_model(fqn)
                if model is None:
                    continue
                if model.kind.is_external:
                    inputs.append(_short(fqn))
                    continue
                if not (model.kind.is_full or model.kind.is_view):
                    raise ValueError(f"{fqn}: materia runs FULL and VIEW models only")
                query = model.render_query_or_raise()
                audits = [
                    Audit(audit.name, model.render_audit_query(audit, **args).sql("duckdb"))
                    for audit, args in model.audits_with_args
                    if audit.blocking
                ]
                kind = "VIEW" if model.kind.is_view else "FULL"
                models.append(Model(_short(fqn), kind, query.sql("duckdb"), audits))
        finally:
            ctx.close()
    return Compiled(fp, models, inputs)


def cache_path(fp: str) -> Path:
    return PROJECT / ".cache" / "materia" / f"compiled-{fp}.json"


def compiled(settings: Settings) -> Compiled:
    """The compiled project, from the cache when the project files are unchanged."""
    fp = fingerprint()
    path = cache_path(fp)
    try:
        return Compiled.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        pass
    result = compile_project(settings)
    try:  # best effort: a read-only checkout just compiles every time
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(result.to_json())
        os.replace(tmp, path)
    except OSError:
        pass
    return result
