"""The one way materia reads published data: every table at the snapshot the newest
publication names, so a reader always sees all tables from the same successful run.

Frames are cached per (catalog, namespace, table, snapshot, columns, filter): a repeated
read costs one metadata lookup of the publication log.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from materia.errors import MateriaError, first_line
from materia.lakehouse import catalogs as cat_mod
from materia.lakehouse import publications
from materia.lakehouse.publications import Publication
from materia.settings import Settings

if TYPE_CHECKING:
    import polars as pl
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

_CACHE_SIZE = 32
_frames: OrderedDict[tuple, pl.DataFrame] = OrderedDict()
_catalogs: dict[tuple[str, ...], Catalog] = {}
_pubs: dict[tuple, tuple[int | None, Publication | None]] = {}
_lock = threading.Lock()


def _settings(settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    from materia import settings as settings_mod

    return settings_mod.load()


def _catalog(settings: Settings) -> Catalog:
    key = cat_mod.catalog_key(settings)
    with _lock:
        cat = _catalogs.get(key)
    if cat is None:
        cat = cat_mod.catalog(settings)
        with _lock:
            _catalogs[key] = cat
    return cat


def _hint(env: str) -> str:
    if env == "prod":
        return "run `uv run materia pipeline run` first"
    return f"run `uv run materia transform --env {env}` first"


def current_publication(settings: Settings | None = None, env: str = "prod") -> Publication | None:
    """The newest successful run of `env` (None before the first)."""
    settings = _settings(settings)
    ns = cat_mod.namespace_for(env)
    cat = _catalog(settings)
    try:
        table = publications.load(cat, ns)
    except Exception as e:
        raise MateriaError(
            f"cannot read {ns}.publications in {cat_mod.where(settings)}: {first_line(e)}"
        ) from e
    snap = table.current_snapshot() if table is not None else None
    key = (cat_mod.catalog_key(settings), ns)
    sid = snap.snapshot_id if snap else None
    with _lock:
        cached = _pubs.get(key)
    if cached is not None and cached[0] == sid:
        return cached[1]
    pub = publications.current(table)
    with _lock:
        _pubs[key] = (sid, pub)
    return pub


def _published(settings: Settings, env: str, name: str) -> tuple[Table, int]:
    pub = current_publication(settings, env)
    ns = cat_mod.namespace_for(env)
    if pub is None or name not in pub.tables:
        raise MateriaError(
            f"no published table {ns}.{name} in {cat_mod.where(settings)}: {_hint(env)}"
        )
    return _catalog(settings).load_table((ns, name)), pub.tables[name].snapshot_id


def read_table(
    name: str,
    env: str = "prod",
    settings: Settings | None = None,
    columns: list[str] | None = None,
    row_filter: object | None = None,
) -> pl.DataFrame:
    """A serving table of `env` as polars, at the snapshot of the newest publication.

    `row_filter` is a pyiceberg expression or its string form, e.g.
    "commodity_code == '0440000'", pushed down to the files. Treat the result as
    read-only (polars frames are immutable anyway).
    """
    import polars as pl

    settings = _settings(settings)
    table, snapshot_id = _published(settings, env, name)
    key = (
        cat_mod.catalog_key(settings),
        cat_mod.namespace_for(env),
        name,
        snapshot_id,
        tuple(columns) if columns else None,
        str(row_filter) if row_filter is not None else None,
    )
    with _lock:
        if key in _frames:
            _frames.move_to_end(key)
            return _frames[key]
    scan_args: dict = {"snapshot_id": snapshot_id}
    if columns:
        scan_args["selected_fields"] = tuple(columns)
    if row_filter is not None:
        scan_args["row_filter"] = row_filter
    try:
        frame = pl.from_arrow(table.scan(**scan_args).to_arrow())
    except ValueError as e:  # unknown column names, a bad filter
        raise MateriaError(
            f"cannot read {cat_mod.namespace_for(env)}.{name}: {first_line(e)}"
        ) from e
    assert isinstance(frame, pl.DataFrame)
    with _lock:
        _frames[key] = frame
        while len(_frames) > _CACHE_SIZE:
            _frames.popitem(last=False)
    return frame


def clear_cache() -> None:
    """Forget cached frames, publications and catalogs (tests; after changing settings)."""
    with _lock:
        _frames.clear()
        _catalogs.clear()
        _pubs.clear()


def table_exists(name: str, env: str = "prod", settings: Settings | None = None) -> bool:
    pub = current_publication(_settings(settings), env)
    return pub is not None and name in pub.tables


def list_envs(settings: Settings) -> list[str]:
    """Environments with a publication: prod first."""
    cat = _catalog(settings)
    envs = []
    for ns in cat.list_namespaces():
        env = cat_mod.env_of(".".join(ns))
        if env is not None and publications.load(cat, ".".join(ns)) is not None:
            envs.append(env)
    return sorted(envs, key=lambda e: (e != "prod", e))


def snapshot_ids(settings: Settings, env: str, name: str) -> list[int]:
    """Every snapshot id of a table, oldest first (history; for tests and audits)."""
    table = _catalog(settings).load_table((cat_mod.namespace_for(env), name))
    return [s.snapshot_id for s in table.snapshots()]
