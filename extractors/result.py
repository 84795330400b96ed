"""What every extractor returns: pairs, drop counts per reason, and dead letters.

Keeping drops and dead letters in the return value (not in a logger or a Beam counter) keeps the
extractors pure: the pipeline turns them into counters and `errors/` rows, a REPL user reads them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Extraction:
    """The outcome of extracting one input unit (a file, a record)."""

    pairs: list[dict] = field(default_factory=list)
    drops: Counter = field(default_factory=Counter)
    dead_letters: list[dict] = field(default_factory=list)

    def drop(self, reason: str, n: int = 1) -> None:
        self.drops[reason] += n

    def merge(self, other: Extraction) -> Extraction:
        self.pairs.extend(other.pairs)
        self.drops.update(other.drops)
        self.dead_letters.extend(other.dead_letters)
        return self
