"""Does a page's title belong to its main text? Cheap checks before the model-based `filter`.

Spam sites put a title in one language over a body copied from another site (a Chinese video
title over an English company page). `title_script_mismatch`: every script of a third of the
title's letters is (almost) absent from the body. `title_body_unrelated`: the title and the body
share no content word (a title of three content terms or more; words of three letters or more
outside a few function words; in Chinese and Japanese, character bigrams, since there are no
spaces).
"""

from __future__ import annotations

from collections import Counter

import regex

_SCRIPTS = {"latin": r"\p{Latin}", "cjk": r"\p{Han}\p{Hiragana}\p{Katakana}",
            "hangul": r"\p{Hangul}", "cyrillic": r"\p{Cyrillic}", "greek": r"\p{Greek}",
            "arabic": r"\p{Arabic}", "hebrew": r"\p{Hebrew}", "devanagari": r"\p{Devanagari}",
            "thai": r"\p{Thai}"}
# one pattern per script, matched as runs: counting a page's letters one match per letter in
# Python was a fifth of a whole web page's extraction time
_SCRIPT_RUNS = {name: regex.compile(f"[{chars}]+") for name, chars in _SCRIPTS.items()}
_CJK_RUN = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]{2,}")
_WORD = regex.compile(r"[\p{L}\p{N}]{3,}")
_FUNCTION = frozenset("the and for with from that this your you are was our all not but "
                      "home page www com net org html index der die das und von les des une "
                      "pour del los las con".split())


def script_counts(text: str) -> Counter:
    """Letters per script."""
    counts = Counter()
    for name, runs in _SCRIPT_RUNS.items():
        letters = sum(map(len, runs.findall(text)))
        if letters:
            counts[name] = letters
    return counts


def script_mismatch(title: str, text: str, min_share: float) -> bool:
    """Each script of a third or more of the title's letters makes up less than `min_share` of
    the body's letters (a Japanese title naming a product in Latin letters, `ブリーフケース
    （BRIEFCASE HEADPORTER）`, matches a Japanese body)."""
    if not min_share:
        return False
    in_title = script_counts(title)
    letters = sum(in_title.values())
    if letters < 2:
        return False
    in_body = script_counts(text)
    total = sum(in_body.values())
    return total > 0 and all(in_body[script] / total < min_share
                             for script, n in in_title.items() if 3 * n >= letters)


def content_terms(text: str) -> set[str]:
    """Content words and, in Chinese and Japanese runs, character bigrams."""
    lowered = text.lower()
    terms = {w for w in _WORD.findall(_CJK_RUN.sub(" ", lowered)) if w not in _FUNCTION}
    for run in _CJK_RUN.findall(lowered):
        terms.update(run[i:i + 2] for i in range(len(run) - 1))
    return terms


def unrelated(title: str, text: str, min_shared: int) -> bool:
    """A title of three content terms or more of which fewer than `min_shared` appear in the
    body."""
    if not min_shared:
        return False
    in_title = content_terms(title)
    if len(in_title) < 3:
        return False  # a name or one word ("News", "Loganotron"): too little to compare
    return len(in_title & content_terms(text)) < min_shared
