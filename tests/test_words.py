"""`word_count`: the same length rules in every script."""

from pairmill.extractors.text.words import word_count


def test_words_are_counted_by_script():
    # spaced scripts, with punctuation above U+0E00 (dashes, ellipses, quotes)
    assert word_count("Київ є столицею України — місто… «так»") == 7  # as split() counts
    assert word_count("Ελληνικά και English μαζί") == 4
    # runs of unspaced scripts count by their length
    assert word_count("委员会将于下周发布报告") == round(11 / 1.5)
    assert word_count("日本語 and English — ok") == round(3 / 1.5) + 4
    assert word_count("ภาษาไทยไม่มีช่องว่าง") == round(20 / 4)
    assert word_count("") == 0
