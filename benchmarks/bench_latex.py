"""LaTeX fast path: `extract_arxiv_record` with it against the pylatexenc-only path, same run.

  python benchmarks/bench_latex.py [--input FILE.jsonl ...] [--repeat 3]

For the real sample (../shared/realdata/arxiv, 200 records) and each extra snapshot-style JSON-lines
file: every record goes through the extractor twice, once as shipped (fast path, pylatexenc where it
declines) and once with `latex_to_text` patched back to pylatexenc alone; the outputs (pairs, drops,
dead letters) must be identical on every record. Reported per input: records, texts with LaTeX, the
share the fast path answers (texts pylatexenc raises on, `\\href`, count: the fast path knows and
keeps the raw text as textnorm does), mismatches (0 expected), records/s of both paths (best of
--repeat on one core) and their ratio. Results go to benchmarks/results/latex.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path
from unittest import mock

RESULTS = Path(__file__).parent / "results" / "latex.json"
SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "arxiv" / \
    "arxiv-metadata-oai-snapshot.sample.jsonl"


def _run(lines: list[bytes], extract) -> tuple[float, list]:
    started = time.perf_counter()
    out = [extract(line, f"bench:{i}") for i, line in enumerate(lines)]
    return time.perf_counter() - started, out


def measure(path: Path, repeat: int) -> dict:
    from pairmill.extractors.text import arxiv, latex

    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    texts = []
    for line in lines:
        record = json.loads(line)
        texts += [str(record.get("title") or ""), str(record.get("abstract") or "")]
    with_latex = [t for t in texts if latex._LATEX_HINT.search(t)]
    tables = latex._fast_tables()
    converted = [latex._convert(t, tables) for t in with_latex]
    answered = sum(c is not None for c in converted)  # pylatexenc not called for these
    raises = sum(c is latex._RAISES for c in converted)  # of which pylatexenc would raise (\href)
    fast_s, slow_s = [], []
    mismatches = 0
    for round_ in range(repeat):
        seconds, fast = _run(lines, arxiv.extract_arxiv_record)
        fast_s.append(seconds)
        with mock.patch.object(arxiv, "latex_to_text", latex.pylatexenc_latex_to_text):
            seconds, slow = _run(lines, arxiv.extract_arxiv_record)
        slow_s.append(seconds)
        if round_ == 0:
            mismatches = sum(a.pairs != b.pairs or a.drops != b.drops or a.dead_letters != b.dead_letters
                             for a, b in zip(fast, slow, strict=True))
    fast_rate, slow_rate = len(lines) / min(fast_s), len(lines) / min(slow_s)
    return {"records": len(lines), "texts": len(texts), "texts_with_latex": len(with_latex),
            "fast_path_answered": answered, "of_which_pylatexenc_raises": raises,
            "fast_path_share": round(answered / max(1, len(with_latex)), 4),
            "records_not_identical": mismatches,
            "pylatexenc_only_records_per_s": round(slow_rate, 1),
            "fast_path_records_per_s": round(fast_rate, 1),
            "speedup": round(fast_rate / slow_rate, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", nargs="*", default=[], help="extra snapshot-style JSON-lines files")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)  # pylatexenc logs every parse error it forgives
    from pairmill.extractors.text.latex import fast_latex_to_text

    fast_latex_to_text(r"warm $\alpha$")  # tables and self-check: once per process, not timed
    inputs = ([SAMPLE] if SAMPLE.exists() else []) + [Path(p) for p in args.input]
    results = {"machine": f"{platform.machine()}, Python {platform.python_version()}, one core",
               "inputs": {}}
    for path in inputs:
        name = "realdata sample" if path == SAMPLE else path.name
        results["inputs"][name] = measure(path, args.repeat if path == SAMPLE else 1)
        print(name, json.dumps(results["inputs"][name]), flush=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all(r["records_not_identical"] == 0 for r in results["inputs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
