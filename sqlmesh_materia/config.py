"""SQLMesh configuration: one DuckDB warehouse file per MATERIA_HOME, state inside it.

Gateways: `local` (the embedded default) and `prod` (chosen when MATERIA_ENV=prod). Both
build in `$MATERIA_HOME/warehouse.duckdb`; in prod that file is a working copy that
`materia transform` takes from object storage under a lock and returns afterwards
(`materia.warehouse`), and the landing area is R2, read through s3fs by `@psd_landed`.
The configuration itself lives in `materia.transform.sqlmesh_config`, so `materia
transform` and the `sqlmesh` CLI build exactly the same thing.
"""

from materia.settings import load
from materia.transform import sqlmesh_config

config = sqlmesh_config(load())
