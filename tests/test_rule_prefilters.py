"""The rules every mined pair passes were made cheaper without changing a verdict: personal data
is looked for only in texts that hold what every match needs, and the language model's table is
laid out row-major. Both are checked here against the plain computation."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np

from pairmill.extractors.text import language, personal_data


def _redact_without_prefilters(text: str) -> tuple[str, Counter]:
    """Every pattern over every text, as before the prefilters."""
    found: Counter = Counter()
    for kind, pattern, check, _ in personal_data._RULES:
        def replace(match, kind=kind, check=check):
            if check is not None and not check(match.group(0)):
                return match.group(0)
            found[kind] += 1
            return personal_data.PLACEHOLDERS[kind]
        text = pattern.sub(replace, text)
    return text, found


def _shaped_texts(n: int) -> list[str]:
    rnd = random.Random(7)

    def digits(k: int) -> str:
        return "".join(rnd.choice("0123456789") for _ in range(k))

    shapes = [lambda: f"{digits(3)}-{digits(3)}-{digits(4)}", lambda: f"+{digits(2)} {digits(2)} {digits(4)}",
              lambda: f"({digits(3)}) {digits(3)}-{digits(4)}", lambda: f"0{digits(3)}-{digits(7)}",
              lambda: f"1{rnd.choice('3456789')}{digits(9)}", lambda: " ".join(digits(4) for _ in range(4)),
              lambda: ".".join(str(rnd.randint(0, 255)) for _ in range(4)),
              lambda: digits(rnd.randint(9, 20)),
              lambda: ".".join(digits(rnd.randint(1, 4)) for _ in range(rnd.randint(2, 5))),
              lambda: f"{digits(1)}.{digits(2)}, {digits(2)}.{digits(1)} and {digits(4)}",
              lambda: f"{digits(3)} {digits(3)} {digits(4)}", lambda: f"{digits(1)}-{digits(6)}",
              lambda: f"x.y+{digits(2)}@mail.example.org", lambda: "AKIA" + digits(16),
              lambda: "ghp_" + "a" * 36, lambda: "sk-" + "b" * 40, lambda: "٣٤٥-١٢٣٤",
              lambda: "xoxb-" + "c" * 12, lambda: "hf_" + "d" * 30, lambda: "AIza" + "e" * 35,
              lambda: "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----",
              lambda: "".join(rnd.choice("0123456789 .-+()@_xhfeyJ") for _ in range(rnd.randint(1, 40)))]
    noise = " a+-.0("
    return ["".join(rnd.choice(noise) for _ in range(rnd.randint(0, 3))) + rnd.choice(shapes)()
            + " " + rnd.choice(shapes)() for _ in range(n)]


def test_personal_data_prefilters_change_no_redaction():
    texts = _shaped_texts(6000) + ["no personal data here", "call me on 555-123-4567 or a@b.co"]
    assert sum(1 for t in texts if _redact_without_prefilters(t)[1]) > 1000  # the shapes match
    for text in texts:
        assert personal_data.redact_personal_data(text) == _redact_without_prefilters(text), text


def test_a_text_with_a_card_ip_or_phone_core_is_seen_to_hold_a_digit_shape():
    cores = (personal_data._CARD_CORE, personal_data._IPV4_CORE, personal_data._PHONE_DIGITS_CORE)
    texts = _shaped_texts(4000)
    cored = [t for t in texts if any(core.search(t) for core in cores)]
    assert len(cored) > 1000 and any(not t.isascii() for t in cored)
    for text in cored:
        assert personal_data._DIGIT_SHAPES.search(text), text
    assert not personal_data._DIGIT_SHAPES.search("in 2015, 12 of 30 (p < 0.05) and 3.5 mg")


def test_a_pairs_texts_tested_together_miss_nothing_either_holds():
    from pairmill.extractors.rules import personal_data_rule
    from pairmill.schemas import make_pair
    from pairmill.schemas.counts import Counts

    texts = _shaped_texts(3000) + ["plain words only", "in 2015, 12 of 30 (p < 0.05)"] * 200
    rnd = random.Random(5)
    rule = personal_data_rule("redact")
    found = 0
    for _ in range(3000):
        query, document = rnd.choice(texts), rnd.choice(texts)
        pair = make_pair("t_q_d", query, document, "test", "o")
        redacted = (_redact_without_prefilters(query), _redact_without_prefilters(document))
        kept = rule(pair, Counts())
        if redacted[0][1] or redacted[1][1]:
            found += 1
            assert personal_data.may_hold_personal_data(f"{query}\n{document}")
            assert (kept["query"], kept["document"]) == (redacted[0][0], redacted[1][0])
        else:
            assert kept is pair
    assert 500 < found < 2900


def test_the_key_literal_test_misses_no_literal():
    rnd = random.Random(11)
    pieces = [*personal_data._KEY_LITERALS, "_", "-", "gh", "xo", "A", "J", "ey", " "]
    texts = ["".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 4))) for _ in range(3000)]
    for text in texts:
        holds = any(literal in text for literal in personal_data._KEY_LITERALS)
        if holds and not ("xox" in text and "-" not in text):
            assert personal_data._may_hold_key(text), text
        if not holds:
            assert not personal_data._may_hold_key(text), text


def test_the_row_major_language_table_gives_the_same_scores():
    identifier = language._identifier()
    assert identifier.nb_ptc.flags["C_CONTIGUOUS"]
    texts = ["The quick brown fox jumps over the lazy dog.", "Der schnelle braune Fuchs springt.",
             "Le renard brun rapide saute par-dessus le chien paresseux.", "速い茶色の狐", "12345", ""]
    row_major = [identifier._decide(t) for t in texts]
    table = identifier.nb_ptc
    try:
        identifier.nb_ptc = np.asfortranarray(table)  # the layout py3langid leaves
        column_major = [identifier._decide(t) for t in texts]
    finally:
        identifier.nb_ptc = table
    for a, b in zip(row_major, column_major, strict=True):
        assert np.array_equal(a, b)
