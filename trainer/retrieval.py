"""Retrieval evaluation on the sets users compare models on: BEIR/MTEB folders and CodeSearchNet.

A BEIR folder holds `corpus.jsonl`, `queries.jsonl` (plain or `.gz`; `_id`, `title`, `text`) and
`qrels/<split>.tsv` (query-id, corpus-id, integer grade; a header line). A CodeSearchNet file is
JSON lines of `docstring`/`code` (or CodeXGLUE's `docstring_tokens`/`code_tokens`): each
docstring is a query whose one relevant document is its own code.

Texts are what MTEB embeds: a document is its title, a space and its text (the text alone when
it has no title); a query is its text. Search is exact and streamed: the corpus is read, embedded
and scored a block at a time against every query, and only each query's running top 100 is kept,
so memory does not grow with the corpus. Metrics follow trec_eval's definitions (relevant:
grade >= 1; nDCG with the grade as gain; ties broken by document id, descending), so they agree
with pytrec_eval, and so with MTEB, on the same run.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from ..schemas.beir import beir_text, count_records, find_file, iter_jsonl, read_qrels, splits

BEIR_METRICS = ("ndcg@10", "map@100", "recall@10", "recall@100", "mrr@10", "precision@10")
# the cut-offs of the MTEB results files (MTEB also reports 1000; the search keeps the top 100)
CUTOFFS = (1, 3, 5, 10, 20, 100)
TOP_K = 100
BLOCK = 16384  # corpus documents embedded, sorted by length and scored at once


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
        if qid in qrels:  # MTEB embeds a query's text (a title only when there is no text)
            queries[qid] = str(record.get("text") or record.get("title") or "").strip()
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
    return RetrievalSet(name, path, "codesearchnet", queries, qrels, corpus_size=len(queries))


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


def corpus_size(rset: RetrievalSet) -> int:
    """Documents in the corpus (a fast count of records; exact after a search)."""
    if rset.corpus_size:
        return rset.corpus_size
    return count_records(find_file(rset.source, "corpus"))


class Progress:
    """Two bars for one set: texts embedded (their rate is the embedding speed) and documents
    searched (their postfix gives the speed of scoring alone, every query against each)."""

    def __init__(self, name: str, texts: int, documents: int, enabled: bool = True):
        from tqdm import tqdm

        options = {"file": sys.stderr, "dynamic_ncols": True, "disable": not enabled,
                   "unit_scale": True}
        self.embedding = tqdm(total=texts, desc=f"{name}: embed", unit="text", **options)
        self.search = tqdm(total=documents, desc=f"{name}: search", unit="doc", **options)
        self.seconds = 0.0

    def embedded(self, n: int) -> None:
        self.embedding.update(n)

    def searched(self, n: int, seconds: float) -> None:
        self.seconds += seconds
        self.search.update(n)
        if self.seconds > 0:
            self.search.set_postfix_str(f"scoring {self.search.n / self.seconds:,.0f} doc/s",
                                        refresh=False)

    def close(self) -> None:
        self.embedding.close()
        self.search.close()


def search(embed, rset: RetrievalSet, block: int = BLOCK, k: int = TOP_K,
           query_chunk: int = 1024, progress: Progress | None = None) -> dict[str, dict[str, float]]:
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
        began = time.perf_counter()
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
        if progress is not None:
            progress.searched(len(texts), time.perf_counter() - began)
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


def query_metrics(ranking: list[str], judged: dict[str, int],
                  cutoffs: tuple[int, ...] = (10, 100)) -> dict[str, float]:
    """nDCG, MAP, recall, MRR and precision at each cut-off for one query, as trec_eval
    defines them (MRR@k: the reciprocal rank of the first relevant document within k)."""
    relevant = {d: g for d, g in judged.items() if g >= 1}
    n_rel = len(relevant)
    gains = [relevant.get(d, 0) for d in ranking]
    hits = np.cumsum([1 if g else 0 for g in gains]) if gains else np.zeros(0)
    ideal = sorted(relevant.values(), reverse=True)
    first = next((r + 1 for r, g in enumerate(gains) if g), None)
    out = {}
    for k in cutoffs:
        dcg = sum(g / math.log2(r + 2) for r, g in enumerate(gains[:k]) if g)
        idcg = sum(g / math.log2(r + 2) for r, g in enumerate(ideal[:k]))
        found = int(hits[min(k, len(hits)) - 1]) if len(hits) else 0
        ap = sum(hits[r] / (r + 1) for r, g in enumerate(gains[:k]) if g)
        out[f"ndcg@{k}"] = dcg / idcg if idcg else 0.0
        out[f"map@{k}"] = float(ap) / n_rel if n_rel else 0.0
        out[f"recall@{k}"] = found / n_rel if n_rel else 0.0
        out[f"mrr@{k}"] = 1.0 / first if first is not None and first <= k else 0.0
        out[f"precision@{k}"] = found / k
    return out


def evaluate_run(run: dict[str, dict[str, float]], qrels: dict[str, dict[str, int]],
                 cutoffs: tuple[int, ...] | None = None) -> dict[str, float]:
    """Mean of each metric over the judged queries of the run: the BEIR table's six metrics, or
    every metric at each of `cutoffs` (what the MTEB results files hold)."""
    wanted = cutoffs or (10, 100)
    per_query = [query_metrics(_ranked(run.get(q, {})), judged, wanted)
                 for q, judged in qrels.items()]
    names = BEIR_METRICS if cutoffs is None else list(per_query[0]) if per_query else []
    return {m: float(np.mean([p[m] for p in per_query])) if per_query else 0.0 for m in names}
