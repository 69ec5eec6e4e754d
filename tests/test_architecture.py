"""The house rules of docs/ARCHITECTURE.md, checked on the source: imports point down the
layers, no module over 400 lines, each library's private API behind one module, and no
test support in the package."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "materia"
MAX_LINES = 400

# Highest first: a module may import its own layer and the ones below, never above.
LAYERS = {
    5: ("materia.__main__", "materia.cli", "materia.cli_ops", "materia.cli_dev"),
    4: (
        "materia.supervisor",
        "materia.supervisor_log",
        "materia.supervisor_state",
        "materia.supervisor_watch",
        "materia.selfcheck",
        "materia.ci_gate",
        "materia.stack",
        "materia.schedule",
    ),  # fmt: skip
    3: ("materia.pipelines", "materia.report_publish"),
    2: (
        "materia.transform",
        "materia.inputs",
        "materia.batch",
        "materia.executor",
        "materia.recompute",
        "materia.steps",
        "materia.sqlmesh_dev",
        "materia.envs",
        "materia.extract",
        "materia.workers",
        "materia.reports",
        "materia.report_html",
        "materia.report_runner",
        "materia.workbench_data",
        "materia.releases",
        "materia.analysis",
        "materia.balance",
        "materia.breakdowns",
        "materia.charts",
        "materia.psd_revisions",
        "materia.wasde",
        "materia.wasde_data",
        "materia.wasde_tables",
        "materia.wasde_charts",
        "materia.envdiff",
        "materia.units",
    ),  # fmt: skip
    1: (
        "materia.lakehouse",
        "materia.landed",
        "materia.psd_archive",
        "materia.psd_member",
        "materia.wasde_archive",
        "materia.archive_check",
        "materia.sqlmesh_project",
        "materia.compiled",
        "materia.locks",
        "materia.runlog",
        "materia.runlog_view",
        "materia.runoutput",
        "materia.jsonlog",
        "materia.notify",
    ),  # fmt: skip
    0: (
        "materia.errors",
        "materia.settings",
        "materia.cloud_settings",
        "materia.secrets",
        "materia.storage",
        "materia.psd_codes",
        "materia.psd_datasets",
        "materia.psd_commodities",
        "materia.psd_format",
        "materia.wasde_format",
        "materia.wasde_units",
        "materia.source_registry",
        "materia.source_settings",
        "materia.release_calendar",
        "materia.scratch",
        "materia.failpoints",
        "materia",
    ),  # fmt: skip
}
# The one module allowed to reach below each library's public API.
PRIVATE_OK = {
    "pyiceberg": "materia/lakehouse/iceberg_io.py",
    "marimo": "materia/report_runner.py",
    "sqlmesh": "materia/sqlmesh_project.py",
}
PYICEBERG_PRIVATE = re.compile(r"\._(convert_schema_if_needed|dataframe_to_data_files|table\b)")


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def layer_of(module: str) -> int:
    best = None
    for layer, prefixes in LAYERS.items():
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and (best is None or len(p) > best[1]):
                best = (layer, len(p))
    assert best is not None, f"{module} is in no layer of tests/test_architecture.py"
    return best[0]


def _imports(path: Path) -> list[tuple[str, int, ast.ImportFrom | ast.Import]]:
    """(imported module, line, node) of every import outside `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, node) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                out.append((full if full in _modules() else node.module, node.lineno, node))
    return out


def test_every_module_has_a_layer():
    for module in _modules():
        layer_of(module)


def test_imports_point_down_the_layers():
    upward = []
    for module, path in _modules().items():
        mine = layer_of(module)
        for target, line, _ in _imports(path):
            if target.split(".")[0] == "materia" and layer_of(target) > mine:
                upward.append(f"{path.relative_to(ROOT)}:{line} {module} → {target}")
    assert upward == []


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_no_module_is_over_400_lines(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_private_third_party_apis_stay_behind_one_module():
    found = []
    for path in PACKAGE.rglob("*.py"):
        rel = str(path.relative_to(ROOT))
        for target, line, node in _imports(path):
            lib = target.split(".")[0]
            private = any(part.startswith("_") for part in target.split(".")[1:]) or (
                isinstance(node, ast.ImportFrom) and any(a.name.startswith("_") for a in node.names)
            )
            if lib in PRIVATE_OK and private and rel != PRIVATE_OK[lib]:
                found.append(f"{rel}:{line} {target}")
        if rel != PRIVATE_OK["pyiceberg"] and PYICEBERG_PRIVATE.search(path.read_text()):
            found.append(f"{rel}: a private pyiceberg attribute")
    assert found == []


def test_test_support_is_not_in_the_package():
    assert not (PACKAGE / "testing").exists()
    for path in PACKAGE.rglob("*.py"):
        assert not [t for t, *_ in _imports(path) if t.startswith("testsupport")], path
