"""Recall of `mine code` per language on real repositories, against an independent count.

The independent count does not use tree-sitter: Python's is `ast`; the others read lines the way
a reviewer counts by eye in formatted code: a declaration line (per-language patterns below), a
doc comment directly above it (`/** */` up to one blank line above, annotations and decorators in
between; `//` or `#` lines with no gap for Go and Ruby), and a body that closes on a line with the
declaration's indentation. Counted: documented functions of at least 3 lines with a body that does
something (not empty, not only `pass` or `raise NotImplementedError`), outside test, vendored and
generated files.

A counted function is found when pairmill yields a pair in the same file whose line lies between
the doc comment (or annotations above it) and the declaration line. pairmill runs with its
docstring-length and line-count filters at 1, so recall measures finding functions, not the
quality filters.

`--before COMMIT` measures the extractor of an older commit in the same run (a subprocess
importing that commit's tree), for a before/after table. Repositories come from
`benchmarks/fetch_code_repos.sh`. Results go to benchmarks/results/code_recall.json.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import re
import subprocess
import sys
import sysconfig
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "code_recall.json"
REPOS = Path(__file__).parent / ".repos"
STDLIB = Path(sysconfig.get_paths()["stdlib"])

# language -> (repository name, folder under the repository root, extensions)
REPOSITORIES = {
    "python": ("CPython standard library", STDLIB, (".py",)),
    "javascript": ("express 4.22.3 (npm)", REPOS / "express/package/lib", (".js",)),
    "typescript": ("rxjs 7.8.2 (npm)", REPOS / "rxjs/package/src", (".ts",)),
    "go": ("Go 1.19 net/http (Debian golang-1.19-src)",
           REPOS / "golang-1.19-src/usr/share/go-1.19/src/net/http", (".go",)),
    "java": ("OpenJDK 17 java.util (Debian openjdk-17-source)",
             REPOS / "jdk-util/java.base/java/util", (".java",)),
    "ruby": ("Ruby 3.1 standard library (Debian libruby3.1)",
             REPOS / "libruby3.1/usr/lib/ruby/3.1.0", (".rb",)),
    "php": ("Monolog 2.9.1 (Debian php-monolog)", REPOS / "php-monolog/usr/share/php/Monolog",
            (".php",)),
}

# Tests, and third-party copies (vendored code) that belong to another repository's count.
OUT_OF_SCOPE = re.compile(r"(^|/)(tests?|testing|testdata|spec|__tests__|site-packages|vendor|"
                          r"third_party|node_modules)(/|$)"
                       r"|(^|/)test_[^/]*\.py$|_test\.(go|rb|py)$|_spec\.rb$|Tests?\.(java|php)$"
                       r"|\.(test|spec)\.[jt]s$")
# Generated code, by the conventions generators follow (Go's is a line before `package`).
GENERATED = re.compile(r"^(//|#) Code generated .* DO NOT EDIT\.$|@generated", re.M)
TEST_NAME = {"python": re.compile(r"test(_|$)"), "go": re.compile(r"(Test|Benchmark|Example|Fuzz)[A-Z_]")}

_CONTROL = r"(?!(?:if|for|while|switch|catch|return|new|else|do|try|with|function|typeof)\b)"
_JS_PARAMS = r"\([^;]*\)"
_TS_MODIFIERS = (r"(?:(?:public|private|protected|static|readonly|abstract|override|declare|"
                 r"async|export|default)\s+)*")
DECLARATIONS = {
    "javascript": re.compile(
        r"^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\b"
        rf"|^\s*(?:const|let|var)\s+[\w$]+\s*=\s*(?:async\s+)?(?:function\b|{_JS_PARAMS}\s*=>|[\w$]+\s*=>)"
        rf"|^\s*[\w$.\[\]'\"]+\s*=\s*(?:async\s+)?(?:function\b|{_JS_PARAMS}\s*=>|[\w$]+\s*=>)"
        r"|^\s*[\w$]+\s*:\s*(?:async\s+)?function\b"
        rf"|^\s*(?:static\s+)?(?:async\s+)?(?:get\s+|set\s+)?{_CONTROL}[\w$]+\s*{_JS_PARAMS}\s*\{{\s*$"),
    "typescript": re.compile(
        r"^\s*(?:export\s+)?(?:default\s+)?(?:declare\s+)?(?:async\s+)?function\b"
        rf"|^\s*(?:export\s+)?(?:const|let|var)\s+[\w$]+\s*(?::[^=]+)?=\s*(?:async\s+)?(?:function\b|(?:<[^>]*>)?\([^()]*\).*=>|[\w$]+\s*=>)"
        rf"|^\s*{_TS_MODIFIERS}(?:get\s+|set\s+)?{_CONTROL}[\w$]+\s*(?:<[^>]*>)?\("),
    "java": re.compile(
        r"^\s*(?:(?:public|protected|private|static|final|abstract|synchronized|native|default|strictfp)\s+)*"
        rf"(?:<[^>]+>\s+)?{_CONTROL}(?:[\w.]+(?:<[^;=]*>)?(?:\[\])*\s+)?{_CONTROL}\w+\s*\("),
    "php": re.compile(r"^\s*(?:(?:public|protected|private|static|final|abstract)\s+)*function\s+&?\w+\s*\("),
    "go": re.compile(r"^func\b"),
    "ruby": re.compile(r"^\s*def\s+"),
}
BLOCK_DOC = {"javascript", "typescript", "java", "php"}
LINE_PREFIX = {"go": "//", "ruby": "#"}


@dataclass
class Expected:
    path: str
    first: int  # 1-based first line the declaration may start on (after its doc, or annotations)
    line: int  # 1-based declaration line


def _documented_from(lines: list[str], i: int, language: str) -> int | None:
    """For a declaration at line index i with a doc comment above: the 1-based first line its
    node may start on (the line after the doc, or an annotation above the doc); else None."""
    j = i - 1
    if language in BLOCK_DOC:
        while j >= 0 and lines[j].strip().startswith("@"):  # annotations, decorators
            j -= 1
        if j >= 0 and not lines[j].strip():
            j -= 1  # one blank line is still the function's doc
        if j >= 0 and lines[j].strip().endswith("*/"):
            k = j
            while k >= 0 and "/*" not in lines[k]:
                k -= 1
            if k >= 0 and "/**" in lines[k] and _has_prose(lines[k:j + 1]):
                doc_start = k
                while k > 0 and lines[k - 1].strip().startswith("@"):
                    k -= 1  # OpenJDK also writes annotations above the Javadoc
                return k + 1 if k < doc_start else j + 2
        return None
    prefix = LINE_PREFIX[language]
    k = j
    while k >= 0 and lines[k].strip().startswith(prefix) and not lines[k].strip().startswith("#!"):
        k -= 1
    if k < j and _has_prose([line.strip()[len(prefix):] for line in lines[k + 1:j + 1]]):
        return j + 2
    return None


def _has_prose(block: list[str]) -> bool:
    """A doc comment documents in words, not only with tags such as `@param` or `@return`."""
    in_tag = False  # a tag's text may continue on the next lines
    for line in block:
        text = line.strip().removeprefix("/**").removesuffix("*/").strip().lstrip("*").strip()
        if text.startswith(("@", "{@")):
            in_tag = True
        elif not text:
            in_tag = False
        elif not in_tag:
            return True
    return False


def _body_lines(lines: list[str], i: int, language: str) -> int:
    """Lines from the declaration to the line closing its body (0: no body)."""
    indent = len(lines[i]) - len(lines[i].lstrip())
    if language == "ruby":
        if ";" in lines[i] or re.search(r"\)\s*=|^\s*def\s+[\w.?!]+\s*=", lines[i]):
            return 0  # one-liners and endless methods
        closer = re.compile(r"end\b")
    else:
        # The body opens with a line ending in `{` before any line ending in `;` (abstract
        # methods and overload signatures have no body; braces inside types do not end a line).
        for k in range(i, min(i + 20, len(lines))):
            code = lines[k].split("//")[0].rstrip()
            if code.endswith("{"):
                break
            if code.endswith(";") or (k == i and "{" in code and code.endswith("}")):
                return 0
        else:
            return 0
        closer = re.compile(r"[}\]]")
    opened = i if language == "ruby" else k
    for k in range(i + 1, len(lines)):
        text = lines[k]
        if text.strip() and len(text) - len(text.lstrip()) == indent and closer.match(text.lstrip()):
            empty = not any(line.strip() and not line.strip().startswith(("//", "#", "*", "/*"))
                            for line in lines[opened + 1:k])
            return 0 if empty else k - i + 1
        if text.strip() and len(text) - len(text.lstrip()) < indent:
            return 0  # left the enclosing block: not a body this count understands
    return 0


def count_expected(root: Path, language: str, extensions: tuple[str, ...]) -> list[Expected]:
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.suffix not in extensions or OUT_OF_SCOPE.search(rel) or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if GENERATED.search(text[:2048]):
            continue
        if language == "python":
            found += _python_expected(rel, text)
            continue
        lines = text.splitlines()
        pattern = DECLARATIONS[language]
        for i, line in enumerate(lines):
            if not pattern.match(line):
                continue
            name = re.search(r"(\w+)\s*\(", line)
            if language in TEST_NAME and name and TEST_NAME[language].match(name.group(1)):
                continue
            first = _documented_from(lines, i, language)
            if first is not None and _body_lines(lines, i, language) >= 3:
                found.append(Expected(rel, first, i + 1))
    return found


def _python_expected(rel: str, text: str) -> list[Expected]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    out = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and ast.get_docstring(node)
                and not TEST_NAME["python"].match(node.name) and not _is_stub(node)
                and node.end_lineno - node.lineno + 1 >= 3):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            out.append(Expected(rel, first, node.lineno))
    return out


def _is_stub(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Only `pass`, `...` or `raise NotImplementedError` after the docstring: nothing to pair."""
    for stmt in node.body[1:]:
        if isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr)
                                          and isinstance(stmt.value, ast.Constant)):
            continue
        if isinstance(stmt, ast.Raise) and "NotImplementedError" in ast.unparse(stmt):
            continue
        return False
    return True


def pairmill_lines(root: Path, extensions: tuple[str, ...]) -> dict[str, list[int]]:
    """Lines of the functions pairmill's extractor yields per file, with its length filters at 1."""
    from pairmill.extractors.code import extract_code_pairs
    from pairmill.extractors.code.functions import CodeOptions

    options = CodeOptions(min_doc_tokens=1, min_code_lines=1)
    out: dict[str, list[int]] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.suffix not in extensions or OUT_OF_SCOPE.search(rel) or not path.is_file():
            continue
        try:
            result = extract_code_pairs(path.read_bytes(), rel, options=options)
        except Exception:  # noqa: BLE001 - an old extractor may not know a language
            continue
        out[rel] = [int(p["origin"].rsplit(":", 1)[1]) for p in result.pairs]
    return out


def measure(language: str, expected: list[Expected], lines: dict[str, list[int]]) -> dict:
    hits = sum(1 for e in expected
               if any(e.first <= n <= e.line for n in lines.get(e.path, ())))
    return {"independent_count": len(expected), "found_by_pairmill": hits,
            "recall": round(hits / len(expected), 4) if expected else None,
            "pairmill_functions": sum(len(v) for v in lines.values())}


def _lines_at_commit(commit: str) -> dict[str, dict[str, list[int]]]:
    """Run pairmill_lines with the extractor of `commit`, in a subprocess importing that tree."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp, "tree")
        tree.mkdir()
        archive = subprocess.run(["git", "archive", commit], check=True, capture_output=True,
                                 cwd=Path(__file__).parent.parent).stdout
        subprocess.run(["tar", "x", "-C", str(tree)], input=archive, check=True)
        package = Path(tmp, "path", "pairmill")
        package.mkdir(parents=True)
        for item in (tree / "pairmill").iterdir():
            (package / item.name).symlink_to(item)
        for name in ("schemas", "extractors", "pipelines", "trainer"):
            (package / name).symlink_to(tree / name)
        env = dict(os.environ, PYTHONPATH=str(package.parent))
        done = subprocess.run([sys.executable, __file__, "--lines-only"], env=env, check=True,
                              capture_output=True, text=True, cwd=tmp)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", metavar="COMMIT",
                        help="also measure the extractor of this commit (git)")
    parser.add_argument("--lines-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    available = {lang: spec for lang, spec in REPOSITORIES.items() if spec[1].is_dir()}
    if args.lines_only:
        print(json.dumps({lang: pairmill_lines(root, ext)
                          for lang, (_, root, ext) in available.items()}))
        return
    missing = sorted(set(REPOSITORIES) - set(available))
    if missing:
        print(f"not found (run sh benchmarks/fetch_code_repos.sh): {', '.join(missing)}")
    before = _lines_at_commit(args.before) if args.before else {}
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                          f"Python {platform.python_version()}",
               "method": __doc__.split("\n\n")[1].replace("\n", " "),
               "before_commit": args.before, "languages": {}}
    for lang, (name, root, ext) in available.items():
        expected = count_expected(root, lang, ext)
        row = {"repository": name, "after": measure(lang, expected, pairmill_lines(root, ext))}
        if args.before:
            row["before"] = measure(lang, expected, before.get(lang, {}))
        results["languages"][lang] = row
        line = f"{lang:11s} {name}: {row['after']['found_by_pairmill']}/" \
               f"{row['after']['independent_count']} = {row['after']['recall']:.1%}"
        if args.before:
            line += f" (before: {row['before']['recall']:.1%})"
        print(line)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
