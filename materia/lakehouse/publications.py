"""The publication log `<namespace>.publications`: which snapshot of each table belongs
to which successful transform. Readers follow its newest run, so they see every table
from one and the same run, never half of one (docs/READING.md).

One row per (run, table): run_id, sequence (1, 2, … per namespace), published_at,
table_name, snapshot_id, metadata_location (a metadata file whose current snapshot is
that one, for engines reading a file directly), row_count, and the run's inputs as JSON
(the landed archives it covers, each model's fingerprint, the models it ran). Appending
a run's rows commits with the run's tables (`publish`); every table also carries the tag
`run-<run_id>` at the run's snapshot.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table, Transaction

TABLE = "publications"


def clock() -> datetime:
    """Now, for publication times and retention (tests move it)."""
    return datetime.now(UTC)


def new_run_id() -> str:
    return f"{clock():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


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


def schema():
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


def runs(rows: list[dict]) -> list[Publication]:
    """Every publication among rows of the log, oldest first."""
    by_seq: dict[int, list[dict]] = {}
    for r in rows:
        by_seq.setdefault(r["sequence"], []).append(r)
    out = []
    for sequence in sorted(by_seq):
        run = by_seq[sequence]
        first = run[0]
        out.append(
            Publication(
                run_id=first["run_id"],
                sequence=sequence,
                published_at=first["published_at"],
                tables={
                    r["table_name"]: TableRef(
                        r["snapshot_id"], r["metadata_location"], r["row_count"]
                    )
                    for r in run
                },
                inputs=json.loads(first["inputs"]),
            )
        )
    return out


def newest(rows: list[dict]) -> Publication | None:
    """The newest publication among rows of the log (None for no rows)."""
    found = runs(rows)
    return found[-1] if found else None


def current(table: Table | None) -> Publication | None:
    """The newest publication recorded in `table` (None before the first): for the writer,
    which appends to that very table; readers use `materia.lakehouse.read`."""
    return newest(rows_of(table))


def rows_of(table: Table | None) -> list[dict]:
    if table is None or table.current_snapshot() is None:
        return []
    return table.scan().to_arrow().to_pylist()


def stage(
    table: Table, run_id: str, sequence: int, tables: dict[str, TableRef], inputs: dict
) -> tuple[Transaction, Publication]:
    """The run's rows appended, and the log tagged `run-<run_id>`, in a transaction to
    commit with the run's tables; and the publication it records."""
    import pyarrow as pa

    from materia.lakehouse import iceberg_io

    at = clock()
    text = json.dumps(inputs, sort_keys=True)
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
            for n in sorted(tables)
        ],
        schema=schema(),
    )
    tx = table.transaction()
    tx.append(data, snapshot_properties={iceberg_io.RUN_KEY: run_id})
    iceberg_io.tag(tx, iceberg_io.current_snapshot_id(tx), f"{iceberg_io.TAG_PREFIX}{run_id}")
    return tx, Publication(run_id, sequence, at, dict(tables), inputs)
