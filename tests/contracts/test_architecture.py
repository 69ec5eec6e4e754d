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
    5: ("materia.__main__", "materia.cli", "materia.cli.ops", "materia.cli.dev"),
    4: (
        "materia.ops.supervisor",
        "materia.ops.supervisor_log",
        "materia.ops.supervisor_state",
        "materia.ops.supervisor_watch",
        "materia.ops.selfcheck",
        "materia.ops.ci_gate",
        "materia.ops.stack",
        "materia.ops.schedule",
    ),  # fmt: skip
    3: ("materia.ops.pipelines", "materia.reports.publish"),
    2: (
        "materia.transform",
        "materia.transform.inputs",
        "materia.transform.batch",
        "materia.transform.executor",
        "materia.transform.recompute",
        "materia.transform.steps",
        "materia.transform.sqlmesh_dev",
        "materia.transform.envs",
        "materia.extract",
        "materia.workers",
        "materia.reports",
        "materia.reports.html",
        "materia.reports.runner",
        "materia.workbench.data",
        "materia.workbench.releases",
        "materia.workbench.analysis",
        "materia.workbench.balance",
        "materia.workbench.breakdowns",
        "materia.workbench.charts",
        "materia.workbench.psd_revisions",
        "materia.workbench.wasde",
        "materia.workbench.wasde_data",
        "materia.sources.wasde_tables",
        "materia.workbench.wasde_charts",
        "materia.workbench.envdiff",
        "materia.workbench.units",
    ),  # fmt: skip
    1: (
        "materia.lakehouse",
        "materia.landing.manifest",
        "materia.sources.psd_archive",
        "materia.sources.psd_member",
        "materia.sources.wasde_archive",
        "materia.sources.check",
        "materia.transform.sqlmesh_project",
        "materia.transform.compiled",
        "materia.core.locks",
        "materia.core.runlog",
        "materia.cli.runs_view",
        "materia.core.runoutput",
        "materia.core.jsonlog",
        "materia.core.notify",
    ),  # fmt: skip
    0: (
        "materia.core.errors",
        "materia.core.settings",
        "materia.core.cloud_settings",
        "materia.core.secrets",
        "materia.core.storage",
        "materia.sources.psd_codes",
        "materia.sources.psd_datasets",
        "materia.sources.psd_commodities",
        "materia.sources.psd_format",
        "materia.sources.wasde_format",
        "materia.sources.wasde_units",
        "materia.sources.registry",
        "materia.core.source_settings",
        "materia.ops.release_calendar",
        "materia.core.scratch",
        "materia.core.failpoints",
        "materia",
    ),  # fmt: skip
}
# The one module allowed to reach below each library's public API.
PRIVATE_OK = {
    "pyiceberg": "materia/lakehouse/iceberg_io.py",
    "marimo": "materia/reports/runner.py",
    "sqlmesh": "materia/transform/sqlmesh_project.py",
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
    assert best is not None, f"{module} is in no layer of tests/contracts/test_architecture.py"
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
