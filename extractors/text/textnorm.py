"""Text clean-up shared by the text sources: whitespace, paragraphs and LaTeX markup."""

from __future__ import annotations

import re

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_PLACEHOLDERS = re.compile(r"\s*<(?:cit\.|ref)>")
_LATEX_HINT = re.compile(r"[\\$]|--|``")
_converter = None
_HTML_BLOCKS = frozenset({"p", "div", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
                          "blockquote", "table", "tr", "hr", "dl", "dt", "dd", "section", "article"})
_CODE_SLOT = re.compile(r"\x00(\d+)\x00")


def normalize_whitespace(text: str) -> str:
    """Runs of whitespace (newlines, tabs, non-breaking spaces) become one space; ends trimmed.

    `str.split()` cuts at exactly the characters `\\s` matches (every code point checked), at
    a third of `re.sub`'s cost: the web extractor calls this for every link of every page.
    """
    return " ".join(text.split())


def normalize_paragraphs(text: str) -> str:
    """Whitespace normalised inside paragraphs; paragraphs (blank-line separated) kept apart."""
    paragraphs = (normalize_whitespace(p) for p in _PARAGRAPH_BREAK.split(text))
    return "\n\n".join(p for p in paragraphs if p)


def pylatexenc_latex_to_text(text: str) -> str:
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


def html_to_text(markup: str) -> str:
    """An HTML fragment (a StackExchange body) as plain text: paragraphs kept apart, `<pre>` code
    blocks kept verbatim with their indentation, list items on their own lines, tags dropped."""
    if "<" not in markup and "&" not in markup:
        return normalize_paragraphs(markup)
    import lxml.html

    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except Exception:  # lxml refuses some fragments (only a comment, say); the text still counts
        return normalize_paragraphs(re.sub(r"<[^>]*>", " ", markup))
    pieces: list[str] = []
    code: list[str] = []

    def walk(element) -> None:
        tag = element.tag if isinstance(element.tag, str) else None  # None: comment or PI
        if tag == "pre":
            code.append(element.text_content().strip("\n"))
            pieces.append(f"\n\n\x00{len(code) - 1}\x00\n\n")
        elif tag is not None and tag not in ("script", "style"):
            if tag in _HTML_BLOCKS:
                pieces.append("\n\n- " if tag == "li" else "\n\n")
            elif tag == "br":
                pieces.append("\n\n")
            pieces.append(element.text or "")
            for child in element:
                walk(child)
            if tag in _HTML_BLOCKS:
                pieces.append("\n\n")
        pieces.append(element.tail or "")

    try:
        walk(root)
    except RecursionError:  # absurdly deep nesting: keep the words, lose the layout
        return normalize_paragraphs(root.text_content())
    text = normalize_paragraphs("".join(pieces))
    return _CODE_SLOT.sub(lambda m: code[int(m.group(1))], text)
