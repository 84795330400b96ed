"""The Arrow schema of a pair, the task names, and stable pair ids.

Every dataset pairmill writes and every trainer that reads it agrees on these columns; adding an
optional column is fine, renaming one breaks users.
"""

from __future__ import annotations

import hashlib
import marshal
import re

import pyarrow as pa

# task name -> the source that makes it. Sources register their tasks when their spec is
# declared (extractors/spec.py), so a new source never edits this module. A training batch never
# mixes two tasks.
TASKS: dict[str, str] = {}
TASK_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")

REQUIRED_COLUMNS = ("id", "task", "query", "document", "source", "origin")
META_TYPE = pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())]))
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
        # key/value records, not a map: `datasets` has no map type, pandas and DuckDB read both
        pa.field("meta", META_TYPE),
    ]
)


class SchemaError(ValueError):
    """A pair or a dataset does not follow the pairs contract."""


def register_task(task: str, source: str) -> None:
    """Declare a task (snake_case, `<source>_<query>_<document>`) as made by `source`."""
    if not TASK_NAME.match(task):
        raise SchemaError(f"task name {task!r} must be snake_case words, such as web_title_body")
    if TASKS.get(task, source) != source:
        raise SchemaError(f"task {task!r} is already made by source {TASKS[task]!r}")
    TASKS[task] = source


def check_task(task: str) -> str:
    """Return `task` if it is a well-formed task name, else raise SchemaError.

    Which tasks exist is the source registry's business (plug-in sources add their own); the
    mining pipeline refuses a pair whose task its source did not declare.
    """
    if not isinstance(task, str) or not TASK_NAME.match(task):
        raise SchemaError(f"malformed task name {task!r}; tasks are snake_case such as "
                          f"web_title_body")
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
        "meta": meta_rows(meta),
    }


def meta_rows(meta: dict[str, str] | None) -> list[dict] | None:
    """`meta` as stored: key/value records sorted by key (None when empty)."""
    return [{"key": k, "value": v} for k, v in sorted(meta.items())] if meta else None


def meta_dict(value) -> dict[str, str]:
    """`meta` as read back, from this layout or the older `map<string,string>` one (pairs)."""
    out = {}
    for item in value or []:
        if isinstance(item, dict):
            out[item["key"]] = item["value"]
        else:
            key, val = item
            out[key] = val
    return out


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


def repair_text(text: str) -> str:
    """`text` made encodable as UTF-8: lone surrogates (from JSON `\\ud800` escapes) become
    U+FFFD, undecodable bytes of file names (Python's surrogateescape) become `\\xNN`."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as os.fsdecode keeps it
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def _needs_repair(value) -> bool:
    """Whether any string inside `value` cannot be encoded (checked without copying)."""
    if isinstance(value, str):
        if value.isascii():  # nearly all text
            return False
        try:
            value.encode("utf-8")
            return False
        except UnicodeEncodeError:
            return True
    if isinstance(value, dict):
        for key, item in value.items():
            if _needs_repair(key) or _needs_repair(item):
                return True
        return False
    if isinstance(value, (list, tuple)):
        for item in value:
            if _needs_repair(item):
                return True
    return False


# marshal writes a str as UTF-8 with surrogatepass, so a lone surrogate (and only one: valid UTF-8
# never holds ED A0-BF) shows as these two bytes. One marshal.dumps and one search in C is about
# 2.6x faster than walking a mined pair in Python (1.1 vs 2.9 us on a real PubMed pair), and every
# record and pair is checked once. A hit (a float's bytes may match too) or a type marshal does not
# take (named tuples, subclasses) falls back to the exact walk.
_SURROGATE_BYTES = re.compile(rb"\xed[\xa0-\xbf]")


def _may_need_repair(value) -> bool:
    if isinstance(value, tuple) and type(value) is not tuple:  # a join part, a named tuple
        value = tuple(value)
    try:
        return _SURROGATE_BYTES.search(marshal.dumps(value)) is not None
    except ValueError:  # not marshallable: only the walk can tell
        return True


def repair_record(value):
    """(value with every string repaired, number of strings changed), through dicts, lists,
    tuples and named tuples: what must hold before a record reaches Beam's coders or Parquet."""
    if not _may_need_repair(value) or not _needs_repair(value):
        return value, 0
    return _repaired(value)


def _repaired(value):
    if isinstance(value, str):
        fixed = repair_text(value)
        return fixed, int(fixed is not value)
    if isinstance(value, dict):
        changed, out = 0, {}
        for key, item in value.items():
            new_key, n_key = _repaired(key)
            new_item, n_item = _repaired(item)
            out[new_key] = new_item
            changed += n_key + n_item
        return (out, changed) if changed else (value, 0)
    if isinstance(value, (list, tuple)):
        items = [_repaired(item) for item in value]
        changed = sum(n for _, n in items)
        if not changed:
            return value, 0
        values = [v for v, _ in items]
        if isinstance(value, list):
            return values, changed
        return (type(value)(*values) if hasattr(value, "_fields") else tuple(values)), changed
    return value, 0


def repair_pair(pair: dict) -> tuple[dict, int]:
    """A pair with encodable text, its id recomputed from the repaired texts."""
    fixed, changed = repair_record(pair)
    if changed:
        fixed["id"] = pair_id(fixed["task"], fixed["query"], fixed["document"])
    return fixed, changed
