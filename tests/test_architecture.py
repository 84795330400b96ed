"""The layout's rules, checked on the source: no import cycles (function-level imports
included), each package importing only what the layer table of docs/architecture.md allows,
`pipelines/` Beam only, and one module that builds and writes manifests."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
# installed name -> folder (pyproject's package-dir)
PACKAGES = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]


def _layer_table() -> dict[str, tuple[set[str], set[str]]]:
    """package -> (pairmill packages it may import, third-party packages it must never import),
    from the layer table of docs/architecture.md."""
    out = {}
    for line in ARCHITECTURE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not re.fullmatch(r"`pairmill(\.\w+)?`", cells[0]):
            continue
        package = cells[0].strip("`")
        allowed = ({f"pairmill.{n.strip()}" for n in cells[3].split(",") if n.strip()}
                   if cells[3] != "every package" else set(PACKAGES))
        out[package] = (allowed, {n.strip() for n in cells[4].split(",") if n.strip()})
    return out


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


ALLOWED = _layer_table()


def test_the_architecture_document_names_every_package_and_folder():
    assert set(ALLOWED) == set(PACKAGES)
    text = ARCHITECTURE.read_text()
    for package, folder in PACKAGES.items():
        assert f"| `{package}` | `{folder}/` |" in text
    readme = (ROOT / "README.md").read_text()
    assert "docs/architecture.md" in readme


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


def test_pipelines_holds_beam_code_only():
    """Every module of pipelines/ imports Beam; Beam-free helpers belong to another layer."""
    for path in sorted((ROOT / "pipelines").glob("*.py")):
        if path.name == "__init__.py":
            continue
        assert "apache_beam" in _external(path), f"{path.name} does not need Beam: move it"


MANIFEST_WRITER = ROOT / "dataset" / "output.py"
BUILDERS = {"Manifest", "write_manifest", "describe_file"}


def test_one_module_builds_and_writes_manifests_and_part_paths():
    """Outside dataset/output.py no project module constructs a Manifest, writes one, or spells
    a part file's path; they call the dataset layer."""
    for folder in set(PACKAGES.values()):
        for path in (ROOT / folder).rglob("*.py"):
            if path == MANIFEST_WRITER:
                continue
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    name = getattr(node.func, "id", getattr(node.func, "attr", None))
                    if name == "Manifest" and path.name == "manifest.py":
                        continue  # the format's own reader: Manifest.from_json
                    assert name not in BUILDERS, f"{path.relative_to(ROOT)} calls {name}"
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    assert not re.search(r"part-(\d{5}|\{)", node.value), \
                        f"{path.relative_to(ROOT)} spells a part path: {node.value!r}"
                if isinstance(node, ast.JoinedStr):
                    text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
                    assert "part-" not in text, f"{path.relative_to(ROOT)} spells a part path"
