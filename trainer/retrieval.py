"""Retrieval evaluation on the sets users compare models on: BEIR/MTEB folders and CodeSearchNet.

A BEIR folder holds `corpus.jsonl`, `queries.jsonl` (plain or `.gz`; `_id`, `title`, `text`) and
`qrels/<split>.tsv` (query-id, corpus-id, integer grade; a header line). A CodeSearchNet file is
JSON lines of `docstring`/`code` (or CodeXGLUE's `docstring_tokens`/`code_tokens`): each
docstring is a query whose one relevant document is its own code.

Search is exact and streamed: the corpus is read, embedded and scored a block at a time against
every query, and only each query's running top 100 is kept, so memory does not grow with the
corpus. Metrics follow trec_eval's definitions (relevant: grade >= 1; nDCG with the grade as
gain; ties broken by document id, descending), so they agree with pytrec_eval on the same run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from ..schemas.beir import beir_text, find_file, iter_jsonl, read_qrels, splits

BEIR_METRICS = ("ndcg@10", "map@100", "recall@10", "recall@100", "mrr@10", "precision@10")
TOP_K = 100


@dataclass
class RetrievalSet:
    """Queries and relevance judgements of one set; the corpus is streamed from `source`."""

    name: str
    source: str
    kind: str  # "beir" | "codesearchnet"
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    corpus_size: int = 0
    notes: list[str] = field(default_factory=list)


def load_set(path: str, split: str = "test") -> RetrievalSet:
    """A BEIR folder or a CodeSearchNet JSON-lines file, queries and judgements in memory."""
    path = path.rstrip("/")
    if os.path.isfile(path):
        return _load_codesearchnet(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such BEIR folder or CodeSearchNet file")
    qrels_path = os.path.join(path, "qrels", f"{split}.tsv")
    if not os.path.isfile(qrels_path):
        raise FileNotFoundError(f"{path}: no qrels/{split}.tsv (splits here: "
                                f"{', '.join(splits(path)) or 'none'})")
    find_file(path, "corpus")
    qrels = read_qrels(qrels_path)
    queries = {}
    for record in iter_jsonl(find_file(path, "queries")):
        qid = str(record.get("_id", ""))
        if qid in qrels:
            queries[qid] = beir_text(record) if record.get("title") else str(record.get("text") or "")
    missing = [q for q in qrels if q not in queries]
    notes = [f"{len(missing)} judged queries are not in queries.jsonl"] if missing else []
    qrels = {q: docs for q, docs in qrels.items() if q in queries}
    if not queries:
        raise ValueError(f"{path}: no query of qrels/{split}.tsv is in queries.jsonl")
    return RetrievalSet(os.path.basename(path), path, "beir", queries, qrels, notes=notes)


def _codesearchnet_pair(record: dict) -> tuple[str, str]:
    query = record.get("docstring") or " ".join(record.get("docstring_tokens") or [])
    code = record.get("code") or record.get("original_string") or " ".join(record.get("code_tokens") or [])
    return str(query).strip(), str(code).strip()


def _load_codesearchnet(path: str) -> RetrievalSet:
    queries, qrels = {}, {}
    for number, record in enumerate(iter_jsonl(path), 1):
        query, code = _codesearchnet_pair(record)
        if query and code:
            queries[str(number)] = query
            qrels[str(number)] = {str(number): 1}
    if not queries:
        raise ValueError(f"{path}: no docstring/code (or docstring_tokens/code_tokens) records")
    name = os.path.basename(path).split(".")[0]
    return RetrievalSet(name, path, "codesearchnet", queries, qrels)


def iter_corpus(rset: RetrievalSet) -> Iterator[tuple[str, str]]:
    """(document id, text) of the corpus, streamed from disk."""
    if rset.kind == "codesearchnet":
        for number, record in enumerate(iter_jsonl(rset.source), 1):
            query, code = _codesearchnet_pair(record)
            if query and code:
                yield str(number), code
        return
    for record in iter_jsonl(find_file(rset.source, "corpus")):
        yield str(record.get("_id", "")), beir_text(record)


def search(embed, rset: RetrievalSet, block: int = 4096, k: int = TOP_K,
           query_chunk: int = 1024) -> dict[str, dict[str, float]]:
    """Exact top-k per query: the corpus embedded and scored a block at a time.

    `embed(texts, kind)` returns unit-length float tensors. Memory: the query embeddings, one
    corpus block, and k scores per query.
    """
    qids = list(rset.queries)
    q = embed([rset.queries[i] for i in qids], "query")
    best_scores = torch.full((len(qids), k), -math.inf)
    best_index = torch.full((len(qids), k), -1, dtype=torch.long)
    doc_ids: list[str] = []
    texts: list[str] = []

    def flush():
        if not texts:
            return
        d = embed(texts, "document").to(q.dtype)
        offset = len(doc_ids) - len(texts)
        for start in range(0, len(qids), query_chunk):
            rows = slice(start, start + query_chunk)
            scores = (q[rows] @ d.T).float().cpu()
            index = torch.arange(offset, offset + len(texts)).expand_as(scores)
            merged_s = torch.cat([best_scores[rows], scores], dim=1)
            merged_i = torch.cat([best_index[rows], index], dim=1)
            top = torch.topk(merged_s, min(k, merged_s.shape[1]), dim=1)
            best_scores[rows, :top.values.shape[1]] = top.values
            best_index[rows, :top.values.shape[1]] = merged_i.gather(1, top.indices)
        texts.clear()

    for doc_id, text in iter_corpus(rset):
        doc_ids.append(doc_id)
        texts.append(text)
        if len(texts) >= block:
            flush()
    flush()
    rset.corpus_size = len(doc_ids)
    run: dict[str, dict[str, float]] = {}
    for row, qid in enumerate(qids):
        run[qid] = {doc_ids[int(i)]: float(s) for s, i in zip(best_scores[row], best_index[row],
                                                              strict=True) if int(i) >= 0}
    return run


def _ranked(scores: dict[str, float]) -> list[str]:
    """Documents in trec_eval's order: score descending, ties by document id descending."""
    return [d for d, _ in sorted(scores.items(), key=lambda x: (x[1], x[0]), reverse=True)]


def query_metrics(ranking: list[str], judged: dict[str, int]) -> dict[str, float]:
    """The BEIR metrics of one query, as trec_eval defines them."""
    relevant = {d: g for d, g in judged.items() if g >= 1}
    n_rel = len(relevant)
    hits = [1 if d in relevant else 0 for d in ranking]
    dcg = sum(relevant.get(d, 0) / math.log2(r + 2) for r, d in enumerate(ranking[:10]))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum(g / math.log2(r + 2) for r, g in enumerate(ideal))
    ap, found = 0.0, 0
    for r, hit in enumerate(hits[:100]):
        if hit:
            found += 1
            ap += found / (r + 1)
    first = next((r + 1 for r, hit in enumerate(hits[:10]) if hit), None)
    return {
        "ndcg@10": dcg / idcg if idcg else 0.0,
        "map@100": ap / n_rel if n_rel else 0.0,
        "recall@10": sum(hits[:10]) / n_rel if n_rel else 0.0,
        "recall@100": sum(hits[:100]) / n_rel if n_rel else 0.0,
        "mrr@10": 1.0 / first if first else 0.0,
        "precision@10": sum(hits[:10]) / 10,
    }


def evaluate_run(run: dict[str, dict[str, float]], qrels: dict[str, dict[str, int]]) -> dict:
    """Mean of each metric over the judged queries of the run (per-query values kept out)."""
    per_query = [query_metrics(_ranked(run.get(q, {})), judged) for q, judged in qrels.items()]
    return {m: float(np.mean([p[m] for p in per_query])) if per_query else 0.0
            for m in BEIR_METRICS}
