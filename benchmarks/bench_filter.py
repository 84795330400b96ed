"""`pairmill filter` pairs/s on CPU, against embedding the same texts with sentence-transformers
alone (the anchor: the filter's floor is embedding every query and document once).

  python benchmarks/bench_filter.py [--pairs 2000]

Pairs: StackExchange question/answer pairs of the real sample (../shared/realdata), repeated to
--pairs with a suffix so ids differ. Results go to benchmarks/results/filter.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
RESULTS = Path(__file__).parent / "results" / "filter.json"


def _dataset(tmp: Path, n: int) -> tuple[Path, list[dict]]:
    from pairmill.cli import main
    from pairmill.dataset.output import describe_file, write_manifest
    from pairmill.schemas import PAIR_SCHEMA, Manifest, make_pair

    mined = tmp / "se"
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        assert main(["mine", "stackexchange", "--input", str(REALDATA / "stackexchange" /
                                                              "Posts.xml"), "--output", str(mined)]) == 0
    base = [r for f in mined.glob("data/stackexchange_question_answer/*.parquet")
            for r in pq.read_table(f).to_pylist()]
    rows = [make_pair(r["task"], r["query"] + ("" if i < len(base) else f" ({i // len(base)})"),
                      r["document"], "bench", str(i))
            for i, r in ((i, base[i % len(base)]) for i in range(n))]
    rows.sort(key=lambda r: r["id"])
    folder = tmp / "in"
    rel = "data/stackexchange_question_answer/part-00000.parquet"
    (folder / rel).parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=PAIR_SCHEMA), folder / rel)
    write_manifest(folder, Manifest(tasks={"stackexchange_question_answer":
                                           [describe_file(folder, rel)]}))
    return folder, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=2000)
    args = parser.parse_args()
    import torch
    from sentence_transformers import SentenceTransformer

    from pairmill.cli import main as pairmill
    from pairmill.trainer.model import default_model_path

    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        folder, rows = _dataset(Path(tmp), args.pairs)
        model = SentenceTransformer(default_model_path(), device="cpu")
        model.max_seq_length = 128
        start = time.perf_counter()
        model.encode([r["query"] for r in rows], batch_size=64)
        model.encode([r["document"] for r in rows], batch_size=64)
        anchor_s = time.perf_counter() - start
        start = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            assert pairmill(["filter", "--input", str(folder), "--output", f"{tmp}/out",
                             "--device", "cpu", "--max-length", "128"]) == 0
        filter_s = time.perf_counter() - start
        kept = json.loads(Path(tmp, "out", "manifest.json").read_text())["counters"]
    result = {"machine": f"{platform.machine()}, Python {platform.python_version()}, CPU",
              "pairs": len(rows), "sentence_transformers_embed_s": round(anchor_s, 1),
              "pairmill_filter_s": round(filter_s, 1),
              "pairmill_filter_pairs_s": round(len(rows) / filter_s, 1),
              "time_ratio": round(filter_s / anchor_s, 2),
              "kept": kept.get("pairs_kept"), "drops": kept.get("drops")}
    print(f"{len(rows)} pairs: embedding alone (sentence-transformers) {anchor_s:.1f}s; pairmill "
          f"filter {filter_s:.1f}s = {result['pairmill_filter_pairs_s']} pairs/s "
          f"({result['time_ratio']}x the embedding alone)")
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
