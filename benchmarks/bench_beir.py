"""`pairmill eval --beir` against sentence-transformers' InformationRetrievalEvaluator.

  python benchmarks/bench_beir.py [--sizes 10000,100000,1000000] [--queries 1000]
                                  [--models tiny,minilm] [--minilm-max 10000]

A synthetic BEIR folder per size (document lengths drawn from the real StackExchange answers
when ../shared/realdata is there, else a log-normal of the same median), 1,000 queries with one
to three graded relevant documents. Each (tool, model, size) runs in its own process, so the peak
RSS is its own; both tools embed the same texts with the same model and max length and score
exactly. `tiny` is a randomly initialised 2-layer BERT (what makes a million documents feasible
on two cores; speed needs no trained weights); `minilm` is the packaged all-MiniLM-L6-v2.
Results go to benchmarks/results/beir.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "beir.json"
REALDATA = ROOT.parent / "shared" / "realdata"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _lengths(n: int, rng) -> list[int]:
    """Words per document, from the real answers' lengths when the sample is here."""
    import numpy as np

    posts = REALDATA / "stackexchange" / "Posts.xml"
    if posts.is_file():
        bodies = re.findall(rb'PostTypeId="2"[^>]*Body="([^"]*)"', posts.read_bytes())
        real = [len(re.sub(rb"&lt;.*?&gt;|&[a-z]+;", b" ", b).split()) for b in bodies]
        return [int(x) for x in rng.choice(real, n)]
    return [max(3, int(x)) for x in rng.lognormal(np.log(60), 0.8, n)]


def make_set(folder: Path, size: int, queries: int) -> Path:
    import numpy as np

    if (folder / "qrels" / "test.tsv").exists():
        return folder
    rng = np.random.default_rng(size)
    vocab = [f"w{i}" for i in range(20_000)]
    (folder / "qrels").mkdir(parents=True)
    judged = {q: [int(d) for d in rng.choice(size, int(rng.integers(1, 4)), replace=False)]
              for q in range(queries)}
    source_of: dict[int, list[int]] = {}  # a query's words come from its first relevant doc
    for q, docs in judged.items():
        source_of.setdefault(docs[0], []).append(q)
    query_words: dict[int, list[str]] = {}
    with open(folder / "corpus.jsonl", "w") as out:
        for i, n in enumerate(_lengths(size, rng)):
            words = [vocab[w] for w in rng.integers(0, len(vocab), n)]
            for q in source_of.get(i, ()):
                query_words[q] = [words[j] for j in rng.integers(0, len(words), 8)]
            out.write(json.dumps({"_id": f"d{i}", "title": "", "text": " ".join(words)}) + "\n")
    qrels = ["query-id\tcorpus-id\tscore"]
    with open(folder / "queries.jsonl", "w") as out:
        for q, docs in judged.items():
            out.write(json.dumps({"_id": f"q{q}", "text": " ".join(query_words[q])}) + "\n")
            qrels += [f"q{q}\td{d}\t{2 if k == 0 else 1}" for k, d in enumerate(docs)]
    (folder / "qrels" / "test.tsv").write_text("\n".join(qrels) + "\n")
    return folder


def make_tiny(root: Path) -> str:
    from transformers import AutoTokenizer, BertConfig, BertModel

    from pairmill.trainer.model import default_model_path

    path = root / "tiny-bert"
    if not path.exists():
        import torch

        torch.manual_seed(0)
        tokenizer = AutoTokenizer.from_pretrained(default_model_path())
        BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=2,
                             num_attention_heads=2, intermediate_size=128,
                             max_position_embeddings=512)).save_pretrained(path)
        tokenizer.save_pretrained(path)
    return str(path)


def run_pairmill(folder: str, model: str, max_length: int) -> dict:
    from pairmill.trainer.evaluate import evaluate_beir

    report = evaluate_beir(model, [folder], max_length=max_length, device="cpu")
    return next(iter(report["sets"].values()))


def run_st(folder: str, model: str, max_length: int) -> dict:
    from sentence_transformers import SentenceTransformer, models
    from sentence_transformers.evaluation import InformationRetrievalEvaluator

    from pairmill.schemas.beir import beir_text, iter_jsonl, read_qrels

    if Path(model, "modules.json").exists():
        st = SentenceTransformer(model, device="cpu")
    else:  # a bare transformers folder: mean pooling, normalised, as pairmill embeds it
        word = models.Transformer(model, max_seq_length=max_length)
        st = SentenceTransformer(modules=[word, models.Pooling(word.get_word_embedding_dimension()),
                                          models.Normalize()], device="cpu")
    st.max_seq_length = max_length
    qrels = read_qrels(f"{folder}/qrels/test.tsv")
    corpus = {r["_id"]: beir_text(r) for r in iter_jsonl(f"{folder}/corpus.jsonl")}
    queries = {r["_id"]: r["text"] for r in iter_jsonl(f"{folder}/queries.jsonl")}
    relevant = {q: {d for d, g in docs.items() if g > 0} for q, docs in qrels.items()}
    evaluator = InformationRetrievalEvaluator(
        queries, corpus, relevant, mrr_at_k=[10], ndcg_at_k=[10], accuracy_at_k=[1],
        precision_recall_at_k=[10, 100], map_at_k=[100], show_progress_bar=False,
        batch_size=64)
    result = evaluator(st)
    key = lambda m: next(v for k, v in result.items() if k.endswith(m))  # noqa: E731
    return {"ndcg@10": key("ndcg@10"), "recall@100": key("recall@100")}


def child(tool: str, folder: str, model: str, max_length: int) -> None:
    import resource

    started = time.perf_counter()
    figures = (run_pairmill if tool == "pairmill" else run_st)(folder, model, max_length)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": round(seconds, 1), "peak_mb": round(peak_mb),
                      "ndcg@10": round(figures["ndcg@10"], 4)}))


def measure(tool: str, folder: Path, model: str, max_length: int, size: int, queries: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", tool, str(folder), model,
                          str(max_length)], capture_output=True, text=True, check=True)
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["docs_per_s"] = round(size / row["seconds"], 1)
    row["queries_per_s"] = round(queries / row["seconds"], 1)
    return row


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--models", default="tiny,minilm")
    parser.add_argument("--minilm-max", type=int, default=10_000,
                        help="largest corpus the (slow on CPU) MiniLM runs on")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--work", default=None, help="folder for the generated sets (kept)")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} cores"
    work = Path(args.work or tempfile.mkdtemp(prefix="pairmill-beir-bench-"))
    from pairmill.trainer.model import default_model_path

    models = {"tiny": make_tiny(work), "minilm": default_model_path()}
    for size in (int(s) for s in args.sizes.split(",")):
        folder = make_set(work / f"set-{size}", size, args.queries)
        for name in args.models.split(","):
            if name == "minilm" and size > args.minilm_max:
                continue
            row = {tool: measure(tool, folder, models[name], args.max_length, size, args.queries)
                   for tool in ("pairmill", "sentence-transformers")}
            ours, anchor = row["pairmill"], row["sentence-transformers"]
            row["max_length"] = args.max_length
            row["time_ratio"] = round(ours["seconds"] / anchor["seconds"], 2)
            row["memory_ratio"] = round(ours["peak_mb"] / anchor["peak_mb"], 2)
            results[f"{name}@{size}"] = row
            print(f"{name} model, {size:,} documents, {args.queries:,} queries, "
                  f"{args.max_length} tokens:\n"
                  f"  pairmill              {ours['seconds']:>8} s  {ours['docs_per_s']:>9} docs/s  "
                  f"{ours['peak_mb']:>6} MB  nDCG@10 {ours['ndcg@10']}\n"
                  f"  InformationRetrievalEvaluator {anchor['seconds']:>8} s  "
                  f"{anchor['docs_per_s']:>9} docs/s  {anchor['peak_mb']:>6} MB  "
                  f"nDCG@10 {anchor['ndcg@10']}\n"
                  f"  time ratio {row['time_ratio']}, memory ratio {row['memory_ratio']}",
                  flush=True)
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
