"""The layout's rules, checked on the source: no import cycles (function-level imports
included), and each package importing only what DESIGN.md's layout table allows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# installed name -> folder (pyproject's package-dir)
PACKAGES = {"pairmill": "pairmill", "pairmill.schemas": "schemas",
            "pairmill.extractors": "extractors", "pairmill.pipelines": "pipelines",
            "pairmill.trainer": "trainer"}


def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every pairmill module `name` imports, at the top or inside a function."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                out.add(full if full in modules else target)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return {m for m in out if m in modules and m != name}


def _graph():
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}, modules


def _external(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
    return names


def test_no_import_cycles_even_through_function_level_imports():
    graph, _ = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


# package -> pairmill packages it may import (DESIGN.md layout table), and third-party
# packages it must never import
ALLOWED = {
    "pairmill.schemas": ({"pairmill.schemas"}, {"apache_beam", "torch", "transformers"}),
    "pairmill.extractors": ({"pairmill.schemas", "pairmill.extractors"},
                            {"apache_beam", "torch", "transformers"}),
    "pairmill.pipelines": ({"pairmill.schemas", "pairmill.extractors", "pairmill.pipelines"},
                           {"torch", "transformers"}),
    "pairmill.trainer": ({"pairmill.schemas", "pairmill.trainer"}, {"apache_beam"}),
}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_what_the_layout_allows(package):
    graph, modules = _graph()
    allowed, banned = ALLOWED[package]
    for name, imported in graph.items():
        if not (name == package or name.startswith(package + ".")):
            continue
        for target in imported:
            owner = next(p for p in sorted(PACKAGES, key=len, reverse=True)
                         if target == p or target.startswith(p + "."))
            # the root package holds only the version string
            assert owner in allowed or target == "pairmill", f"{name} imports {target}"
        assert not _external(modules[name]) & banned, f"{name} imports {_external(modules[name]) & banned}"
