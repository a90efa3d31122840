"""The package's shape, as docs/architecture.md draws it and issue 20 set it.

Each rule is checked over the source, so a change that breaks one fails here, naming the module, the import or the
function: the layers and what each may import (every import counted: module level, inside functions and under
``if TYPE_CHECKING:``), no import cycle anywhere, a function-level import only for a heavy dependency and saying
so, no probing of a source's capabilities, module and function sizes, one exception tree, no source-name
comparisons, and the drawing naming every module.
"""

from __future__ import annotations

import ast
import itertools
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "sspr_review"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
#: What a function-level import's line says (the rest of the comment says why the import is deferred).
LAZY_COMMENT = "# lazy:"

#: The layers, bottom first, and what each may import besides itself (docs/architecture.md, "Layers").
LAYERS: dict[str, tuple[str, ...]] = {
    "core": (),
    "sources": ("core",),
    "ingest": ("core", "sources"),
    "analysis": ("core",),
    "app": ("core", "sources", "ingest", "analysis"),
    "report": ("core", "analysis", "app"),
    "mail": ("core", "sources", "app", "report"),
    "top": ("core", "sources", "ingest", "analysis", "app", "report", "mail"),
}
#: The modules of the top layer (the package's own top-level modules).
TOP = (
    "sspr_review",
    "sspr_review.cli",
    "sspr_review.cli_setup",
    "sspr_review.doctor",
    "sspr_review.exits",
    "sspr_review.fleet",
    "sspr_review.fleet_cli",
    "sspr_review.fleet_run",
    "sspr_review.hints",
    "sspr_review.lab",
    "sspr_review.starter",
)


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _dotted(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def layer_of(module: str) -> str | None:
    """The layer of a module of the kit (``None``: a module no layer claims)."""
    if module in TOP:
        return "top"
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else None


# ------------------------------------------------------------------------------------------ the import graph
def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _functions_of(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _kit_imports(path: Path, tree: ast.Module) -> list[tuple[str, int]]:
    """Every module of the kit ``path`` imports (relative imports resolved), with the line: module level, inside
    functions and under ``if TYPE_CHECKING:`` alike."""
    package = _dotted(path) if path.name == "__init__.py" else _dotted(path).rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                module = ".".join([*parts[: len(parts) - node.level + 1], *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module.split(".")[0] == "sspr_review":
                for alias in node.names:
                    sub = f"{module}.{alias.name}"
                    out.append((sub if _is_module(sub) else module, node.lineno))
        elif isinstance(node, ast.Import):
            out.extend((a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "sspr_review")
    return out


def import_graph(modules: dict[str, Path] | None = None) -> dict[str, dict[str, int]]:
    """Module → {imported module of the kit → the line of the first such import}; the package root (which every
    import of a submodule implies) and the module itself left out."""
    modules = modules if modules is not None else {_dotted(p): p for p in MODULES}
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        edges: dict[str, int] = {}
        for target, line in _kit_imports(path, _tree(path)):
            if target != name and target != "sspr_review" and target in modules:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_module_belongs_to_a_layer() -> None:
    unclaimed = [_name(p) for p in MODULES if layer_of(_dotted(p)) not in LAYERS]
    assert not unclaimed, (
        f"modules no layer claims (put them in a layer's package, or add a top-level module to TOP): {unclaimed}"
    )


@pytest.mark.parametrize("layer", list(LAYERS))
def test_layers_point_one_way(layer: str) -> None:
    allowed = {layer, *LAYERS[layer]}
    graph = import_graph()
    wrong = sorted(
        f"{module}:{line} → {target} ({layer_of(target)})"
        for module, edges in graph.items()
        if layer_of(module) == layer
        for target, line in edges.items()
        if layer_of(target) not in allowed
    )
    assert not wrong, f"the {layer} layer may import only {sorted(allowed)}; it imports outside: {wrong}"


def shortest_cycle(graph: dict[str, dict[str, int]], component: list[str]) -> list[str]:
    """A shortest cycle through the first module of ``component`` (breadth-first, within the component)."""
    start, inside = component[0], set(component)
    paths = {start: [start]}
    todo = [start]
    while todo:
        module = todo.pop(0)
        for target in sorted(graph[module]):
            if target == start:
                return [*paths[module], start]
            if target in inside and target not in paths:
                paths[target] = [*paths[module], target]
                todo.append(target)
    return component


def test_no_import_cycles() -> None:
    graph = import_graph()
    described = []
    for component in cycles(graph):
        path = shortest_cycle(graph, component)
        steps = " → ".join(f"{a} (line {graph[a][b]})" for a, b in itertools.pairwise(path))
        described.append(f"{steps} → {path[0]}; all {len(component)} modules in it: {component}")
    assert not described, f"{len(described)} import cycles (every import counted): {described}"


def test_function_level_imports_say_why_they_are_lazy() -> None:
    unsaid = []
    for path in MODULES:
        lines = path.read_text(encoding="utf-8").splitlines()
        for function in _functions_of(_tree(path)):
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    text = "\n".join(lines[node.lineno - 1 : (node.end_lineno or node.lineno)])
                    if LAZY_COMMENT not in text:
                        unsaid.append(f"{_name(path)}:{node.lineno} {lines[node.lineno - 1].strip()}")
    assert not unsaid, (
        f"function-level imports without '{LAZY_COMMENT} <why>' on their line (import a light module at the top; "
        f"a heavy one only where it is needed, saying so): {sorted(set(unsaid))}"
    )


def _names_a_source(node: ast.expr) -> bool:
    """``source``, ``self.source``, ``base_source`` ...: an expression naming a source."""
    text = ast.unparse(node).lower()
    return bool(re.search(r"(^|[._])source$", text))


def test_sources_are_not_probed() -> None:
    """The Source contract has every capability as a method: nothing asks a source what it offers, and no
    source forwards what it does not know (``__getattr__``)."""
    probes = []
    for path in MODULES:
        for node in ast.walk(_tree(path)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr")
                and node.args
                and _names_a_source(node.args[0])
            ):
                probes.append(f"{_name(path)}:{node.lineno} {ast.unparse(node)}")
            if (
                isinstance(node, ast.FunctionDef)
                and node.name == "__getattr__"
                and path.is_relative_to(PACKAGE / "sources")
            ):
                probes.append(f"{_name(path)}:{node.lineno} def __getattr__ (forwarding)")
    assert not probes, f"sources probed with getattr/hasattr or forwarding (call the Source method): {probes}"


def test_the_command_line_starts_without_pandas() -> None:
    """``sspr-review --help`` and the configuration load none of the heavy libraries (issue 25)."""
    heavy = ("pandas", "numpy", "pyarrow", "msgraph", "azure.identity", "plotly", "papermill", "nbconvert")
    code = (
        "import sys, sspr_review.cli, sspr_review.core.config\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.strip() == "", f"the CLI's start-up loads {loaded.stdout.strip()}"


# ------------------------------------------------------------------------------------------------ sizes
def test_no_module_is_over_600_lines() -> None:
    long = {_name(p): n for p in MODULES if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_function_is_over_80_lines() -> None:
    long = {}
    for path in MODULES:
        for node in _functions_of(_tree(path)):
            # from the def line (decorators excluded) to its last line, its docstring not counted
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and len(node.body) > 1:
                lines -= (first.end_lineno or first.lineno) - first.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                long[f"{_name(path)}:{node.name}"] = lines
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


# ----------------------------------------------------------------------------------------------- errors
ERRORS = PACKAGE / "core" / "errors.py"


def _is_exception(node: ast.ClassDef, known: set[str]) -> bool:
    bases = {b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else "" for b in node.bases}
    return bool(bases & known) or any(b.endswith(("Error", "Exception")) for b in bases)


def test_every_exception_class_is_defined_in_errors_py() -> None:
    errors = _tree(ERRORS)
    known = {n.name for n in errors.body if isinstance(n, ast.ClassDef)} | {"Exception", "ValueError"}
    elsewhere = [
        f"{_name(path)}:{node.name}"
        for path in MODULES
        if path != ERRORS
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.ClassDef) and _is_exception(node, known)
    ]
    assert not elsewhere, f"exception classes outside sspr_review/core/errors.py: {elsewhere}"


def test_errors_docstring_draws_every_exception() -> None:
    errors = _tree(ERRORS)
    drawn = ast.get_docstring(errors) or ""
    missing = [n.name for n in errors.body if isinstance(n, ast.ClassDef) and n.name not in drawn]
    assert not missing, f"exceptions missing from the tree in core/errors.py's docstring: {missing}"


@pytest.mark.parametrize("pattern", [r"source_name\s*[!=]=", r"\.name\s*[!=]=\s*[\"'](demo|files|graph)"])
def test_behaviour_is_not_chosen_by_comparing_source_names(pattern: str) -> None:
    hits = [
        f"{_name(p)}:{i}"
        for p in MODULES
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(pattern, line)
    ]
    assert not hits, f"source names compared (ask the source's SourceKind instead): {hits}"


# ---------------------------------------------------------------------------------------------- drawing
def test_the_architecture_drawing_matches_the_tree() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = doc.split("## How the code is laid out", 1)[1].split("\n## ", 1)[0]
    block = section.split("```", 2)[1]
    package_part = block.split("\nnotebooks/", 1)[0]  # the drawing of sspr_review/, before the top-level folders
    drawn = set(re.findall(r"\b([a-z_]+(?:\.py|/))", package_part))
    actual = {p.name for p in MODULES} | {
        f"{d.name}/" for d in PACKAGE.rglob("*") if d.is_dir() and "__pycache__" not in d.parts
    }
    assert actual - drawn - {"__init__.py"} == set(), f"in the package, not in the drawing: {sorted(actual - drawn)}"
    assert {d for d in drawn if d.endswith(".py")} - actual == set(), "drawn in docs/architecture.md, not in the tree"


def test_the_architecture_doc_states_the_layer_table() -> None:
    """docs/architecture.md's "Layers" table says what :data:`LAYERS` enforces, row by row."""
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = doc.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = {
        m.group(1): {x.strip(" `") for x in m.group(2).split(",") if x.strip(" `") and x.strip() != "nothing"}
        for m in re.finditer(r"^\| `(\w+)` \|[^|]*\| ([^|]*) \|$", section, re.M)
    }
    assert rows == {k: set(v) for k, v in LAYERS.items()}, f"docs/architecture.md's layer table: {rows}"
