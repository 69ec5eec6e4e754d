"""SQLMesh configuration for the `sqlmesh` CLI (`plan`, `test`, `audit`, `ui`).

One DuckDB file, `$MATERIA_HOME/warehouse.duckdb`, with SQLMesh's state inside it. The
configuration lives in `materia.transform.sqlmesh_project.config`, which `materia transform` also
uses to compile the models, so both see exactly the same project.
"""

from materia.core.settings import load
from materia.transform.sqlmesh_project import config as materia_config

config = materia_config(load())
