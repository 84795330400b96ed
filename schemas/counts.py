"""Counters as data: what a run read, kept, dropped, removed and set aside, per task and reason.

A `Counts` is a summable mapping (kind, task, reason) -> n. Extractors and Beam steps produce
them, Beam sums them with `+`, and the manifest stores them as a list of records, so no counter
name is ever parsed back out of a prefixed string.

Kinds:
  total        records_read, bytes_read, pairs_kept, rows_in, rows_out (task "" or a task)
  drop         a record or pair that gave nothing, with the rule that dropped it
  removed      a pair removed by dedup (exact_duplicate, near_duplicate, decontaminated:LABEL)
  dead_letter  a record that could not be read, also written to errors/ with its detail
  histogram    a distribution (cluster_size: reason is the bucket)
  note         something that happened to a kept record (a content encoding that did not apply)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import NamedTuple

KINDS = ("total", "drop", "removed", "dead_letter", "histogram", "note")
_KIND_SET = frozenset(KINDS)


class CountKey(NamedTuple):
    kind: str
    task: str
    reason: str


class Counts:
    """A multiset of counter keys; `a + b` sums, `Counts.total(...)` and friends build one."""

    __slots__ = ("_n",)

    def __init__(self, items: Mapping[CountKey, int] | Iterable[tuple[CountKey, int]] = ()):
        self._n: dict[CountKey, int] = {}
        pairs = items.items() if isinstance(items, Mapping) else items
        for key, n in pairs:
            self.add(key.kind, key.reason, n, key.task)

    def add(self, kind: str, reason: str, n: int = 1, task: str = "") -> Counts:
        if not n:
            return self
        if kind not in _KIND_SET:
            raise ValueError(f"unknown counter kind {kind!r}; one of {', '.join(KINDS)}")
        key = CountKey(kind, task, reason)
        self._n[key] = self._n.get(key, 0) + n
        return self

    def __add__(self, other: Counts) -> Counts:
        out = Counts(self._n)
        for key, n in other._n.items():
            out.add(key.kind, key.reason, n, key.task)
        return out

    def __iadd__(self, other: Counts) -> Counts:
        for key, n in other._n.items():
            self.add(key.kind, key.reason, n, key.task)
        return self

    def __eq__(self, other) -> bool:
        return isinstance(other, Counts) and self._n == other._n

    def __bool__(self) -> bool:
        return bool(self._n)

    def __iter__(self) -> Iterator[tuple[CountKey, int]]:
        return iter(sorted(self._n.items()))

    def __repr__(self) -> str:
        return f"Counts({dict(self)})"

    def get(self, kind: str, reason: str, task: str | None = None) -> int:
        """The count of `reason` of `kind`, for one task or (task None) summed over tasks."""
        return sum(n for k, n in self._n.items()
                   if k.kind == kind and k.reason == reason and (task is None or k.task == task))

    def by_reason(self, *kinds: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for key, n in self._n.items():
            if key.kind in kinds:
                out[key.reason] = out.get(key.reason, 0) + n
        return dict(sorted(out.items()))

    def select(self, kind: str) -> list[tuple[str, str, int]]:
        """(task, reason, n) of one kind, sorted."""
        return [(k.task, k.reason, n) for k, n in sorted(self._n.items()) if k.kind == kind]

    def to_json(self) -> list[dict]:
        return [{"kind": k.kind, "task": k.task, "reason": k.reason, "n": n}
                for k, n in sorted(self._n.items())]

    @classmethod
    def from_json(cls, rows: Iterable[Mapping]) -> Counts:
        out = cls()
        for row in rows:
            out.add(row["kind"], row["reason"], int(row["n"]), row.get("task", ""))
        return out

    def summary(self, dead_letters: int | None = None) -> dict:
        """The manifest's `counters` block: totals, and records dropped per reason (drops, dedup
        removals and dead letters together, as users read them)."""
        return {
            "records_read": self.get("total", "records_read"),
            "bytes_read": self.get("total", "bytes_read"),
            "pairs_kept": self.get("total", "pairs_kept"),
            "dead_letters": (self.get_kind("dead_letter") if dead_letters is None
                             else dead_letters),
            "drops": self.by_reason("drop", "removed", "dead_letter"),
        }

    def get_kind(self, kind: str) -> int:
        return sum(n for k, n in self._n.items() if k.kind == kind)


def total(reason: str, n: int = 1, task: str = "") -> Counts:
    return Counts().add("total", reason, n, task)


def dropped(reason: str, n: int = 1, task: str = "") -> Counts:
    return Counts().add("drop", reason, n, task)
