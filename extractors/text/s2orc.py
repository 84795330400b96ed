"""S2ORC paper parses (`body_text` with `cite_spans`, `bib_entries`): (citing sentence, cited paper).

The query is the sentence around a citation, with the citation markers taken out; the document
is the cited paper's title, and its abstract too when the cited paper is in the input. That
second half needs a join: a citation whose bib entry links to an S2 paper id leaves as a
`citation` part keyed by that id, every paper leaves a `paper` part with its abstract, and
`join_s2orc_citations` meets them.

The same source reads paper metadata (S2ORC `metadata` rows, S2AG `papers`, `abstracts` and
`citations`) for s2orc_title_abstract and s2orc_citation_abstract: see `s2orc_metadata.py`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ...schemas import make_pair
from ...schemas.settings import positive_int, setting
from ..result import Extraction, Oversized, Unreadable
from ..spec import InputKind, JoinStage, SourceSpec, Task
from .records import read_json_record, read_lines
from .s2orc_metadata import (
    ABSTRACT,
    CITATION_ABSTRACT,
    CITED,
    CITES,
    CITING,
    TITLE,
    TITLE_ABSTRACT,
    PaperMetadataOptions,
    better_text,
    extract_abstract_row,
    extract_citation_row,
    extract_paper_metadata,
    join_citations,
    join_paper,
    merge_cites,
    prepare_inputs,
)
from .textnorm import normalize_whitespace
from .words import word_count

SOURCE = "s2orc"
TASK = "s2orc_citation_reference"
# A sentence ends at . ! ? followed by space and a capital, digit-free opener or bracket. Good
# enough for paper prose ("et al. 2005" and "Fig. 2" do not split); no model to download.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\[(])")
_EMPTY_BRACKETS = re.compile(r"[(\[]\s*[;,\s]*\s*[)\]]|\(\s*[;,]\s*|\s+[;,]\s*(?=[)\]])")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")


@dataclass(frozen=True)
class S2orcOptions(PaperMetadataOptions):
    min_sentence_words: int = setting(6, "citing sentences with fewer words are dropped",
                                      type=positive_int)
    max_sentence_words: int = setting(120, "citing sentences with more words are dropped",
                                      type=positive_int)


def read_papers(stream: BinaryIO) -> Iterator[tuple[str, bytes | Unreadable]]:
    """Papers of a file: JSON lines (the corpus shards) or one pretty-printed JSON document."""
    first = stream.readline()
    number = 1
    while first and (isinstance(first, Oversized) or not first.strip()):
        if isinstance(first, Oversized):
            yield str(number), first.unreadable()
        first = stream.readline()
        number += 1
    if not first:
        return
    try:
        json.loads(first)
        one_per_line = True
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        # A broken line of a JSON-lines file still looks like one: "{...}" on its own line.
        stripped = first.strip()
        one_per_line = stripped.startswith(b"{") and stripped.endswith(b"}") and len(stripped) > 2
    if not one_per_line:  # one document over many lines
        rest = stream.read()
        yield str(number), rest.unreadable() if isinstance(rest, Oversized) else first + rest
        return
    yield str(number), first
    for line_number, line in enumerate(stream, number + 1):
        if isinstance(line, Oversized):
            yield str(line_number), line.unreadable()
        elif line.strip():
            yield str(line_number), line


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return spans


def _without_markers(text: str, start: int, end: int, cites: list[dict]) -> str:
    """The sentence text[start:end] with every citation marker inside it removed."""
    pieces, cursor = [], start
    for cite in sorted(cites, key=lambda c: c["start"]):
        if start <= cite["start"] and cite["end"] <= end and cite["start"] >= cursor:
            pieces.append(text[cursor:cite["start"]])
            cursor = cite["end"]
    pieces.append(text[cursor:end])
    sentence = _EMPTY_BRACKETS.sub(" ", "".join(pieces))
    return _SPACE_BEFORE_PUNCT.sub(r"\1", normalize_whitespace(sentence))


# Where a release keeps the parsed paper: top level (2020-07 pdf_parses), `pdf_parse`
# (s2orc-doc2json), `grobid_parse` then `latex_parse` (the 2019/2020 full releases).
_PARSES = ("pdf_parse", "grobid_parse", "latex_parse")


def _parse_of(paper: dict) -> dict:
    """The part of a record holding `body_text` and `bib_entries`, whatever the release."""
    if isinstance(paper.get("body_text"), list) and paper["body_text"]:
        return paper
    for key in _PARSES:
        parse = paper.get(key)
        if isinstance(parse, dict) and isinstance(parse.get("body_text"), list) and parse["body_text"]:
            return parse
    return paper


def _abstract(paper: dict, parse: dict) -> str:
    """The abstract from the record, its metadata (2019/2020 releases) or its parse."""
    metadata = paper.get("metadata") if isinstance(paper.get("metadata"), dict) else {}
    for value in (paper.get("abstract"), metadata.get("abstract"), parse.get("abstract")):
        text = _abstract_text(value)
        if text:
            return text
    return ""


def _link(entry: dict) -> str:
    """The S2 paper id a bib entry links to (`link` in 2020 parses, `links` in 2019)."""
    value = entry.get("link") or entry.get("links") or ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "").strip()


def _abstract_text(value) -> str:
    if isinstance(value, list):
        value = " ".join(str(p.get("text") or "") for p in value if isinstance(p, dict))
    return normalize_whitespace(str(value or ""))


def _valid_cite(cite) -> bool:
    return (isinstance(cite, dict) and isinstance(cite.get("start"), int)
            and isinstance(cite.get("end"), int) and 0 <= cite["start"] <= cite["end"])


def extract_s2orc_paper(document: bytes | str, origin: str,
                        options: S2orcOptions = S2orcOptions()) -> Extraction:
    """One paper: citation pairs (title only, or a `citation` part when the reference links to
    an S2 paper) and a `paper` part carrying its abstract.

    Drops: missing_paper_id, no_body_text, unknown_reference, reference_without_title,
    sentence_too_short, sentence_too_long. Dead letters: unreadable JSON.
    """
    out = Extraction()
    paper = read_json_record(document, origin, SOURCE, out)
    if paper is None:
        return out
    paper_id = str(paper.get("paper_id") or paper.get("corpusid") or "").strip()
    if not paper_id:
        out.drop("missing_paper_id")
        return out
    parse = _parse_of(paper)
    abstract = _abstract(paper, parse)
    if abstract:
        out.part("paper", paper_id, {"abstract": abstract})
    paragraphs = parse.get("body_text")
    if not isinstance(paragraphs, list) or not paragraphs:
        out.drop("no_body_text")
        return out
    bib = parse.get("bib_entries") if isinstance(parse.get("bib_entries"), dict) else {}
    seen: set[tuple[str, str]] = set()
    for paragraph in paragraphs:
        if not isinstance(paragraph, dict):
            continue
        text = str(paragraph.get("text") or "")
        cites = [c for c in paragraph.get("cite_spans") or [] if _valid_cite(c)]
        if not cites:
            continue
        sentences = _sentence_spans(text)
        for cite in cites:
            entry = bib.get(cite.get("ref_id")) if cite.get("ref_id") else None
            if not isinstance(entry, dict):
                out.drop("unknown_reference")
                continue
            title = normalize_whitespace(str(entry.get("title") or ""))
            if not title:
                out.drop("reference_without_title")
                continue
            start, end = next(((s, e) for s, e in sentences if s <= cite["start"] < max(e, s + 1)),
                              sentences[-1])
            sentence = _without_markers(text, start, end, cites)
            words = word_count(sentence)
            if words < options.min_sentence_words:
                out.drop("sentence_too_short")
                continue
            if words > options.max_sentence_words:
                out.drop("sentence_too_long")
                continue
            if (sentence, cite["ref_id"]) in seen:  # one sentence citing one work twice
                continue
            seen.add((sentence, cite["ref_id"]))
            link = _link(entry)
            citation = {"sentence": sentence, "title": title,
                        "origin": f"s2orc:{paper_id}#{cite['ref_id']}", "citing_paper": paper_id}
            if link:
                out.part("citation", link, citation)
            else:
                out.pairs.append(_pair(citation, "", ""))
    return out


def _pair(citation: dict, cited_paper: str, abstract: str) -> dict:
    document = f"{citation['title']}\n\n{abstract}" if abstract else citation["title"]
    meta = {"citing_paper": citation["citing_paper"]}
    if cited_paper:
        meta["cited_paper"] = cited_paper
    return make_pair(TASK, citation["sentence"], document, SOURCE, citation["origin"], lang="en",
                     meta=meta)


def join_s2orc_citations(paper_id: str, groups: dict[str, list[dict]]) -> Extraction:
    """Citations of one S2 paper id: title and abstract when that paper was read, else title."""
    out = Extraction()
    papers = groups.get("paper", [])
    abstract = min((p["abstract"] for p in papers), default="")  # the same paper read twice
    for citation in groups.get("citation", []):
        out.pairs.append(_pair(citation, paper_id, abstract))
    return out


def _joins(options: S2orcOptions) -> tuple[JoinStage, ...]:
    """The paper-metadata stages when metadata is read (their `paper` parts feed the last
    stage), then the paper-parse citation join, as it always ran."""
    stages = []
    if options.with_metadata:
        stages.append(JoinStage((TITLE, ABSTRACT, CITES), functools.partial(join_paper, options=options),
                                reducers={TITLE: better_text, ABSTRACT: better_text, CITES: merge_cites}))
        if options.with_citations:
            stages.append(JoinStage((CITING, CITED), join_citations))
    stages.append(JoinStage(("citation", "paper"), join_s2orc_citations))
    return tuple(stages)


def _metadata_kind(name: str, help: str, extract, records=read_lines) -> InputKind:  # noqa: A002
    return InputKind(name, help, lambda options: functools.partial(extract, options=options),
                     records=records, required=False, json_rows=True)


SPEC = SourceSpec(
    name=SOURCE,
    help="(citing sentence, cited paper) pairs from S2ORC paper parses; (title, abstract) and "
         "(citing title, cited paper) pairs from S2ORC / S2AG metadata",
    description="Mine s2orc_citation_reference from paper parses (--input): each citing "
                "sentence (citation markers removed) with the cited paper's title, plus its "
                "abstract when the cited paper is in the input too (joined on S2 paper id). "
                "From paper metadata (--metadata: S2ORC metadata rows; --papers with --abstracts: "
                "the S2AG datasets, joined on corpusid) mine s2orc_title_abstract, and "
                "s2orc_citation_abstract: a citing paper's title with the cited paper's title and "
                "abstract, when both papers are in the input (edges from the metadata's "
                "outbound_citations or S2AG --citations). Give at least one input. JSON lines "
                "(plain, .gz, .bz2, .zst), Parquet exports, or one paper per .json file.",
    tasks=(Task(TASK, "citing sentence", "cited paper's title (+ abstract)"),
           Task(TITLE_ABSTRACT, "paper title", "abstract"),
           Task(CITATION_ABSTRACT, "citing paper's title", "cited paper's title + abstract")),
    options=S2orcOptions,
    inputs=(InputKind("input", "paper parse files: S2ORC pdf_parses, s2orc-doc2json output "
                               "(files or glob patterns; local, gs://, s3://)",
                      lambda options: functools.partial(extract_s2orc_paper, options=options),
                      records=read_papers, required=False, json_rows=True),
            _metadata_kind("metadata", "S2ORC metadata rows (metadata/*.jsonl.gz: paper_id, title, "
                                       "abstract, outbound_citations) or full-release papers",
                           extract_paper_metadata, records=read_papers),
            _metadata_kind("papers", "S2AG `papers` dataset files (corpusid, title, ...)",
                           extract_paper_metadata),
            _metadata_kind("abstracts", "S2AG `abstracts` dataset files (corpusid, abstract)",
                           extract_abstract_row),
            _metadata_kind("citations", "S2AG `citations` dataset files (citingcorpusid, "
                                        "citedcorpusid); optional, for s2orc_citation_abstract",
                           extract_citation_row)),
    joins=_joins,
    prepare=prepare_inputs,
)
