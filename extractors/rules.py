"""The drop protocol for mined pairs: a rule looks at one pair and either keeps it (the pair,
possibly rewritten) or drops it with a reason, as datatrove's filters do. `apply_rules` is the
one place a pair rule's drop is counted (`drop` counter, per task, under the rule's reason), so
no step counts drops by hand; a rule may add notes (what it changed) to the counts it is given.

Rules about a whole record (a page's quality, a post's length) live in the extractors, which
return their reason in the `Extraction` (`Extraction.drop`), counted in `Extraction.counts`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

from ..schemas import pair_id
from ..schemas.counts import Counts
from .text.language import identify_language
from .text.personal_data import may_hold_personal_data, redact_personal_data


class Drop(NamedTuple):
    """A rule's verdict against a pair: the stable reason key it is counted under."""

    reason: str


PairRule = Callable[[dict, Counts], "dict | Drop"]


def apply_rules(pair: dict, rules: Iterable[PairRule], counts: Counts) -> dict | None:
    """The pair as every rule left it, or None when one dropped it (counted here)."""
    for rule in rules:
        verdict = rule(pair, counts)
        if isinstance(verdict, Drop):
            counts.add("drop", verdict.reason, 1, pair["task"])
            return None
        pair = verdict
    return pair


def language_rule(languages: Iterable[str], language_of: str = "pair") -> PairRule:
    """Text pairs get `lang` where their source left it empty; with `languages`, a pair in
    another language is dropped (`language`). For code (`language_of="query"`) `lang` is the
    programming language, so the docstring is identified only to decide."""
    wanted = frozenset(languages)

    def rule(pair: dict, counts: Counts) -> dict | Drop:
        if language_of == "query":
            if not wanted:
                return pair
            lang = identify_language(pair["query"])[0]
        else:
            lang = pair.get("lang") or identify_language(
                pair["query"] + "\n" + pair["document"])[0]
            if lang != pair.get("lang"):
                pair = {**pair, "lang": lang}
        if wanted and lang not in wanted:
            return Drop("language")
        return pair

    return rule


def personal_data_rule(mode: str) -> PairRule:
    """`--pii redact|drop|keep`: placeholders replace personal data in the query and the
    document, noted per kind (`pii:<kind>`); with `drop`, such a pair is dropped
    (`personal_data`)."""

    def rule(pair: dict, counts: Counts) -> dict | Drop:
        if mode == "keep" or not may_hold_personal_data(f"{pair['query']}\n{pair['document']}"):
            return pair  # most pairs: nothing either text could hold
        query, in_query = redact_personal_data(pair["query"])
        document, in_document = redact_personal_data(pair["document"])
        if not in_query and not in_document:  # most pairs
            return pair
        found = in_query + in_document
        task = pair["task"]
        for kind, n in found.items():
            counts.add("total", f"pii:{kind}", n, task)
        if mode == "drop":
            return Drop("personal_data")
        # the id is the content's: redacted copies of one pair stay one pair
        return {**pair, "query": query, "document": document,
                "id": pair_id(task, query, document)}

    return rule


def mined_pair_rules(settings, language_of: str = "pair") -> list[PairRule]:
    """The rules every mined pair passes, in order, from `RuleSettings`."""
    return [language_rule(settings.languages, language_of), personal_data_rule(settings.pii)]
