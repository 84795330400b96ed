"""The web rules' faster forms must decide exactly as their plain forms did."""

from __future__ import annotations

import random
import re

import pytest

from pairmill.extractors.text import badwords
from pairmill.extractors.text.badwords import adult_content, bad_words

PLAIN_PHONE = re.compile(r"(?<!\d)(?:\+?\d[\d \-]{6,16}\d)(?!\d)")
PLAIN_DATE = re.compile(r"(?<!\d)(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})(?!\d)")


def test_phone_and_date_patterns_match_where_their_plain_forms_do():
    rng = random.Random(7)
    alphabet = "0123456789+- ./a\n\u0663\uff11"  # an Arabic-Indic and a full-width digit too
    for _ in range(50_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert [m.span() for m in badwords._PHONE.finditer(text)] == \
            [m.span() for m in PLAIN_PHONE.finditer(text)], text
        assert badwords._DATE.sub(" ", text) == PLAIN_DATE.sub(" ", text), text


def _adult_by_language(title: str, text: str, max_bad_words: int) -> bool:
    """The rule as it was: the page's language first, then its list and English's."""
    from pairmill.extractors.text.language import identify_language

    lang = identify_language(title + "\n" + text[:2000])[0]
    if bad_words(title, lang):
        return True
    return len(badwords._hard(bad_words(title + "\n" + text, lang))) >= max_bad_words


def _listed_words(language: str, n: int) -> list[str]:
    return sorted(badwords._lists()[0][language])[:n]


PROSE = ("The roaster sorted the beans by size before the first crack, and the cupping notes "
         "were written down for every batch that left the shop this week. ")
GERMAN = "Die Röstung dauerte zwölf Minuten, und die Bohnen wurden danach sorgfältig verkostet. "


def _pages() -> list[tuple[str, str]]:
    pages = [("Coffee roasting", PROSE * 3), ("Sex education in schools", PROSE * 2),
             ("Coffee", PROSE + " sex nude naked porn " + PROSE),
             ("我的故事", "我们做爱之后她开始口交。" + "这是一个很长的故事。" * 10),
             ("無料動画", "無料セックス動画" + "これは長い話です。" * 10)]
    for language in ("en", "de", "es", "fr", "it", "nl", "pl", "pt", "ru", "tr"):
        words = _listed_words(language, 4)
        for k in range(1, 5):
            body = " ".join(words[:k])
            pages.append(("Coffee roasting", f"{PROSE}{body}. {PROSE}"))
            pages.append(("Kaffeerösterei", f"{GERMAN * 2}{body}. {GERMAN}"))
        pages.append((f"Coffee {words[0]}", PROSE * 2))
    return pages


@pytest.mark.parametrize("max_bad_words", [1, 2, 3])
def test_adult_content_decides_as_the_language_first_rule(max_bad_words):
    for title, text in _pages():
        assert adult_content(title, text, max_bad_words) == \
            _adult_by_language(title, text, max_bad_words), (title, text[:80])
