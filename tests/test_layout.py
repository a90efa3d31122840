"""The package's shape, as issue 9 set it and the README's "How the code is laid out" draws it.

Each rule is checked over the source, so a change that breaks one fails here, naming the module or function.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "sspr_review"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_no_module_is_over_600_lines() -> None:
    long = {_name(p): n for p in MODULES if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_function_is_over_80_lines() -> None:
    long = {}
    for path in MODULES:
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                # from the def line (decorators excluded) to its last line, its docstring not counted
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and len(node.body) > 1:
                    lines -= (first.end_lineno or first.lineno) - first.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{_name(path)}:{node.name}"] = lines
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def _is_exception(node: ast.ClassDef, known: set[str]) -> bool:
    bases = {b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else "" for b in node.bases}
    return bool(bases & known) or any(b.endswith(("Error", "Exception")) for b in bases)


def test_every_exception_class_is_defined_in_errors_py() -> None:
    errors = _tree(PACKAGE / "core" / "errors.py")
    known = {n.name for n in errors.body if isinstance(n, ast.ClassDef)} | {"Exception", "ValueError"}
    elsewhere = [
        f"{_name(path)}:{node.name}"
        for path in MODULES
        if path.name != "errors.py"
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.ClassDef) and _is_exception(node, known)
    ]
    assert not elsewhere, f"exception classes outside sspr_review/core/errors.py: {elsewhere}"


def test_errors_docstring_draws_every_exception() -> None:
    errors = _tree(PACKAGE / "core" / "errors.py")
    drawn = ast.get_docstring(errors) or ""
    missing = [n.name for n in errors.body if isinstance(n, ast.ClassDef) and n.name not in drawn]
    assert not missing, f"exceptions missing from the tree in errors.py's docstring: {missing}"


@pytest.mark.parametrize("pattern", [r"source_name\s*[!=]=", r"\.name\s*[!=]=\s*[\"'](demo|files|graph)"])
def test_behaviour_is_not_chosen_by_comparing_source_names(pattern: str) -> None:
    hits = [
        f"{_name(p)}:{i}"
        for p in MODULES
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(pattern, line)
    ]
    assert not hits, f"source names compared (ask the source's SourceKind instead): {hits}"


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:`` (imports for annotations only)."""
    out: list[ast.AST] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        out.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return out


def _imports(path: Path) -> set[str]:
    """The kit's modules ``path`` imports at run time, as dotted names (relative imports resolved)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts).rsplit(".", 1)[0]
    out = set()
    for node in _runtime_nodes(_tree(path)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                module = ".".join([*parts[: len(parts) - node.level + 1], *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module.startswith("sspr_review"):
                for alias in node.names:
                    sub = f"{module}.{alias.name}"
                    out.add(sub if _is_module(sub) else module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("sspr_review"))
    return out


#: Which parts of the kit each layer may import (besides itself).
LAYERS = {
    "sspr_review.core": (),
    "sspr_review.analysis": ("sspr_review.core",),
    "sspr_review.ingest": ("sspr_review.core", "sspr_review.sources"),
    "sspr_review.sources": ("sspr_review.core",),
}


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layers_point_one_way(layer: str) -> None:
    allowed = (layer, *LAYERS[layer])
    wrong = {
        f"{_name(p)} → {m}"
        for p in MODULES
        if ".".join(p.relative_to(ROOT).with_suffix("").parts).startswith(layer)
        for m in _imports(p)
        if m != "sspr_review" and not any(m == a or m.startswith(a + ".") for a in allowed)
    }
    assert not wrong, f"{layer} imports outside its layer: {sorted(wrong)}"


def test_readme_layout_matches_the_tree() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## How the code is laid out", 1)[1].split("\n## ", 1)[0]
    block = section.split("```", 2)[1]
    package_part = block.split("\nnotebooks/", 1)[0]  # the drawing of sspr_review/, before the top-level folders
    drawn = set(re.findall(r"\b([a-z_]+(?:\.py|/))", package_part))
    actual = {p.name for p in MODULES} | {
        f"{d.name}/" for d in PACKAGE.rglob("*") if d.is_dir() and "__pycache__" not in d.parts
    }
    assert actual - drawn - {"__init__.py"} == set(), f"in the package, not in the README: {sorted(actual - drawn)}"
    assert {d for d in drawn if d.endswith(".py")} - actual == set(), "drawn in the README but not in the package"
