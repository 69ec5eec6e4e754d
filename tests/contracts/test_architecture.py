"""The house rules of docs/ARCHITECTURE.md, checked on the source: imports point down the
layers, no module over 400 lines, each library's private API behind one module, and no
test support in the package."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "materia"
MAX_LINES = 400

# Highest first: a sub-package may import its own layer and the ones below, never above.
# No catch-all: a module outside these sub-packages (other than the two below) is in none.
LAYERS = {
    7: ("cli",),
    6: ("ops",),
    5: ("workers", "reports"),
    4: ("transform", "workbench"),
    3: ("extract", "lakehouse"),
    2: ("landing",),
    1: ("sources",),
    0: ("core",),
}
TOP = {"materia": 0, "materia.__main__": 7}  # the package's docstring, `python -m materia`
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
    """The layer of a module or package: its sub-package's, exactly; nothing by prefix."""
    if module in TOP:
        return TOP[module]
    parts = module.split(".")
    found = [layer for layer, subs in LAYERS.items() if len(parts) > 1 and parts[1] in subs]
    assert parts[0] == "materia" and found, f"{module} is in no layer of {Path(__file__).name}"
    return found[0]


def _imports(path: Path, typing_too: bool = False) -> list[tuple[str, int, ast.AST]]:
    """(imported module, line, node) of every import, lazy ones included; those under
    `if TYPE_CHECKING:` only with `typing_too` (a circle through them is still a circle)."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if (
            not typing_too
            and isinstance(node, ast.If)
            and "TYPE_CHECKING" in ast.unparse(node.test)
        ):
            skip |= {id(n) for n in ast.walk(node)}
    modules = _modules()
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, node) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                out.append((full if full in modules else node.module, node.lineno, node))
    return out


def import_graph() -> dict[str, set[str]]:
    """Module → the materia modules it imports (lazily or not, typing-only too)."""
    modules = _modules()
    return {
        m: {t for t, *_ in _imports(p, typing_too=True) if t in modules and t != m}
        for m, p in modules.items()
    }


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle: the strongly connected components of more than one module
    (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer():
    for module in _modules():
        layer_of(module)


def test_a_module_outside_every_layer_fails(tmp_path):
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("materia.tables")  # where a flat module used to sit
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("materia.misc.helpers")  # a sub-package nobody placed


def test_no_import_circle():
    assert circles(import_graph()) == []


def test_a_new_circle_is_found():
    graph = import_graph()
    graph["materia.core.errors"] = graph["materia.core.errors"] | {"materia.core.settings"}
    graph["materia.core.settings"] = graph["materia.core.settings"] | {"materia.core.errors"}
    found = circles(graph)
    assert any({"materia.core.errors", "materia.core.settings"} <= set(c) for c in found)


def test_every_sub_package_says_what_it_holds_and_may_import():
    for sub in sorted(p for p in PACKAGE.iterdir() if (p / "__init__.py").exists()):
        doc = ast.get_docstring(ast.parse((sub / "__init__.py").read_text())) or ""
        assert len(doc.split()) >= 20 and "import" in doc, f"{sub.name}/__init__.py"


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
