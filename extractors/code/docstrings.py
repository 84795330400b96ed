"""Docstring and doc-comment cleaning: from raw comment text to a natural-language query.

CodeSearchNet's recipe: strip comment markers, keep prose, drop tag blocks (`@param`,
`:param:`, `Args:` ...), and by default keep only the first paragraph, which summarises.
"""

from __future__ import annotations

import ast
import inspect
import re

_TAG_LINE = re.compile(
    r"^\s*(@[A-Za-z]+\b|:(param|type|return|returns|rtype|raises|raise|arg|var|ivar|cvar)\b)"
)
_SECTION = re.compile(
    r"^\s*(Args|Arguments|Parameters|Params|Returns?|Yields?|Raises|Examples?|Notes?|"
    r"Attributes|See Also|Keyword Args|Other Parameters)\s*:?\s*$"
)
_UNDERLINE = re.compile(r"^\s*[-=~]{3,}\s*$")
_INLINE_TAG = re.compile(r"\{@\w+\s+([^}]*)\}")
_HTML_TAG = re.compile(
    r"</?(p|br|code|pre|b|i|em|strong|ul|ol|li|a|tt|blockquote|h[1-6]|dl|dt|dd|table|tr|td|th|"
    r"hr|span|div|var|kbd|samp|sup|sub)(\s[^<>]*)?/?>",
    re.IGNORECASE,
)
_DIRECTIVE = re.compile(
    r"^\s*(go:|nolint|\+build|rubocop:|frozen_string_literal|-\*-|!|eslint|jshint|@ts-|"
    r"istanbul|prettier-ignore|noinspection|phpcs:)"
)


def python_docstring_text(literal: str) -> str | None:
    """The value of a Python string literal used as a docstring, or None if it is not one.

    f-strings and bytes are not docstrings (Python's own `ast.get_docstring` agrees).
    """
    prefix = literal[: len(literal) - len(literal.lstrip("rRuUbBfF"))].lower()
    if "f" in prefix or "b" in prefix:
        return None
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, str) else None


def strip_comment_markers(comments: list[str], line_prefix: str = "") -> str:
    """Text of `/** */`, `/* */`, `//` or `#` comments without the markers and leading stars."""
    lines: list[str] = []
    for comment in comments:
        text = comment.strip()
        if text.startswith("/*"):
            text = text[3:] if text.startswith("/**") else text[2:]
            text = text[:-2] if text.endswith("*/") else text
            for line in text.splitlines():
                stripped = line.strip()
                lines.append(stripped[1:] if stripped.startswith("*") else line)
        else:
            for line in text.splitlines():
                stripped = line.strip()
                for marker in (line_prefix, "//", "#"):
                    if marker and stripped.startswith(marker):
                        stripped = stripped[len(marker):]
                        break
                lines.append(stripped)
    return inspect.cleandoc("\n".join(lines))


def clean_doc(text: str, full: bool = False) -> str:
    """Prose of a doc text: tag blocks cut, inline markup unwrapped; first paragraph unless `full`.

    The first paragraph is returned on one line (whitespace collapsed); `full` keeps line breaks.
    """
    text = inspect.cleandoc(text)
    kept: list[str] = []
    for line in text.splitlines():
        if _TAG_LINE.match(line) or _SECTION.match(line):
            break
        if _DIRECTIVE.match(line):
            continue
        kept.append(line)
    while kept and _UNDERLINE.match(kept[-1]):
        kept.pop()
    body = "\n".join(kept)
    body = _INLINE_TAG.sub(r"\1", body)
    body = _HTML_TAG.sub("", body)
    body = body.strip()
    if full:
        return body
    first = re.split(r"\n\s*\n", body, maxsplit=1)[0]
    return " ".join(first.split())
