"""Reading published tables the way docs/READING.md tells any outside reader to, with plain
pyiceberg: the newest run in `<namespace>.publications`, then each table at the snapshot
that run names. Tests use it to check what readers really see."""

from __future__ import annotations

from pathlib import Path


def local_catalog(home: Path):
    """The embedded catalog of a MATERIA_HOME, opened with plain pyiceberg."""
    from pyiceberg.catalog.sql import SqlCatalog

    lake = home / "lakehouse"
    return SqlCatalog(
        "materia", uri=f"sqlite:///{lake / 'catalog.db'}", warehouse=f"file://{lake / 'warehouse'}"
    )


def newest_run(catalog, namespace: str = "serving") -> dict[str, int]:
    """table → snapshot id of the newest publication ({} before the first)."""
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    try:
        pubs = catalog.load_table(f"{namespace}.publications").scan().to_arrow().to_pylist()
    except (NoSuchTableError, NoSuchNamespaceError):
        return {}
    if not pubs:
        return {}
    last = max(r["sequence"] for r in pubs)
    return {r["table_name"]: r["snapshot_id"] for r in pubs if r["sequence"] == last}


def read(catalog, table: str, namespace: str = "serving") -> list[dict]:
    """Rows of `table` as the newest publication has it ([] before the first)."""
    snapshot = newest_run(catalog, namespace).get(table)
    if snapshot is None:
        return []
    return (
        catalog.load_table(f"{namespace}.{table}").scan(snapshot_id=snapshot).to_arrow().to_pylist()
    )


def read_all(catalog, namespace: str = "serving") -> dict[str, list[dict]]:
    """Every table of the newest publication, rows sorted (for whole-state comparisons)."""
    out = {}
    for table in sorted(newest_run(catalog, namespace)):
        rows = read(catalog, table, namespace)
        out[table] = sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))
    return out
