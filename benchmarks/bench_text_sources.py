"""Text-source throughput: records/s and MB/s per core, extractor alone and `pairmill mine` end to end.

  python benchmarks/bench_text_sources.py [--records 50000]

arxiv: the real 200-line snapshot sample from ../shared/realdata when present (else generated
lines with LaTeX in them), repeated with fresh ids up to --records lines, written as one .jsonl.
The anchor is `json.loads` of the same lines (the least any JSON-lines source must spend).
Results go to benchmarks/results/text_sources.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "text_sources.json"
SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "arxiv" / \
    "arxiv-metadata-oai-snapshot.sample.jsonl"


def arxiv_lines(n: int) -> tuple[list[bytes], str]:
    if SAMPLE.exists():
        base = [json.loads(line) for line in SAMPLE.open(encoding="utf-8")]
        origin = "real sample, repeated"
    else:
        base = [{"id": "0", "title": r"On $(k,\ell)$-sparse graphs of Erd\H{o}s", "categories": "math.CO",
                 "abstract": r"We study \emph{sparse} graphs and prove a bound of $O(n^2)$ " * 8}]
        origin = "generated"
    lines = []
    for i in range(n):
        record = dict(base[i % len(base)], id=f"bench.{i:07d}")
        lines.append(json.dumps(record).encode())
    return lines, origin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    args = parser.parse_args()
    from pairmill.cli import main as pairmill
    from pairmill.extractors.text import extract_arxiv_record

    lines, origin = arxiv_lines(args.records)
    megabytes = sum(len(line) + 1 for line in lines) / 1e6

    started = time.perf_counter()
    for line in lines:
        json.loads(line)
    anchor = time.perf_counter() - started

    started = time.perf_counter()
    pairs = sum(len(extract_arxiv_record(line, f"bench:{i}").pairs) for i, line in enumerate(lines))
    extractor = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "arxiv.jsonl")
        path.write_bytes(b"\n".join(lines) + b"\n")
        started = time.perf_counter()
        code = pairmill(["mine", "arxiv", "--input", str(path), "--output", str(Path(tmp, "out"))])
        pipeline = time.perf_counter() - started
        if code:
            sys.exit("pairmill mine arxiv failed")

    result = {
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "arxiv": {
            "input": origin, "records": len(lines), "megabytes": round(megabytes, 1), "pairs": pairs,
            "json_loads_records_per_s": round(len(lines) / anchor),
            "extractor_records_per_s": round(len(lines) / extractor),
            "extractor_mb_per_s": round(megabytes / extractor, 2),
            "pipeline_records_per_s": round(len(lines) / pipeline),
            "pipeline_mb_per_s": round(megabytes / pipeline, 2),
            "pipeline_seconds": round(pipeline, 1),
        },
    }
    arxiv = result["arxiv"]
    print(f"arxiv: {arxiv['records']:,} records, {arxiv['megabytes']} MB ({origin})")
    print(f"  json.loads (anchor)   {arxiv['json_loads_records_per_s']:>10,} records/s")
    print(f"  extractor, one core   {arxiv['extractor_records_per_s']:>10,} records/s "
          f"{arxiv['extractor_mb_per_s']:>6} MB/s")
    print(f"  mine arxiv, 1 worker  {arxiv['pipeline_records_per_s']:>10,} records/s "
          f"{arxiv['pipeline_mb_per_s']:>6} MB/s (pipeline / extractor "
          f"{extractor / pipeline:.2f})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
