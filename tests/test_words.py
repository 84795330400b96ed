"""`word_count`: the same length rules in every script."""

import random

from pairmill.extractors.text.words import _ABUGIDA, _HAN_KANA, word_count


def test_words_are_counted_by_script():
    # spaced scripts, with punctuation above U+0E00 (dashes, ellipses, quotes)
    assert word_count("Київ є столицею України — місто… «так»") == 7  # as split() counts
    assert word_count("Ελληνικά και English μαζί") == 4
    # runs of unspaced scripts count by their length
    assert word_count("委员会将于下周发布报告") == round(11 / 1.5)
    assert word_count("日本語 and English — ok") == round(3 / 1.5) + 4
    assert word_count("ภาษาไทยไม่มีช่องว่าง") == round(20 / 4)
    assert word_count("") == 0


def test_runs_are_measured_as_finding_them_would():
    rng = random.Random(3)
    pieces = ["委员", "会", "ひらがな", "カタ", "ภาษา", "ไทย", "ລາວ", "ខ្មែរ", "word", " ", "\n", "—", "1"]
    for _ in range(5_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        han = sum(len(run) for run in _HAN_KANA.findall(text))
        abugida = sum(len(run) for run in _ABUGIDA.findall(text))
        rest = _ABUGIDA.sub(" ", _HAN_KANA.sub(" ", text))
        assert word_count(text) == len(rest.split()) + round(han / 1.5) + round(abugida / 4), text
