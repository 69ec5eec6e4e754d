"""`materia report` from an installed wheel: the report notebook ships inside the package,
so a wheel installed in a fresh virtual environment (outside this checkout, offline, from
uv's cache at the lock's versions) makes the report of a published lakehouse."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from testsupport import clean_env
from testsupport.lakehouse.fixture import published  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _uv(*args: str, cwd: Path) -> str:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    proc = subprocess.run([uv, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_report_from_an_installed_wheel(published, tmp_path):  # noqa: F811
    dist, venv, elsewhere = tmp_path / "dist", tmp_path / "venv", tmp_path / "elsewhere"
    elsewhere.mkdir()
    _uv("build", "--wheel", "-q", "-o", str(dist), cwd=ROOT)
    (wheel,) = dist.glob("materia-*.whl")
    _uv("venv", "-q", "--python", "3.11", str(venv), cwd=elsewhere)
    _uv("pip", "install", "-q", "--offline", "--no-deps", "--python",
        str(venv / "bin" / "python"), str(wheel), cwd=elsewhere)  # fmt: skip
    # Its dependencies are the checkout's environment's (the lock's versions; installing
    # them again would need the network): a path entry, whose own .pth files (this
    # checkout's editable install) Python does not read.
    (site,) = venv.glob("lib/python3*/site-packages")
    (deps,) = ROOT.glob(".venv/lib/python3*/site-packages")
    (site / "zz_checkout_deps.pth").write_text(f"{deps}\n")
    out = tmp_path / "report.html"
    proc = subprocess.run(
        [str(venv / "bin" / "materia"), "report", "commodities", "--commodity", "Wheat",
         "--out", str(out)],
        cwd=elsewhere, env=clean_env(published.home), capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = out.read_text()
    assert "Commodities report, PSD" in page and "Wheat" in page
    # it ran the installed package's notebook, not this checkout's
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import materia.reports.build as b; print(b.NOTEBOOK)"],
        cwd=elsewhere, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert where.startswith(str(site)), where  # the installed package's notebook
