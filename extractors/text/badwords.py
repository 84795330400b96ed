"""Adult-content and spam rules for a page's (title, main text), in every script.

`adult_content`: listed words of the LDNOOBW lists (28 languages, `lists/ldnoobw/`, as the npm
package naughty-words 1.2.0 ships them, CC-BY-4.0), as C4 uses them. Words are matched whole in
spaced scripts; in Chinese, Japanese and Thai, which write no spaces, as substrings, and there
single-character entries (性, 乳, 奶: parts of ordinary words) are left out. Every language's
list is checked, so a page in one language with spam in another is caught. A page is dropped
when it holds `max_bad_words` distinct listed words or more, or one in its title.

Spam that needs no word boundaries: the same contact number three times or more
(`spam_contact`), a line naming a QQ, WeChat, LINE or Telegram contact (`spam_contact`), and a
title stuffed with keywords (`keyword_stuffed_title`: many short parts between separators).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from importlib import resources

import regex

_LISTS = resources.files(__package__) / "lists" / "ldnoobw"  # zz_adult_seed.txt: pairmill's
_UNSPACED = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}]")
_WORD = regex.compile(r"[\p{L}\p{M}\p{N}]+(?:['’][\p{L}]+)?")
_PHONE = re.compile(r"(?<!\d)(?:\+?\d[\d \-]{6,16}\d)(?!\d)")
_CONTACT = regex.compile(
    r"(?i)(?:(?<![a-z])(?:QQ|wechat|VX|V信|line\s*id|telegram)(?![a-z])|微信|微\s*信|加微|薇信|威信|"
    r"扣扣|企鹅号|飞机号)\s*(?:号|號|群)?\s*[:：]?\s*[A-Za-z0-9_\-]{5,}")
_TITLE_PARTS = re.compile(r"\s*[|｜_,，、/／·\-–—]+\s*")


@functools.cache
def _lists() -> tuple[dict[str, frozenset[str]], tuple[str, ...]]:
    """(per language, the words matched whole; every list's unspaced phrases, as substrings)."""
    whole: dict[str, frozenset[str]] = {}
    substrings = set()
    for entry in _LISTS.iterdir():
        if not entry.name.endswith(".txt") or entry.name == "LICENSE.txt":
            continue
        terms = {t.strip().lower() for t in entry.read_text(encoding="utf-8").splitlines()}
        substrings.update(t for t in terms if _UNSPACED.search(t) and len(t) >= 2)
        whole[entry.name.removesuffix(".txt")] = frozenset(
            t for t in terms if t and not _UNSPACED.search(t))
    return whole, tuple(sorted(substrings))


def bad_words(text: str, lang: str = "en") -> set[str]:
    """The distinct listed words and phrases in `text`: whole words of `lang`'s list and
    English's (a short word of one language is an ordinary word in another: `con`, `am`),
    unspaced phrases of every list."""
    lists, substrings = _lists()
    whole = lists.get(lang, frozenset()) | lists["en"]
    lowered = text.lower()
    words = _WORD.findall(lowered)
    found = {w for w in words if w in whole}
    for n in (2, 3):  # listed phrases of two and three words
        found.update(p for p in (" ".join(words[i:i + n]) for i in range(len(words) - n + 1))
                     if p in whole)
    if _UNSPACED.search(lowered):
        found.update(s for s in substrings if s in lowered)
    return found


def adult_content(title: str, text: str, max_bad_words: int) -> bool:
    """True when the page holds `max_bad_words` distinct listed words, or one in its title."""
    if not max_bad_words:
        return False
    from .language import identify_language

    lang = identify_language(title + "\n" + text[:2000])[0]
    return bool(bad_words(title, lang)) or \
        len(bad_words(title + "\n" + text, lang)) >= max_bad_words


def spam_contact(text: str, max_repeated_numbers: int) -> bool:
    """A contact line (QQ, WeChat, ...) or one number repeated `max_repeated_numbers` times."""
    if not max_repeated_numbers:
        return False
    if _CONTACT.search(text):
        return True
    numbers = Counter(re.sub(r"\D", "", n) for n in _PHONE.findall(text))
    return any(n >= max_repeated_numbers for digits, n in numbers.items() if len(digits) >= 7)


def keyword_stuffed(title: str, max_title_parts: int) -> bool:
    """A title of `max_title_parts` parts or more between separators (SEO keyword lists)."""
    if not max_title_parts:
        return False
    parts = [p for p in _TITLE_PARTS.split(title) if p]
    return len(parts) >= max_title_parts
