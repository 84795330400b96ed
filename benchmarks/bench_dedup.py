"""MinHash signature throughput and end-to-end dedup, against datasketch (and rensa).

  python benchmarks/bench_dedup.py [--docs 20000] [--pairs 200000 1000000] [--only-pairmill 5000000]

1. Signatures on one core, shingling included, for the same ~1.5 KB documents (chunks of the
   CPython standard library's source): datasketch `MinHash.update_batch` (the anchor),
   `MinHash.bulk`, rensa `RMinHash` when installed, and pairmill's batched numpy signatures.
2. `pairmill dedup` on a generated pairs dataset with planted near duplicates: wall time and peak
   memory, against a plain datasketch `MinHashLSH` script (insert, query, keep first) on the
   same pairs, each in its own process, at each size of --pairs; --only-pairmill sizes run
   pairmill alone (the script's index would not fit, or would take hours).
Results go to benchmarks/results/dedup.json; figures of earlier versions (`before`) are kept.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "dedup.json"
_WORD = re.compile(r"\w+")


def word_shingles(text: str, n: int = 5) -> list[bytes]:
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return [" ".join(words).encode()] if words else []
    return [" ".join(words[i:i + n]).encode() for i in range(len(words) - n + 1)]


def stdlib_documents(count: int, size: int = 1500) -> list[str]:
    docs = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
        text = path.read_text(errors="replace")
        docs.extend(text[i:i + size] for i in range(0, len(text) - size, size))
        if len(docs) >= count:
            break
    return docs[:count]


def signature_speed(docs: list[str]) -> dict:
    from datasketch import MinHash

    from pairmill.dataset.minhash import signatures

    out = {"documents": len(docs), "mean_bytes": int(np.mean([len(d) for d in docs]))}

    def rate(fn) -> float:
        start = time.perf_counter()
        fn()
        return round(len(docs) / (time.perf_counter() - start), 1)

    def update_batch():
        for doc in docs:
            m = MinHash(num_perm=128)
            m.update_batch(word_shingles(doc))

    out["datasketch_update_batch_docs_s"] = rate(update_batch)
    out["datasketch_bulk_docs_s"] = rate(
        lambda: MinHash.bulk([word_shingles(d) for d in docs], num_perm=128))
    try:
        from rensa import RMinHash

        def rensa_run():
            for doc in docs:
                m = RMinHash(num_perm=128, seed=42)
                m.update([s.decode() for s in word_shingles(doc)])

        out["rensa_docs_s"] = rate(rensa_run)
    except ImportError:
        out["rensa_docs_s"] = None
    out["pairmill_docs_s"] = rate(
        lambda: [signatures(docs[i:i + 1000]) for i in range(0, len(docs), 1000)])
    out["pairmill_vs_update_batch"] = round(
        out["pairmill_docs_s"] / out["datasketch_update_batch_docs_s"], 2)
    return out


def make_pairs_dataset(folder: Path, n: int, seed: int = 5) -> None:
    """n pairs (8-word query, 60-word document); 10% are edited copies of another pair."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pairmill.dataset.output import describe_file, write_manifest
    from pairmill.schemas import PAIR_SCHEMA, Manifest, pair_id

    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(50_000)])
    words = vocab[rng.zipf(1.2, size=(n, 68)) % len(vocab)]
    copies = rng.random(n) < 0.1
    source = rng.integers(0, n, size=n)
    words[copies] = words[source[copies]]
    edits = rng.integers(0, 68, size=(n, 2))
    words[copies, edits[copies, 0]] = "edited"
    rel = "data/web_title_body/part-00000.parquet"
    (folder / rel).parent.mkdir(parents=True)
    writer = pq.ParquetWriter(folder / rel, PAIR_SCHEMA)
    for start in range(0, n, 100_000):
        rows = []
        for i in range(start, min(n, start + 100_000)):
            q, d = " ".join(words[i, :8]), " ".join(words[i, 8:])
            rows.append({"id": pair_id("web_title_body", q, d), "task": "web_title_body",
                         "query": q, "document": d, "source": "bench", "origin": str(i)})
        writer.write_table(pa.Table.from_pylist(rows, schema=PAIR_SCHEMA), row_group_size=1000)
    writer.close()
    write_manifest(folder, Manifest(tasks={"web_title_body": [describe_file(folder, rel)]}))


def child(mode: str, dataset: str, output: str) -> None:
    """Runs in its own process so that its peak RSS is its own."""
    start = time.perf_counter()
    if mode == "pairmill":
        from pairmill.cli import main

        extra = ["--direct_running_mode=multi_processing", "--direct_num_workers=0"] \
            if os.environ.get("BENCH_MULTI") else []
        rc = main(["dedup", "--input", dataset, "--output", output, *extra])
        assert rc == 0
        kept = json.loads(Path(output, "manifest.json").read_text())["counters"]["pairs_kept"]
    else:
        import pyarrow.parquet as pq
        from datasketch import MinHash, MinHashLSH

        lsh = MinHashLSH(threshold=0.8, num_perm=128)
        kept = 0
        parquet = pq.ParquetFile(next(Path(dataset).glob("data/*/*.parquet")))
        for g in range(parquet.num_row_groups):
            for row in parquet.read_row_group(g, columns=["id", "query", "document"]).to_pylist():
                m = MinHash(num_perm=128)
                m.update_batch(word_shingles(row["query"] + "\n" + row["document"]))
                if not lsh.query(m):
                    lsh.insert(row["id"], m)
                    kept += 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak += resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"seconds": round(time.perf_counter() - start, 1), "kept": kept,
                      "peak_rss_mb": round(peak / 1024)}))


def end_to_end(n: int, modes: tuple[str, ...] = ("datasketch", "pairmill")) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        dataset = Path(tmp, "in")
        make_pairs_dataset(dataset, n)
        out: dict = {"pairs": n}
        for mode in modes:
            proc = subprocess.run([sys.executable, __file__, "--child", mode, str(dataset),
                                   str(Path(tmp, f"out-{mode}"))],
                                  capture_output=True, text=True, check=True)
            out[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    if "datasketch" in out:
        out["speedup"] = round(out["datasketch"]["seconds"] / out["pairmill"]["seconds"], 2)
        out["memory_ratio"] = round(out["pairmill"]["peak_rss_mb"]
                                    / out["datasketch"]["peak_rss_mb"], 2)
    return out


def show(e: dict) -> None:
    p = e["pairmill"]
    line = (f"dedup of {e['pairs']} pairs: pairmill dedup (FnApiRunner) {p['seconds']}s, "
            f"{p['peak_rss_mb']} MB peak, kept {p['kept']}")
    if "datasketch" in e:
        d = e["datasketch"]
        line += (f"; datasketch MinHashLSH script {d['seconds']}s, {d['peak_rss_mb']} MB peak, "
                 f"kept {d['kept']}: {e['speedup']}x faster, {e['memory_ratio']}x the memory")
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--pairs", type=int, nargs="*", default=[200_000, 1_000_000])
    parser.add_argument("--only-pairmill", type=int, nargs="*", default=[])
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                          f"Python {platform.python_version()}",
               "signatures_one_core": signature_speed(stdlib_documents(args.docs))}
    if "before" in previous:
        results["before"] = previous["before"]
    s = results["signatures_one_core"]
    print(f"signatures, {s['documents']} docs of ~{s['mean_bytes']} B, shingling included: "
          f"datasketch update_batch {s['datasketch_update_batch_docs_s']}/s, bulk "
          f"{s['datasketch_bulk_docs_s']}/s, rensa {s['rensa_docs_s']}/s, pairmill "
          f"{s['pairmill_docs_s']}/s = {s['pairmill_vs_update_batch']}x update_batch (goal 10x)")
    results["end_to_end"] = []
    for n in args.pairs:
        results["end_to_end"].append(end_to_end(n))
        show(results["end_to_end"][-1])
    for n in args.only_pairmill:
        results["end_to_end"].append(end_to_end(n, ("pairmill",)))
        show(results["end_to_end"][-1])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
