"""Import rules of the package, read from its source (no import needed): a module uses only the public names of
another package (a name or module path part that starts with `_` stays inside its own package), and no two modules
import each other, directly or through others (imports inside functions count; `TYPE_CHECKING` blocks do not)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "nemo_pipeline"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _package(module: str) -> str:
    """The part of `nemo_pipeline` a module belongs to: its first sub-package, or the top-level module itself."""
    return module.split(".")[1] if "." in module else module


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _runtime_nodes(tree: ast.Module) -> Iterator[ast.AST]:
    """Every node but those under `if TYPE_CHECKING:` (imports for annotations only)."""
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        yield node
        todo.extend(ast.iter_child_nodes(node))


def _imports(module: str) -> Iterator[tuple[int, str, str | None]]:
    """(line, module imported, name taken from it or None) for each runtime import of a package module."""
    for node in _runtime_nodes(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("nemo_pipeline"):
            for alias in node.names:
                yield node.lineno, node.module or "", alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("nemo_pipeline"):
                    yield node.lineno, alias.name, None


def test_no_module_takes_a_private_name_from_another_package():
    found = []
    for module, path in MODULES.items():
        bound: dict[str, str] = {}  # local name -> a module of another package
        for line, target, name in _imports(module):
            if _package(target) == _package(module):
                continue
            parts = target.split(".")[2:] + ([name] if name else [])
            if any(_is_private(part) for part in parts):
                found.append(f"{path.relative_to(ROOT.parent)}:{line}: {target}{'.' + name if name else ''}")
            if name and f"{target}.{name}" in MODULES:
                bound[name] = f"{target}.{name}"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in bound
                and _is_private(node.attr)
            ):
                found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}: {bound[node.value.id]}.{node.attr}")
    assert found == []


def _import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for module in MODULES:
        for _, target, name in _imports(module):
            imported = f"{target}.{name}" if name and f"{target}.{name}" in MODULES else target
            # importing a module runs its packages' __init__ first; a module's own packages are no circle
            if imported in MODULES and not (module + ".").startswith(imported + "."):
                graph[module].add(imported)
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            nxt = next(edges, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_no_import_circle():
    assert _circles(_import_graph()) == []


def test_the_circle_check_sees_one():
    graph = _import_graph()
    graph["nemo_pipeline.inference.core"].add("nemo_pipeline.loglik._runner")  # loglik imports the core
    assert _circles(graph) == [["nemo_pipeline.inference.core", "nemo_pipeline.loglik._runner"]]
