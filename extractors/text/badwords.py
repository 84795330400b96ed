"""Adult-content and spam rules for a page's (title, main text), in every script.

`adult_content`: listed words of the LDNOOBW lists (28 languages, `lists/ldnoobw/`, as the npm
package naughty-words 1.2.0 ships them, CC-BY-4.0), as C4 uses them. Words are matched whole in
spaced scripts; in Chinese, Japanese and Thai, which write no spaces, as substrings, and there
single-character entries (性, 乳, 奶: parts of ordinary words) are left out. Every language's
list is checked, so a page in one language with spam in another is caught. A page is dropped
when it holds `max_bad_words` distinct listed words or more, or one in its title. In the body,
words that news, medicine, law and plain swearing use as much as pornography does (`sex`,
`rape`, `nude`, `shit`: the soft list datatrove ships for URLs, `lists/url_soft_banned_words.txt`)
do not count, nor their inflections (`fucking`): on real news pages about sexual crimes and on
forum pages they were most of the words found (see docs/filtering.md).

`gambling_content`: three distinct terms of pairmill's own gambling list (`lists/gambling_words.txt`,
betting, casino and lottery words in 20 languages that mean little else), in the title and body
together: no published word list covers gambling, and the UT1 gambling domains (shipped with
the URL rules) miss betting-tip sites.

Spam that needs no word boundaries: the same contact number three times or more, once after a
contact word (`电话`, `tel`, `call`; dates, port ranges and timestamps in tables repeat without
being contacts) (`spam_contact`), a line naming a QQ, WeChat, LINE or Telegram contact
(`spam_contact`), and a title stuffed with keywords (`keyword_stuffed_title`: many short parts
between separators; a hyphen or slash inside a word, `Domain-Level`, `September/October`, joins).
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
# A phone number, `(?<!\d)\+?\d[\d \-]{6,16}\d(?!\d)`, and a date,
# `(?<!\d)(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})(?!\d)`, written to
# start with their first character (the `(?<!\d)` moved after it): `re` then skips to the
# digits instead of trying every position, a third of the time (tests/test_web_rules_exact.py
# holds them to the plain forms).
_PHONE = re.compile(r"[+\d](?:(?<=\+)(?<!\d\+)\d|(?<=\d)(?<!\d\d))[\d \-]{6,16}\d(?!\d)")
_DATE = re.compile(r"\d(?<!\d\d)(?:\d{3}[-/.]\d{1,2}[-/.]\d{1,2}|\d?[-/.]\d{1,2}[-/.]\d{4})(?!\d)")
# A contact word just before a number (up to a few characters of punctuation between).
_CONTACT_CUE = regex.compile(
    r"(?i)(?<![a-z])(?:tel|phone|call|fax|mobile|hotline|whatsapp|电话|電話|手机|手機|热线|熱線|来电|來電|"
    r"咨询|諮詢|客服|联系|聯繫|传真|傳真|お問い合わせ|телефон|тел|☎|📞)[^\p{L}\p{N}\n]{0,4}$")
_CONTACT = regex.compile(
    r"(?i)(?:(?<![a-z])(?:QQ|wechat|VX|V信|line\s*id|telegram)(?![a-z])|微信|微\s*信|加微|薇信|威信|"
    r"扣扣|企鹅号|飞机号)\s*(?:号|號|群)?\s*[:：]?\s*[A-Za-z0-9_\-]{5,}")
_TITLE_PARTS = re.compile(r"\s*(?:[|｜_,，、／·–—]|(?<![A-Za-z0-9])[/\-]|[/\-](?![A-Za-z0-9]))+\s*")


@functools.cache
def _soft() -> frozenset[str]:
    """Words as common in news, medicine, law and swearing as in pornography."""
    path = resources.files(__package__) / "lists" / "url_soft_banned_words.txt"
    return frozenset(w.strip().lower() for w in path.read_text(encoding="utf-8").splitlines()
                     if w.strip() and not w.startswith("#"))


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


@functools.lru_cache(maxsize=4)
def _words(lowered: str) -> list[str]:
    """A lowered text's words: the adult and gambling rules read the same page text."""
    return _WORD.findall(lowered)


@functools.lru_cache(maxsize=64)
def _phrase_starts(whole: frozenset[str]) -> frozenset[str]:
    """The first words of a list's two- and three-word phrases: only where one stands is a
    phrase looked up (joining every pair and triple of a page's words was most of the rule)."""
    return frozenset(t.split(" ", 1)[0] for t in whole if " " in t)


def _listed(text: str, whole: frozenset[str], substrings: tuple[str, ...]) -> set[str]:
    """The distinct entries in `text`: words and two- or three-word phrases of `whole` matched
    whole, `substrings` (unspaced scripts) anywhere."""
    lowered = text.lower()
    words = _words(lowered)
    found = set(words).intersection(whole)
    starts = _phrase_starts(whole)
    if not starts.isdisjoint(words):  # one set test spares most pages the loop over their words
        for i in [i for i, w in enumerate(words) if w in starts]:
            for n in (2, 3):
                if i + n <= len(words) and (phrase := " ".join(words[i:i + n])) in whole:
                    found.add(phrase)
    if _UNSPACED.search(lowered):
        by_first = _by_first_character(substrings)
        characters = set(lowered)
        for character in characters & by_first.keys():  # only terms that can start here
            found.update(term for term, needs in by_first[character]
                         if needs <= characters and term in lowered)
    return found


@functools.lru_cache(maxsize=8)
def _by_first_character(
        substrings: tuple[str, ...]) -> dict[str, tuple[tuple[str, frozenset[str]], ...]]:
    """Unspaced terms, with the characters each needs, by their first character: a page is
    searched only for the terms whose first character it holds (searching it for every term
    was a third of the rule's time on Chinese and Japanese pages), and of those only for the
    terms whose every character it holds (a set test costs a tenth of a search through a long
    page; on a 6,000-character Chinese page it leaves 35 searches of 143)."""
    grouped: dict[str, list[tuple[str, frozenset[str]]]] = {}
    for term in substrings:
        grouped.setdefault(term[0], []).append((term, frozenset(term)))
    return {first: tuple(terms) for first, terms in grouped.items()}


@functools.lru_cache(maxsize=256)
def _list_of(lang: str) -> frozenset[str]:
    """`lang`'s list and English's, made once per language."""
    lists, _ = _lists()
    return lists.get(lang, frozenset()) | lists["en"]


def bad_words(text: str, lang: str = "en") -> set[str]:
    """The distinct listed words and phrases in `text`: whole words of `lang`'s list and
    English's (a short word of one language is an ordinary word in another: `con`, `am`),
    unspaced phrases of every list."""
    return _listed(text, _list_of(lang), _lists()[1])


@functools.cache
def _gambling_terms() -> tuple[frozenset[str], tuple[str, ...]]:
    """(terms matched whole, unspaced terms matched as substrings) of `lists/gambling_words.txt`."""
    path = resources.files(__package__) / "lists" / "gambling_words.txt"
    terms = {t.strip().lower() for t in path.read_text(encoding="utf-8").splitlines()
             if t.strip() and not t.startswith("#")}
    return (frozenset(t for t in terms if not _UNSPACED.search(t)),
            tuple(sorted(t for t in terms if _UNSPACED.search(t))))


def gambling_content(title: str, text: str, max_gambling_words: int) -> bool:
    """True when title and body hold `max_gambling_words` distinct gambling terms (betting,
    casino and lottery sites, and betting tips written as articles)."""
    if not max_gambling_words:
        return False
    whole, substrings = _gambling_terms()
    return len(_listed(title + "\n" + text, whole, substrings)) >= max_gambling_words


@functools.cache
def _every_list() -> frozenset[str]:
    """The words of every language's list together."""
    return frozenset().union(*_lists()[0].values())


@functools.lru_cache(maxsize=256)
def _entries_of(lang: str) -> frozenset[str]:
    """Every entry `bad_words(text, lang)` can find: its words and every unspaced phrase."""
    return _list_of(lang) | frozenset(_lists()[1])


def _hard(found: set[str]) -> set[str]:
    """The listed words that are not soft ones (`sex`, `nude`) or their inflections."""
    soft = _soft()
    return {w for w in found
            if w not in soft and not any(w.endswith(end) and w[:-len(end)] in soft
                                         for end in ("s", "ed", "ing", "in", "er", "y"))}


def adult_content(title: str, text: str, max_bad_words: int) -> bool:
    """True when the page holds `max_bad_words` distinct listed words, or one in its title.

    The page is read once against every language's list together, and what that finds is cut
    to its language's entries: the same as `bad_words` (each language's list is part of every
    list, the unspaced phrases are the same for all). When every list together finds nothing
    in the title and too few hard words, no language's list would, and the page's language
    (a fifth of the web rules' time) is not identified: on most pages of the real samples.
    """
    if not max_bad_words:
        return False
    from .language import identify_language

    substrings = _lists()[1]
    in_title = _listed(title, _every_list(), substrings)
    in_page = _listed(title + "\n" + text, _every_list(), substrings)
    if not in_title and len(_hard(in_page)) < max_bad_words:
        return False
    entries = _entries_of(identify_language(title + "\n" + text[:2000])[0])
    return bool(in_title & entries) or len(_hard(in_page & entries)) >= max_bad_words


def spam_contact(text: str, max_repeated_numbers: int) -> bool:
    """A contact line (QQ, WeChat, ...) or one number repeated `max_repeated_numbers` times."""
    if not max_repeated_numbers:
        return False
    if _CONTACT.search(text):
        return True
    text = _DATE.sub(" ", text)
    numbers, cued = Counter(), set()
    for match in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        numbers[digits] += 1
        if _CONTACT_CUE.search(text, max(0, match.start() - 16), match.start()):
            cued.add(digits)
    return any(n >= max_repeated_numbers for digits, n in numbers.items()
               if len(digits) >= 7 and digits in cued)


def keyword_stuffed(title: str, max_title_parts: int) -> bool:
    """A title of `max_title_parts` parts or more between separators (SEO keyword lists)."""
    if not max_title_parts:
        return False
    parts = [p for p in _TITLE_PARTS.split(title) if p]
    return len(parts) >= max_title_parts
