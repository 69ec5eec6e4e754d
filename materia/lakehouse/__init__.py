"""The Iceberg serving layer: where published data lives and the one way to read it.

- `catalogs`: the catalog of these settings and each environment's namespace;
- `publish`: a run's serving tables, written and then made visible in one commit;
- `publications`: the log of runs readers follow (whole runs, never half of one);
- `read`: `pin` (one publication held: several tables of one run) and `read_table`, at a
  publication's snapshots, all through DuckDB (no pyiceberg on the read side);
- `duck`: DuckDB over a published snapshot; `guard`: the no-collapse checks;
- `iceberg_io`: every lower-level pyiceberg call, in one place;
- `serving`: the published tables, their keys and columns, named once.

May import `materia.core` only: transform, workbench and reports read it.
"""

from materia.lakehouse.catalogs import catalog, check_env, namespace_for, where
from materia.lakehouse.publications import Publication, TableRef
from materia.lakehouse.read import (
    Pinned,
    clear_cache,
    current_publication,
    list_envs,
    pin,
    read_table,
    table_exists,
)

__all__ = [
    "Pinned",
    "Publication",
    "TableRef",
    "catalog",
    "check_env",
    "clear_cache",
    "current_publication",
    "list_envs",
    "namespace_for",
    "pin",
    "read_table",
    "table_exists",
    "where",
]
