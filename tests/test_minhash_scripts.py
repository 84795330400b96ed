"""Near duplicates in every script: text without word separators is shingled by characters,
Unicode punctuation separates words, and one threshold means the same edit rate everywhere."""

import json
import random

import numpy as np

from pairmill.cli import main
from pairmill.dataset.minhash import LshBands, estimated_jaccard, shingle_hashes, signatures, word_text

from .test_dedup import _pair, read_rows, write_dataset

HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
KANA = [chr(c) for c in range(0x3041, 0x3097)]
THAI = [chr(c) for c in range(0x0E01, 0x0E2F)]
WORDS = [f"w{i}" for i in range(3000)]


def _copies(rng, alphabet, join, n_docs=150, length=300, rate=0.02):
    """(original, copy) texts with `rate` of the tokens replaced."""
    out = []
    for _ in range(n_docs):
        tokens = [rng.choice(alphabet) for _ in range(length)]
        edited = list(tokens)
        for i in rng.sample(range(length), max(1, int(length * rate))):
            edited[i] = rng.choice(alphabet)
        out.append((join(tokens), join(edited)))
    return out


def _recall(pairs, threshold=0.8) -> float:
    """Share of copies that share an LSH bucket with their original and verify."""
    bands = LshBands.for_threshold(threshold, 128)
    sigs = signatures([t for p in pairs for t in p])
    keys = bands.keys(sigs)
    found = 0
    for i in range(len(pairs)):
        a, b = 2 * i, 2 * i + 1
        if set(keys[a]) & set(keys[b]) and estimated_jaccard(sigs[a], sigs[b]) >= threshold:
            found += 1
    return found / len(pairs)


def test_two_chinese_sentences_two_characters_apart_are_near_duplicates():
    a = "今天天气很好我们一起去公园散步然后在湖边吃午饭看看风景聊聊天再慢慢走回家休息一下晚上一起看电影"
    b = a.replace("公园", "公圆").replace("午饭", "午餐")
    sig = signatures([a, b, "完全不同的一句话没有任何相同的内容只是为了对照而已大家好再见明天见吧朋友"])
    assert estimated_jaccard(sig[0], sig[1]) > 0.6  # before: one shingle each, Jaccard 0.0
    assert estimated_jaccard(sig[0], sig[2]) < 0.1


def test_chinese_and_japanese_near_copies_are_found_at_one_percent_edits():
    # 1% of the characters edited (at least one): with 5-character shingles a 60-character text
    # was found 65% of the time; character pairs find 99% and more at every length
    for length in (60, 150, 400):
        chinese = _recall(_copies(random.Random(length), HAN, "".join, length=length, rate=0.01))
        japanese = _recall(_copies(random.Random(length + 1), HAN[:500] + KANA, "".join,
                                   length=length, rate=0.01))
        assert chinese >= 0.99 and japanese >= 0.99, (length, chinese, japanese)


def test_thai_recall_matches_english_at_the_same_edit_rate():
    for rate in (0.01, 0.02):  # Jaccard about 0.9 and 0.82 for 5-grams: both near 0.8
        english = _recall(_copies(random.Random(1), WORDS, " ".join, rate=rate))
        thai = _recall(_copies(random.Random(4), THAI, "".join, rate=rate))
        assert english > (0.9 if rate == 0.01 else 0.3)
        assert abs(thai - english) <= 0.12, (rate, english, thai)


def test_han_and_kana_texts_are_shingled_by_character_pairs_and_others_by_five_tokens():
    rng = random.Random(7)
    chinese = "".join(rng.choice(HAN) for _ in range(100))
    hashes, _ = shingle_hashes([chinese])
    assert len(set(hashes.tolist())) == 99  # 99 character pairs, not 96 five-character runs
    # an English sentence quoting two Chinese characters stays on word 5-grams
    english = "the sign over the door read 公园 and we walked in through the gate slowly"
    assert len(shingle_hashes([english])[0]) == len(word_text(english).split()) - 4
    # a Chinese body under an English title is mostly Han: character pairs
    mixed = "Weather report: " + chinese
    assert len(shingle_hashes([mixed])[0]) == len(word_text(mixed).split()) - 1


def test_templated_chinese_pages_sharing_three_quarters_are_not_merged():
    rng = random.Random(8)
    texts = ["".join(rng.choice(HAN[:800]) for _ in range(400)) for _ in range(90)]
    pairs = [(texts[i][:300] + texts[i + 1][300:], texts[i][:300] + texts[i + 2][300:])
             for i in range(0, 90, 3)]
    assert _recall(pairs) == 0.0
    # while the same pages with one character changed are found
    assert _recall([(a, a[:200] + "改" + a[201:]) for a, _ in pairs]) == 1.0


def test_unicode_punctuation_separates_words_and_ascii_is_untouched():
    assert word_text("alpha—beta «gamma» delta’s") .split() == ["alpha", "beta", "gamma",
                                                                 "delta", "s"]
    assert word_text("snake_case stays, one-word") == "snake_case stays, one-word"
    a, b = signatures(["alpha—beta—gamma—delta—epsilon—zeta", "alpha beta gamma delta epsilon zeta"])
    assert np.array_equal(a, b)
    # Hindi keeps its vowel signs inside words (they are marks, not punctuation)
    assert word_text("हिन्दी भाषा") .split() == ["हिन्दी", "भाषा"]


def test_dedup_removes_chinese_near_copies_end_to_end(tmp_path):
    rng = random.Random(6)
    docs = ["".join(rng.choice(HAN) for _ in range(200)) for _ in range(20)]
    pairs = [_pair("web_title_body", f"页面 {i}", d) for i, d in enumerate(docs)]
    for i, d in enumerate(docs[:6]):
        chars = list(d)
        chars[rng.randrange(len(chars))] = "改"
        pairs.append(_pair("web_title_body", f"页面 {i}", "".join(chars)))
    folder = write_dataset(tmp_path / "in", pairs)
    out = tmp_path / "out"
    assert main(["dedup", "--input", str(folder), "--output", str(out)]) == 0
    report = json.loads((out / "manifest.json").read_text())["dedup"]["tasks"]["web_title_body"]
    assert report["removed"] == {"near_duplicate": 6}
    assert len(read_rows(out)) == 20
