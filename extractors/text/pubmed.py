"""PubMed / MEDLINE baseline and update files (`pubmedYYnNNNN.xml.gz`): (title, abstract) pairs.

A file is a `PubmedArticleSet` of `PubmedArticle` (and `PubmedBookArticle`) records; update files
end with a `DeleteCitation` listing PMIDs that must disappear, and re-send revised records whole.
The MEDLINE files before 2017 (`medline16n0902.xml.gz`) are the same records as bare
`MedlineCitation` elements in a `MedlineCitationSet`; they read the same way.

Which version of a PMID wins is decided over the whole input, so a citation leaves the
extraction as a `citation` part keyed by its PMID (the pair, or only the reason it gave none)
and a deletion as a `delete` part; `join_pubmed_versions` keeps the newest. Newest means the
later file (`pubmed25n0001` > `pubmed24n1300` > `pubmed24n1219`: year, then file number; a file
named otherwise ranks by the last number in its name), then the higher `Version`, then the later
`DateRevised`. A deletion removes every reading of its PMID from its own file and earlier ones.
Only the best part of each side travels (reducers), so the join moves one text per PMID.

Real files declare an external DTD (`<!DOCTYPE PubmedArticleSet PUBLIC ... pubmed_250101.dtd>`):
it is neither fetched nor read. A document whose DOCTYPE declares entities or elements of its
own (an internal subset: how entity bombs get in) is refused, as `xmlstream` refuses any DTD.
Bytes that are not UTF-8, and characters XML forbids, are replaced by U+FFFD before the parser
sees them (the record is kept and counted); a file that breaks keeps every record before the
break and ends with one `Unreadable`.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ...schemas import make_pair
from ...schemas.settings import non_negative_int, positive_int, setting
from ..result import Extraction, Unreadable
from ..spec import InputKind, JoinStage, SourceSpec, Task
from .textnorm import normalize_whitespace
from .words import word_count

TASK = "pubmed_title_abstract"
SOURCE = "pubmed"
CITATION, DELETE = "citation", "delete"
_RECORDS = ("PubmedArticle", "PubmedBookArticle", "MedlineCitation", "DeleteCitation")
_SETS = frozenset({"PubmedArticleSet", "MedlineCitationSet", "PubmedBookArticleSet"})
# Publication types of notices about another article: their "abstract" is the notice.
_NOTICES = frozenset({"published erratum", "retraction of publication", "expression of concern",
                      "retraction notice"})
# the elements a citation's fields come from (the rest of a record is passed over in C)
_FIELDS = ("PMID", "ArticleTitle", "BookTitle", "VernacularTitle", "Abstract", "Language",
           "PublicationType", "CommentsCorrections", "DateRevised", "ELocationID", "ArticleId",
           "Title", "PubDate")
_NO_LABEL = frozenset({"", "UNLABELLED", "UNASSIGNED"})
_NOT_AVAILABLE = re.compile(r"^\[?\s*not available\s*\]?\.?$", re.IGNORECASE)
_FILE_NUMBER = re.compile(r"(?:pubmed|medline)(\d{2})n(\d{3,5})", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_ENCODING = re.compile(rb"""^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)""")
_MATH = "{http://www.w3.org/1998/Math/MathML}math"
_NOT_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CONTROL_BYTES = bytes([*range(0x09), 0x0b, 0x0c, *range(0x0e, 0x20)])
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug",
                                       "sep", "oct", "nov", "dec"), 1)}


@dataclass(frozen=True)
class PubmedOptions:
    min_abstract_words: int = setting(10, "abstracts with fewer words are dropped", type=positive_int)
    max_abstract_words: int = setting(2000, "abstracts with more words are dropped (0: no limit)",
                                      type=non_negative_int)
    join_versions: bool = setting(
        True, "emit every record as it is read: no join on PMID, so deletions in update files "
              "and newer versions of a record are NOT applied (enough for one baseline alone, "
              "and it shuffles no texts)")


# --- reading ---------------------------------------------------------------------------------

class _Utf8Repair:
    """A UTF-8 byte stream whose invalid bytes and XML-forbidden characters (NUL, other C0
    controls, U+FFFE/U+FFFF) read as U+FFFD, so one bad byte costs a character, not the rest of
    the file. A document in another declared encoding (or UTF-16/32) passes through untouched.
    Clean chunks (nearly all) pass as they are."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self._carry = b""  # the start of a character the last chunk ended inside
        self._passthrough: bool | None = None
        self._done = False

    def read(self, size: int = -1) -> bytes:
        while not self._done:
            data = self._stream.read(size if size and size > 0 else 1 << 16)
            if self._passthrough is None:
                self._passthrough = not _is_utf8(data)
            if self._passthrough:
                self._done = not data
                return data
            if not data:
                self._done = True
                return _clean(self._carry)
            data = self._carry + data
            cut = _complete(data)
            data, self._carry = data[:cut], data[cut:]
            if data:
                return _clean(data)
        return b""


def _complete(data: bytes) -> int:
    """Where the last complete UTF-8 character of `data` ends."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)
        if byte >= 0xC0:  # a lead byte: is its sequence all there?
            needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) - back if back < needed else len(data)
    return len(data)


def _clean(data: bytes) -> bytes:
    if len(data.translate(None, _CONTROL_BYTES)) == len(data):
        if data.isascii():
            return data
        if b"\xef\xbf\xbe" not in data and b"\xef\xbf\xbf" not in data:
            try:
                data.decode("utf-8")
                return data
            except UnicodeDecodeError:
                pass
    return _NOT_XML_CHARS.sub("\ufffd", data.decode("utf-8", "replace")).encode("utf-8")


def _is_utf8(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:4]:
        return False  # UTF-16 or UTF-32: libxml2 reads them itself
    declared = _ENCODING.match(head[:512])
    if declared is None:
        return True
    return declared.group(1).decode("ascii").lower().replace("_", "-") in ("utf-8", "utf8")


def iter_citations(stream: BinaryIO) -> Iterator[tuple[str, dict | Unreadable]]:
    """(PMID, fields) for every citation of a PubmedArticleSet (or MedlineCitationSet), and
    (PMID, {"kind": "delete", ...}) for every PMID of its DeleteCitation; then an Unreadable if
    the document is refused or breaks. A record without a PMID is located as `record N`.
    Memory stays flat: each record is cleared once read."""
    from lxml import etree

    parser = etree.iterparse(_Utf8Repair(stream), events=("end",), tag=_RECORDS,
                             resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=True)
    locator, number, checked = "start", 0, False
    try:
        for _, element in parser:
            parent = element.getparent()
            if element.tag == "MedlineCitation" and parent is not None \
                    and parent.tag == "PubmedArticle":
                continue  # read with its PubmedArticle
            if not checked:
                checked = True
                if _declares_a_dtd(element):
                    yield "start", _DTD_REFUSED
                    return
            if getattr(stream, "error", None) is not None:
                return  # the file broke inside this record: its reader reports that, once
            number += 1
            if element.tag == "DeleteCitation":
                for pmid in element.iter("PMID"):
                    value = normalize_whitespace(pmid.text or "")
                    if value:
                        locator = value
                        yield value, {"kind": "delete", "pmid": value,
                                      "version": (pmid.get("Version") or "").strip()}
            else:
                fields = _citation_fields(element)
                locator = _locator(fields) or f"record {number}"
                yield locator, fields
            element.clear()
            while element.getprevious() is not None:  # records already handed out
                del element.getparent()[0]
    except etree.XMLSyntaxError as exc:
        if getattr(stream, "error", None) is not None:
            return
        yield (locator if locator == "start" else f"after {locator}"), \
            Unreadable("invalid_xml", str(exc))
        return
    root = getattr(parser, "root", None)
    if not checked and root is not None:
        if _declares_a_dtd(root):
            yield "start", _DTD_REFUSED
        elif etree.QName(root).localname not in _SETS:
            yield "start", Unreadable("not_pubmed_xml", f"the root element is <{root.tag}>, not "
                                      "<PubmedArticleSet> or <MedlineCitationSet>")


_DTD_REFUSED = Unreadable("dtd_not_allowed", "the document's DOCTYPE declares entities or "
                          "elements of its own; PubMed files only name their external DTD")


def _declares_a_dtd(element) -> bool:
    """Whether the document's DOCTYPE has an internal subset that declares anything (the
    external DTD PubMed files name is never loaded)."""
    dtd = element.getroottree().docinfo.internalDTD
    if dtd is None:
        return False
    return any(True for _ in dtd.iterentities()) or any(True for _ in dtd.iterelements())


def _locator(fields: dict) -> str:
    pmid, version = fields["pmid"], fields["version"]
    if not pmid:
        return ""
    return pmid if version in ("", "1") else f"{pmid}.{version}"


def _text(element) -> str:
    """An element's text with inline markup (<i>, <sup>) read as text; MathML formulas as their
    tokens without the layout whitespace between them (`V̇O2max` is "V.O2max", not "V . O 2 m a x")."""
    for math in list(element.iter(_MATH)):
        tokens = "".join(token.strip() for token in math.itertext())
        math.clear(keep_tail=True)
        math.text = tokens
    return normalize_whitespace("".join(element.itertext()))


def _citation_fields(record) -> dict:
    fields = {"kind": "book" if record.tag == "PubmedBookArticle" else "article", "pmid": "",
              "version": "", "title": "", "book_title": "", "vernacular_title": "",
              "sections": None, "languages": [], "types": [], "retraction_in": False,
              "revised": "", "doi": "", "journal": "", "year": ""}
    for element in record.iter(_FIELDS):
        tag = element.tag
        if tag == "PMID":  # the record's own: not that of a comment or correction
            if not fields["pmid"] and element.getparent().tag in ("MedlineCitation", "BookDocument"):
                fields["pmid"] = normalize_whitespace(element.text or "")
                fields["version"] = (element.get("Version") or "").strip()
        elif tag == "ArticleTitle":
            fields["title"] = fields["title"] or _text(element)
        elif tag == "BookTitle":
            fields["book_title"] = fields["book_title"] or _text(element)
        elif tag == "VernacularTitle":
            fields["vernacular_title"] = fields["vernacular_title"] or _text(element)
        elif tag == "Abstract" and fields["sections"] is None:
            fields["sections"] = [[normalize_whitespace(part.get("Label") or ""), _text(part)]
                                  for part in element.iter("AbstractText")]
        elif tag == "Language":
            language = normalize_whitespace(element.text or "").lower()
            if language and language not in fields["languages"]:
                fields["languages"].append(language)
        elif tag == "PublicationType":
            fields["types"].append(_text(element))
        elif tag == "CommentsCorrections":
            fields["retraction_in"] |= (element.get("RefType") or "") == "RetractionIn"
        elif tag == "DateRevised" and not fields["revised"]:
            fields["revised"] = _date(element)
        elif tag in ("ELocationID", "ArticleId") and not fields["doi"]:
            if (element.get("EIdType") or element.get("IdType") or "").lower() == "doi":
                fields["doi"] = normalize_whitespace(element.text or "")
        elif tag == "Title" and not fields["journal"] and element.getparent() is not None \
                and element.getparent().tag == "Journal":
            fields["journal"] = _text(element)
        elif tag == "PubDate" and not fields["year"]:
            fields["year"] = _year(element)
    return fields


def _date(element) -> str:
    """YYYY-MM-DD from <Year>, <Month> (number or name) and <Day>; "" if there is no year."""
    parts = {child.tag: (child.text or "").strip() for child in element if isinstance(child.tag, str)}
    year = parts.get("Year", "")
    if not year.isdigit():
        return ""
    month = parts.get("Month", "")
    month = int(month) if month.isdigit() else _MONTHS.get(month[:3].lower(), 0)
    day = parts.get("Day", "")
    return f"{int(year):04d}-{month:02d}-{int(day) if day.isdigit() else 0:02d}"


def _year(pub_date) -> str:
    for child in pub_date:
        if child.tag in ("Year", "MedlineDate"):
            found = re.search(r"\b(1[6-9]|20)\d\d\b", child.text or "")
            if found:
                return found.group(0)
    return ""


# --- extracting ------------------------------------------------------------------------------

def abstract_text(sections: list) -> str:
    """Abstract sections as one text: a labelled section as "LABEL: text", one per line."""
    lines = []
    for label, text in sections:
        if text:
            lines.append(text if label.upper() in _NO_LABEL else f"{label}: {text}")
    return "\n".join(lines)


def _untranslated(title: str) -> tuple[str, bool]:
    """MEDLINE writes the English translation of a foreign title in brackets ("[Vaccines are
    drugs]."): the title without them, and whether it was one."""
    stripped = title[:-1] if title.endswith(".") else title
    if stripped.startswith("[") and stripped.endswith("]") and _balanced(stripped[1:-1]):
        return normalize_whitespace(stripped[1:-1]) + ("." if title.endswith(".") else ""), True
    return title, False


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += (char == "[") - (char == "]")
        if depth < 0:
            return False
    return depth == 0


@functools.lru_cache(maxsize=4096)
def file_rank(label: str) -> tuple[int, int]:
    """(year, number) of a file from its name: `pubmed24n1300.xml.gz` -> (24, 1300); another
    name ranks by its last number (0, N), or (0, 0)."""
    name = os.path.basename(label.rstrip("/"))
    found = _FILE_NUMBER.search(name)
    if found:
        return int(found.group(1)), int(found.group(2))
    numbers = _DIGITS.findall(name)
    return 0, int(numbers[-1]) if numbers else 0


def _version(value: str) -> int:
    return int(value) if value.isdigit() else 1


def extract_pubmed_citation(record: dict, origin: str, options: PubmedOptions = PubmedOptions()
                            ) -> Extraction:
    """One record of a PubMed file; `origin` is "<file>:<PMID>".

    A citation gives its pair as a `citation` part keyed by PMID (`join_versions`; otherwise the
    pair itself), a deletion a `delete` part. A citation that gives no pair still leaves a
    `citation` part with the reason, so that it hides older versions of itself.
    Drops: missing_title, missing_abstract, retracted (PublicationType "Retracted Publication"
    or a RetractionIn comment), correction_notice (errata, retraction notices, expressions of
    concern), abstract_too_short, abstract_too_long. Dead letters: missing_pmid.
    Notes: deletion_read, invalid_utf8_replaced (bytes that were not UTF-8 became U+FFFD).
    """
    out = Extraction()
    label = origin.rsplit(":", 1)[0]
    year, number = file_rank(label)
    pmid = str(record.get("pmid") or "")
    if record.get("kind") == "delete":
        out.note("deletion_read")
        if options.join_versions and pmid:
            out.part(DELETE, pmid, {"rank": [year, number, 1, 0, "", label, ""]})
        return out
    if not pmid:
        out.dead_letter(origin, SOURCE, "missing_pmid", "a citation without a <PMID>")
        return out
    title, translated = _untranslated(str(record.get("title") or ""))
    if _NOT_AVAILABLE.match(title):
        title = ""
    if not title:
        title = str(record.get("vernacular_title") or record.get("book_title") or "")
    abstract = abstract_text(record.get("sections") or [])
    types = [str(t) for t in record.get("types") or []]
    lowered = {t.lower() for t in types}
    words = word_count(abstract)
    reason = ("missing_title" if not title else
              "retracted" if "retracted publication" in lowered or record.get("retraction_in") else
              "correction_notice" if lowered & _NOTICES else
              "missing_abstract" if not abstract else
              "abstract_too_short" if words < options.min_abstract_words else
              "abstract_too_long" if options.max_abstract_words and words > options.max_abstract_words
              else "")
    digest = hashlib.sha1(f"{title}\x00{abstract}".encode("utf-8", "surrogatepass")).hexdigest()
    rank = [year, number, 0, _version(str(record.get("version") or "")),
            str(record.get("revised") or ""), label, digest]
    if reason:
        out.drop(reason)
        if options.join_versions:
            out.part(CITATION, pmid, {"rank": rank, "dropped": reason})
        return out
    if "\ufffd" in title or "\ufffd" in abstract:
        out.note("invalid_utf8_replaced")
    languages = [str(x) for x in record.get("languages") or []]
    meta = {"pmid": pmid, "language": " ".join(languages)}
    for key in ("doi", "journal", "year", "revised"):
        if record.get(key):
            meta[key] = str(record[key])
    if types:
        meta["publication_types"] = "; ".join(types)
    if _version(str(record.get("version") or "")) > 1:
        meta["version"] = str(record["version"])
    if translated:
        meta["title_translated"] = "true"
    if record.get("kind") == "book":
        meta["record"] = "book"
    # <Language> is the article's: a foreign article's title is an English translation and its
    # abstract mostly English, so only an English article sets `lang`; the rules identify the rest.
    pair = make_pair(TASK, title, abstract, SOURCE, origin,
                     lang="en" if "eng" in languages else None, meta=meta)
    if options.join_versions:
        out.part(CITATION, pmid, {"rank": rank, "pair": pair})
    else:
        out.pairs.append(pair)
    return out


def newer_citation(a: dict, b: dict) -> dict:
    """The newer of two readings of one PMID, counting in `superseded` the older readings that
    would have given a pair (those that gave none were counted when read). Associative and
    commutative, so Beam may combine in any order."""
    new, old = (a, b) if a["rank"] >= b["rank"] else (b, a)
    superseded = a.get("superseded", 0) + b.get("superseded", 0) + ("dropped" not in old)
    return {**new, "superseded": superseded}


def newer_deletion(a: dict, b: dict) -> dict:
    return a if a["rank"] >= b["rank"] else b


def join_pubmed_versions(pmid: str, groups: dict[str, list[dict]]) -> Extraction:
    """Every reading of one PMID -> the newest one's pair, unless a deletion in the same or a
    later file removed it.

    Drops: superseded (per older reading that had a pair), deleted (the newest reading had a
    pair and a deletion came after it).
    """
    out = Extraction()
    citations, deletions = groups.get(CITATION, []), groups.get(DELETE, [])
    if not citations:
        return out  # the PMID was deleted, or is not in this run's files
    newest = functools.reduce(newer_citation, citations)
    if newest.get("superseded"):
        out.drop("superseded", newest["superseded"])
    if "dropped" in newest:
        return out
    if deletions and functools.reduce(newer_deletion, deletions)["rank"] > newest["rank"]:
        out.drop("deleted")
        return out
    out.pairs.append(newest["pair"])
    return out


SPEC = SourceSpec(
    name=SOURCE,
    help="(title, abstract) pairs from PubMed baseline and update files",
    description="Mine pubmed_title_abstract pairs from PubMed's annual baseline and daily update "
                "files (PubmedArticleSet XML, plain or .gz; MEDLINE's older MedlineCitationSet "
                "too). Structured abstracts keep their section labels. Retracted records are "
                "dropped; deletions in update files are applied and only the newest version of "
                "each PMID is kept (later file, then higher Version), over the whole input.",
    tasks=(Task(TASK, "article title", "abstract"),),
    options=PubmedOptions,
    requires=(("lxml", "text"),),
    inputs=(InputKind("input", "baseline / update files (files or glob patterns; local, gs://, s3://)",
                      lambda options: functools.partial(extract_pubmed_citation, options=options),
                      records=iter_citations),),
    joins=lambda options: ((JoinStage((CITATION, DELETE), join_pubmed_versions,
                                      reducers={CITATION: newer_citation, DELETE: newer_deletion}),)
                           if options.join_versions else ()),
)
