"""The SQLMesh project (`sqlmesh_materia/`): its configuration, and its models compiled
to plain DuckDB statements for `materia transform` (`materia.transform.compiled`).

SQLMesh is where the models, their kinds, audits and unit tests are defined, and what
`sqlmesh plan/test/audit/table_diff/ui` run on. A nightly transform executes the very
SQL SQLMesh renders for each model and audit, in DAG order and (for an incremental
model) batch by batch, on a fresh DuckDB: no SQLMesh state to carry between runs or
workers, and SQLMesh itself (about 2 s to import and load) is needed only when the
project changed: the compiled project is cached by the fingerprint of its files.

The compiler refuses, in one line naming the model and the feature, anything the
executor would not run exactly as SQLMesh does (`Unsupported`). It never drops a thing
silently: non-blocking audits are compiled too (the executor reports them as warnings).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from datetime import date
from pathlib import Path

from materia.core.errors import MateriaError
from materia.core.settings import Settings
from materia.transform.compiled import (
    CATALOG,
    FULL,
    INCREMENTAL,
    READS_ALL,
    READS_MONTHS,
    READS_NEWEST,
    VIEW,
    Audit,
    Compiled,
    Model,
    fill,
)

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "sqlmesh_materia"
# Bump when `compile` changes what it produces for the same project files.
COMPILER_VERSION = "2"
# Files outside the project that decide what the models compute.
_ALSO = tuple(
    ROOT / "materia" / "sources" / f
    for f in ("psd_codes.py", "psd_datasets.py", "psd_commodities.py")
    + ("wasde_tables.py", "wasde_units.py")
)
# Two batches the incremental templates are rendered for: the first makes the template,
# the second checks it (first and last day of a month, as the executor runs them).
_PROBE = (date(1901, 2, 1), date(1901, 2, 28))
_CHECK = (date(1902, 11, 1), date(1902, 11, 30))
_LANDING_MONTH = "release_month"  # the landing's month column, what the loader selects on
_NEWEST = "newest"  # the landing's newest-archive flag


class Unsupported(MateriaError):
    """A project feature `materia transform` does not run: refused, never dropped."""

    def __init__(self, model: str, feature: str) -> None:
        super().__init__(
            f"model {model}: {feature} is not run by `materia transform`, which refuses it "
            "rather than publish something else than SQLMesh would (see docs/ARCHITECTURE.md)"
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


def _sources(project: Path) -> list[Path]:
    files = []
    for path in sorted(project.rglob("*")):
        rel = path.relative_to(project)
        # Sources only: SQLMesh writes its own .cache/ and logs/ inside the project.
        if (
            path.is_file()
            and path.suffix in (".sql", ".py", ".yaml", ".yml", ".csv")
            and not any(p.startswith(".") or p in ("logs", "__pycache__") for p in rel.parts)
        ):
            files.append(path)
    return files + list(_ALSO)


def fingerprint(project: Path | None = None) -> str:
    """Of every project source file (and what the macros import): the compile cache key."""
    project = project or PROJECT
    h = hashlib.sha256(COMPILER_VERSION.encode())
    for path in _sources(project):
        name = path.relative_to(project) if path.is_relative_to(project) else path.name
        h.update(b"\0" + str(name).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _short(fqn: str) -> str:
    """`"warehouse"."raw"."psd_alldata"` → `raw.psd_alldata`."""
    return ".".join(fqn.replace('"', "").split(".")[-2:])


class _NoSql(logging.Filter):
    """SQLMesh logs each statement at the caller's level in some commands (table_diff):
    not in materia's output."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Executing SQL")


def context(settings: Settings, database: Path, project: Path | None = None):
    """A SQLMesh Context on the project, talking to no one, printing nothing."""
    from sqlmesh import Context
    from sqlmesh.core.console import NoopConsole, set_console

    set_console(NoopConsole())
    quiet = logging.getLogger("sqlmesh.core.engine_adapter.base")
    if not any(isinstance(f, _NoSql) for f in quiet.filters):
        quiet.addFilter(_NoSql())
    return Context(paths=[str(project or PROJECT)], config=config(settings, database))


def compile_project(settings: Settings, project: Path | None = None) -> Compiled:
    """Load the project with SQLMesh and render every model and audit to DuckDB SQL."""
    from sqlmesh.core.snapshot.definition import fingerprint_from_node

    project = project or PROJECT
    fp = fingerprint(project)
    with tempfile.TemporaryDirectory(prefix="materia-compile-") as td:
        ctx = context(settings, Path(td) / f"{CATALOG}.duckdb", project)
        try:
            if ctx.config.before_all or ctx.config.after_all:
                raise Unsupported("(project)", "before_all/after_all statements")
            nodes = dict(ctx.models)
            cache: dict = {}
            models, inputs, reads = [], [], {}
            for fqn in ctx.dag.sorted:
                model = ctx.get_model(fqn)
                if model is None:
                    continue
                name = _short(fqn)
                if model.kind.is_external:
                    inputs.append(name)
                    continue
                fpr = fingerprint_from_node(model, nodes=nodes, cache=cache)
                compiled = _compile_model(model, name, fpr, set(inputs), reads)
                later = set(compiled.audit_parents) - set(reads) - set(inputs)
                if later:
                    raise Unsupported(name, f"an audit reading {sorted(later)[0]}, built after it")
                reads[name] = (compiled.kind, compiled.reads)
                models.append(compiled)
        finally:
            ctx.close()
    return Compiled(fp, models, inputs)


def _kind(model, name: str) -> str:
    if not hasattr(model, "render_query_or_raise") or model.kind.is_seed:
        raise Unsupported(name, "a Python or seed model")
    if model.kind.is_view:
        return VIEW
    if model.kind.is_full:
        return FULL
    if model.kind.is_incremental_by_time_range:
        kind = model.kind
        if kind.lookback or kind.forward_only or kind.disable_restatement:
            raise Unsupported(name, "lookback, forward_only or disable_restatement")
        if str(model.interval_unit.value) != "month" or model.time_column.column.name != (
            _LANDING_MONTH
        ):
            raise Unsupported(name, f"an incremental model not by {_LANDING_MONTH}, monthly")
        if not model.allow_partials:
            raise Unsupported(name, "an incremental model without allow_partials")
        return INCREMENTAL
    raise Unsupported(name, f"kind {model.kind.name}")


def _compile_model(model, name: str, fpr, inputs: set[str], reads: dict) -> Model:
    kind = _kind(model, name)
    if model.pre_statements or model.post_statements:
        raise Unsupported(name, "a pre- or post-statement")
    if model.on_virtual_update:
        raise Unsupported(name, "an on_virtual_update statement (materia has no virtual layer)")
    if model.signals:
        raise Unsupported(name, "a signal")
    start, end = _PROBE
    query = model.render_query_or_raise(start=start, end=end, execution_time=start)
    later = model.render_query_or_raise(start=start, end=end, execution_time=_CHECK[0])
    if query.sql("duckdb") != later.sql("duckdb"):
        raise Unsupported(name, "a query that depends on the execution time")
    parents = sorted(_short(p) for p in model.depends_on)
    how = _reads(query, name, kind, parents, inputs, reads)
    sql, time_filter = query.sql("duckdb"), ""
    if kind == INCREMENTAL:
        sql = _template(name, query, lambda s, e: model.render_query_or_raise(start=s, end=e))
        time_filter = _template(
            name, _between(model, start, end), lambda s, e: _between(model, s, e)
        )
    audits, audit_parents = [], set()
    for audit, args in model.audits_with_args:
        if audit.skip:
            continue
        rendered = model.render_audit_query(audit, start=start, end=end, **args)
        audit_parents |= _tables(rendered) - {name}
        text = rendered.sql("duckdb")
        if kind == INCREMENTAL:
            text = _template(
                f"{name} audit {audit.name}",
                rendered,
                lambda s, e, a=audit, k=args: model.render_audit_query(a, start=s, end=e, **k),
            )
        audits.append(Audit(audit.name, text, bool(audit.blocking)))
    columns = {c: t.sql("duckdb") for c, t in (model.columns_to_types or {}).items()}
    return Model(
        name=name,
        kind=kind,
        sql=sql,
        audits=audits,
        parents=parents,
        audit_parents=sorted(audit_parents),
        columns=columns,
        grain=_grain(model),
        fingerprint=fpr.to_version(),
        metadata=fpr.metadata_hash,
        reads=how,
        time_column=model.time_column.column.name if kind == INCREMENTAL else None,
        batch_size=model.batch_size if kind == INCREMENTAL else None,
        start=str(model.start) if kind == INCREMENTAL and model.start else None,
        time_filter=time_filter,
    )


def _tables(expression) -> set[str]:
    """schema.table of every table an expression reads (CTE names are not tables)."""
    from sqlglot import exp

    ctes = {c.alias for c in expression.find_all(exp.CTE)}
    return {
        _short(".".join(p.name for p in t.parts))
        for t in expression.find_all(exp.Table)
        if t.name and t.name not in ctes and t.db
    }


def _grain(model) -> list[str]:
    from sqlglot import exp

    out = []
    for g in model.grains:
        out += [e.name for e in (g.expressions if isinstance(g, exp.Tuple) else [g])]
    return out


def _between(model, start: date, end: date):
    """The batch's rows, as SQLMesh's DELETE and INSERT select them for this model."""
    from sqlglot import exp

    low, high = (model.convert_to_time_column(d) for d in (start, end))
    return exp.Between(this=exp.column(model.time_column.column.name), low=low, high=high)


def _template(name: str, rendered, render) -> str:
    """The rendered SQL of the probe batch with its dates as `{{start}}`/`{{end}}`,
    checked: filled with another batch's dates it must equal SQLMesh's own rendering."""
    sql = rendered.sql("duckdb")
    for day, token in zip(_PROBE, ("{{start}}", "{{end}}"), strict=True):
        sql = sql.replace(day.isoformat(), token)
    if fill(sql, *_CHECK) != render(*_CHECK).sql("duckdb"):
        raise Unsupported(name, "SQL that computes with its batch's dates")
    return sql


def _reads(query, name: str, kind: str, parents: list[str], inputs: set[str], reads: dict) -> str:
    """How the model reads the landing: not at all, its batch's months, or the newest
    archives. The loader reads only those archives, so every read of the landing (an
    input, or a view passing it through) must be filtered on them, or it is refused."""
    from sqlglot import exp

    found = set()
    for parent in parents:
        pkind, pread = (VIEW, READS_ALL) if parent in inputs else reads.get(parent, (FULL, ""))
        if pkind != VIEW or pread in ("", READS_MONTHS, READS_NEWEST):
            found.add(pread if pkind == VIEW else "")  # a stored model, or a filtered view
            continue
        for table in query.find_all(exp.Table):  # an unfiltered read of the landing
            if _short(".".join(p.name for p in table.parts)) == parent:
                found.add(_filter_on(table, kind))
    found.discard("")
    if READS_ALL in found and kind == VIEW:
        return READS_ALL  # a view passing the landing through: its readers must filter it
    if READS_ALL in found:
        raise Unsupported(
            name, f"reading the landing without `WHERE {_NEWEST}` or its batch's months"
        )
    if len(found) > 1:
        raise Unsupported(name, "reading both the newest archives and a batch's months")
    return found.pop() if found else ""


def _filter_on(table, kind: str) -> str:
    """READS_NEWEST or READS_MONTHS when the SELECT reading `table` filters it so, else
    READS_ALL."""
    from sqlglot import exp

    select = table.parent_select
    where = select.args.get("where") if select else None
    alias = table.alias_or_name
    for cond in (
        where.this.flatten()
        if where and isinstance(where.this, exp.And)
        else ([where.this] if where else [])
    ):
        if isinstance(cond, exp.Column) and cond.name == _NEWEST and cond.table in ("", alias):
            return READS_NEWEST
        if (
            kind == INCREMENTAL
            and isinstance(cond, exp.Between)
            and isinstance(cond.this, exp.Column)
            and cond.this.name == _LANDING_MONTH
            and _PROBE[0].isoformat() in cond.sql()
            and _PROBE[1].isoformat() in cond.sql()
        ):
            return READS_MONTHS
    return READS_ALL


def cache_path(fp: str, project: Path | None = None) -> Path:
    return (project or PROJECT) / ".cache" / "materia" / f"compiled-{fp}.json"


def compiled(settings: Settings, project: Path | None = None) -> Compiled:
    """The compiled project, from the cache when the project files are unchanged."""
    fp = fingerprint(project)
    path = cache_path(fp, project)
    try:
        return Compiled.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        pass
    result = compile_project(settings, project)
    try:  # best effort: a read-only checkout just compiles every time
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(result.to_json())
        os.replace(tmp, path)
    except OSError:
        pass
    return result
