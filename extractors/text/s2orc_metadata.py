"""S2ORC and Semantic Scholar paper metadata: (title, abstract) and (citing title, cited paper).

Part of the `s2orc` source (its SPEC lives in `s2orc.py`). Records come from:

- `--metadata`: S2ORC metadata rows (2020-07-05 `metadata/*.jsonl.gz`: `paper_id`, `title`,
  `abstract`, `outbound_citations`, ...), the 2019 full release's papers (`metadata: {title,
  abstract}`, citations as bib entries linked to S2 ids), and Open Corpus style rows (`id`,
  `paperAbstract`, `outCitations`);
- `--papers` / `--abstracts` / `--citations`: the Semantic Scholar Academic Graph (S2AG) exports,
  whose title (`papers`) and abstract (`abstracts`) sit in different files, keyed by `corpusid`,
  and whose citation edges (`citations`: `citingcorpusid`, `citedcorpusid`) are a third.

Every record leaves as join parts keyed by the paper's id (S2ORC's `paper_id` is S2's corpus id,
so the two releases meet): a `title` part, an `abstract` part (or the reason there is none) and a
`cites` part listing the ids the paper cites. Two join stages follow:

1. `join_paper` (key: a paper): the best title and abstract of the paper across every record
   that named it (the same paper read twice counts once) give `s2orc_title_abstract`; the paper
   becomes a `cited` part (its title and abstract, or why it has none) and each paper it cites
   receives a `citing` part carrying its title. Only ids and one title per edge cross the shuffle.
2. `join_citations` (key: a cited paper): each citing title with the cited paper's title and
   abstract gives `s2orc_citation_abstract`.

Only `outbound_citations` are read from S2ORC metadata: an edge in a paper's
`inbound_citations` is in its citing paper's outbound list, and without the citing paper in the
input it could not give a pair anyway.
"""

from __future__ import annotations

import dataclasses
import html
import re
from dataclasses import dataclass
from functools import reduce

from ...schemas import make_pair
from ...schemas.settings import positive_int, setting
from ..result import Extraction
from .language import identify_language
from .records import read_json_record
from .textnorm import normalize_whitespace
from .words import word_count

SOURCE = "s2orc"
TITLE_ABSTRACT = "s2orc_title_abstract"
CITATION_ABSTRACT = "s2orc_citation_abstract"
# join sides (the paper-parse join of s2orc.py uses "citation" and "paper")
TITLE, ABSTRACT, CITES, CITING, CITED = "title", "abstract", "cites", "citing", "cited"
# the input kinds that carry paper metadata, and which of them give titles and abstracts
METADATA_KINDS = ("metadata", "papers", "abstracts", "citations")
_TITLE_KINDS = ("metadata", "papers")
_ABSTRACT_KINDS = ("metadata", "abstracts")


@dataclass(frozen=True)
class PaperMetadataOptions:
    """The settings of the metadata tasks (`S2orcOptions` adds those of the paper parses)."""

    min_abstract_words: int = setting(10, "abstracts with fewer words are dropped",
                                      type=positive_int)
    max_abstract_words: int = setting(1000, "abstracts with more words (a whole paper in the "
                                            "abstract field) are dropped", type=positive_int)
    max_title_words: int = setting(50, "titles with more words are dropped", type=positive_int)
    citation_pairs: bool = setting(True, "mine s2orc_citation_abstract from the metadata's "
                                         "outbound_citations and --citations")
    # set from the inputs (`prepare`): which join stages the run needs
    with_parses: bool = setting(True, cli=False)
    with_metadata: bool = setting(True, cli=False)
    with_citations: bool = setting(True, cli=False)


def prepare_inputs(options, inputs) -> PaperMetadataOptions:
    """The options for the inputs given; a clear error when they can give no pair at all."""
    given = {name for name, patterns in inputs.items() if patterns}
    if not given:
        raise ValueError("mine s2orc: give at least one input: --input (paper parses), "
                         "--metadata (S2ORC metadata), or --papers with --abstracts (S2AG)")
    metadata = given & set(METADATA_KINDS)
    if metadata and not (given & set(_TITLE_KINDS) and given & set(_ABSTRACT_KINDS)):
        named = " ".join(f"--{k}" for k in METADATA_KINDS if k in metadata)
        needed = ("--abstracts (S2AG keeps abstracts in their own dataset)"
                  if given & set(_TITLE_KINDS) else "--papers or --metadata (for the titles)")
        raise ValueError(f"mine s2orc: {named} gives no pairs without {needed}")
    return dataclasses.replace(
        options, with_parses="input" in given, with_metadata=bool(metadata),
        with_citations=bool(metadata) and options.citation_pairs
        and bool(given & {"metadata", "citations"}))


# --- cleaning ---------------------------------------------------------------------------------

# Markup found in S2 titles and abstracts (Crossref's JATS, publishers' inline HTML); "p < 0.05"
# is not a tag.
_TAG = re.compile(r"</?(?:jats:[\w-]+|mml:[\w-]+|[ibpu]|em|strong|sub|sup|sc|scp|span|br|div|"
                  r"italic|bold|title|sec|list|list-item|inline-formula|tex-math)\b[^>]{0,200}>",
                  re.I)
# S2 separates an abstract's paragraphs (a structured abstract's sections) with ":::".
_PARAGRAPHS = re.compile(r"\s*:::\s*")
_LABEL = re.compile(r"^[A-Za-z][A-Za-z &/-]{0,40}:?$")  # "BACKGROUND", "Materials and methods"
# A heading in front of the text: "Abstract We prove", "ABSTRACT: ...", "ABSTRACTIntroduction:",
# "Summary: ...", Elsevier's "Publisher Summary", IEEE's "Summary form only given."
_HEADING = re.compile(r"^(?:(?i:publisher\s+summary|summary\s+form\s+only\s+given)\W*\s*"
                      r"|(?i:abstract|summary|unlabell?ed|résumé|resumen|zusammenfassung)\s*[:.—–]\s*"
                      r"|(?i:abstract)\s+(?=[A-Z0-9(\[\"'“])|ABSTRACT(?=[A-Z][a-z]))")
# A PDF's header before its "Abstract" heading: "jdoe@uni.edu Abstract Big data ..." (an e-mail
# address in it tells a header from prose that mentions an abstract syntax tree).
_NO_SENTENCE_END = r"(?:[^.!?]|[.!?](?=\S))"
_HEADER = re.compile(rf"^{_NO_SENTENCE_END}{{0,300}}?@{_NO_SENTENCE_END}{{0,300}}?"
                     r"\b(?:Abstract|ABSTRACT)\b\W*(?=\w)")
_PLACEHOLDER = re.compile(
    r"""^\W*(?:
        (?:no|without)\s+abstract\b
      | (?:an?\s+)?abstracts?\s+(?:is\s+|are\s+)?(?:not\s+available|unavailable|not\s+provided
            |missing|forthcoming|to\s+come|pending|not\s+applicable)
      | an\s+abstract\s+is\s+not\s+available
      | (?:there\s+is\s+|this\s+(?:article|paper|chapter|item|entry)\s+(?:has|contains)\s+)no\s+abstract
      | this\s+is\s+a\s+preview\s+of\s+subscription\s+content
      | the\s+sections\s+in\s+this\s+article\s+are
      | \[?this\s+corrects\s+the\s+article
      | (?:presents|provides)\s+(?:the\s+|a\s+)?(?:front\s+cover|back\s+cover|table\s+of\s+contents
            |listing\s+of|copyright\s+notice|title\s+page)
      | please\s+(?:see|refer\s+to)\s+the\s+(?:pdf|full[\s-]text)
      | (?:abstract|summary|n/?a|none|null|nil|not\s+available|unavailable|unknown|tba|tbd
            |untitled|empty|see\s+(?:pdf|full\s+text))\W*$
    )""", re.I | re.X)
# Titles that name a kind of item, not a paper: their "abstract" is no summary of them.
_GENERIC_TITLES = frozenset({
    "abstract", "abstracts", "acknowledgement", "acknowledgements", "acknowledgment",
    "acknowledgments", "announcement", "announcements", "author index", "back matter",
    "book review", "book reviews", "books received", "commentary", "contents", "contributors",
    "correction", "corrigendum", "cover", "discussion", "editorial", "editorial board",
    "editorial comment", "editorial note", "editors note", "editor's note", "erratum", "errata",
    "foreword", "front cover", "front matter", "in this issue", "index", "introduction",
    "letter", "letter to the editor", "letters", "letters to the editor", "masthead", "news",
    "notes", "obituary", "preface", "reply", "reviews", "subject index", "table of contents",
    "title page", "untitled", "no title", "none", "null", "n/a",
})


def _text(value) -> str:
    """A field as one line of text: strings, or a list of paragraphs (dicts with `text`)."""
    if isinstance(value, list):
        value = " ::: ".join(str(p.get("text") or "") if isinstance(p, dict) else str(p or "")
                             for p in value)
    elif not isinstance(value, str):
        value = "" if value is None or isinstance(value, (dict, bool)) else str(value)
    if "<" in value or "&" in value:
        value = _TAG.sub(" ", html.unescape(value))
    return value


def _joined_paragraphs(text: str) -> str:
    """S2's ":::"-separated paragraphs as one text: a section label joins its section
    ("BACKGROUND ::: The population" -> "BACKGROUND: The population"), empty paragraphs go, and a
    truncated teaser repeated in full after it ("... from the ... ::: ... from the ISS") goes."""
    parts = [p for p in (normalize_whitespace(p) for p in _PARAGRAPHS.split(text)) if p]
    kept: list[str] = []
    for part in parts:
        if kept and kept[-1].endswith(("...", "…")) and part.startswith(
                kept[-1].rstrip(".…").rstrip()[:200]):
            kept[-1] = part
        elif kept and _LABEL.match(kept[-1]) and len(kept[-1].split()) <= 4:
            kept[-1] = f"{kept[-1].rstrip(':')}: {part}"
        else:
            kept.append(part)
    return " ".join(kept)


def clean_title(value, options: PaperMetadataOptions) -> tuple[str, str]:
    """(title, "") or ("", reason): missing_title, generic_title, title_too_long."""
    title = normalize_whitespace(_text(value))
    if title.startswith("[") and title.rstrip(".").endswith("]"):  # PubMed: translated title
        title = title.rstrip(".")[1:-1].strip()
    if not title:
        return "", "missing_title"
    if title.casefold().strip(" .:") in _GENERIC_TITLES:
        return "", "generic_title"
    if word_count(title) > options.max_title_words:
        return "", "title_too_long"
    return title, ""


def clean_abstract(value, options: PaperMetadataOptions) -> tuple[str, str]:
    """(abstract, "") or ("", reason): missing_abstract, placeholder_abstract,
    abstract_too_short, abstract_too_long."""
    abstract = _joined_paragraphs(_text(value))
    abstract = _HEADING.sub("", _HEADER.sub("", abstract, count=1), count=1).strip()
    if not abstract:
        return "", "missing_abstract"
    if _PLACEHOLDER.match(abstract):
        return "", "placeholder_abstract"
    words = word_count(abstract)
    if words < options.min_abstract_words:
        return "", "abstract_too_short"
    if words > options.max_abstract_words:
        return "", "abstract_too_long"
    return abstract, ""


def _same_text(a: str, b: str) -> bool:
    return re.sub(r"\W+", "", a.casefold()) == re.sub(r"\W+", "", b.casefold())


# --- records ----------------------------------------------------------------------------------

_FLOAT_ID = re.compile(r"^\d+\.0+$")  # an integer id written through a float column


def _corpus_id(value) -> str:
    """An id as written in any export: 208605629, "208605629", 208605629.0 (a column with
    nulls that went through pandas)."""
    if value is None or isinstance(value, (bool, dict, list)):
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else ""
    text = str(value).strip()
    return text[:text.index(".")] if _FLOAT_ID.match(text) else text


def _paper_id(record: dict, *fields: str) -> str:
    for name in fields:
        found = _corpus_id(record.get(name))
        if found:
            return found
    external = record.get("externalids") or record.get("externalIds")
    return _corpus_id(external.get("CorpusId")) if isinstance(external, dict) else ""


_PARSES = ("grobid_parse", "latex_parse", "pdf_parse")


def _outbound(record: dict) -> list[str]:
    """The S2 ids a paper cites: `outbound_citations` (S2ORC 2020), `outCitations` (Open Corpus),
    or the links of its bib entries (the 2019 full release)."""
    listed = record.get("outbound_citations", record.get("outCitations"))
    if not isinstance(listed, list):
        listed = []
        for parse in [record, *(record.get(k) for k in _PARSES)]:
            entries = parse.get("bib_entries") if isinstance(parse, dict) else None
            if isinstance(entries, dict):
                for entry in entries.values():
                    link = entry.get("link") or entry.get("links") if isinstance(entry, dict) else None
                    listed.extend(link if isinstance(link, list) else [link])
    return sorted({i for i in map(_corpus_id, listed) if i})


def _begin(line, origin: str, out: Extraction, *id_fields: str) -> tuple[dict | None, str]:
    record = read_json_record(line, origin, SOURCE, out)
    if record is None:
        return None, ""
    paper_id = _paper_id(record, *id_fields)
    if not paper_id:
        out.drop("missing_paper_id")
        return None, ""
    return record, paper_id


def _abstract_part(out: Extraction, paper_id: str, value, origin: str, options) -> None:
    abstract, reason = clean_abstract(value, options)
    if abstract.endswith(("...", "…")):
        out.note("abstract_truncated")
    out.part(ABSTRACT, paper_id, {"text": abstract, "at": origin, "reason": reason})


def extract_paper_metadata(line: bytes | str, origin: str,
                           options: PaperMetadataOptions = PaperMetadataOptions()) -> Extraction:
    """One metadata row (`--metadata`, `--papers`): its title, its abstract when the row has
    the field, the ids it cites. Drops: missing_paper_id. Dead letters: unreadable JSON."""
    out = Extraction()
    record, paper_id = _begin(line, origin, out, "paper_id", "corpusid", "corpusId", "corpus_id",
                              "id")
    if record is None:
        return out
    nested = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    title, reason = clean_title(record["title"] if "title" in record else nested.get("title"),
                                options)
    out.part(TITLE, paper_id, {"text": title, "at": origin, "reason": reason})
    for holder, field in ((record, "abstract"), (nested, "abstract"), (record, "paperAbstract")):
        if field in holder:
            _abstract_part(out, paper_id, holder[field], origin, options)
            break
    if options.with_citations:
        cited = _outbound(record)
        if cited:
            out.part(CITES, paper_id, {"cited": cited})
    return out


def extract_abstract_row(line: bytes | str, origin: str,
                         options: PaperMetadataOptions = PaperMetadataOptions()) -> Extraction:
    """One S2AG `abstracts` row (corpusid, abstract, openaccessinfo): the paper's abstract.
    Drops: missing_paper_id. Dead letters: unreadable JSON."""
    out = Extraction()
    record, paper_id = _begin(line, origin, out, "corpusid", "corpusId", "corpus_id", "paper_id")
    if record is not None:
        _abstract_part(out, paper_id, record.get("abstract"), origin, options)
    return out


def extract_citation_row(line: bytes | str, origin: str,
                         options: PaperMetadataOptions = PaperMetadataOptions()) -> Extraction:
    """One S2AG `citations` row: the edge citing -> cited, keyed by the citing paper.
    Drops: citation_missing_id (an unresolved reference has no citedcorpusid), self_citation.
    Dead letters: unreadable JSON."""
    out = Extraction()
    record = read_json_record(line, origin, SOURCE, out)
    if record is None:
        return out
    citing = _paper_id(record, "citingcorpusid", "citingCorpusId", "citing_corpus_id")
    cited = _paper_id(record, "citedcorpusid", "citedCorpusId", "cited_corpus_id")
    if not citing or not cited:
        out.drop("citation_missing_id")
    elif citing == cited:
        out.drop("self_citation")
    elif options.with_citations:
        out.part(CITES, citing, {"cited": [cited]})
    return out


# --- joins ------------------------------------------------------------------------------------

def better_text(a: dict, b: dict) -> dict:
    """Of two titles (or abstracts) of one paper, the one to keep, whatever order they come in:
    a usable one, then the longer (a truncated copy is shorter), then the smaller."""
    return min(a, b, key=lambda v: (bool(v["reason"]), -len(v["text"]), v["text"], v["reason"],
                                    v["at"]))


def merge_cites(a: dict, b: dict) -> dict:
    return {"cited": sorted(set(a["cited"]) | set(b["cited"]))}


def _one(values: list[dict], better) -> dict | None:
    return reduce(better, values) if values else None


def join_paper(paper_id: str, groups: dict[str, list[dict]],
               options: PaperMetadataOptions = PaperMetadataOptions()) -> Extraction:
    """Every record of one paper: its s2orc_title_abstract pair, its `cited` part, a `citing`
    part for each paper it cites.

    Drops (one per paper): abstract_without_paper (an abstract whose paper no title record
    names), missing_title, generic_title, title_too_long, paper_without_abstract (no abstract
    record), missing_abstract, placeholder_abstract, abstract_too_short, abstract_too_long,
    abstract_is_title. Per edge: self_citation, citing_paper_not_in_input,
    citing_paper_without_title.
    """
    out = Extraction()
    title = _one(groups.get(TITLE, []), better_text)
    abstract = _one(groups.get(ABSTRACT, []), better_text)
    cited = sorted({c for part in groups.get(CITES, []) for c in part["cited"]})
    if paper_id in cited:
        cited.remove(paper_id)
        out.drop("self_citation")
    if title is None:
        reason = "abstract_without_paper" if abstract is not None else ""
    elif title["reason"]:
        reason = title["reason"]
    elif abstract is None:
        reason = "paper_without_abstract"
    elif abstract["reason"]:
        reason = abstract["reason"]
    elif _same_text(title["text"], abstract["text"]):
        reason = "abstract_is_title"
    else:
        reason = ""
    lang = ""
    if reason:
        out.drop(reason)
    elif title is not None and abstract is not None:
        # what the language rule would find for this pair, found once for every pair the
        # paper is the document of (identification reads the title and the abstract's start)
        lang = identify_language(f"{title['text']}\n{abstract['text']}")[0]
        out.pairs.append(make_pair(
            TITLE_ABSTRACT, title["text"], abstract["text"], SOURCE, f"s2orc:{paper_id}",
            lang=lang, meta={"paper": paper_id, "title_record": title["at"],
                             "abstract_record": abstract["at"]}))
        if options.with_parses:  # the paper-parse citations of it get its abstract too
            out.part("paper", paper_id, {"abstract": abstract["text"]})
    if options.with_citations and title is not None:
        out.part(CITED, paper_id, {"reason": reason} if reason else
                 {"title": title["text"], "abstract": abstract["text"], "lang": lang})
    if cited:
        if title is None:
            out.drop("citing_paper_not_in_input", len(cited))
        elif title["reason"]:
            out.drop("citing_paper_without_title", len(cited))
        else:
            for other in cited:
                out.part(CITING, other, {"title": title["text"], "paper": paper_id})
    return out


def join_citations(cited_id: str, groups: dict[str, list[dict]]) -> Extraction:
    """The papers citing one paper -> s2orc_citation_abstract pairs (citing title, cited title
    and abstract), in the cited paper's language: the document is most of what language
    identification would read, and it is identified once per paper, not once per citation.

    Drops (per citing paper): cited_paper_not_in_input, cited_paper_without_abstract (read, but
    it gave no s2orc_title_abstract pair: the reason is counted there), same_title (a paper
    citing another version of itself).
    """
    out = Extraction()
    citing = groups.get(CITING, [])
    if not citing:
        return out
    cited = groups.get(CITED, [])
    paper = next((c for c in sorted(cited, key=lambda c: c.get("title", "")) if "title" in c), None)
    if paper is None:
        out.drop("cited_paper_without_abstract" if cited else "cited_paper_not_in_input",
                 len(citing))
        return out
    document = f"{paper['title']}\n\n{paper['abstract']}"
    for part in sorted(citing, key=lambda c: c["paper"]):
        if _same_text(part["title"], paper["title"]):
            out.drop("same_title")
            continue
        out.pairs.append(make_pair(
            CITATION_ABSTRACT, part["title"], document, SOURCE, f"s2orc:{part['paper']}->{cited_id}",
            lang=paper.get("lang") or None,
            meta={"citing_paper": part["paper"], "cited_paper": cited_id}))
    return out
