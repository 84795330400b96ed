"""Parsing one line of a JSON-lines dump into a dict, or the reason it cannot be read."""

from __future__ import annotations

import json
from collections.abc import Iterator

from ..result import Extraction, Oversized, Unreadable


def parse_json_record(line: bytes | str) -> tuple[dict | None, str, str]:
    """(record, reason, detail): record is None when the line is not a JSON object.

    Bytes are decoded as UTF-8 (with or without a byte-order mark); reasons are stable keys:
    `decode_error`, `invalid_json`, `not_an_object`.
    """
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return None, "decode_error", str(exc)
    line = line.lstrip("\ufeff")
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, "invalid_json", f"{exc}: {line[:200]!r}"
    except RecursionError:
        return None, "invalid_json", "nesting too deep"
    if not isinstance(record, dict):
        return None, "not_an_object", f"{type(record).__name__}: {line[:200]!r}"
    return record, "", ""


def read_json_record(line: bytes | str, origin: str, source: str, out: Extraction) -> dict | None:
    """The record of a line, or None after counting the reason and adding the dead letter."""
    record, reason, detail = parse_json_record(line)
    if record is None:
        out.dead_letter(origin, source, reason, detail)
    return record


def read_lines(stream) -> Iterator[tuple[str, bytes | Unreadable]]:
    """(line number, line) of every non-blank line: the record reader of JSON-lines dumps.

    A line over the stream's size limit comes as Oversized and leaves as a dead letter.
    """
    for number, line in enumerate(stream, 1):
        if isinstance(line, Oversized):
            yield str(number), line.unreadable()
        elif line.strip():
            yield str(number), line
