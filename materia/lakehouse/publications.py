"""The publication log `<namespace>.publications`: which snapshot of each serving table
belongs to which successful transform. Readers follow its newest run, so they see every
table from one and the same run, never half of one (docs/READING.md).

One row per (run, table): run_id, sequence (1, 2, … per namespace), published_at,
table_name, snapshot_id, metadata_location (that snapshot's metadata file, for engines
reading a file directly), row_count, and the run's inputs as JSON (the landed archives it
covers, the project fingerprint, the first release month it recomputed). Appending a
run's rows is the one commit that makes the run visible; tables written before it stay
invisible to readers until then, and are reset if the run dies first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

TABLE = "publications"


@dataclass(frozen=True)
class TableRef:
    snapshot_id: int
    metadata_location: str
    rows: int


@dataclass(frozen=True)
class Publication:
    run_id: str
    sequence: int
    published_at: datetime
    tables: dict[str, TableRef]
    inputs: dict = field(default_factory=dict)

    @property
    def archives(self) -> list[str]:
        return list(self.inputs.get("archives", []))

    @property
    def project(self) -> str | None:
        return self.inputs.get("project")


def _arrow_schema():
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("run_id", pa.string(), nullable=False),
            pa.field("sequence", pa.int64(), nullable=False),
            pa.field("published_at", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("table_name", pa.string(), nullable=False),
            pa.field("snapshot_id", pa.int64(), nullable=False),
            pa.field("metadata_location", pa.string(), nullable=False),
            pa.field("row_count", pa.int64(), nullable=False),
            pa.field("inputs", pa.string(), nullable=False),
        ]
    )


def load(cat: Catalog, namespace: str) -> Table | None:
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    try:
        return cat.load_table((namespace, TABLE))
    except (NoSuchTableError, NoSuchNamespaceError):
        return None


def newest(rows: list[dict]) -> Publication | None:
    """The newest publication among rows of the log (None for no rows)."""
    if not rows:
        return None
    sequence = max(r["sequence"] for r in rows)
    run = [r for r in rows if r["sequence"] == sequence]
    first = run[0]
    return Publication(
        run_id=first["run_id"],
        sequence=sequence,
        published_at=first["published_at"],
        tables={
            r["table_name"]: TableRef(r["snapshot_id"], r["metadata_location"], r["row_count"])
            for r in run
        },
        inputs=json.loads(first["inputs"]),
    )


def current(table: Table | None) -> Publication | None:
    """The newest publication recorded in `table` (None before the first): for the writer,
    which appends to that very table; readers use `materia.lakehouse.read`."""
    if table is None or table.current_snapshot() is None:
        return None
    return newest(table.scan().to_arrow().to_pylist())


def append(
    cat: Catalog,
    namespace: str,
    table: Table | None,
    run_id: str,
    sequence: int,
    tables: dict[str, TableRef],
    inputs: dict,
) -> Publication:
    """Record a run: the commit that makes it what readers see."""
    import pyarrow as pa

    at = datetime.now(UTC)
    text = json.dumps(inputs, sort_keys=True)
    names = sorted(tables)
    data = pa.Table.from_pylist(
        [
            {
                "run_id": run_id,
                "sequence": sequence,
                "published_at": at,
                "table_name": n,
                "snapshot_id": tables[n].snapshot_id,
                "metadata_location": tables[n].metadata_location,
                "row_count": tables[n].rows,
                "inputs": text,
            }
            for n in names
        ],
        schema=_arrow_schema(),
    )
    if table is None:
        table = cat.create_table((namespace, TABLE), schema=_arrow_schema())
    table.append(data, snapshot_properties={"materia.run_id": run_id})
    return Publication(run_id, sequence, at, dict(tables), inputs)
