"""Landed files → the SQLMesh project's models → one published run. `run` is `materia
transform`; `inputs` prepares what the models read, `steps` and `executor` run the
compiled models (`compiled`, from `sqlmesh_project`) one release month per batch,
`batch` and `recompute` decide what must be recomputed, `sqlmesh_dev` and `envs` serve
SQLMesh's own commands and the environments. May import `materia.lakehouse`,
`materia.landing`, `materia.sources` and `materia.core`.
"""
