"""Quality rules for web main text: each rule is a named drop with its threshold a setting.

The rules and their default thresholds are those of published filters, not re-derived:
  - Gopher (Rae et al. 2021, appendix A; as implemented in datatrove's GopherRepetitionFilter and
    GopherQualityFilter): duplicate lines, characters in duplicate lines, the most frequent word
    2-gram's share of characters, symbol-to-word ratio, stop words (English), mean word length;
  - FineWeb (Penedo et al. 2024; datatrove's FineWebQualityFilter): the share of lines ending in
    punctuation, the share of short lines;
  - C4 (Raffel et al. 2020): "lorem ipsum" placeholder text;
  - error pages (404, access denied), whose "main text" is often their navigation.
datatrove itself is not a dependency: its English word tokenizer loads NLTK data at run time.
Word rules use `word_count`, so they mean the same in scripts without spaces.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from ...schemas.settings import fraction, non_negative_int, setting
from .words import word_count

_STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})  # Gopher's
_ERROR_TITLE = re.compile(
    r"\b(404|403|410|500|502|503)\b|page not found|not found|access denied|forbidden|"
    r"server error|page (does not|doesn't) exist|找不到|页面(地址)?不存在|ページが見つかりません",
    re.IGNORECASE)
_TERMINAL = ('.', '!', '?', '"', "'", '。', '！', '？', '…', ')', '”', '」')
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class QualitySettings:
    max_duplicate_lines: float = setting(
        0.3, "drop a page when this share of its lines are repeats (Gopher)", type=fraction)
    max_duplicate_line_chars: float = setting(
        0.2, "drop a page when this share of its characters are in repeated lines (Gopher)",
        type=fraction)
    max_top_bigram_chars: float = setting(
        0.2, "drop a page when its most frequent word 2-gram covers this share of its word "
             "characters (Gopher)", type=fraction)
    max_symbol_ratio: float = setting(
        0.1, "drop a page with more '#' and '...' per word than this (Gopher)", type=fraction)
    min_stop_words: int = setting(
        2, "English pages need this many of Gopher's stop words (the, be, to, of, and, that, "
           "have, with); 0 turns the rule off", type=non_negative_int)
    min_punctuated_lines: float = setting(
        0.12, "drop a page when fewer of its lines end in punctuation (FineWeb)", type=fraction)
    max_short_lines: float = setting(
        0.67, "drop a page when more of its lines are shorter than 30 characters (FineWeb)",
        type=fraction)


def quality_issue(title: str, text: str, settings: QualitySettings) -> str | None:
    """The first rule a page's (title, main text) breaks, as a drop reason, or None."""
    if _ERROR_TITLE.search(title) or _ERROR_TITLE.search(text[:200]) and word_count(text) < 200:
        return "error_page"
    if "lorem ipsum" in text.lower():
        return "placeholder_text"
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        return None
    counts = Counter(lines)
    repeated = sum(n for n in counts.values() if n > 1)
    if repeated / len(lines) > settings.max_duplicate_lines:
        return "duplicate_lines"
    if sum(len(line) * n for line, n in counts.items() if n > 1) / max(len(text), 1) > \
            settings.max_duplicate_line_chars:
        return "duplicate_line_chars"
    words = _WORD.findall(text.lower())
    if len(words) >= 10:
        bigrams = Counter(zip(words, words[1:], strict=False))
        (top, n), = bigrams.most_common(1)
        if n > 1 and n * (len(top[0]) + len(top[1])) / sum(len(w) for w in words) > \
                settings.max_top_bigram_chars:
            return "repeated_ngrams"
    n_words = max(word_count(text), 1)
    if (text.count("#") + text.count("...") + text.count("…")) / n_words > \
            settings.max_symbol_ratio:
        return "symbol_ratio"
    ascii_words = sum(1 for w in words if w.isascii())
    if settings.min_stop_words and ascii_words > 0.9 * len(words) and \
            sum(1 for w in words if w in _STOP_WORDS) < settings.min_stop_words:
        return "few_stop_words"
    if len(lines) >= 3:
        if sum(line.endswith(_TERMINAL) for line in lines) / len(lines) < \
                settings.min_punctuated_lines:
            return "unpunctuated_lines"
        if sum(len(line) < 30 for line in lines) / len(lines) > settings.max_short_lines:
            return "short_lines"
    return None
