"""materia.workers.ship: what travels to a worker is git's view of the tracked files."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from materia.workers import ship
from testsupport.ops.gitrepo import git


def members(bundle: ship.Bundle) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(bundle.data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_only_tracked_files_ship_with_the_commit_id(tmp_path: Path) -> None:
    git(tmp_path, "init", "--quiet")
    (tmp_path / ".gitignore").write_text(".env\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "code.py").write_text("A = 1\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "--quiet", "-m", "one")
    commit = git(tmp_path, "rev-parse", "HEAD")

    (tmp_path / ".env.prod").write_text("R2_SECRET_KEY=untracked-but-not-ignored\n")
    (tmp_path / ".env").write_text("R2_SECRET_KEY=ignored\n")
    (tmp_path / "pkg" / "scratch.py").write_text("print('work in progress')\n")
    clean = ship.bundle(tmp_path)
    assert sorted(members(clean)) == [".gitignore", ".materia-commit", "pkg/code.py"]
    assert members(clean)[".materia-commit"] == f"{commit}\n".encode()
    assert (clean.commit, clean.dirty, clean.files) == (commit, False, 2)

    (tmp_path / "pkg" / "code.py").write_text("A = 2\n")  # a tracked file, changed
    dirty = ship.bundle(tmp_path)
    assert members(dirty)["pkg/code.py"] == b"A = 2\n"
    assert members(dirty)[".materia-commit"] == f"{commit} dirty\n".encode()
    assert ".env.prod" not in members(dirty)
