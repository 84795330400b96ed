"""arXiv metadata (the Kaggle snapshot, one JSON object per line): (title, abstract) pairs."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ...schemas import make_pair
from ...schemas.settings import positive_int, setting
from ..result import Extraction
from ..spec import InputKind, SourceSpec, Task
from .latex import latex_to_text  # pylatexenc only where the fast path declines
from .records import read_json_record, read_lines
from .words import word_count

TASK = "arxiv_title_abstract"
SOURCE = "arxiv"
_WITHDRAWN = ("this paper has been withdrawn", "this article has been withdrawn",
              "this submission has been withdrawn", "paper withdrawn")


@dataclass(frozen=True)
class ArxivOptions:
    min_abstract_words: int = setting(10, "abstracts with fewer words are dropped", type=positive_int)


def extract_arxiv_record(line: bytes | str, origin: str, options: ArxivOptions = ArxivOptions()
                         ) -> Extraction:
    """One snapshot line to at most one pair; `origin` says where the line is (file:line).

    Drops (counters): missing_title, missing_abstract, withdrawn, abstract_too_short.
    Dead letters: decode_error, invalid_json, not_an_object.
    """
    out = Extraction()
    record = read_json_record(line, origin, SOURCE, out)
    if record is None:
        return out
    title = latex_to_text(str(record.get("title") or ""))
    abstract = latex_to_text(str(record.get("abstract") or ""))
    if not title:
        out.drop("missing_title")
        return out
    if not abstract:
        out.drop("missing_abstract")
        return out
    if abstract.lower().startswith(_WITHDRAWN) or "withdrawn" in str(record.get("comments") or "").lower():
        out.drop("withdrawn")
        return out
    if word_count(abstract) < options.min_abstract_words:
        out.drop("abstract_too_short")
        return out
    paper = str(record.get("id") or "").strip()
    meta = {"categories": " ".join(str(record.get("categories") or "").split())}
    if paper:
        meta["arxiv_id"] = paper
    if record.get("doi"):
        meta["doi"] = str(record["doi"])
    out.pairs.append(make_pair(TASK, title, abstract, SOURCE, f"arxiv:{paper}" if paper else origin,
                               lang="en", meta=meta))
    return out


SPEC = SourceSpec(
    name=SOURCE,
    help="(title, abstract) pairs from the arXiv metadata snapshot",
    description="Mine arxiv_title_abstract pairs from the Kaggle arXiv metadata snapshot "
                "(JSON lines; plain, .gz, .bz2, .zst).",
    tasks=(Task(TASK, "title", "abstract"),),
    options=ArxivOptions,
    requires=(("pylatexenc", "text"),),
    inputs=(InputKind("input", "snapshot files (files or glob patterns; local, gs://, s3://)",
                      lambda options: functools.partial(extract_arxiv_record, options=options),
                      records=read_lines, json_rows=True),),
)
