"""Whitespace normalisation: `str.split()` must squeeze exactly what `\\s+` squeezed."""

from __future__ import annotations

import re
import sys

from pairmill.extractors.text.textnorm import normalize_paragraphs, normalize_whitespace


def test_every_code_point_is_whitespace_to_split_exactly_when_it_is_to_the_regex():
    # each code point twice between letters, so a run of it is squeezed (or kept) on its own
    text = " " + "".join(f"a{chr(c)}{chr(c)}" for c in range(sys.maxunicode + 1)
                         if not 0xD800 <= c <= 0xDFFF) + "\u3000\n"
    assert normalize_whitespace(text) == re.sub(r"\s+", " ", text).strip()


def test_runs_become_one_space_and_paragraphs_stay_apart():
    assert normalize_whitespace(" a\u00a0\t b\n\nc \x1c") == "a b c"
    assert normalize_paragraphs("a  b\n \nc\u2003d\n\n\n") == "a b\n\nc d"
