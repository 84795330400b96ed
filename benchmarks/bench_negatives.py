"""`pairmill negatives` against sentence-transformers' `mine_hard_negatives`, same data, same
model, same run, each tool in its own process (peak memory is the process's).

  python benchmarks/bench_negatives.py [--runs minilm:2000 tiny:100000 tiny:10000:1000000:32]

A run is MODEL:PAIRS[:CORPUS_DOCUMENTS[:MAX_TOKENS]]: with a corpus size, the PAIRS queries are
searched in a separate corpus of that many documents (the pairs' own plus real answers with a
numbered suffix: real lengths), given to pairmill as --corpus and to the anchor as `corpus=`.

Pairs: the real StackExchange sample's question/answer and title/body pairs (../shared/realdata)
repeated with a numbered suffix to reach each size, one task. Both tools embed every document
and query once with the same model (the packaged MiniLM, or `tiny`: a randomly initialised
2-layer BERT that makes large corpora feasible on a CPU; 128 tokens unless the run says), take 7
negatives per query from ranks 3..60 with a relative margin of 0.05 and sample them at random
from the window. Reported: seconds, documents and queries embedded per second (queries also
searched), peak memory, negatives written, and pairmill's ratios to the anchor. Results go to
benchmarks/results/negatives.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
RESULTS = Path(__file__).parent / "results" / "negatives.json"
PER_QUERY, RANKS, MARGIN = 7, (3, 60), 0.05


def _rows(n: int) -> list[dict]:
    import pyarrow.parquet as pq

    from pairmill.cli import main
    from pairmill.schemas import make_pair

    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(io.StringIO()), \
            contextlib.redirect_stdout(io.StringIO()):
        assert main(["mine", "stackexchange", "--input",
                     str(REALDATA / "stackexchange" / "Posts.xml"), "--output", tmp]) == 0
        base = [r for f in sorted(Path(tmp).glob("data/*/*.parquet"))
                for r in pq.read_table(f).to_pylist()]
    return [make_pair("stackexchange_question_answer",
                      r["query"] + ("" if i < len(base) else f" ({i // len(base)})"),
                      r["document"] + ("" if i < len(base) else f" ({i // len(base)})"),
                      "bench", str(i))
            for i, r in ((i, base[i % len(base)]) for i in range(n))]


def _corpus(rows: list[dict], n: int) -> list[dict]:
    from pairmill.schemas import make_pair

    extra = [make_pair(r["task"], f"corpus {i}", f"{r['document']} [{i}]", "bench", f"c{i}")
             for i, r in ((i, rows[i % len(rows)]) for i in range(n - len(rows)))]
    return rows + extra


def _write(rows: list[dict], folder: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pairmill.dataset.output import describe_file, write_manifest
    from pairmill.schemas import PAIR_SCHEMA, Manifest

    rel = "data/stackexchange_question_answer/part-00000.parquet"
    (folder / rel).parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(sorted(rows, key=lambda r: r["id"]), schema=PAIR_SCHEMA),
                   folder / rel, row_group_size=1000)
    write_manifest(folder, Manifest(tasks={"stackexchange_question_answer":
                                           [describe_file(folder, rel)]}))


def run_pairmill(folder: str, model: str, max_length: str, corpus: str, device: str) -> dict:
    # imported before the clock starts, as the anchor's are
    import transformers  # noqa: F401
    from transformers import AutoConfig, AutoModel, AutoTokenizer  # noqa: F401

    import pairmill.dataset.minhash  # noqa: F401
    import pairmill.trainer.negatives  # noqa: F401  # noqa: F401
    from pairmill.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            assert main(["negatives", "--input", folder, "--output", f"{tmp}/out", "--device",
                         device, "--model", model, "--per-query", str(PER_QUERY), "--rank-range",
                         f"{RANKS[0]}:{RANKS[1]}", "--margin", str(MARGIN), "--max-length",
                         max_length, *(["--corpus", corpus] if corpus else [])]) == 0
        seconds = time.perf_counter() - start
        notes = json.loads(Path(tmp, "out", "manifest.json").read_text())["counts"]
    written = sum(c["n"] for c in notes if c["reason"] == "negatives_written")
    return {"seconds": seconds, "negatives": written}


def run_anchor(folder: str, model_path: str, max_length: str, corpus: str, device: str) -> dict:
    import pyarrow.parquet as pq
    import torch
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util import mine_hard_negatives

    torch.set_num_threads(torch.get_num_threads())
    table = pq.read_table(next(Path(folder).glob("data/*/*.parquet")), columns=["query", "document"])
    start = time.perf_counter()
    model = SentenceTransformer(model_path, device=device)
    model.max_seq_length = int(max_length)
    dataset = Dataset.from_dict({"query": table.column("query").to_pylist(),
                                 "document": table.column("document").to_pylist()})
    documents = pq.read_table(next(Path(corpus).glob("data/*/*.parquet")),
                              columns=["document"]).column("document").to_pylist() if corpus else None
    with contextlib.redirect_stderr(io.StringIO()):
        mined = mine_hard_negatives(dataset, model, corpus=documents,
                                    range_min=RANKS[0], range_max=RANKS[1],
                                    relative_margin=MARGIN, num_negatives=PER_QUERY,
                                    sampling_strategy="random", output_format="n-tuple",
                                    batch_size=64, verbose=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows_with_negatives": len(mined), "negatives": sum(
        1 for row in mined for k, v in row.items() if k.startswith("negative") and v)}


def child(tool: str, folder: str, model: str, max_length: str, corpus: str, device: str) -> None:
    result = (run_pairmill if tool == "pairmill" else run_anchor)(folder, model, max_length,
                                                                  corpus, device)
    result["peak_memory_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=["minilm:2000"], metavar="MODEL:PAIRS",
                        help="minilm or tiny, and the number of pairs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--pairmill-only", action="store_true",
                        help="skip the anchor (for sizes it does not finish in reasonable time)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.device)
        return
    from bench_beir import make_tiny

    from pairmill.trainer.model import default_model_path
    results = {"machine": f"{platform.machine()}, Python {platform.python_version()}, "
                          f"{args.device}", "per_query": PER_QUERY, "rank_range": list(RANKS),
               "relative_margin": MARGIN, "sizes": []}
    for run in args.runs:
        name, pairs, *rest = run.split(":")
        n = int(pairs)
        corpus_size = int(rest[0]) if rest else 0
        max_length = rest[1] if len(rest) > 1 else "128"
        with tempfile.TemporaryDirectory() as tmp:
            model = make_tiny(Path(tmp)) if name == "tiny" else default_model_path()
            rows = _rows(n)
            _write(rows, Path(tmp, "data"))
            if corpus_size:
                _write(_corpus(rows, corpus_size), Path(tmp, "corpus"))
            row = {"model": "tiny BERT" if name == "tiny" else "all-MiniLM-L6-v2", "pairs": n,
                   "corpus_documents": corpus_size or n, "max_tokens": int(max_length)}
            for tool in ("pairmill",) if args.pairmill_only else ("sentence_transformers",
                                                                   "pairmill"):
                done = subprocess.run([sys.executable, __file__, "--device", args.device,
                                       "--child", tool, f"{tmp}/data", model, max_length,
                                       f"{tmp}/corpus" if corpus_size else ""], check=True,
                                      capture_output=True, text=True)
                measured = json.loads(done.stdout.strip().splitlines()[-1])
                # each tool embeds the corpus and n queries, and searches n queries
                measured["documents_and_queries_per_s"] = round(
                    (row["corpus_documents"] + n) / measured["seconds"], 1)
                measured["seconds"] = round(measured["seconds"], 1)
                measured["peak_memory_mb"] = round(measured["peak_memory_mb"])
                row[tool] = measured
            if not args.pairmill_only:
                row["time_ratio"] = round(row["pairmill"]["seconds"]
                                          / row["sentence_transformers"]["seconds"], 2)
                row["memory_ratio"] = round(row["pairmill"]["peak_memory_mb"]
                                            / row["sentence_transformers"]["peak_memory_mb"], 2)
        results["sizes"].append(row)
        p = row["pairmill"]
        line = (f"{row['model']}, {n:,} queries, {row['corpus_documents']:,} documents: "
                f"pairmill negatives {p['seconds']}s, {p['peak_memory_mb']} MB")
        if not args.pairmill_only:
            a = row["sentence_transformers"]
            line += (f"; mine_hard_negatives {a['seconds']}s, {a['peak_memory_mb']} MB "
                     f"(time ×{row['time_ratio']}, memory ×{row['memory_ratio']})")
        print(line, flush=True)
        # after each run (a long one may stop), beside the figures of earlier runs of the script
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
