"""What every extractor returns: pairs, drop counts per reason, dead letters, and join parts.

Keeping drops and dead letters in the return value (not in a logger or a Beam counter) keeps the
extractors pure: the pipeline turns them into counters and `errors/` rows, a REPL user reads them.
A dead letter is counted where it is made (`Extraction.dead_letter`), so no extractor counts one
by hand.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from ..schemas import make_dead_letter
from ..schemas.counts import Counts


class JoinPart(NamedTuple):
    """Half of a pair whose other half lives in another record (a comment's submission, a link's
    target page): the pipeline groups parts by `key` across the whole input and hands each group
    to the source's pure join function. `side` names what the part is ("submission", "comment")."""

    side: str
    key: str
    value: dict


class Unreadable(NamedTuple):
    """A record a reader could not get out of its file, with a stable reason key."""

    reason: str
    detail: str


class Oversized(bytes):
    """What a size-limited stream returns in place of a line or document over the limit: empty,
    with the size seen. Readers turn it into a `record_too_large` dead letter."""

    size: int = 0

    def __new__(cls, size: int):
        obj = super().__new__(cls, b"")
        obj.size = size
        return obj

    def __bool__(self) -> bool:  # not end of file
        return True

    def unreadable(self) -> Unreadable:
        return Unreadable("record_too_large",
                          f"over {self.size:,} bytes (raise --max-record-bytes to read it)")


class Skipped(NamedTuple):
    """Input a reader passed over on purpose (a vendored folder): a drop, not a record."""

    reason: str


class Tally(Counter):
    """A Counter made with dict's own __init__ (Counter's calls update even with nothing to add):
    0.11 instead of 0.76 us, and every record's extraction makes two."""

    __slots__ = ()
    __init__ = dict.__init__


@dataclass
class Extraction:
    """The outcome of extracting one input unit (a file, a record)."""

    pairs: list[dict] = field(default_factory=list)
    drops: Counter = field(default_factory=Tally)
    dead_letters: list[dict] = field(default_factory=list)
    parts: list[JoinPart] = field(default_factory=list)
    notes: Counter = field(default_factory=Tally)  # what happened to a kept record

    def drop(self, reason: str, n: int = 1) -> None:
        self.drops[reason] += n

    def note(self, reason: str, n: int = 1) -> None:
        """Something worth counting that did not cost the record (a repaired encoding)."""
        self.notes[reason] += n

    def dead_letter(self, origin: str, source: str, reason: str, detail: str = "") -> None:
        """A record that cannot be used: its `errors/` row, and its count under `reason`."""
        self.dead_letters.append(make_dead_letter(origin, source, reason, detail))
        self.drops[reason] += 1

    def part(self, side: str, key: str, value: dict) -> None:
        self.parts.append(JoinPart(side, key, value))

    def merge(self, other: Extraction) -> Extraction:
        self.pairs.extend(other.pairs)
        self.drops.update(other.drops)
        self.dead_letters.extend(other.dead_letters)
        self.parts.extend(other.parts)
        self.notes.update(other.notes)
        return self

    def counts(self, into: Counts | None = None) -> Counts:
        """Drops and dead letters as counters (added to `into` when given): the one place an
        extraction is counted."""
        out = Counts() if into is None else into
        letters = Counter(letter["reason"] for letter in self.dead_letters) if self.dead_letters else {}
        for reason, n in self.drops.items():
            as_letters = min(n, letters.get(reason, 0))
            out.add("dead_letter", reason, as_letters)
            out.add("drop", reason, n - as_letters)
        for reason, n in self.notes.items():
            out.add("note", reason, n)
        return out
