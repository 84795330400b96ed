"""Code extraction speed against raw tree-sitter parsing, and CPython-stdlib recall.

Prints, for the same files in the same run:
  1. raw tree-sitter parse MB/s (the anchor) and pairmill's extractor MB/s: ratio (goal >= 0.6);
  2. `pairmill mine code` end to end, pairs/s, with and without multi-processing workers;
  3. recall on CPython's standard library against an `ast` count of documented functions, and
     the share of pairs whose code no longer holds its docstring text.
Results go to benchmarks/results/code_extraction.json.
"""

from __future__ import annotations

import ast
import json
import os
import platform
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings
from pathlib import Path

from pairmill.extractors.code import extract_code_pairs, language_for_path
from pairmill.extractors.code.files import path_skip_reason
from pairmill.extractors.code.languages import parser_for

RESULTS = Path(__file__).parent / "results" / "code_extraction.json"
STDLIB = Path(sysconfig.get_paths()["stdlib"])


def stdlib_files() -> list[tuple[str, bytes]]:
    files = []
    for path in sorted(STDLIB.rglob("*.py")):
        rel = path.relative_to(STDLIB).as_posix()
        if rel.startswith("site-packages/"):
            continue
        files.append((rel, path.read_bytes()))
    return files


def best_of(n, fn):
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def speed(files):
    # Only files the extractor really parses (not skipped as tests etc.), so both sides see
    # the same bytes.
    spec = language_for_path("x.py")
    parsed = [(rel, data) for rel, data in files if not path_skip_reason(rel, spec)
              and len(data) <= 1 << 20]
    mb = sum(len(d) for _, d in parsed) / 1e6
    parser, _ = parser_for("python")
    raw = best_of(3, lambda: [parser.parse(d) for _, d in parsed])
    ours = best_of(3, lambda: [extract_code_pairs(d, r) for r, d in parsed])
    return {"files": len(parsed), "mb": round(mb, 2),
            "raw_tree_sitter_mb_s": round(mb / raw, 2), "pairmill_mb_s": round(mb / ours, 2),
            "ratio_to_raw_parse": round(raw / ours, 3)}


def recall(files):
    expected = seen = kept = leaked = 0
    for rel, data in files:
        if path_skip_reason(rel, language_for_path(rel)):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(data)
        except (SyntaxError, ValueError):
            continue
        docs = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and ast.get_docstring(node):
                docs[node.lineno] = ast.get_docstring(node, clean=False)
        expected += len(docs)
        result = extract_code_pairs(data, rel)
        kept += len(result.pairs)
        seen += len(result.pairs) + sum(result.drops[r] for r in (
            "short_function", "empty_body", "docstring_too_short", "test_function"))
        for pair in result.pairs:
            raw_doc = docs.get(int(pair["origin"].rsplit(":", 1)[1]))
            if raw_doc and raw_doc.strip() in pair["document"]:
                leaked += 1
    return {"ast_documented_functions": expected, "seen_by_pairmill": seen,
            "recall_before_quality_filters": round(seen / expected, 4),
            "pairs_after_filters": kept,
            "pairs_without_docstring_in_code": round(1 - leaked / max(kept, 1), 4)}


def end_to_end(extra_args: list[str]):
    exe = Path(sys.executable).with_name("pairmill")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([str(exe), "mine", "code", "--input", str(STDLIB), "--output",
                        f"{tmp}/out", "--programming-languages", "python", *extra_args],
                       check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        manifest = json.loads(Path(tmp, "out", "manifest.json").read_text())
    pairs = manifest["counters"]["pairs_kept"]
    return {"args": " ".join(extra_args) or "(defaults: FnApiRunner, 1 worker)",
            "seconds": round(seconds, 1), "pairs": pairs,
            "files": manifest["counters"]["records_read"],
            "pairs_per_s": round(pairs / seconds, 1)}


def main() -> None:
    files = stdlib_files()
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "input": f"CPython {platform.python_version()} standard library ({STDLIB}); the "
                 "end-to-end runs mine that whole folder, its site-packages included",
        "extractor_vs_raw_parse": speed(files),
        "cpython_recall": recall(files),
        "end_to_end": [end_to_end([]),
                       end_to_end(["--direct_running_mode=multi_processing",
                                   "--direct_num_workers=0"])],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    s = results["extractor_vs_raw_parse"]
    print(f"raw tree-sitter parse: {s['raw_tree_sitter_mb_s']} MB/s; pairmill extractor: "
          f"{s['pairmill_mb_s']} MB/s; ratio {s['ratio_to_raw_parse']} (goal >= 0.6)")
    r = results["cpython_recall"]
    print(f"CPython recall: {r['seen_by_pairmill']}/{r['ast_documented_functions']} = "
          f"{r['recall_before_quality_filters']:.1%} (goal >= 90%); "
          f"{r['pairs_after_filters']} pairs, {r['pairs_without_docstring_in_code']:.2%} "
          "without their docstring in the code (goal >= 99%)")
    for e in results["end_to_end"]:
        print(f"mine code {e['args']}: {e['files']} files, {e['pairs']} pairs in {e['seconds']}s "
              f"= {e['pairs_per_s']} pairs/s")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
