"""The exact code of this checkout, as one tarball for a worker.

Only files git tracks (`git ls-files --cached`), as they are in the working tree: never an
untracked file (a stray `.env.prod`), never an ignored one (.env, .materia/, .venv/).
The commit id, and whether tracked files differ from it, travel in `.materia-commit`.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import materia
from materia.core.errors import MateriaError

COMMIT_FILE = ".materia-commit"


@dataclass(frozen=True)
class Bundle:
    data: bytes  # tar.gz
    commit: str
    dirty: bool
    files: int

    def __repr__(self) -> str:
        return f"Bundle(commit={self.commit!r}, dirty={self.dirty}, files={self.files}, bytes={len(self.data)})"

    @property
    def describe(self) -> str:
        return f"{self.commit[:12]}{'+dirty' if self.dirty else ''} ({self.files} files, {len(self.data) // 1024} KiB)"


def repo_root() -> Path:
    return Path(materia.__file__).resolve().parent.parent


def _git(root: Path, *args: str) -> str:
    try:
        r = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=120
        )
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        detail = getattr(e, "stderr", "") or str(e)
        raise MateriaError(
            f"cannot ship code from {root}: git {args[0]} failed: {detail.strip()}"
        ) from e
    return r.stdout


def bundle(root: Path | None = None) -> Bundle:
    root = root or repo_root()
    commit = _git(root, "rev-parse", "HEAD").strip()
    dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no").strip())
    names = [n for n in _git(root, "ls-files", "-z", "--cached").split("\0") if n]
    buf = io.BytesIO()
    count = 0
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6) as tar:
        for name in sorted(set(names)):
            path = root / name
            if path.is_symlink() or path.is_file():  # deleted-but-tracked files are skipped
                tar.add(path, arcname=name, recursive=False)
                count += 1
        stamp = f"{commit}{' dirty' if dirty else ''}\n".encode()
        info = tarfile.TarInfo(COMMIT_FILE)
        info.size = len(stamp)
        tar.addfile(info, io.BytesIO(stamp))
    return Bundle(data=buf.getvalue(), commit=commit, dirty=dirty, files=count)
