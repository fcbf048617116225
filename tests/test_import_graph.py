"""The package's import graph has no cycle, counting every import a module makes.

Imports at the top of a module, inside functions and under ``if TYPE_CHECKING:`` all count: a
circle that only type annotations close still ties the modules in it together, so a change to one
of them is a change to all. Relative imports are resolved against the importing module's package,
and ``from . import x`` names the submodule ``x`` when there is one.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "emulator"

Graph = dict[str, set[str]]


def module_files(package: Path) -> dict[str, Path]:
    """Dotted module name -> its file, for every module of the package."""
    modules: dict[str, Path] = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def owning_module(name: str, modules: dict[str, Path]) -> str | None:
    """The module an imported name lives in: the longest dotted prefix that is a module."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imported_names(module: str, path: Path, package: str) -> list[str]:
    """Every dotted name the module imports from inside the package (a module or a name in one)."""
    here = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names if alias.name.split(".")[0] == package]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = f"{base}.{node.module}" if node.module else base
            elif node.module and node.module.split(".")[0] == package:
                base = node.module
            else:
                continue
            names += [f"{base}.{alias.name}" for alias in node.names]
    return names


def import_graph(package: Path) -> tuple[Graph, dict[str, Path]]:
    modules = module_files(package)
    graph: Graph = {name: set() for name in modules}
    for module, path in modules.items():
        for name in imported_names(module, path, package.name):
            target = owning_module(name, modules)
            if target is not None and target != module:
                graph[module].add(target)
    return graph, modules


def cycles(graph: Graph) -> list[tuple[list[str], list[str]]]:
    """The strongly connected components of more than one module (Tarjan, iterative), each as one
    closed path through it (a cycle to read arrow by arrow) and the sorted list of its members."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop(0)
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
    return [(shortest_cycle(graph, component), sorted(component)) for component in components]


def shortest_cycle(graph: Graph, component: set[str]) -> list[str]:
    """A shortest closed path through the component's first module (breadth-first)."""
    start = min(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for nxt in sorted(graph[node] & component):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if nxt not in previous:
                    previous[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{sorted(component)} is not strongly connected")


def test_the_graph_is_read_from_every_module() -> None:
    graph, modules = import_graph(PACKAGE)
    assert "emulator.app" in modules and "emulator.state.memory" in modules
    assert len(modules) == len(list(PACKAGE.rglob("*.py")))
    # A relative import, a `from . import submodule` and an absolute import are all followed.
    assert "emulator.call" in graph["emulator.handlers"]
    assert "emulator.handlers.common" in graph["emulator.handlers"]
    assert "emulator.handlers.chat" in graph["emulator.app"]


def test_the_cycle_finder_finds_a_type_only_cycle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from . import b\n")
    type_only = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub.b import B\n"
    (package / "a.py").write_text(type_only)
    (package / "sub" / "b.py").write_text("def f() -> None:\n    from ..c import C\n")
    (package / "c.py").write_text("import pkg.a\n")
    graph, _ = import_graph(package)
    assert graph["pkg.sub"] == {"pkg.sub.b"}
    assert cycles(graph) == [(["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"], ["pkg.a", "pkg.c", "pkg.sub.b"])]
    (package / "c.py").write_text("")
    assert cycles(import_graph(package)[0]) == []


def test_the_package_has_no_import_cycle() -> None:
    graph, modules = import_graph(PACKAGE)
    found = cycles(graph)

    def files(names: list[str], between: str) -> str:
        return between.join(str(modules[name].relative_to(PACKAGE.parent)) for name in names)

    described = "\n".join(f"{files(cycle, ' -> ')}\n  (every file of its circle: {files(members, ', ')})"
                           for cycle, members in found)
    assert not found, f"import cycles (each a file list, back to its start):\n{described}"
