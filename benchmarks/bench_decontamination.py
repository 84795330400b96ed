"""Decontamination by n-gram overlap: index build and lookup speed, memory per n-gram held.

  python benchmarks/bench_decontamination.py [--functions 6000] [--prose 20000]

Benchmark texts are the CPython standard library's functions with their docstrings (code, as
CoSQA holds it) and docstrings of 20+ words (prose). Measured in CPU seconds of one core
(`time.process_time`: the machine is shared):
1. building the index (`benchmark_grams` per batch of 1,024, then `build_index`): texts/s and
   n-grams/s, for code (tree-sitter strips comments and docstrings) and prose apart;
2. memory: bytes per n-gram held by the sorted array, and the peak while merging
   (tracemalloc sees numpy's buffers), against the anchor, a Python `set` of 13-word strings
   (what a plain script keeps), on the same texts;
3. lookups: `NgramIndex.matches` on the same functions without docstrings (every one found),
   in texts/s;
4. past memory (`--decontamination-memory-mb`): the same benchmark forced past a budget of an
   eighth of its array (`--budget-fraction`), merged on disk from its parts written as the
   pipeline spills them, against the in-memory merge of the same parts, in the same run:
   merge n-grams/s and peak bytes per n-gram (tracemalloc, a run of its own), bytes per n-gram
   held in memory for lookups (Bloom filter and fences against the array's 8), the filter's
   measured false-positive rate, lookups in n-grams/s and texts/s (the file in the page cache,
   as right after the build: a cold disk reads one 4 KiB page per hash the filter passes),
   and the matches compared one by one (they must be equal). Then the same on `--synthetic`
   random hashes (5 million), in parts of 200,000, to see the merge at a larger size.

What all of BEIR would take. Assumed: the corpora of BEIR's Table 1 (Thakur et al., 2021,
arXiv 2104.08663), documents x average words: 6.0 billion words in all, 2.3 billion without the
four not publicly downloadable (BioASQ alone is 3.0 billion; Signal-1M, TREC-NEWS, Robust04),
MS MARCO 0.49 billion (8.84M passages x 56 words); and 1.5 n-grams held per word (measured
here: 1.53 per token on prose). Whole corpora given as JSON lines would hold about 9.0 billion
n-grams (3.5 billion public; MS MARCO 0.74 billion, BioASQ 4.5 billion): 72 GB as arrays and
288 GB at the old in-memory merge's 32 bytes, past any one machine. Past memory, each benchmark
takes 8 bytes an n-gram on disk (MS MARCO 5.9 GB, BioASQ 36 GB), up to about twice that in
scratch space while merging, and in memory its budget at most: at the default 1 GiB, MS MARCO
gets a 512 MiB filter of 5.8 bits an n-gram (k=4, 6% false positives) and 12 MB of fences;
BioASQ's filter would be under 1 bit an n-gram (65% false positives, each a page read), so
give it `--decontamination-memory-mb 8192` (7.6 bits, k=5, 2.6%). At the merge rate measured
below (about 8 million n-grams/s on disk), BioASQ's merge takes about 9 CPU minutes and MS
MARCO's 1.5, on one worker, plus writing and reading its file about three times; hashing the
texts (0.6-0.75 million n-grams/s a core) is the larger cost, about 3.7 core-hours for all of
BEIR, spread over the workers. A BEIR folder passed to `--decontaminate` gives only its
queries and judged documents, far fewer.
"""

from __future__ import annotations

import argparse
import ast
import json
import platform
import sys
import sysconfig
import tempfile
import textwrap
import time
import tracemalloc
from pathlib import Path

import numpy as np

from pairmill.dataset.contamination import (
    DiskNgramIndex,
    benchmark_grams,
    build_index,
    build_index_on_disk,
    comparable_texts,
    load_index,
    words,
)

RESULTS = Path(__file__).parent / "results" / "decontamination.json"


def stdlib_texts(functions: int, prose: int) -> tuple[list[str], list[str], list[str]]:
    """(functions with docstrings, the same without, docstrings of 20+ words), sorted files."""
    code, stripped, docs = [], [], []
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.rglob("*.py")):
        if "test" in path.parts or "site-packages" in path.parts:
            continue
        try:
            source = path.read_text()
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef) or not ast.get_docstring(node):
                continue
            doc = ast.get_docstring(node)
            if len(doc.split()) >= 20 and len(docs) < prose:
                docs.append(doc)
            if len(code) < functions and len(node.body) > 2:
                text = ast.get_source_segment(source, node, padded=True)
                if text:
                    code.append(textwrap.dedent(text))
                    body = node.body[1:]
                    stripped.append(textwrap.dedent("\n".join(
                        ast.get_source_segment(source, b, padded=True) or "" for b in body)))
        if len(code) >= functions and len(docs) >= prose:
            break
    return code, stripped, docs


def build(texts: list[str]) -> tuple[object, float]:
    started = time.process_time()
    batches = [benchmark_grams(texts[i:i + 1024]) for i in range(0, len(texts), 1024)]
    return build_index(batches), time.process_time() - started


def _timed(build):
    started = time.process_time()
    value = build()
    return value, time.process_time() - started


def _peak(build) -> int:
    tracemalloc.start()
    try:
        build()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def past_memory(batches: list[tuple[np.ndarray, set[int]]], fraction: int,
                views: list[str] | None) -> dict:
    """The same parts merged in memory (the anchor) and on disk within an `fraction`th of the
    array; their lookups compared (n-gram hashes, and `views` as texts when given)."""
    short = set().union(*(s for _, s in batches))
    with tempfile.TemporaryDirectory(prefix="bench-decontamination-") as folder:
        parts = []
        for n, (grams, _) in enumerate(batches):
            path = f"{folder}/part{n}.u64"
            grams.tofile(path)
            parts.append((path, len(grams)))
        anchor, anchor_s = _timed(lambda: build_index(batches))
        n = len(anchor.grams)
        budget = max(64 << 10, n * 8 // fraction)
        (head, held), disk_s = _timed(lambda: build_index_on_disk(parts, short, f"{folder}/index",
                                                                  budget))
        anchor_peak = _peak(lambda: build_index(batches))
        disk_peak = _peak(lambda: build_index_on_disk(parts, short, f"{folder}/again", budget))
        index = load_index(head)
        assert isinstance(index, DiskNgramIndex) and held == n
        assert np.array_equal(np.asarray(index.grams), anchor.grams)
        rng = np.random.default_rng(7)
        absent = rng.integers(0, 2**64, size=1_000_000, dtype=np.uint64)
        absent = absent[~anchor._held(absent)]
        queries = np.concatenate([rng.choice(anchor.grams, size=100_000), absent[:900_000]])
        rng.shuffle(queries)
        lookups = {}
        for name, ix in (("in_memory", anchor), ("disk", index)):
            found, seconds = _timed(lambda ix=ix: ix._held(queries))
            lookups[name] = {"ngrams_per_s": round(len(queries) / seconds), "found": int(found.sum())}
        assert lookups["disk"]["found"] == lookups["in_memory"]["found"]
        result = {
            "ngrams_held": n, "parts": len(parts), "budget_bytes": budget,
            "build": {
                "in_memory_ngrams_per_s": round(n / anchor_s),
                "disk_ngrams_per_s": round(n / disk_s),
                "in_memory_peak_bytes_per_ngram": round(anchor_peak / n, 2),
                "disk_peak_bytes_per_ngram": round(disk_peak / n, 3),
                "disk_peak_bytes": disk_peak},
            "held_in_memory": {
                "in_memory_bytes_per_ngram": anchor.grams.nbytes / n,
                "disk_bytes_per_ngram": round(index.held_bytes() / n, 3),
                "bloom_bits_per_ngram": round(index.bloom.bits.size * 64 / n, 2),
                "bloom_k": index.bloom.k, "block": index.block,
                "bloom_false_positive_rate": round(float(index.bloom.might_hold(absent).mean()), 4),
                "disk_file_bytes_per_ngram": 8.0},
            "lookup_hashes": {"queries": len(queries), "present": 100_000, **lookups},
        }
        if views:
            texts = {}
            for name, ix in (("in_memory", anchor), ("disk", index)):
                found, seconds = _timed(lambda ix=ix: [
                    m for i in range(0, len(views), 1024) for m in ix.matches(views[i:i + 1024])])
                texts[name] = {"texts_per_s": round(len(views) / seconds),
                               "found": sum(m is not None for m in found)}
                texts[name + "_matches"] = found
            assert texts.pop("disk_matches") == texts.pop("in_memory_matches")
            result["lookup_texts"] = {"texts": len(views), **texts, "same_matches": True}
        del index
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--functions", type=int, default=6000)
    parser.add_argument("--prose", type=int, default=20000)
    parser.add_argument("--budget-fraction", type=int, default=8,
                        help="past-memory budget: the array's bytes divided by this")
    parser.add_argument("--synthetic", type=int, default=5_000_000,
                        help="random n-grams for the past-memory merge at a larger size")
    args = parser.parse_args()
    code, stripped, docs = stdlib_texts(args.functions, args.prose)
    result = {"python": sys.version.split()[0], "machine": platform.machine(),
              "functions": len(code), "prose_texts": len(docs)}
    for name, texts in (("code", code), ("prose", docs)):
        index, seconds = build(texts)
        tokens = sum(len(words(v)) for t in texts for v in comparable_texts(t))
        result[f"build_{name}"] = {
            "texts": len(texts), "tokens": tokens, "ngrams_held": int(len(index.grams)),
            "seconds": round(seconds, 2), "texts_per_s": round(len(texts) / seconds),
            "ngrams_per_s": round(len(index.grams) / seconds)}
    # memory, on the prose texts: the index against a set of 13-word strings
    tracemalloc.start()
    index, _ = build(docs)
    _, peak = tracemalloc.get_traced_memory()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    tracemalloc.start()
    anchor = set()
    for text in docs:
        w = words(text)
        anchor.update(" ".join(w[i:i + 13]) for i in range(len(w) - 12))
    anchor_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    result["memory"] = {
        "ngrams_held": int(len(index.grams)),
        "array_bytes_per_ngram": index.grams.nbytes / max(1, len(index.grams)),
        "held_bytes_per_ngram": round(held / max(1, len(index.grams)), 1),
        "peak_bytes_per_ngram_while_building": round(peak / max(1, len(index.grams)), 1),
        "anchor_python_set_13grams": len(anchor),
        "anchor_bytes_per_ngram": round(anchor_bytes / max(1, len(anchor)), 1)}
    # lookups: the functions without their docstrings, against the code index
    code_index, _ = build(code)
    started = time.process_time()
    found = 0
    for i in range(0, len(stripped), 1024):
        batch = stripped[i:i + 1024]
        views = [comparable_texts(t, "python")[0] if t.strip() else "" for t in batch]
        found += sum(m is not None for m in code_index.matches(views))
    seconds = time.process_time() - started
    result["lookup"] = {"texts": len(stripped), "found": found,
                        "seconds": round(seconds, 2), "texts_per_s": round(len(stripped) / seconds)}
    views = [comparable_texts(t, "python")[0] if t.strip() else "" for t in stripped]
    batches = [benchmark_grams(code[i:i + 1024]) for i in range(0, len(code), 1024)]
    result["past_memory"] = past_memory(batches, args.budget_fraction, views)
    rng = np.random.default_rng(20261203)
    synthetic = [(np.unique(rng.integers(0, 2**64, size=200_000, dtype=np.uint64)), set())
                 for _ in range(-(-args.synthetic // 200_000))]
    result["past_memory_synthetic"] = past_memory(synthetic, args.budget_fraction, None)
    print(json.dumps(result, indent=2))
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
