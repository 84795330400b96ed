"""Language on every mined text pair, and `--languages`: one step before the dataset writer,
so pairs made by joins pass it too."""

from __future__ import annotations

from ..extractors.text.language import identify_language
from .dataset_sink import CountsPerBundle


class IdentifyLanguages(CountsPerBundle):
    """Text pairs get `lang` where their source left it empty; with `languages`, a pair in
    another language is dropped, counted as `language` per task."""

    def __init__(self, languages: tuple[str, ...], language_of: str = "pair"):
        self._languages, self._language_of = frozenset(languages), language_of

    def process(self, pair: dict):
        if self._language_of == "query":  # code: `lang` is the programming language
            if not self._languages:
                yield pair
                return
            lang = identify_language(pair["query"])[0]
        else:
            lang = pair.get("lang") or identify_language(
                pair["query"] + "\n" + pair["document"])[0]
            if lang != pair.get("lang"):
                pair = {**pair, "lang": lang}
        if self._languages and lang not in self._languages:
            self._counts.add("drop", "language", 1, pair["task"])
            return
        yield pair
