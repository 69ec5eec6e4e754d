"""A copy of the SQLMesh project to change in a test, used in place of the real one.

project = copy_project(tmp_path, monkeypatch)   # materia.transform.sqlmesh_project.PROJECT → it
edit(project, "models/serving/obt_commodity_metrics.sql", "old text", "new text")
"""

from __future__ import annotations

import shutil
from pathlib import Path

from materia.transform import sqlmesh_project


def copy_project(dest: Path, monkeypatch=None) -> Path:
    """`sqlmesh_materia/` copied under `dest` (sources only); with `monkeypatch`, the
    project materia compiles and transforms from there on."""
    project = dest / "sqlmesh_materia"
    shutil.copytree(
        sqlmesh_project.PROJECT, project, ignore=shutil.ignore_patterns(".cache", "logs")
    )
    if monkeypatch is not None:
        monkeypatch.setattr(sqlmesh_project, "PROJECT", project)
    return project


def edit(project: Path, rel: str, old: str, new: str) -> None:
    """Replace `old` (which must be there, once) by `new` in a project file."""
    path = project / rel
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {rel}"
    path.write_text(text.replace(old, new))


def add(project: Path, rel: str, text: str) -> None:
    path = project / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
