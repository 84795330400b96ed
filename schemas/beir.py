"""The BEIR/MTEB retrieval folder format, read with the standard library only.

A folder holds `corpus.jsonl`, `queries.jsonl` (plain or `.gz`; `_id`, `title`, `text`) and
`qrels/<split>.tsv` (query-id, corpus-id, integer grade, after a header line). The evaluator
(trainer) and decontamination (pipelines) both read it, so it lives with the data contracts.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator


def is_beir_folder(path: str) -> bool:
    return (os.path.isdir(path) and os.path.isdir(os.path.join(path, "qrels"))
            and any(os.path.isfile(os.path.join(path, f"corpus.jsonl{s}")) for s in ("", ".gz")))


def find_file(folder: str, stem: str) -> str:
    for name in (f"{stem}.jsonl", f"{stem}.jsonl.gz"):
        if os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
    raise FileNotFoundError(f"{folder}: no {stem}.jsonl or {stem}.jsonl.gz (not a BEIR folder)")


def iter_jsonl(path: str) -> Iterator[dict]:
    """The JSON objects of a JSON-lines file, plain or .gz."""
    with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                if isinstance(record, dict):
                    yield record


def count_records(path: str) -> int:
    """Non-empty lines of a JSON-lines file, plain or .gz: a progress bar's total, counted
    without parsing."""
    count = 0
    with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
        for line in f:
            count += bool(line.strip())
    return count


def read_qrels(path: str) -> dict[str, dict[str, int]]:
    """query id -> {document id: grade}; the header line (`query-id corpus-id score`) skipped."""
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or not parts[0].strip():
                continue
            try:
                grade = int(float(parts[-1]))
            except ValueError:
                if number == 0:
                    continue  # the header
                raise ValueError(f"{path}:{number + 1}: grade {parts[-1]!r} is not a number") from None
            qrels.setdefault(parts[0], {})[parts[-2]] = grade
    return qrels


def splits(folder: str) -> list[str]:
    qrels = os.path.join(folder, "qrels")
    return sorted(f[:-4] for f in os.listdir(qrels) if f.endswith(".tsv")) if os.path.isdir(qrels) else []


def beir_text(record: dict) -> str:
    """A document as BEIR and MTEB embed it: title, a space, text (stripped; the text alone
    when the title is empty)."""
    return f"{record.get('title') or ''} {record.get('text') or ''}".strip()


def benchmark_texts(folder: str, documents: str = "all") -> Iterator[tuple[str, str]]:
    """(id, text) of what a benchmark holds that training data must not: every query, and
    every corpus document (`documents="all"`: a retrieval benchmark's corpus is what its
    queries are scored against, and a model that trained on those documents has seen the test)
    or only the judged ones of any split (`"judged"`: what a huge corpus can be cut to)."""
    judged_docs: set[str] = set()
    judged_queries: set[str] = set()
    for split in splits(folder):
        for query, docs in read_qrels(os.path.join(folder, "qrels", f"{split}.tsv")).items():
            judged_queries.add(query)
            judged_docs.update(docs)
    every = documents == "all"
    for record in iter_jsonl(find_file(folder, "queries")):
        if every or str(record.get("_id", "")) in judged_queries:
            yield f"query:{record['_id']}", beir_text(record)
    for record in iter_jsonl(find_file(folder, "corpus")):
        if every or str(record.get("_id", "")) in judged_docs:
            yield f"doc:{record['_id']}", beir_text(record)
