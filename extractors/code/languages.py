"""Per-language facts for the six CodeSearchNet languages and TypeScript: grammar, function
nodes, doc style.

Grammars come from the per-language wheels (tree-sitter-python, ...), never from a download.
"""

from __future__ import annotations

import functools
import importlib
import re
from dataclasses import dataclass

from tree_sitter import Language, Parser, Query, QueryCursor


@dataclass(frozen=True)
class LanguageSpec:
    name: str
    extensions: tuple[str, ...]
    module: str
    entry: str
    # tree-sitter query capturing each function-like node as @function
    query: str
    # "python": docstring inside the body; "block": a /** */ comment above; "line": //- or #-comments
    doc_style: str
    line_prefix: str = ""
    # node types that wrap a declaration and sit where the doc comment is attached
    wrappers: tuple[str, ...] = ()
    test_file: re.Pattern = re.compile(r"$^")
    test_name: re.Pattern = re.compile(r"$^")


# JavaScript and TypeScript: declarations, methods, functions assigned to names, properties,
# exports or object-literal keys, and named functions passed to a call that is a statement of its
# own (Express: `defineGetter(req, 'ip', function ip() {...})`); the grammars share these types.
_JS_FUNCTIONS = """[
  (function_declaration)
  (generator_function_declaration)
  (method_definition)
  (lexical_declaration (variable_declarator value: [(arrow_function) (function_expression)]))
  (variable_declaration (variable_declarator value: [(arrow_function) (function_expression)]))
  (expression_statement (assignment_expression right: [(arrow_function) (function_expression)]))
  (pair value: [(arrow_function) (function_expression)])
  (expression_statement (call_expression arguments: (arguments (function_expression name: (_)))))
] @function"""

LANGUAGES: dict[str, LanguageSpec] = {
    spec.name: spec
    for spec in (
        LanguageSpec(
            "python", (".py", ".pyi"), "tree_sitter_python", "language",
            "(function_definition) @function",
            doc_style="python",
            wrappers=("decorated_definition",),
            test_file=re.compile(r"(^|/)(tests?|testing)/|(^|/)test_[^/]*\.py$|_tests?\.py$|(^|/)conftest\.py$"),
            test_name=re.compile(r"^test(_|$)"),
        ),
        LanguageSpec(
            "go", (".go",), "tree_sitter_go", "language",
            "[(function_declaration) (method_declaration)] @function",
            doc_style="line", line_prefix="//",
            test_file=re.compile(r"_test\.go$|(^|/)testdata/"),
            test_name=re.compile(r"^(Test|Benchmark|Example|Fuzz)[A-Z_]"),
        ),
        LanguageSpec(
            "javascript", (".js", ".mjs", ".cjs", ".jsx"), "tree_sitter_javascript", "language",
            _JS_FUNCTIONS,
            doc_style="block",
            wrappers=("export_statement",),
            test_file=re.compile(r"(^|/)(__tests__|tests?|spec)/|\.(test|spec)\.[cm]?jsx?$"),
        ),
        LanguageSpec(
            "typescript", (".ts", ".mts", ".cts"), "tree_sitter_typescript", "language_typescript",
            _JS_FUNCTIONS,
            doc_style="block",
            wrappers=("export_statement",),
            test_file=re.compile(r"(^|/)(__tests__|tests?|spec)/|\.(test|spec)\.[cm]?ts$"),
        ),
        LanguageSpec(
            "java", (".java",), "tree_sitter_java", "language",
            "[(method_declaration) (constructor_declaration)] @function",
            doc_style="block",
            test_file=re.compile(r"(^|/)src/test/|Tests?\.java$"),
            test_name=re.compile(r"^test[A-Z_]"),
        ),
        LanguageSpec(
            "ruby", (".rb",), "tree_sitter_ruby", "language",
            "[(method) (singleton_method)] @function",
            doc_style="line", line_prefix="#",
            test_file=re.compile(r"(^|/)(spec|test)/|_(spec|test)\.rb$"),
            test_name=re.compile(r"^test_"),
        ),
        LanguageSpec(
            "php", (".php",), "tree_sitter_php", "language_php",
            "[(function_definition) (method_declaration)] @function",
            doc_style="block",
            test_file=re.compile(r"(^|/)tests?/|Test\.php$"),
            test_name=re.compile(r"^test"),
        ),
    )
}

_BY_EXTENSION = {ext: spec for spec in LANGUAGES.values() for ext in spec.extensions}


def language_for_path(path: str) -> LanguageSpec | None:
    """The language of a file by its extension, or None when pairmill does not mine it."""
    dot = path.rfind(".")
    return _BY_EXTENSION.get(path[dot:].lower()) if dot >= 0 else None


def parse_languages(names: str | list[str] | None) -> list[str]:
    """Validate a `--languages` value ("python,go" or a list); None means all six."""
    if names is None:
        return list(LANGUAGES)
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in names if n not in LANGUAGES]
    if unknown or not names:
        raise ValueError(f"unknown language(s) {unknown}; choose from {','.join(LANGUAGES)}")
    return list(names)


@functools.cache
def parser_for(name: str) -> tuple[Parser, QueryCursor]:
    """A parser and a query cursor for one language, built once per process (not picklable)."""
    spec = LANGUAGES[name]
    language = Language(getattr(importlib.import_module(spec.module), spec.entry)())
    return Parser(language), QueryCursor(Query(language, spec.query))
