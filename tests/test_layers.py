"""The package's layers import one way, and its import graph has no cycle.

``_core`` <- ``ops`` <- the stream layer (``_stream``) <- sources (``sse``,
``http``, ``db``, ``_transport``) <- the CLI and the demo. Imports made only
for type checking (under ``if TYPE_CHECKING:``) do not count: they never run.
An import of ``pkg.mod`` counts as an edge to ``pkg.mod`` and, since Python
runs a package's ``__init__`` first, to each package on the way (except the
packages the importing module is itself inside: they are already running).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sluiceway

ROOT = Path(sluiceway.__file__).parent
PACKAGE = "sluiceway"

#: What each layer may import at run time, besides itself and ``sluiceway.errors``.
ALLOWED: dict[str, set[str]] = {
    "_core": set(),
    "ops": {"_core"},
    "_stream": {"_core", "ops"},
}


def _module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement outside ``if TYPE_CHECKING:`` blocks, at any depth."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        here = name if is_package else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _runtime_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                bases = [alias.name for alias in node.names]
                names: list[str] = []
            else:
                if node.level:
                    parts = here.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1])
                    base = f"{base}.{node.module}" if node.module else base
                else:
                    base = node.module or ""
                bases = [base]
                names = [f"{base}.{alias.name}" for alias in node.names]
            for target in [*bases, *names]:
                if target.split(".")[0] != PACKAGE:
                    continue
                # The module itself if it is one, and each package on the way to it.
                parts = target.split(".")
                for end in range(2, len(parts) + 1):
                    candidate = ".".join(parts[:end])
                    # A package this module is inside was initialised before it.
                    inside = name.startswith(f"{candidate}.")
                    if candidate in modules and candidate != name and not inside:
                        targets.add(candidate)
        graph[name] = targets
    return graph


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_graph_covers_the_package() -> None:
    """The graph sees every module, and the edges it is built from (so the checks can fail)."""
    graph = _graph()
    assert "sluiceway._core._pipeline" in graph
    assert "sluiceway._core._nodes" in graph["sluiceway._core._pipeline"]
    assert "sluiceway._stream" in graph["sluiceway"]
    # Type-checking imports are left out: _nodes names Pipeline only for types.
    assert "sluiceway._core._pipeline" not in graph["sluiceway._core._nodes"]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_the_layers_below(layer: str) -> None:
    """_core imports no operator, ops no Stream, the stream layer no source."""
    allowed = {layer, "errors", *ALLOWED[layer]}
    wrong = {
        f"{module} -> {target}"
        for module, targets in _graph().items()
        if _layer(module) == layer
        for target in targets
        if _layer(target) not in allowed
    }
    assert not wrong, sorted(wrong)


def test_there_is_no_import_cycle() -> None:
    """The import graph of src/sluiceway is acyclic (strongly connected parts of size 1)."""
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            part: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                part.append(member)
                if member == node:
                    break
            if len(part) > 1 or node in graph[node]:
                cycles.append(sorted(part))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    assert not cycles, cycles
