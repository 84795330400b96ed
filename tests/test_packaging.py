"""Install checked the way CI cannot: a package installed by hand once hides a missing
dependency, so every import the code makes must be declared in pyproject.toml, for the extra
that needs it; and every package a source needs at run time (its `requires`) is in the extra
that its error message names."""

from __future__ import annotations

import ast
import functools
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("pairmill", "schemas", "extractors", "pipelines", "trainer")
# which extra a folder's optional imports belong to (core deps always count)
EXTRA_OF = {"extractors/text": {"text"}, "trainer/reporting.py": {"train", "report", "trackers"},
            "trainer/negatives.py": {"train", "faiss"},
            "trainer": {"train"}, "pairmill/publish.py": {"hub"},
            "pairmill/report": {"report"}, "pairmill/report_charts.py": {"report"}}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> tuple[set[str], dict[str, set[str]]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = lambda reqs: {_norm(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]) for r in reqs}  # noqa: E731
    extras = {extra: names(reqs) for extra, reqs in project["optional-dependencies"].items()}
    for extra, reqs in project["optional-dependencies"].items():  # pairmill[a,b] includes a, b
        for req in reqs:
            if req.startswith("pairmill["):
                for inner in req[len("pairmill["):-1].split(","):
                    extras[extra] |= extras.get(inner, set())
    return names(project["dependencies"]), extras


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name != "pairmill"}


@functools.cache
def _installed() -> dict[str, list[str]]:
    return packages_distributions()


def _distribution(module: str) -> str | None:
    dists = _installed().get(module)
    return _norm(dists[0]) if dists else None


def _files():
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), path


@pytest.mark.parametrize("rel", [rel for rel, _ in _files()])
def test_every_import_is_declared_for_its_extra(rel):
    core, extras = _declared()
    owners = [names for prefix, names in EXTRA_OF.items() if rel.startswith(prefix)]
    # a tool a user installs by choice (wandb, trackio) is not in the test environment: then
    # its module name must be a distribution that the file's extra declares
    # a folder tied to an extra may use that extra; shared code's lazy imports, any runtime extra
    usable = owners[0] if owners else {e for e in extras if e not in ("dev", "bench")}
    allowed = set(core).union(*(extras[e] for e in usable))
    missing = []
    for module in sorted(_imports(ROOT / rel)):
        dist = _distribution(module)
        if dist is None and _norm(module) in allowed - core:
            continue
        if dist is None:
            missing.append(f"{module} (not installed: cannot be declared)")
        elif dist not in allowed:
            missing.append(f"{module} (distribution {dist})")
    assert not missing, f"{rel} imports what pyproject.toml does not declare for it: {missing}"


def test_each_source_requirement_is_in_the_extra_its_message_names():
    from pairmill.extractors.registry import sources

    _, extras = _declared()
    for spec in sources().values():
        for module, extra in spec.requires:
            dist = _distribution(module)
            assert dist is not None, f"{spec.name} needs {module}, which is not installed here"
            assert dist in extras[extra], f"{spec.name}: {module} ({dist}) is not in [{extra}]"


def test_the_packages_trafilatura_needs_at_run_time_are_declared():
    """jusText imports lxml.html.clean, which lxml 6 moved out into lxml_html_clean."""
    _, extras = _declared()
    assert "lxml-html-clean" in extras["text"]
    import lxml.html.clean  # noqa: F401  (what failed on every page in a clean install)


def test_a_command_whose_extra_is_missing_names_it(monkeypatch, capsys, tmp_path):
    """Without the [train] extra, `pairmill train` is one line naming it, not a traceback."""
    import builtins

    from pairmill.cli import main

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    for module in [m for m in sys.modules if m.startswith("pairmill.trainer.") and m not in (
            "pairmill.trainer.configs",)]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setattr(builtins, "__import__", no_torch)
    assert main(["train", "--input", str(tmp_path), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["pairmill: error: this command needs the Python package 'torch': "
                   "pip install 'pairmill[train]'"]


def test_a_local_mine_prints_only_pairmill_lines(tmp_path):
    """A first run is quiet: no warning from Beam's cloud imports or its worker start-up, only
    pairmill's own progress and summary (stderr and stdout of a fresh interpreter)."""
    import json
    import subprocess

    dump = tmp_path / "RS.jsonl"
    dump.write_text(json.dumps({"id": "a1", "subreddit": "coffee", "score": 5,
                                "title": "How do I grind coffee beans for espresso at home",
                                "selftext": "I bought a burr grinder and want to know the best "
                                            "settings for espresso shots at home."}) + "\n")
    done = subprocess.run([sys.executable, "-m", "pairmill", "mine", "reddit", "--submissions",
                           str(dump), "--output", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [f"pairmill: mining 1 reddit input(s) -> {tmp_path / 'out'}"]
    assert "WARNING" not in done.stdout and "pairs kept: 1" in done.stdout
