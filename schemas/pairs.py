"""The Arrow schema of a pair, the task names, and stable pair ids.

Every dataset pairmill writes and every trainer that reads it agrees on these columns; adding an
optional column is fine, renaming one breaks users.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa

# task name -> source family (DESIGN.md). A training batch never mixes two tasks.
TASKS: dict[str, str] = {
    "web_title_body": "crawl",
    "web_anchor_target": "crawl",
    "reddit_title_body": "reddit",
    "reddit_post_comment": "reddit",
    "stackexchange_title_body": "stackexchange",
    "stackexchange_question_answer": "stackexchange",
    "arxiv_title_abstract": "arxiv",
    "s2orc_citation_reference": "s2orc",
    "wikipedia_entity_description": "wikipedia",
    "wikipedia_citation_reference": "wikipedia",
    "code_docstring_code": "code",
}

REQUIRED_COLUMNS = ("id", "task", "query", "document", "source", "origin")
OPTIONAL_COLUMNS = ("lang", "negatives", "score", "meta")

PAIR_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("task", pa.string(), nullable=False),
        pa.field("query", pa.string(), nullable=False),
        pa.field("document", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("origin", pa.string(), nullable=False),
        pa.field("lang", pa.string()),
        pa.field("negatives", pa.list_(pa.string())),
        pa.field("score", pa.float64()),
        pa.field("meta", pa.map_(pa.string(), pa.string())),
    ]
)


class SchemaError(ValueError):
    """A pair or a dataset does not follow the pairs contract."""


def check_task(task: str) -> str:
    """Return `task` if it is a known task name, else raise SchemaError naming the known ones."""
    if task not in TASKS:
        raise SchemaError(f"unknown task {task!r}; known tasks: {', '.join(sorted(TASKS))}")
    return task


def pair_id(task: str, query: str, document: str) -> str:
    """Stable id of a pair: the same (task, query, document) always gives the same id.

    Content-derived rather than position-derived, so reruns, reshards and other runners agree, and
    two copies of one pair found in different places share an id.
    """
    h = hashlib.blake2b(digest_size=16)
    for part in (task, query, document):
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def make_pair(
    task: str,
    query: str,
    document: str,
    source: str,
    origin: str,
    *,
    lang: str | None = None,
    negatives: list[str] | None = None,
    score: float | None = None,
    meta: dict[str, str] | None = None,
) -> dict:
    """Build one pair row (a plain dict matching PAIR_SCHEMA) with its stable id."""
    check_task(task)
    if not query.strip() or not document.strip():
        raise SchemaError("a pair needs a non-empty query and document")
    return {
        "id": pair_id(task, query, document),
        "task": task,
        "query": query,
        "document": document,
        "source": source,
        "origin": origin,
        "lang": lang,
        "negatives": negatives,
        "score": score,
        "meta": sorted(meta.items()) if meta else None,
    }


# Dead letters: every input record that could not become a pair, with why and where to find it.
DEAD_LETTER_SCHEMA = pa.schema(
    [
        pa.field("origin", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
    ]
)


def make_dead_letter(origin: str, source: str, reason: str, detail: str = "") -> dict:
    """One dead-letter row: `reason` is a short stable key (it is also a counter name)."""
    return {"origin": origin, "source": source, "reason": reason, "detail": detail[:2000]}
