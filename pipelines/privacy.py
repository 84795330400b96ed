"""`--pii redact|drop|keep` on every mined pair, before the dataset writer: placeholders
replace personal data in the query and the document, counted per kind (`pii:<kind>`)."""

from __future__ import annotations

from ..extractors.text.personal_data import redact_personal_data
from ..schemas import pair_id
from .dataset_sink import CountsPerBundle


class RedactPersonalData(CountsPerBundle):
    def __init__(self, mode: str):
        self._mode = mode

    def process(self, pair: dict):
        if self._mode == "keep":
            yield pair
            return
        query, in_query = redact_personal_data(pair["query"])
        document, in_document = redact_personal_data(pair["document"])
        found = in_query + in_document
        if not found:
            yield pair
            return
        task = pair["task"]
        for kind, n in found.items():
            self._counts.add("total", f"pii:{kind}", n, task)
        if self._mode == "drop":
            self._counts.add("drop", "personal_data", 1, task)
            return
        # the id is the content's: redacted copies of one pair stay one pair
        yield {**pair, "query": query, "document": document,
               "id": pair_id(task, query, document)}
