"""Completion markers: a piece of resumable work (an input shard of `mine`, a task of
`negatives`) says it finished, and with what, so a rerun of the same command redoes only the
rest. As datatrove does per task: the marker is written last, after everything it vouches for."""

from __future__ import annotations

import json

from ..schemas import storage


class CompletionMarker:
    """A marker file holding the fingerprint of the work (its command and inputs) and what the
    work wants back on a rerun (its counts)."""

    def __init__(self, location: str):
        self.location = location

    def finished(self, fingerprint) -> dict | None:
        """What the work recorded when it finished with this fingerprint; None otherwise."""
        if not storage.is_file(self.location):
            return None
        try:
            record = json.loads(storage.read_bytes(self.location))
        except ValueError:  # a damaged marker only costs a rerun
            return None
        if not isinstance(record, dict) or record.get("fingerprint") != fingerprint:
            return None
        return record.get("payload") or {}

    def write(self, fingerprint, payload: dict | None = None) -> None:
        storage.write_bytes(self.location, json.dumps(
            {"fingerprint": fingerprint, "payload": payload or {}}).encode())
