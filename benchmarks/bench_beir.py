"""`pairmill eval --beir` against MTEB's published figures and sentence-transformers'
InformationRetrievalEvaluator, on public BEIR sets and on synthetic corpora.

  python benchmarks/bench_beir.py --beir DIR [DIR ...]        public sets, default flags
  python benchmarks/bench_beir.py --sizes 10000,100000 [--models tiny,minilm]   synthetic

Public sets (`--beir`): BEIR folders (corpus.jsonl, queries.jsonl, qrels/test.tsv) named as BEIR
names them (scifact, nfcorpus, arguana, scidocs). Get them from BEIR's public distribution
(the `<name>.zip` of each dataset) or from a public repository that keeps its files, and keep
them outside the repository (for example /work/benchdata/scifact). For each set, the packaged
all-MiniLM-L6-v2 is evaluated by `evaluate_beir` with its defaults and by
InformationRetrievalEvaluator with its defaults (the model's max_seq_length, batch size 32, both
on the CPU), each in its own process; pairmill's nDCG@10 is set beside the figure MTEB publishes
for the model (embeddings-benchmark/results, PUBLISHED below) and its time beside the
evaluator's, measured in the same run.

Synthetic corpora (`--sizes`): a BEIR folder per size (document lengths drawn from the real
StackExchange answers when ../shared/realdata is there, else a log-normal of the same median),
1,000 queries with one to three graded relevant documents; `tiny` is a randomly initialised
2-layer BERT (what makes a million documents feasible on two cores), `minilm` the packaged
all-MiniLM-L6-v2. Results go to benchmarks/results/beir.json.
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

# nDCG@10 (test split) of sentence-transformers/all-MiniLM-L6-v2 as MTEB publishes it:
# embeddings-benchmark/results, results/sentence-transformers__all-MiniLM-L6-v2/
# 8b3219a92973c328a8e22fadcfa821b5dc75636a/<Task>.json (mteb 1.12.75), scores.test[0].ndcg_at_10
PUBLISHED = {"SciFact": 0.64508, "NFCorpus": 0.31594, "ArguAna": 0.50167, "SCIDOCS": 0.21641,
             "FiQA2018": 0.36867, "TRECCOVID": 0.47232, "Touche2020": 0.16904,
             # same folder, MBPPRetrieval.json (mteb 1.38.43, dataset embedding-benchmark/MBPP at
             # 586a1fd6a0c63fdeda3b49c0293559a81c79cdec; results commit 2f3dc9372). Not a BEIR set:
             # rebuild it from MBPP's mbpp.jsonl (query = `text`, document = `code`.strip(), one
             # relevant document per query) into a folder named MBPPRetrieval.
             "MBPPRetrieval": 0.74596}


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


def run_pairmill(folder: str, model: str, max_length: int | None) -> dict:
    from pairmill.trainer.evaluate import evaluate_beir

    report = evaluate_beir(model, [folder], max_length=max_length, device="cpu", progress=False)
    row = next(iter(report["sets"].values()))
    return {"ndcg@10": row["ndcg@10"], "recall@100": row["recall@100"],
            "max_length": report["max_length"]}


def run_st(folder: str, model: str, max_length: int | None) -> dict:
    """InformationRetrievalEvaluator with its defaults (batch 32, the model's own length)."""
    from sentence_transformers import SentenceTransformer, models

    try:
        from sentence_transformers.sentence_transformer.evaluation import (
            InformationRetrievalEvaluator,
        )
    except ImportError:  # sentence-transformers before 6
        from sentence_transformers.evaluation import InformationRetrievalEvaluator

    from pairmill.schemas.beir import beir_text, iter_jsonl, read_qrels

    if Path(model, "modules.json").exists():
        st = SentenceTransformer(model, device="cpu")
    else:  # a bare transformers folder: mean pooling, normalised, as pairmill embeds it
        word = models.Transformer(model, max_seq_length=max_length)
        st = SentenceTransformer(modules=[word, models.Pooling(word.get_word_embedding_dimension()),
                                          models.Normalize()], device="cpu")
    if max_length is not None:
        st.max_seq_length = max_length
    qrels = read_qrels(f"{folder}/qrels/test.tsv")
    corpus = {r["_id"]: beir_text(r) for r in iter_jsonl(f"{folder}/corpus.jsonl")}
    queries = {r["_id"]: r["text"] for r in iter_jsonl(f"{folder}/queries.jsonl") if r["_id"] in qrels}
    relevant = {q: {d for d, g in docs.items() if g > 0} for q, docs in qrels.items()}
    evaluator = InformationRetrievalEvaluator(
        queries, corpus, relevant, mrr_at_k=[10], ndcg_at_k=[10], accuracy_at_k=[1],
        precision_recall_at_k=[10, 100], map_at_k=[100], show_progress_bar=False)
    result = evaluator(st)
    key = lambda m: next(v for k, v in result.items() if k.endswith(m))  # noqa: E731
    return {"ndcg@10": key("ndcg@10"), "recall@100": key("recall@100"),
            "max_length": st.max_seq_length}


def child(tool: str, folder: str, model: str, max_length: str) -> None:
    import resource

    length = None if max_length == "model" else int(max_length)
    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    started, cpu_started = time.perf_counter(), cpu()
    figures = (run_pairmill if tool == "pairmill" else run_st)(folder, model, length)
    seconds, cpu_seconds = time.perf_counter() - started, cpu() - cpu_started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1),
                      "peak_mb": round(peak_mb), "ndcg@10": round(figures["ndcg@10"], 5),
                      "max_length": figures["max_length"]}))


def _child(tool: str, folder: Path, model: str, max_length: int | None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--child", tool, str(folder), model,
                             str(max_length or "model")], stdout=subprocess.PIPE, text=True)


def _result(process: subprocess.Popen) -> dict:
    out, _ = process.communicate()
    if process.returncode:
        raise RuntimeError(f"a benchmark child failed ({process.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def measure(tool: str, folder: Path, model: str, max_length: int | None) -> dict:
    return _result(_child(tool, folder, model, max_length))


def public(folders: list[str], results: dict, order: str, label: str | None = None) -> None:
    """Each public set: pairmill and InformationRetrievalEvaluator, defaults, same process
    conditions (one child process each, run back to back)."""
    from pairmill.schemas.beir import count_records, read_qrels
    from pairmill.trainer.model import default_model_path
    from pairmill.trainer.mteb_results import task_name

    model = default_model_path()
    tools = ("pairmill", "sentence-transformers")
    for folder in folders:
        task = task_name(Path(folder).name)
        if order == "together":  # same moment, same load: what a busy shared machine allows
            running = {tool: _child(tool, Path(folder), model, None) for tool in tools}
            row = {tool: _result(p) for tool, p in running.items()}
        else:
            row = {tool: measure(tool, Path(folder), model, None)
                   for tool in (tools if order == "pairmill-first" else tools[::-1])}
        ours, anchor = row["pairmill"], row["sentence-transformers"]
        if label:  # a part of a public set (a speed check): no published figure applies
            task = label
        row["mteb_published_ndcg@10"] = PUBLISHED.get(task)
        row["ndcg_gap_to_mteb"] = (round(ours["ndcg@10"] - PUBLISHED[task], 5)
                                   if task in PUBLISHED else None)
        row["time_ratio"] = round(ours["seconds"] / anchor["seconds"], 2)
        row["cpu_time_ratio"] = round(ours["cpu_seconds"] / anchor["cpu_seconds"], 2)
        row["order"] = order
        results.setdefault("public", {})[task] = row
        docs = count_records(str(Path(folder) / "corpus.jsonl"))
        row["documents"], row["queries"] = docs, len(read_qrels(str(Path(folder) / "qrels" / "test.tsv")))
        print(f"{task} ({Path(folder).name}, {docs:,} documents), all-MiniLM-L6-v2, default flags:\n"
              f"  nDCG@10  pairmill {ours['ndcg@10']:.5f}   MTEB published "
              f"{PUBLISHED.get(task, float('nan')):.5f}   InformationRetrievalEvaluator "
              f"{anchor['ndcg@10']:.5f}\n"
              f"  time     pairmill {ours['seconds']} s   InformationRetrievalEvaluator "
              f"{anchor['seconds']} s   ratio {row['time_ratio']} (CPU time ratio "
              f"{row['cpu_time_ratio']})\n"
              f"  max length pairmill {ours['max_length']}, sentence-transformers "
              f"{anchor['max_length']}", flush=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")


def synthetic(args, results: dict) -> None:
    from pairmill.trainer.model import default_model_path

    work = Path(args.work or tempfile.mkdtemp(prefix="pairmill-beir-bench-"))
    models = {"tiny": make_tiny(work), "minilm": default_model_path()}
    for size in (int(s) for s in args.sizes.split(",")):
        folder = make_set(work / f"set-{size}", size, args.queries)
        for name in args.models.split(","):
            if name == "minilm" and size > args.minilm_max:
                continue
            row = {tool: measure(tool, folder, models[name], args.max_length)
                   for tool in ("pairmill", "sentence-transformers")}
            ours, anchor = row["pairmill"], row["sentence-transformers"]
            for r in (ours, anchor):
                r["docs_per_s"] = round(size / r["seconds"], 1)
            row["max_length"] = args.max_length
            row["time_ratio"] = round(ours["seconds"] / anchor["seconds"], 2)
            row["memory_ratio"] = round(ours["peak_mb"] / anchor["peak_mb"], 2)
            results[f"{name}@{size}"] = row
            print(f"{name} model, {size:,} documents, {args.queries:,} queries, "
                  f"{args.max_length} tokens: pairmill {ours['seconds']} s, "
                  f"InformationRetrievalEvaluator {anchor['seconds']} s, time ratio "
                  f"{row['time_ratio']}, memory ratio {row['memory_ratio']}", flush=True)
            RESULTS.write_text(json.dumps(results, indent=2) + "\n")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beir", nargs="+", default=[], metavar="DIR",
                        help="public BEIR folders (see the module docstring for where to get them)")
    parser.add_argument("--order", choices=("pairmill-first", "evaluator-first", "together"),
                        default="pairmill-first",
                        help="which tool runs first on each set, or both at once (on a machine "
                             "shared with other work: both see the same load)")
    parser.add_argument("--label", default=None,
                        help="record the (one) --beir folder under this name instead of its MTEB "
                             "task, with no published figure: for a part of a public set")
    parser.add_argument("--sizes", default="", help="synthetic corpus sizes, e.g. 10000,100000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--models", default="tiny,minilm")
    parser.add_argument("--minilm-max", type=int, default=10_000,
                        help="largest synthetic corpus the (slow on CPU) MiniLM runs on")
    parser.add_argument("--max-length", type=int, default=128, help="synthetic runs only")
    parser.add_argument("--work", default=None, help="folder for the generated sets (kept)")
    args = parser.parse_args()
    if not args.beir and not args.sizes:
        parser.error("give --beir DIR... and/or --sizes N,...")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} cores"
    if args.beir:
        public(args.beir, results, args.order, args.label)
    if args.sizes:
        synthetic(args, results)


if __name__ == "__main__":
    main()
