"""The Iceberg serving layer: where published data lives and the one way to read it.

- `catalogs`: the catalog of these settings and each environment's namespace;
- `publish`: a run's serving tables, written and then made visible in one commit;
- `publications`: the log of runs readers follow (whole runs, never half of one);
- `read`: `read_table` and friends, always at the newest publication's snapshots, all
  through DuckDB (no pyiceberg on the read side);
- `duck`: DuckDB over a published snapshot; `guard`: the no-collapse checks;
- `iceberg_io`: every lower-level pyiceberg call, in one place.
"""

from materia.lakehouse.catalogs import catalog, check_env, namespace_for, where
from materia.lakehouse.publications import Publication, TableRef
from materia.lakehouse.read import (
    clear_cache,
    current_publication,
    list_envs,
    read_table,
    table_exists,
)

__all__ = [
    "Publication",
    "TableRef",
    "catalog",
    "check_env",
    "clear_cache",
    "current_publication",
    "list_envs",
    "namespace_for",
    "read_table",
    "table_exists",
    "where",
]
