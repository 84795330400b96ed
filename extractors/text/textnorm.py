"""Text clean-up shared by the text sources: whitespace, paragraphs and LaTeX markup."""

from __future__ import annotations

import re

_SPACE = re.compile(r"\s+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_PLACEHOLDERS = re.compile(r"\s*<(?:cit\.|ref)>")
_LATEX_HINT = re.compile(r"[\\$]|--|``")
_converter = None


def normalize_whitespace(text: str) -> str:
    """Runs of whitespace (newlines, tabs, non-breaking spaces) become one space; ends trimmed."""
    return _SPACE.sub(" ", text).strip()


def normalize_paragraphs(text: str) -> str:
    """Whitespace normalised inside paragraphs; paragraphs (blank-line separated) kept apart."""
    paragraphs = (normalize_whitespace(p) for p in _PARAGRAPH_BREAK.split(text))
    return "\n\n".join(p for p in paragraphs if p)


def latex_to_text(text: str) -> str:
    """LaTeX markup to plain Unicode (accents, `\\emph{}`, math without `$`), via pylatexenc.

    Plain text is returned untouched: the parser costs about 1 ms per abstract, and most titles
    have no markup at all.
    """
    if not _LATEX_HINT.search(text):
        return normalize_whitespace(text)
    global _converter
    if _converter is None:
        from pylatexenc.latex2text import LatexNodes2Text

        _converter = LatexNodes2Text(math_mode="text", strict_latex_spaces=False)
    try:
        converted = _converter.latex_to_text(text)
    except Exception:  # pylatexenc is lenient, but a parser must never lose the record
        converted = text
    return normalize_whitespace(_PLACEHOLDERS.sub("", converted))
