"""Site menus and breadcrumb trails out of a page's main text, before the quality rules run.

trafilatura keeps a menu when it is written as text (`│ HOME │ 会社紹介 │ 利用案内 │`) rather
than as a `<nav>`. A line is navigation when it is cut by separators (`|`, `│`, `｜`, `>`, `»`,
`›`, `/`, `·`, `] [`) into at least three short parts mostly not sentences (an entry may be a
question), when it is a `Home >` trail or a lone `Home` entry, when it is a link's text next
to another such line (menu entries on lines of their own), or when it is three or more link
texts in a row and nothing else (a menu flattened into one line). Removed lines are
counted; a page whose text was mostly such lines is dropped (`mostly_boilerplate`) by the
caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_SEPARATORS = re.compile(r"\s*(?:[|│｜┃¦>»›→/·•]|&gt;|::|\]\s*\[)\s*")  # `[ home ] [ about ]`
# `Home >` starting a trail, or `>> HOME` / `Home` alone: a menu's first entry.
_BREADCRUMB = re.compile(r"(?i)^(?:(?:>>|»|›|\[)\s*)?(?:home|首页|首頁|ホーム|トップ|startseite|"
                         r"accueil|inicio)\s*(?:[>»›→/|｜│\]]|&gt;|$)")
_SENTENCE = re.compile(r"[.!?。！？][\"'”」)]?$")


def is_link_line(line: str, link_texts: Iterable[str] | frozenset) -> bool:
    """A short line that is exactly a link's text (a menu entry, or a linked heading)."""
    line = line.strip().lstrip("-*• ").strip()
    return bool(line) and line in link_texts and len(line) < 40 and not _SENTENCE.search(line)


def is_link_run(line: str, link_texts: Iterable[str] | frozenset) -> bool:
    """A line that is three or more of the page's link texts one after the other and nothing
    else: a menu flattened into one line without separators (`Aquanauts Grenada Scuba Diving
    Grenada Contact Deutsch`)."""
    words = line.strip().split()
    if len(words) < 3 or len(line) > 200 or _SENTENCE.search(line.strip()):
        return False
    links = [0] + [-1] * len(words)  # links[j]: most link texts covering words[:j], -1: none
    for i in range(len(words)):
        if links[i] < 0:
            continue
        for j in range(i + 1, min(i + 6, len(words)) + 1):
            if " ".join(words[i:j]) in link_texts:
                links[j] = max(links[j], links[i] + 1)
    return links[-1] >= 3


def is_navigation(line: str) -> bool:
    """A menu or breadcrumb line: short parts between separators, or `Home >`."""
    line = line.strip().lstrip("-*• ").strip()
    if not line:
        return False
    if _BREADCRUMB.match(line) and len(line) < 80:
        return True
    if len(_SEPARATORS.findall(line)) < 2:  # most lines: no need to cut them into parts
        return False
    parts = [p for p in _SEPARATORS.split(line) if p.strip()]
    if len(parts) < 3:
        return False
    # a menu entry may be a question (`ヘッドポーターとは？`): most parts, not all, are no sentence
    return sum(any(c.isalpha() for c in p) for p in parts) >= 2 and \
        all(len(p) <= 24 for p in parts) and \
        2 * sum(bool(_SENTENCE.search(p)) for p in parts) < len(parts)


def strip_navigation(text: str, link_texts: frozenset = frozenset()) -> tuple[str, int]:
    """(text without navigation lines, characters removed); paragraphs keep their breaks."""
    paragraphs = text.split("\n\n")
    links = [is_link_line(p, link_texts) for p in paragraphs]
    kept, removed = [], 0
    for i, paragraph in enumerate(paragraphs):
        # a link's text alone is a menu entry only among others (a linked heading stays)
        if links[i] and (i > 0 and links[i - 1] or i + 1 < len(links) and links[i + 1]):
            removed += len(paragraph)
            continue
        lines = paragraph.split("\n")
        good = [line for line in lines
                if not is_navigation(line) and not is_link_run(line, link_texts)]
        removed += sum(len(line) for line in lines) - sum(len(line) for line in good)
        if good:
            kept.append("\n".join(good))
    return "\n\n".join(kept), removed
