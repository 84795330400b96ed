"""`pairmill eval`: retrieval quality of a model on a pairs dataset's queries and documents.

Each query's own document is its one relevant item. Against the whole corpus of the sampled
pairs (default), or, with `candidates=N`, against N candidates: its document plus N-1 others
drawn with a fixed seed (the CodeSearchNet protocol uses N = 1000).
"""

from __future__ import annotations

import os
import time

import numpy as np
import pyarrow.parquet as pq
import torch

from ..schemas import read_manifest, storage
from .gradcache import token_chunks
from .model import Encoder, load_tokenizer, make_encode, pad_chunk
from .st_config import prompt_for, resolve_max_length

METRICS = ("mrr@10", "ndcg@10", "recall@1", "recall@10", "recall@100")
CPU_TOKEN_BUDGET = 16384


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


def token_budget_for(device: torch.device) -> int:
    """Padded tokens embedded at once: small batches on a CPU (large ones only cost cache
    misses), large ones on a GPU. Measured in benchmarks/bench_beir.py."""
    return 65536 if device.type == "cuda" else CPU_TOKEN_BUDGET


@torch.no_grad()
def embed_texts(encoder: Encoder, encode, texts: list[str], kind: str, pad_id: int,
                device: torch.device, token_budget: int = 32768, on_chunk=None) -> torch.Tensor:
    """Unit-length embeddings of `texts`, in their order. The texts are tokenized once, sorted
    by token length and embedded in chunks of at most `token_budget` padded tokens, so almost
    no padding is computed; `on_chunk(n)` is called after each chunk (progress)."""
    sequences = encode(texts, kind)
    out = None
    for chunk in token_chunks([len(s) for s in sequences], token_budget):
        ids, mask = pad_chunk([sequences[i] for i in chunk], pad_id, device)
        emb = encoder(ids, mask)
        if out is None:
            out = torch.empty((len(sequences), emb.shape[1]), device=device)
        out[torch.tensor(chunk, device=device)] = emb
        if on_chunk is not None:
            on_chunk(len(chunk))
    if out is None:
        return torch.empty((0, 0), device=device)
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


class ModelEmbedder:
    """A model as every evaluation embeds it: its own max length and prompts unless given,
    texts sorted by length and embedded within a token budget (the one definition of the
    command, `evaluate_beir`, recipes and the benchmark)."""

    def __init__(self, model: str, max_length: int | None = None, device: str | None = None,
                 query_prompt: str | None = None, document_prompt: str | None = None,
                 token_budget: int | None = None):
        self.model = model
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.encoder = Encoder.from_pretrained(model).to(self.device).eval()
        self.tokenizer = load_tokenizer(model)
        self.max_length = resolve_max_length(model, max_length)
        self.encode = make_encode(self.tokenizer, self.max_length, self.encoder.pooling)
        self.given = {"query": query_prompt, "document": document_prompt}
        self.token_budget = token_budget or token_budget_for(self.device)

    def prompt(self, kind: str, task: str | None = None) -> str:
        return prompt_for(self.model, kind, task, self.given[kind])

    def embed(self, texts: list[str], kind: str, task: str | None = None,
              on_chunk=None) -> torch.Tensor:
        prompt = self.prompt(kind, task)
        if prompt:
            texts = [prompt + t for t in texts]
        return embed_texts(self.encoder, self.encode, texts, kind, self.tokenizer.pad_token_id,
                           self.device, self.token_budget, on_chunk)

    @property
    def dim(self) -> int:
        return int(self.encoder.backbone.config.hidden_size)


def evaluate(model: str, datasets: list[str], candidates: int | None = None, max_pairs: int = 1000,
             max_length: int | None = None, seed: int = 0, device: str | None = None,
             query_prompt: str | None = None, document_prompt: str | None = None) -> dict:
    """Each task's queries ranked against its documents (see the module's docstring)."""
    embedder = ModelEmbedder(model, max_length, device, query_prompt, document_prompt)
    device = embedder.device
    tasks = {}
    for dataset in datasets:
        for task, (queries, documents) in read_pairs(dataset, max_pairs, seed).items():
            if candidates is not None and candidates > len(documents):
                raise ValueError(f"{task}: {len(documents)} pairs, fewer than --candidates {candidates}")
            q = embedder.embed(queries, "query")
            d = embedder.embed(documents, "document")
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
    return {"model": model, "max_length": embedder.max_length, "tasks": tasks, "mean": mean}


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
    length = f" ({report['max_length']} tokens per text)" if report.get("max_length") else ""
    lines = [f"model: {report['model']}{length}", header, "-" * len(header)]
    for name, row in rows.items():
        lines.append(line(name, [row[field] for _, field in sizes], [f"{row[m]:.4f}" for m in metrics]))
    if len(rows) > 1:
        lines.append(line("mean", [""] * len(sizes), [f"{report['mean'][m]:.4f}" for m in metrics]))
    return "\n".join(lines)


def format_report(report: dict) -> str:
    return _table(report, "tasks", "task", (("pairs", "pairs"), ("cands", "candidates")), METRICS)


def _unique_names(sets) -> None:
    """Two folders of one name (…/a/test, …/b/test) are told apart by their parent's name."""
    seen: dict[str, int] = {}
    for rset in sets:
        seen[rset.name] = seen.get(rset.name, 0) + 1
    for rset in sets:
        if seen[rset.name] > 1:
            parent = os.path.basename(os.path.dirname(os.path.abspath(rset.source)))
            rset.name = f"{parent}/{rset.name}"


def evaluate_beir(model: str, paths: list[str], split: str = "test", max_length: int | None = None,
                  device: str | None = None, block: int | None = None,
                  query_prompt: str | None = None, document_prompt: str | None = None,
                  output_dir: str | None = None, progress: bool = True,
                  token_budget: int | None = None) -> dict:
    """nDCG@10, MAP@100, Recall@10/100, MRR@10, P@10 on each BEIR folder or CodeSearchNet file,
    and their mean over the sets; with `output_dir`, one MTEB results file per set.

    Defaults are MTEB's: the model's own max length and prompts (see `ModelEmbedder`).
    """
    from .mteb_results import model_folder, task_name, write_model_meta, write_task
    from .retrieval import BEIR_METRICS, BLOCK, CUTOFFS, Progress, corpus_size, evaluate_run, load_set, search

    sets = [load_set(p, split) for p in paths]  # every set checked before any embedding
    _unique_names(sets)
    embedder = ModelEmbedder(model, max_length, device, query_prompt, document_prompt,
                             token_budget)
    folder = model_folder(output_dir, model) if output_dir else None
    results, prompts = {}, {}
    for rset in sets:
        began = time.perf_counter()
        task = task_name(rset.name)
        documents = corpus_size(rset) if progress else 0
        bars = Progress(rset.name, len(rset.queries) + documents, documents, enabled=progress)

        def embed(texts: list[str], kind: str, task=task, bars=bars) -> torch.Tensor:
            return embedder.embed(texts, kind, task, bars.embedded).cpu()

        try:
            run = search(embed, rset, block=block or BLOCK, progress=bars)
        finally:
            bars.close()
        scores = evaluate_run(run, rset.qrels, CUTOFFS)
        seconds = time.perf_counter() - began
        prompts[rset.name] = {k: embedder.prompt(k, task) for k in ("query", "document")}
        results[rset.name] = {"kind": rset.kind, "split": split if rset.kind == "beir" else None,
                              "queries": len(rset.queries), "corpus": rset.corpus_size,
                              "seconds": round(seconds, 2),
                              **{m: scores[m] for m in BEIR_METRICS}}
        if folder is not None:
            write_task(folder, rset.name, split, scores, seconds)
    if folder is not None:
        write_model_meta(folder, model, embedder.max_length, embedder.dim,
                         next(iter(prompts.values())))
    mean = {m: float(np.mean([r[m] for r in results.values()])) for m in BEIR_METRICS}
    report = {"model": model, "max_length": embedder.max_length, "split": split,
              "sets": results, "mean": mean}
    if any(p["query"] or p["document"] for p in prompts.values()):
        report["prompts"] = prompts
    if folder is not None:
        report["output_dir"] = str(folder)
    return report


def format_beir_report(report: dict) -> str:
    from .retrieval import BEIR_METRICS

    return _table(report, "sets", "set", (("queries", "queries"), ("corpus", "corpus"),
                                          ("time s", "seconds")), BEIR_METRICS)


def flat_beir_json(report: dict) -> dict:
    """What `--beir --json` prints: metric name -> value in 0..1 (the mean over the sets), and
    each set's own values under `sets` when there are several."""
    out = dict(report["mean"])
    if len(report["sets"]) > 1:
        out["sets"] = {name: {m: row[m] for m in report["mean"]}
                       for name, row in report["sets"].items()}
    return out


def eval_command(config) -> int:
    """`pairmill eval` from its config: prints the report, and writes it with --output (and
    MTEB's results files with --output-dir)."""
    import json

    from ..schemas import storage
    from .model import default_model_path, offline

    offline()
    if bool(config.input) == bool(config.beir):
        raise ValueError("give --input DATASET... or --beir FOLDER... (one of the two)")
    if config.output_dir and not config.beir:
        raise ValueError("--output-dir writes MTEB results of --beir sets")
    model = config.model or default_model_path()
    if config.beir:
        report = evaluate_beir(model, config.beir, config.split, config.max_length, config.device,
                               query_prompt=config.query_prompt,
                               document_prompt=config.document_prompt,
                               output_dir=config.output_dir, progress=config.progress)
        print(json.dumps(flat_beir_json(report), indent=2) if config.json
              else format_beir_report(report))
        if config.output_dir and not config.json:
            print(f"MTEB results: {report['output_dir']}")
    else:
        report = evaluate(model, config.input, config.candidates, config.max_pairs,
                          config.max_length, config.seed, config.device,
                          config.query_prompt, config.document_prompt)
        print(json.dumps(report, indent=2) if config.json else format_report(report))
    if config.output:
        storage.write_bytes(config.output, (json.dumps(report, indent=2) + "\n").encode())
    return 0
