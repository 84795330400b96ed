"""What every extractor returns: pairs, drop counts per reason, dead letters, and join parts.

Keeping drops and dead letters in the return value (not in a logger or a Beam counter) keeps the
extractors pure: the pipeline turns them into counters and `errors/` rows, a REPL user reads them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple


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


@dataclass
class Extraction:
    """The outcome of extracting one input unit (a file, a record)."""

    pairs: list[dict] = field(default_factory=list)
    drops: Counter = field(default_factory=Counter)
    dead_letters: list[dict] = field(default_factory=list)
    parts: list[JoinPart] = field(default_factory=list)

    def drop(self, reason: str, n: int = 1) -> None:
        self.drops[reason] += n

    def part(self, side: str, key: str, value: dict) -> None:
        self.parts.append(JoinPart(side, key, value))

    def merge(self, other: Extraction) -> Extraction:
        self.pairs.extend(other.pairs)
        self.drops.update(other.drops)
        self.dead_letters.extend(other.dead_letters)
        self.parts.extend(other.parts)
        return self
