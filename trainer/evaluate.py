"""`pairmill eval`: retrieval quality of a model on a pairs dataset's queries and documents.

Each query's own document is its one relevant item. Against the whole corpus of the sampled
pairs (default), or, with `candidates=N`, against N candidates: its document plus N-1 others
drawn with a fixed seed (the CodeSearchNet protocol uses N = 1000).
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import torch

from ..schemas import read_manifest, storage
from .configs import DEFAULT_MAX_LENGTH
from .gradcache import token_chunks
from .model import Encoder, load_tokenizer, make_encode, pad_chunk

METRICS = ("mrr@10", "ndcg@10", "recall@1", "recall@10", "recall@100")


def read_pairs(dataset: str, max_pairs: int, seed: int) -> dict[str, tuple[list[str], list[str]]]:
    """Up to `max_pairs` (query, document) pairs per task, a seeded sample of the whole task."""
    manifest = read_manifest(dataset)
    out = {}
    for task, files in sorted(manifest.tasks.items()):
        queries, documents = [], []
        for entry in files:
            with storage.open_input(storage.join(dataset, entry.path)) as f:
                table = pq.read_table(f, columns=["query", "document"])
            queries += table.column("query").to_pylist()
            documents += table.column("document").to_pylist()
        if not queries:
            continue
        if len(queries) > max_pairs:
            keep = np.sort(np.random.default_rng(seed).choice(len(queries), max_pairs, replace=False))
            queries = [queries[i] for i in keep]
            documents = [documents[i] for i in keep]
        out[task] = (queries, documents)
    return out


@torch.no_grad()
def embed_texts(encoder: Encoder, encode, texts: list[str], kind: str, pad_id: int,
                device: torch.device, token_budget: int = 32768) -> torch.Tensor:
    sequences = encode(texts, kind)
    out = None
    for chunk in token_chunks([len(s) for s in sequences], token_budget):
        ids, mask = pad_chunk([sequences[i] for i in chunk], pad_id, device)
        emb = encoder(ids, mask)
        if out is None:
            out = torch.empty((len(sequences), emb.shape[1]), device=device)
        out[torch.tensor(chunk, device=device)] = emb
    return out


def ranks_of_positives(scores: torch.Tensor, positive: torch.Tensor) -> np.ndarray:
    """1-based rank of each row's positive column (ties go to the positive)."""
    own = scores.gather(1, positive.unsqueeze(1))
    return ((scores > own).sum(1) + 1).cpu().numpy()


def retrieval_metrics(ranks: np.ndarray) -> dict[str, float]:
    ranks = np.asarray(ranks, dtype=np.float64)
    within = ranks <= 10
    return {
        "mrr@10": float(np.mean(np.where(within, 1.0 / ranks, 0.0))),
        "ndcg@10": float(np.mean(np.where(within, 1.0 / np.log2(ranks + 1), 0.0))),
        "recall@1": float(np.mean(ranks <= 1)),
        "recall@10": float(np.mean(within)),
        "recall@100": float(np.mean(ranks <= 100)),
    }


def evaluate(model: str, datasets: list[str], candidates: int | None = None, max_pairs: int = 1000,
             max_length: int = DEFAULT_MAX_LENGTH, seed: int = 0, device: str | None = None) -> dict:
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    encoder = Encoder.from_pretrained(model).to(device).eval()
    tokenizer = load_tokenizer(model)
    encode = make_encode(tokenizer, max_length, encoder.pooling)
    tasks = {}
    for dataset in datasets:
        for task, (queries, documents) in read_pairs(dataset, max_pairs, seed).items():
            if candidates is not None and candidates > len(documents):
                raise ValueError(f"{task}: {len(documents)} pairs, fewer than --candidates {candidates}")
            q = embed_texts(encoder, encode, queries, "query", tokenizer.pad_token_id, device)
            d = embed_texts(encoder, encode, documents, "document", tokenizer.pad_token_id, device)
            n = len(queries)
            if candidates is None:
                ranks = ranks_of_positives(q @ d.T, torch.arange(n, device=device))
            else:
                rng = np.random.default_rng(seed)
                pools = np.empty((n, candidates), dtype=np.int64)
                for i in range(n):
                    others = rng.choice(n - 1, candidates - 1, replace=False)
                    pools[i, 0] = i
                    pools[i, 1:] = others + (others >= i)
                pools_t = torch.from_numpy(pools).to(device)
                scores = torch.cat([torch.einsum("nd,ncd->nc", q[i:i + 64], d[pools_t[i:i + 64]])
                                    for i in range(0, n, 64)])
                ranks = ranks_of_positives(scores, torch.zeros(n, dtype=torch.long, device=device))
            tasks[task] = {"pairs": n, "candidates": candidates or n, **retrieval_metrics(ranks)}
    if not tasks:
        raise ValueError("the datasets hold no pairs to evaluate on")
    mean = {m: float(np.mean([t[m] for t in tasks.values()])) for m in METRICS}
    return {"model": model, "tasks": tasks, "mean": mean}


def _table(report: dict, key: str, label: str, sizes: tuple[tuple[str, str], ...],
           metrics) -> str:
    """A report as a text table: one row per task or set, and their mean when there are several."""
    rows = report[key]
    width = max(len(label), *(len(name) for name in rows))
    size_width = [max(len(title), 6) for title, _ in sizes]
    metric_width = max(10, *(len(m) for m in metrics))

    def line(name: str, size_values, values) -> str:
        sized = " ".join(f"{v:>{w}}" for v, w in zip(size_values, size_width, strict=True))
        return f"{name:<{width}}  {sized}  " + "  ".join(f"{v:>{metric_width}}" for v in values)

    header = line(label, [title for title, _ in sizes], metrics)
    lines = [f"model: {report['model']}", header, "-" * len(header)]
    for name, row in rows.items():
        lines.append(line(name, [row[field] for _, field in sizes], [f"{row[m]:.4f}" for m in metrics]))
    if len(rows) > 1:
        lines.append(line("mean", [""] * len(sizes), [f"{report['mean'][m]:.4f}" for m in metrics]))
    return "\n".join(lines)


def format_report(report: dict) -> str:
    return _table(report, "tasks", "task", (("pairs", "pairs"), ("cands", "candidates")), METRICS)



def evaluate_beir(model: str, paths: list[str], split: str = "test", max_length: int = DEFAULT_MAX_LENGTH,
                  device: str | None = None, block: int = 4096) -> dict:
    """nDCG@10, MAP@100, Recall@10/100, MRR@10, P@10 on each BEIR folder or CodeSearchNet file,
    and their mean over the sets."""
    from .retrieval import BEIR_METRICS, evaluate_run, load_set, search

    sets = [load_set(p, split) for p in paths]  # every set checked before any embedding
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    encoder = Encoder.from_pretrained(model).to(device).eval()
    tokenizer = load_tokenizer(model)
    encode = make_encode(tokenizer, max_length, encoder.pooling)

    def embed(texts: list[str], kind: str) -> torch.Tensor:
        return embed_texts(encoder, encode, texts, kind, tokenizer.pad_token_id, device).cpu()

    results = {}
    for rset in sets:
        run = search(embed, rset, block=block)
        results[rset.name] = {"kind": rset.kind, "split": split if rset.kind == "beir" else None,
                              "queries": len(rset.queries), "corpus": rset.corpus_size,
                              **evaluate_run(run, rset.qrels)}
    mean = {m: float(np.mean([r[m] for r in results.values()])) for m in BEIR_METRICS}
    return {"model": model, "sets": results, "mean": mean}


def format_beir_report(report: dict) -> str:
    from .retrieval import BEIR_METRICS

    return _table(report, "sets", "set", (("queries", "queries"), ("corpus", "corpus")),
                  BEIR_METRICS)


def flat_beir_json(report: dict) -> dict:
    """What `--beir --json` prints: metric name -> value in 0..1 (the mean over the sets), and
    each set's own values under `sets` when there are several."""
    out = dict(report["mean"])
    if len(report["sets"]) > 1:
        out["sets"] = {name: {m: row[m] for m in report["mean"]}
                       for name, row in report["sets"].items()}
    return out


def eval_command(config) -> int:
    """`pairmill eval` from its config: prints the report, and writes it with --output."""
    import json

    from ..schemas import storage
    from .model import default_model_path, offline

    offline()
    if bool(config.input) == bool(config.beir):
        raise ValueError("give --input DATASET... or --beir FOLDER... (one of the two)")
    model = config.model or default_model_path()
    if config.beir:
        report = evaluate_beir(model, config.beir, config.split, config.max_length, config.device)
        print(json.dumps(flat_beir_json(report), indent=2) if config.json
              else format_beir_report(report))
    else:
        report = evaluate(model, config.input, config.candidates, config.max_pairs,
                          config.max_length, config.seed, config.device)
        print(json.dumps(report, indent=2) if config.json else format_report(report))
    if config.output:
        storage.write_bytes(config.output, (json.dumps(report, indent=2) + "\n").encode())
    return 0
