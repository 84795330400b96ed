"""Wikipedia `pages-articles` dumps: (title, lead paragraph) and (sentence with a link, the
linked article's lead).

Wikitext is parsed with mwparserfromhell; references, tables, galleries, files and categories
are removed before the markup is stripped. A link's target is usually another page of the same
dump, often through a redirect, so the link pairs take two joins: `link` parts meet `redirect`
parts on the target title (`resolve_wikipedia_redirects`), and the resolved links meet the
target's `page` part (`join_wikipedia_links`).
"""

from __future__ import annotations

import functools
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
from .xmlstream import iter_records

SOURCE = "wikipedia"
ENTITY_DESCRIPTION = "wikipedia_entity_description"
CITATION_REFERENCE = "wikipedia_citation_reference"
_DROPPED_TAGS = frozenset({"ref", "table", "gallery", "math", "timeline", "imagemap", "score",
                           "syntaxhighlight", "source", "templatedata", "graph"})
# Namespaced links are not article links: files, categories, other wikis, other languages.
_NAMESPACED = re.compile(r"^\s*:?\s*[A-Za-z][\w -]*\s*:")
_EMPTY_BRACKETS = re.compile(r"\(\s*[;,]?\s*\)")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")
_HEADING_LINE = re.compile(r"^=+[^\n]*=+[ \t]*$", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


@dataclass(frozen=True)
class WikipediaOptions:
    min_lead_words: int = setting(8, "leads with fewer words give no pair", type=positive_int)
    min_sentence_words: int = setting(6, "linking sentences with fewer words are dropped",
                                      type=positive_int)
    max_links_per_page: int = setting(20, "linking sentences kept per article (0: none)",
                                      type=non_negative_int)


def normalize_title(title: str) -> str:
    """A page title as MediaWiki compares them: underscores as spaces, no #section, first
    letter upper case."""
    title = normalize_whitespace(title.split("#", 1)[0].replace("_", " "))
    return title[:1].upper() + title[1:]


def iter_pages(stream: BinaryIO) -> Iterator[tuple[str, dict | Unreadable]]:
    """(page id, {title, ns, id, redirect, text}) for each `<page>` of an export, streamed."""
    return iter_records(stream, "page", _page_fields)


def _page_fields(page) -> tuple[str, dict]:
    from lxml import etree

    fields = {"title": "", "ns": "0", "id": "", "redirect": "", "text": ""}
    for child in page.iter():
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        if name in ("title", "ns") or name == "id" and not fields["id"]:  # the page's id, not a revision's
            fields[name] = child.text or ""
        elif name == "redirect":
            fields["redirect"] = child.get("title") or ""
        elif name == "text":
            fields["text"] = child.text or ""
    return fields["id"] or "?", fields


def _clean(code) -> None:
    """Remove what is not prose from parsed wikicode, in place."""
    for tag in code.filter_tags():
        if str(tag.tag).strip().lower() in _DROPPED_TAGS:
            _remove(code, tag)
    for link in code.filter_wikilinks():
        if _NAMESPACED.match(str(link.title)):
            _remove(code, link)


def _remove(code, node) -> None:
    try:
        code.remove(node)
    except ValueError:  # inside something already removed
        pass


def _plain(code) -> str:
    text = code.strip_code(normalize=True, collapse=True)
    text = _EMPTY_BRACKETS.sub("", text)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text)


def _paragraphs(text: str) -> list[str]:
    return [p for p in (normalize_whitespace(p) for p in re.split(r"\n\s*\n", text)) if p]


def extract_wikipedia_page(page: dict, origin: str,
                           options: WikipediaOptions = WikipediaOptions()) -> Extraction:
    """One page: an entity_description pair, a `page` part with its lead, and `link` parts for
    sentences that link to other articles; a redirect page gives only a `redirect` part.

    Drops: other_namespace, redirect, missing_title, no_lead (no paragraph of enough words),
    unparsable_wikitext.
    """
    import mwparserfromhell

    out = Extraction()
    if str(page.get("ns", "0")).strip() != "0":
        out.drop("other_namespace")
        return out
    title = normalize_title(page.get("title") or "")
    if not title:
        out.drop("missing_title")
        return out
    if page.get("redirect"):
        out.drop("redirect")
        out.part("redirect", title, {"target": normalize_title(page["redirect"])})
        return out
    try:
        code = mwparserfromhell.parse(page.get("text") or "")
        _clean(code)
        sections = code.get_sections(include_lead=True, flat=True)
    except Exception as exc:  # the parser copes with most garbage; never lose the dump over a page
        out.dead_letter(origin, SOURCE, "unparsable_wikitext", f"{type(exc).__name__}: {exc}")
        return out
    lead_section = sections[0] if sections and not str(sections[0]).lstrip().startswith("=") else None
    lead = next((p for p in _paragraphs(_plain(lead_section)) if word_count(p) >= options.min_lead_words),
                "") if lead_section is not None else ""
    page_origin = f"wikipedia:{title}"
    if not lead:
        out.drop("no_lead")
    else:
        out.pairs.append(make_pair(ENTITY_DESCRIPTION, title, lead, SOURCE, page_origin,
                                   meta={"page_id": str(page.get("id") or "")}))
        out.part("page", title, {"lead": lead})
    _link_parts(code, title, options, out)
    return out


def _link_parts(code, title: str, options: WikipediaOptions, out: Extraction) -> None:
    """Sentences holding an article link, keyed by the (unresolved) target title."""
    import mwparserfromhell

    emitted = 0
    for raw in re.split(r"\n\s*\n", _HEADING_LINE.sub("", str(code))):
        if "[[" not in raw or raw.lstrip().startswith(("{|", "|", "!")):
            continue
        paragraph = mwparserfromhell.parse(raw)
        plain = normalize_whitespace(_plain(paragraph))
        sentences = _SENTENCE_END.split(plain)
        cursor = 0
        for link in paragraph.filter_wikilinks(recursive=False):
            target = normalize_title(str(link.title))
            shown = normalize_whitespace((link.title if link.text is None else link.text).strip_code())
            if not target or target == title or not shown:
                continue
            found = next((i for i in range(cursor, len(sentences)) if shown in sentences[i]), None)
            if found is None:
                continue
            cursor = found
            sentence = sentences[found]
            if word_count(sentence) < options.min_sentence_words:
                continue
            out.part("link", target, {"sentence": sentence, "from": title})
            emitted += 1
            if emitted >= options.max_links_per_page:
                return


def resolve_wikipedia_redirects(target: str, groups: dict[str, list[dict]]) -> Extraction:
    """Links to a redirect page are re-keyed to the redirect's target (one hop, as MediaWiki)."""
    out = Extraction()
    redirects = groups.get("redirect", [])
    final = min(r["target"] for r in redirects) if redirects else target
    for link in groups.get("link", []):
        out.part("resolved_link", final, link)
    return out


def join_wikipedia_links(target: str, groups: dict[str, list[dict]]) -> Extraction:
    """Resolved links meet the target page's lead. Drops: link_target_missing (per link)."""
    out = Extraction()
    pages, links = groups.get("page", []), groups.get("resolved_link", [])
    if not pages:
        out.drop("link_target_missing", len(links))
        return out
    lead = min(p["lead"] for p in pages)
    for link in links:
        if link["from"] == target:  # a link back to itself through a redirect
            continue
        out.pairs.append(make_pair(CITATION_REFERENCE, link["sentence"], lead, SOURCE,
                                   f"wikipedia:{link['from']}->{target}",
                                   meta={"from": link["from"], "target": target}))
    return out


SPEC = SourceSpec(
    name=SOURCE,
    help="(title, lead) and (linking sentence, linked lead) pairs from a dump",
    description="Mine wikipedia_entity_description (article title, lead paragraph) and "
                "wikipedia_citation_reference (a sentence with a wiki link, the linked "
                "article's lead; redirects resolved) from a pages-articles XML dump "
                "(plain or .bz2, streamed).",
    tasks=(Task(ENTITY_DESCRIPTION, "article title", "lead paragraph"),
           Task(CITATION_REFERENCE, "sentence with a link", "linked article's lead")),
    options=WikipediaOptions,
    requires=(("mwparserfromhell", "text"), ("lxml", "text")),
    inputs=(InputKind("input", "pages-articles dumps (files or glob patterns; local, gs://, s3://)",
                      lambda options: functools.partial(extract_wikipedia_page, options=options),
                      records=iter_pages),),
    joins=lambda options: (JoinStage(("link", "redirect"), resolve_wikipedia_redirects),
                           JoinStage(("resolved_link", "page"), join_wikipedia_links)),
)
