"""A source from a package of the user's own: one module, registered through the
`pairmill.sources` entry-point group, becomes `pairmill mine NAME` with its flags, its tasks and
the same dead letters and counts as the built-in sources."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pyarrow.parquet as pq
import pytest

PLUGIN = '''
"""Hacker News items (JSON lines): (title, text) pairs."""
import functools
from dataclasses import dataclass

from pairmill.extractors.result import Extraction
from pairmill.extractors.spec import InputKind, SourceSpec, Task
from pairmill.extractors.text.records import read_json_record, read_lines
from pairmill.schemas import make_pair
from pairmill.schemas.settings import positive_int, setting


@dataclass(frozen=True)
class HackerNewsOptions:
    min_text_words: int = setting(3, "texts with fewer words are dropped", type=positive_int)


def extract_item(line, origin, options):
    out = Extraction()
    item = read_json_record(line, origin, "hackernews", out)
    if item is None:
        return out
    if len(str(item.get("text", "")).split()) < options.min_text_words:
        out.drop("text_too_short")
        return out
    out.pairs.append(make_pair("hackernews_title_text", item["title"], item["text"], "hackernews",
                               origin))
    return out


SPEC = SourceSpec(
    name="hackernews", help="(title, text) pairs from Hacker News items",
    description="Mine hackernews_title_text from HN items as JSON lines.",
    tasks=(Task("hackernews_title_text", "story title", "story text"),),
    options=HackerNewsOptions,
    inputs=(InputKind("input", "item dumps", lambda o: functools.partial(extract_item, options=o),
                      records=read_lines),),
)
'''

PYPROJECT = '''
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "pairmill-hackernews"
version = "0.0.1"

[project.entry-points."pairmill.sources"]
hackernews = "pairmill_hackernews"

[tool.setuptools]
py-modules = ["pairmill_hackernews"]
'''


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("plugin")
    package = root / "src"
    package.mkdir()
    (package / "pyproject.toml").write_text(PYPROJECT)
    (package / "pairmill_hackernews.py").write_text(PLUGIN)
    target = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target), str(package)],
                   check=True, capture_output=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(target),
                                                                    os.environ.get("PYTHONPATH")])))
    return env


def _pairmill(env, *args, cwd=None):
    return subprocess.run([sys.executable, "-m", "pairmill", *map(str, args)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_an_installed_plugin_source_mines_like_a_built_in_one(installed, tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_text("\n".join([
        json.dumps({"title": "Show HN: a tiny database", "text": "I wrote a database in a weekend"}),
        json.dumps({"title": "Ask HN: short", "text": "too short"}),
        '{"title": "broken',
        json.dumps({"title": "Launch HN: pairs", "text": "we mine text pairs from public dumps"}),
    ]) + "\n")
    helped = _pairmill(installed, "mine", "--help")
    assert "hackernews" in helped.stdout
    flags = _pairmill(installed, "mine", "hackernews", "--help").stdout
    assert "--min-text-words" in flags and "texts with fewer words are dropped" in flags
    out = tmp_path / "out"
    done = _pairmill(installed, "mine", "hackernews", "--input", items, "--output", out,
                     "--min-text-words", "4")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert list(manifest["tasks"]) == ["hackernews_title_text"]
    rows = pq.read_table(next((out / "data" / "hackernews_title_text").glob("*.parquet")))
    assert sorted(rows.column("query").to_pylist()) == ["Launch HN: pairs", "Show HN: a tiny database"]
    assert manifest["counters"]["drops"] == {"invalid_json": 1, "text_too_short": 1}
    assert manifest["counters"]["dead_letters"] == 1
    assert manifest["command"][:3] == ["pairmill", "mine", "hackernews"]
    assert "--min-text-words" in manifest["command"]


def test_a_recipe_names_a_plugin_source_with_its_own_keys(installed, tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"title": "Show HN: x", "text": "one two three four five"}) + "\n")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(textwrap.dedent(f"""
        output: {tmp_path / "run"}
        sources:
          hn: {{source: hackernews, input: [{items}], min-text-words: 2}}
        report: false
    """))
    done = _pairmill(installed, "run", recipe)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "run" / "mined" / "hn" / "manifest.json").read_text()
                      )["tasks"]["hackernews_title_text"]["rows"] == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text(recipe.read_text().replace("min-text-words", "min-words"))
    refused = _pairmill(installed, "run", bad)
    assert refused.returncode == 2 and "unknown key `min-words`" in refused.stderr
