"""Near-duplicate recall and false merges for text written without spaces (Chinese, Japanese).

  python benchmarks/bench_dedup_scripts.py [--corpus FILE...] [--lengths 60 150 400] [--per-length 500]

Base texts are windows of real text: every CJK page of ../shared/realdata/warc/ (plain text by
resiliparse) plus each --corpus file (any encoding; for instance a Chinese novel such as
fxsjy/jieba's test/tlbb.txt at commit 379cd49, or Japanese prose). For each window length a
copy of every window gets 1% of its characters replaced (at least one) by characters drawn from
the same corpus; recall is the share of copies that share an LSH band with their original and
verify at the dedup threshold, as `pairmill dedup` decides. False merges are pairs of distinct
windows (no planted copy) that dedup would call duplicates, and pairs of templated texts (the
first three quarters of the characters the same, the rest from two other windows); each merge
is checked by difflib's ratio and the ones below 0.8 are counted as wrong. Both for the shingle
size used before (5 characters), 3 characters and now (`UNSPACED_NGRAM`), in the same run.
Results: benchmarks/results/dedup_scripts.json.
"""

from __future__ import annotations

import argparse
import difflib
import json
import platform
import random
import re
from pathlib import Path

from pairmill.dataset.minhash import LshBands, estimated_jaccard, signatures
from pairmill.dataset.settings import NGRAM, NUM_PERM, UNSPACED_NGRAM

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "dedup_scripts.json"
WARCS = ROOT.parent / "shared" / "realdata" / "warc"
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
THRESHOLD = 0.8


def _decode(raw: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    return str(best) if best else raw.decode("utf-8", "replace")


def warc_texts() -> list[str]:
    """Plain text of every page of the shared WARC sample that is mostly CJK."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.extract.html2text import extract_plain_text

    out = []
    for path in sorted(WARCS.glob("*.warc*")):
        with open(path, "rb") as f:
            for record in ArchiveIterator(f, record_types=WarcRecordType.response):
                html = _decode(record.reader.read().split(b"\r\n\r\n", 1)[-1])
                text = extract_plain_text(html, main_content=True)
                if len(_CJK.findall(text)) > len(text) / 3:
                    out.append(text)
    return out


def windows(texts: list[str], length: int, count: int, rng: random.Random) -> list[str]:
    """Distinct, non-overlapping windows of `length` characters (whitespace squeezed)."""
    pool = []
    for text in texts:
        flat = re.sub(r"\s+", "", text)
        pool += [flat[i:i + length] for i in range(0, len(flat) - length + 1, length)]
    pool = sorted({w for w in pool if len(_CJK.findall(w)) >= length // 2})
    rng.shuffle(pool)
    return pool[:count]


def near_copy(text: str, alphabet: str, rng: random.Random, rate: float = 0.01) -> str:
    chars = list(text)
    for i in rng.sample(range(len(chars)), max(1, round(len(chars) * rate))):
        chars[i] = rng.choice(alphabet)
    return "".join(chars)


def _found(sigs, keys, a: int, b: int) -> bool:
    return bool(set(keys[a]) & set(keys[b])) and estimated_jaccard(sigs[a], sigs[b]) >= THRESHOLD


def templated(base: list[str], shared: float = 0.75) -> list[tuple[str, str]]:
    """Pairs that share the first `shared` of their characters and differ in the rest."""
    k = int(len(base[0]) * shared) if base else 0
    return [(base[i][:k] + base[i + 1][k:], base[i][:k] + base[i + 2][k:])
            for i in range(0, len(base) - 2, 3)]


def measure(base: list[str], copies: list[str], unspaced_ngram: int) -> dict:
    bands = LshBands.for_threshold(THRESHOLD, NUM_PERM)
    sigs = signatures(base + copies, NUM_PERM, NGRAM, unspaced_ngram)
    keys = bands.keys(sigs)
    n = len(base)
    recall = sum(_found(sigs, keys, i, n + i) for i in range(n)) / n
    pairs = templated(base)
    tsigs = signatures([t for p in pairs for t in p], NUM_PERM, NGRAM, unspaced_ngram)
    tkeys = bands.keys(tsigs)
    templated_wrong = sum(
        _found(tsigs, tkeys, 2 * i, 2 * i + 1)
        and difflib.SequenceMatcher(None, *pairs[i]).ratio() < THRESHOLD for i in range(len(pairs)))
    buckets: dict[int, list[int]] = {}
    for i in range(n):
        for key in keys[i]:
            buckets.setdefault(key, []).append(i)
    candidates = {(a, b) for members in buckets.values() for a in members for b in members if a < b}
    merged = [(a, b) for a, b in sorted(candidates) if _found(sigs, keys, a, b)]
    wrong = [(a, b) for a, b in merged
             if difflib.SequenceMatcher(None, base[a], base[b]).ratio() < THRESHOLD]
    return {"recall": round(recall, 4), "merged_distinct": len(merged), "wrongly_merged": len(wrong),
            "wrong_examples": [[base[a][:40], base[b][:40]] for a, b in wrong[:3]],
            "templated_pairs": len(pairs), "templated_wrongly_merged": templated_wrong}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", nargs="*", default=[])
    parser.add_argument("--lengths", type=int, nargs="*", default=[60, 150, 400, 3000])
    parser.add_argument("--per-length", type=int, default=500)
    args = parser.parse_args()
    texts = warc_texts() if WARCS.is_dir() else []
    sources = {"warc_pages": len(texts)}
    for path in args.corpus:
        corpus = _decode(Path(path).read_bytes())
        texts.append(corpus)
        sources[Path(path).name] = len(corpus)
    alphabet = "".join(sorted(set(_CJK.findall("".join(texts)))))
    results = {"machine": f"{platform.machine()}, Python {platform.python_version()}",
               "threshold": THRESHOLD, "edit_rate": 0.01, "sources": sources, "lengths": {}}
    for length in args.lengths:
        rng = random.Random(length)
        base = windows(texts, length, args.per_length, rng)
        copies = [near_copy(w, alphabet, rng) for w in base]
        row = {"texts": len(base)}
        for size in (NGRAM, 3, UNSPACED_NGRAM):
            m = row[f"{size}_chars"] = measure(base, copies, size)
            print(f"{length:5d} chars, {len(base)} texts, {size}-character shingles: recall "
                  f"{m['recall']:.3f}; distinct texts merged {m['merged_distinct']} (wrongly "
                  f"{m['wrongly_merged']}); templated pairs wrongly merged "
                  f"{m['templated_wrongly_merged']} of {m['templated_pairs']}")
        results["lengths"][str(length)] = row
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
