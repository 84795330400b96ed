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
   in texts/s.
Results go to benchmarks/results/decontamination.json.
"""

from __future__ import annotations

import argparse
import ast
import json
import platform
import sys
import sysconfig
import textwrap
import time
import tracemalloc
from pathlib import Path

from pairmill.dataset.contamination import benchmark_grams, build_index, comparable_texts, words

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--functions", type=int, default=6000)
    parser.add_argument("--prose", type=int, default=20000)
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
    print(json.dumps(result, indent=2))
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
