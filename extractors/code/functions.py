"""(docstring, code) pairs from one source file, for the six CodeSearchNet languages.

`extract_code_pairs(data, path)` is the whole extractor: a pure function from a file's bytes to
pairs, drop counts and dead letters. Parsing and node search run in tree-sitter (C); Python only
touches the function nodes a query returns, which keeps extraction close to raw parse speed.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from tree_sitter import Node, Query, QueryCursor

from ...schemas import make_pair
from ...schemas.settings import comma_list, non_negative_int, positive_int, setting
from ..result import Extraction
from .docstrings import clean_doc, python_docstring_text, strip_comment_markers
from .files import (
    DEFAULT_MAX_FILE_BYTES,
    content_skip_reason,
    decode_source,
    is_binary,
    path_skip_reason,
)
from .languages import LANGUAGES, LanguageSpec, language_for_path, parser_for

TASK = "code_docstring_code"
_TRIVIAL_PY = (b"pass", b"...", b"raise NotImplementedError", b"raise NotImplementedError()")


@dataclass(frozen=True)
class CodeOptions:
    """Filters of the code extractor; the defaults follow CodeSearchNet."""

    programming_languages: tuple[str, ...] = setting(
        tuple(LANGUAGES), "comma-separated subset of the programming languages (--languages "
                          "is the natural language of the docstrings, as for every source)",
        type=comma_list, metavar="LANGS")
    max_files: int = setting(0, "read at most this many source files per input (0: all)",
                             type=non_negative_int)
    min_doc_tokens: int = setting(3, "docstrings with fewer words are dropped", type=positive_int)
    min_code_lines: int = setting(3, "functions with fewer lines are dropped", type=positive_int)
    max_file_bytes: int = setting(DEFAULT_MAX_FILE_BYTES, "larger files are dropped",
                                  type=positive_int)
    full_docstring: bool = setting(
        False, "keep the whole cleaned docstring, not only its first paragraph")
    skip_tests: bool = setting(True, "do not skip test files/functions", flag="keep-tests")
    content_column: str | None = setting(
        None, "Parquet inputs: the file content column (default: detected, e.g. content)")
    path_column: str | None = setting(
        None, "Parquet inputs: the file path column (default: detected, e.g. max_stars_repo_path)")
    repo_column: str | None = setting(
        None, "Parquet inputs: the repository column (default: detected, e.g. max_stars_repo_name)")
    language_column: str | None = setting(
        None, "Parquet inputs: the language column (default: detected; the path decides)")


DEFAULT_OPTIONS = CodeOptions()


def extract_code_pairs(
    data: bytes,
    path: str,
    *,
    source: str = "",
    origin_prefix: str = "",
    options: CodeOptions = DEFAULT_OPTIONS,
) -> Extraction:
    """Pairs of (cleaned doc comment, function code without its doc) found in one file.

    `path` is the file's path inside its repository (it decides the language and the test/vendored
    filters); `origin_prefix` (for example "repo@commit:") is put before "path:line" in `origin`.
    """
    out = Extraction()
    spec = language_for_path(path)
    if spec is None or spec.name not in options.programming_languages:
        out.drop("unsupported_file")
        return out
    reason = path_skip_reason(path, spec)
    if reason and (reason != "test_file" or options.skip_tests):
        out.drop(reason)
        return out
    origin = f"{origin_prefix}{path}"
    if len(data) > options.max_file_bytes:
        out.drop("file_too_large")
        return out
    try:
        text = decode_source(data, spec)
    except (UnicodeDecodeError, LookupError) as exc:
        if is_binary(data):
            out.dead_letter(origin, source, "binary_file", "NUL bytes in a source file")
        else:
            out.dead_letter(origin, source, "decode_error", str(exc))
        return out
    if is_binary(text):
        out.dead_letter(origin, source, "binary_file", "NUL bytes in a source file")
        return out
    reason = content_skip_reason(text, options.max_file_bytes)
    if reason:
        out.drop(reason)
        return out
    _extract_functions(text, spec, origin, source, options, out)
    return out


def _extract_functions(text: bytes, spec: LanguageSpec, origin: str, source: str,
                       options: CodeOptions, out: Extraction) -> None:
    parser, cursor = parser_for(spec.name)
    tree = parser.parse(text)
    root = tree.root_node
    if root.has_error:
        out.dead_letter(origin, source, "syntax_error", _describe_errors(root, spec))
    for node in cursor.captures(root).get("function", []):
        if spec.name in JS_LIKE and not _is_js_function(node):
            continue
        reason = _function_pair(text, node, spec, origin, source, options, out)
        if reason:
            out.drop(reason)


def _function_pair(text, node: Node, spec, origin, source, options, out) -> str | None:
    """Append the pair of one function node to `out`, or return why there is none."""
    if node.has_error:
        return "function_syntax_error"
    outer = node
    while outer.parent is not None and outer.parent.type in spec.wrappers:
        outer = outer.parent
    if spec.doc_style == "python":
        doc_node, raw_doc = _python_docstring(node, text)
    else:
        doc_node, raw_doc = None, _doc_comment(outer, spec)
        if raw_doc is None and spec.doc_style == "block":
            doc_node = _doc_after_annotations(node)
            raw_doc = None if doc_node is None else strip_comment_markers([doc_node.text.decode()])
    if raw_doc is None:
        return "undocumented"
    query = clean_doc(raw_doc, full=options.full_docstring)
    if len(query.split()) < options.min_doc_tokens:
        return "docstring_too_short"
    name = _function_name(node, text)
    if options.skip_tests and (spec.test_name.match(name) or _has_test_annotation(node, spec)):
        return "test_function"
    if _is_empty_body(node, doc_node, spec):
        return "empty_body"
    document = _function_code(text, outer, doc_node)
    if sum(1 for line in document.splitlines() if line.strip()) < options.min_code_lines:
        return "short_function"
    line = node.start_point[0] + 1
    out.pairs.append(make_pair(TASK, query, document, source, f"{origin}:{line}",
                               lang=spec.name, meta={"function": name}))
    return None


_JS_FUNCTION_VALUES = ("arrow_function", "function_expression", "generator_function")
JS_LIKE = frozenset({"javascript", "typescript"})  # functions may be values assigned to names


def _is_js_function(node: Node) -> bool:
    """Query alternations inside fields over-match; check the assigned value really is a function."""
    if node.type in ("lexical_declaration", "variable_declaration"):
        declarator = node.named_children[0] if node.named_children else None
        value = declarator.child_by_field_name("value") if declarator is not None else None
        return value is not None and value.type in _JS_FUNCTION_VALUES
    if node.type == "expression_statement":
        if _called_function(node) is not None:
            return True
        assignment = node.named_children[0] if node.named_children else None
        value = assignment.child_by_field_name("right") if assignment is not None else None
        return value is not None and value.type in _JS_FUNCTION_VALUES
    if node.type == "pair":  # `name: function () {...}` in an object literal
        value = node.child_by_field_name("value")
        return value is not None and value.type in _JS_FUNCTION_VALUES
    return True


def _called_function(statement: Node) -> Node | None:
    """The named function expression passed to the call that `statement` is, if any."""
    call = statement.named_children[0] if statement.named_children else None
    if call is None or call.type != "call_expression":
        return None
    arguments = call.child_by_field_name("arguments")
    for argument in arguments.named_children if arguments is not None else ():
        if argument.type == "function_expression" and argument.child_by_field_name("name"):
            return argument
    return None


def _python_docstring(func: Node, text: bytes) -> tuple[Node | None, str | None]:
    body = func.child_by_field_name("body")
    if body is None:
        return None, None
    for stmt in body.named_children:
        if stmt.type == "comment":
            continue
        if stmt.type == "expression_statement" and stmt.named_child_count == 1:
            literal = stmt.named_children[0]
            if literal.type == "string":
                value = python_docstring_text(text[literal.start_byte:literal.end_byte].decode())
                if value is not None:
                    return stmt, value
        return None, None
    return None, None


def _doc_comment(outer: Node, spec: LanguageSpec) -> str | None:
    """The doc comment above a declaration, markers stripped: line comments directly above (no
    blank line), a `/** */` block directly above or one blank line above (JSDoc style guides and
    real code such as Express separate them so)."""
    comments: list[str] = []
    expected_row = outer.start_point[0]
    anchor = outer
    # Ruby puts a class's leading comments before the body node that starts with the method.
    while (anchor.prev_sibling is None and anchor.parent is not None
           and anchor.parent.start_byte == anchor.start_byte):
        anchor = anchor.parent
    sibling = anchor.prev_sibling
    while sibling is not None and "comment" in sibling.type:
        comment = sibling.text.decode()
        gap = 2 if spec.doc_style == "block" and comment.startswith("/**") else 1
        if sibling.end_point[0] < expected_row - gap:
            break
        if spec.doc_style == "block":
            if comment.startswith("/**"):
                comments.append(comment)
            break
        comments.append(comment)
        expected_row = sibling.start_point[0]
        sibling = sibling.prev_sibling
    if not comments:
        return None
    comments.reverse()
    return strip_comment_markers(comments, spec.line_prefix)


def _doc_after_annotations(node: Node) -> Node | None:
    """A `/** */` block written after an annotation (`@SuppressWarnings(...)` then the Javadoc,
    as in OpenJDK's java.util.regex.Pattern): the grammar puts it inside the modifiers."""
    modifiers = next((c for c in node.children if c.type == "modifiers"), None)
    for child in modifiers.children if modifiers is not None else ():
        if "comment" in child.type and child.text.startswith(b"/**"):
            return child
    return None


def _function_name(node: Node, text: bytes) -> str:
    name = node.child_by_field_name("name")
    if name is None and node.type == "pair":
        name = node.child_by_field_name("key")
    called = _called_function(node) if name is None and node.type == "expression_statement" \
        else None
    if called is not None:
        name = called.child_by_field_name("name")
    if name is None:  # JS: `const f = () => ...` or `a.b = function () {...}`
        target = node.named_children[0] if node.named_children else None
        if target is not None and target.type == "variable_declarator":
            name = target.child_by_field_name("name")
        elif target is not None and target.type == "assignment_expression":
            left = target.child_by_field_name("left")
            name = left.child_by_field_name("property") if left is not None else None
            name = name or left
    return name.text.decode() if name is not None else ""


def _has_test_annotation(node: Node, spec: LanguageSpec) -> bool:
    if spec.name != "java":
        return False
    for child in node.children:
        if child.type == "modifiers":
            return any(a.type.endswith("annotation") and a.text.split(b"(")[0] == b"@Test"
                       for a in child.named_children)
    return False


def _is_empty_body(node: Node, doc_node: Node | None, spec: LanguageSpec) -> bool:
    if node.type == "pair":  # `name: function () {...}`: the body is the value's
        node = node.child_by_field_name("value")
    body = node.child_by_field_name("body")
    if spec.name in JS_LIKE and node.type.endswith(("declaration", "statement")) \
            and node.type not in ("function_declaration", "generator_function_declaration"):
        return False  # body lives in the assigned function; the line count decides
    if body is None:
        return True
    if spec.doc_style != "python":
        return body.named_child_count == 0
    statements = [s for s in body.named_children if s != doc_node and s.type != "comment"]
    return all(s.text.strip() in _TRIVIAL_PY for s in statements)


def _function_code(text: bytes, outer: Node, doc_node: Node | None) -> str:
    """The function's source from the start of its first line, dedented, without its docstring."""
    start = outer.start_byte
    line_start = text.rfind(b"\n", 0, start) + 1
    if not text[line_start:start].strip():
        start = line_start
    end = outer.end_byte
    if doc_node is None:
        code = text[start:end]
    else:
        cut_start, cut_end = doc_node.start_byte, doc_node.end_byte
        ds_line_start = text.rfind(b"\n", 0, cut_start) + 1
        newline = text.find(b"\n", cut_end)
        ds_line_end = newline + 1 if newline != -1 else len(text)
        if not text[ds_line_start:cut_start].strip() and not text[cut_end:ds_line_end].strip():
            cut_start, cut_end = ds_line_start, min(ds_line_end, end)
        code = text[start:cut_start] + text[cut_end:end]
    return textwrap.dedent(code.decode("utf-8")).strip("\n")


def _describe_errors(root: Node, spec: LanguageSpec) -> str:
    parser, _ = parser_for(spec.name)
    cursor = QueryCursor(Query(parser.language, "(ERROR) @error"))
    errors = cursor.captures(root).get("error", [])
    if not errors:
        return "syntax error: a required token is missing"
    first = min(errors, key=lambda n: n.start_byte)
    return (f"syntax error: {len(errors)} unparsable region(s), first at line "
            f"{first.start_point[0] + 1}; functions outside them were kept")
