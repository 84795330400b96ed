"""Wikipedia `pages-articles` dumps: (title, lead paragraph), (title and section heading, the
section's text) and (sentence with a link, the linked article's lead).

Templates, tables, references, comments, files and categories are cut from the wikitext before
anything is parsed (`wikitext.strip_wikitext`); the rest becomes plain text by regular
expressions, and mwparserfromhell parses only the paragraphs whose markup those cannot read
(`wikitext.plain_text`). Parsing whole pages cost about 18 times as much (measured on 206 enwiki
pages), most of it on the templates the text never keeps. A link's target is usually another
page of the same dump, often through a redirect, so the link pairs take two joins: `link` parts
meet `redirect` parts on the target title (`resolve_wikipedia_redirects`), and the resolved links
meet the target's `page` part (`join_wikipedia_links`). Link sentences are read only until a page
has given `max_links_per_page`.

Sections are the heading lines' (a heading is a line, as MediaWiki reads it): each heading's
text up to its first subsection, cleaned as the lead is. Sections under a heading that names the
back matter of an article in the dump's language ("See also", "Einzelnachweise", "脚注") are
skipped by name; sections left empty or too short by the cleaning, or made mostly of list items,
are dropped with their reason.
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
from .wikitext import Section, plain_and_links, plain_text, split_sections, strip_wikitext
from .words import word_count
from .xmlstream import iter_records

SOURCE = "wikipedia"
ENTITY_DESCRIPTION = "wikipedia_entity_description"
CITATION_REFERENCE = "wikipedia_citation_reference"
SECTION_PASSAGE = "wikipedia_section_passage"
# Namespaced links are not article links: files, categories, other wikis, other languages, in
# any script (`[[File:...]]`, `[[ファイル:...]]`, `[[Категорія:...]]`); matched after the `[[`.
# A Latin prefix that is no namespace or wiki code and has a space after its colon begins an
# article's title (`[[Mad Max: Fury Road]]`): the link and its text stay.
_NAMESPACES = ("file|image|media|category|template|help|portal|user|wikipedia|wp|project|special"
               "|mediawiki|module|draft|book|timedtext|gadget|topic|education program|talk"
               "|wikt|wiktionary|wikisource|wikiquote|wikibooks|wikinews|wikiversity|wikivoyage"
               "|voy|commons|meta|species|wikidata|incubator|foundation|wikimedia|wmf|phab"
               "|outreach|mw|[a-z]")
_NAMESPACE_PREFIX = re.compile(
    rf"\s*:?\s*(?:(?i:(?:{_NAMESPACES})(?:[ _]talk)?|[a-z]{{2,3}}(?:-[a-z]+)*)\s*:"
    r"|[^\W\d_][\w -]*\s*:(?!\s)|[\w -]*[^\W\d_\x00-\x7f][\w -]*\s*:)")
_EMPTY_BRACKETS = re.compile(r"\(\s*[;,]?\s*\)")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")
_HEADING_LINE = re.compile(r"^=+[^\n]*=+[ \t]*$", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
# A line of `=` markup that MediaWiki did not take for a heading (`== x`, unbalanced): shown as
# text by the wiki, never prose.
_STRAY_HEADING = re.compile(r"^[ \t]*=[^\n]*$|^[^\n]*==[ \t]*$", re.MULTILINE)
# Markup left as text around a construct nothing could read (an unclosed <ref>, template or
# link, a table with run-together attributes, italics left open): the section's text is not
# trusted.
_MARKUP_LEFT = ("[[", "]]", "{{", "}}", "{|", "<ref", "</ref", "''")
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# `dewiki-20240101-pages-articles1.xml-p1p297012.bz2`, `zh_yuewiki-latest-...`: the wiki's code
_WIKI_FILE = re.compile(r"(?:^|[/\\])([a-z]{2,3}(?:[_-][a-z]+)?|simple)wiki[-_.]")


@dataclass(frozen=True)
class WikipediaOptions:
    min_lead_words: int = setting(8, "leads with fewer words give no pair", type=positive_int)
    min_sentence_words: int = setting(6, "linking sentences with fewer words are dropped",
                                      type=positive_int)
    max_links_per_page: int = setting(20, "linking sentences kept per article (0: none)",
                                      type=non_negative_int)
    section_pairs: bool = setting(True, "do not mine wikipedia_section_passage (\"Title: "
                                        "Section\", the section's text)")
    min_section_words: int = setting(20, "sections with fewer words give no section pair",
                                     type=positive_int)


# The headings of an article's back matter, by the wiki's language code (casefolded; a trailing
# "(selection)" and joined names such as "Notes and references" are matched too). Everything
# under such a heading is skipped by name: links, references, literature, media, works lists.
_BACK_MATTER = {
    "en": ("see also", "references", "reference", "external links", "external link", "notes",
           "footnotes", "endnotes", "further reading", "bibliography", "sources", "citations",
           "works cited", "cited works", "cited sources", "general references", "general sources",
           "explanatory notes", "gallery", "image gallery", "discography", "filmography",
           "selected bibliography", "selected works", "selected publications", "related pages",
           "other websites", "links"),
    "de": ("siehe auch", "literatur", "weiterführende literatur", "weblinks", "weblink",
           "einzelnachweise", "einzelnachweis", "anmerkungen", "quellen", "quelle", "belege",
           "nachweise", "fußnoten", "referenzen", "galerie", "bildergalerie", "diskografie",
           "filmografie", "bibliografie"),
    "fr": ("voir aussi", "références", "référence", "notes", "liens externes", "lien externe",
           "bibliographie", "articles connexes", "article connexe", "sources", "source", "annexes",
           "galerie", "filmographie", "discographie", "webographie", "pour approfondir",
           "liens internes"),
    "es": ("véase también", "referencias", "referencia", "notas", "enlaces externos",
           "enlace externo", "vínculos externos", "bibliografía", "fuentes", "galería",
           "galería de imágenes", "filmografía", "discografía", "lecturas adicionales",
           "lectura adicional", "otras lecturas"),
    "it": ("voci correlate", "note", "bibliografia", "collegamenti esterni",
           "collegamento esterno", "altri progetti", "fonti", "riferimenti", "galleria",
           "galleria d'immagini", "filmografia", "discografia", "approfondimenti"),
    "pt": ("ver também", "referências", "referência", "notas", "ligações externas",
           "ligação externa", "links externos", "bibliografia", "fontes", "galeria",
           "galeria de imagens", "filmografia", "discografia", "leitura adicional",
           "leituras adicionais", "leitura complementar"),
    "ru": ("см. также", "примечания", "литература", "ссылки", "внешние ссылки", "источники",
           "сноски", "комментарии", "библиография", "галерея", "фильмография", "дискография"),
    "uk": ("див. також", "примітки", "література", "посилання", "зовнішні посилання", "джерела",
           "виноски", "бібліографія", "галерея", "фільмографія", "дискографія"),
    "ja": ("脚注", "注釈", "注", "出典", "参考文献", "参考資料", "関連文献", "関連項目", "外部リンク",
           "外部サイト", "ギャラリー", "画像"),
    "zh": ("参见", "參見", "参阅", "參閱", "相关条目", "相關條目", "参考文献", "參考文獻", "参考资料",
           "參考資料", "参考来源", "參考來源", "来源", "來源", "资料来源", "資料來源", "外部链接",
           "外部連結", "外部鏈接", "外部连结", "注释", "註釋", "注釋", "注解", "註解", "脚注", "腳註",
           "延伸阅读", "延伸閱讀", "扩展阅读", "擴展閱讀", "图集", "圖集", "画廊", "畫廊"),
    "nl": ("zie ook", "externe links", "externe link", "bronnen", "bron", "bronvermelding",
           "referenties", "noten", "voetnoten", "literatuur", "galerij", "filmografie",
           "discografie", "bibliografie"),
    "pl": ("zobacz też", "przypisy", "uwagi", "bibliografia", "literatura", "linki zewnętrzne",
           "źródła", "galeria", "filmografia", "dyskografia"),
    "vi": ("xem thêm", "tham khảo", "tài liệu tham khảo", "chú thích", "ghi chú", "liên kết ngoài",
           "đọc thêm", "thư mục", "nguồn", "thư viện ảnh"),
}
# Joins between back-matter names ("Notes and references", "Literatur und Weblinks", "脚注・出典").
_NAME_JOINS = re.compile(r"\s*(?:[,;&/+・、]|\b(?:and|und|et|y|e|ed|en|i|oraz|и|і|та|và)\b)\s*")
_SELECTION = re.compile(r"\s*[(（][^()（）]*[)）]$")


def normalize_title(title: str) -> str:
    """A page title as MediaWiki compares them: underscores as spaces, no #section, first
    letter upper case."""
    title = normalize_whitespace(title.split("#", 1)[0].replace("_", " "))
    return title[:1].upper() + title[1:]


def iter_pages(stream: BinaryIO) -> Iterator[tuple[str, dict | Unreadable]]:
    """(page id, {title, ns, id, redirect, text, lang}) for each `<page>` of an export, streamed;
    `lang` is the dump's language (the root's xml:lang, else the siteinfo's dbname), or ""."""
    site: dict[str, str] = {}

    def read(page) -> tuple[str, dict]:
        if "lang" not in site:
            site["lang"] = _dump_language(page)
        locator, fields = _page_fields(page)
        fields["lang"] = site["lang"]
        return locator, fields

    return iter_records(stream, "page", read)


def _dump_language(page) -> str:
    """Read once, at the first page, while the siteinfo before it is still in the tree."""
    from lxml import etree

    root = page.getparent()
    if root is None:
        return ""
    if root.get(_XML_LANG):
        return root.get(_XML_LANG).strip().lower()
    for child in root:
        if isinstance(child.tag, str) and etree.QName(child).localname == "siteinfo":
            for field in child:
                if isinstance(field.tag, str) and etree.QName(field).localname == "dbname":
                    name = (field.text or "").strip().lower()
                    return name[:-4] if name.endswith("wiki") else ""
    return ""


def pair_language(wiki: str) -> str | None:
    """The `lang` of a wiki's pairs: its code when that is ISO 639-1 (`de`, `zh` of `zh-yue`,
    `en` for `simple`), else None, left to identification. A wiki is written in its language,
    so this is surer than identifying each passage (which read an English section as
    Aragonese) and costs nothing: identification was the largest cost of `mine wikipedia`."""
    code = re.split(r"[-_]", wiki.strip().lower(), maxsplit=1)[0]
    if code == "simple":
        return "en"
    return code if re.fullmatch(r"[a-z]{2}", code) else None


@functools.lru_cache(maxsize=64)
def _file_language(path: str) -> str:
    """The wiki's code in a dump's file name (`dewiki-...-pages-articles.xml.bz2`), or ""."""
    found = _WIKI_FILE.search(path)
    return found.group(1) if found else ""


@functools.lru_cache(maxsize=64)
def back_matter_names(language: str) -> frozenset[str]:
    """The back-matter headings skipped in a dump of `language` (a wiki code such as `de`,
    `zh-yue` or `simple`): English's and the language's own; every known list when the language
    is unknown or has no list here."""
    code = re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]
    code = "en" if code == "simple" else code
    if code in _BACK_MATTER:
        return frozenset(_BACK_MATTER["en"] + _BACK_MATTER[code])
    return frozenset(name for names in _BACK_MATTER.values() for name in names)


def is_back_matter(heading: str, names: frozenset[str]) -> bool:
    """Whether a heading's text names back matter: one name, perhaps with a parenthesis
    ("Filmografie (Auswahl)"), or several joined ("Notes and references")."""
    key = _SELECTION.sub("", heading).casefold().strip(" :")
    if key in names:
        return True
    parts = [part for part in _NAME_JOINS.split(key) if part]
    return len(parts) > 1 and all(part in names for part in parts)


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


def _plain(wikitext: str) -> str:
    text = plain_text(wikitext)
    text = _EMPTY_BRACKETS.sub("", text)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text)


def _paragraphs(text: str) -> list[str]:
    return [p for p in (normalize_whitespace(p) for p in re.split(r"\n\s*\n", text)) if p]


def extract_wikipedia_page(page: dict, origin: str,
                           options: WikipediaOptions = WikipediaOptions()) -> Extraction:
    """One page: an entity_description pair, a `page` part with its lead, and `link` parts for
    sentences that link to other articles; a redirect page gives only a `redirect` part.

    With `section_pairs`, a section_passage pair per section worth one (`_section_pairs`).

    Drops: other_namespace, redirect, missing_title, no_lead (no paragraph of enough words),
    unparsable_wikitext; per section: section_back_matter, section_untitled, section_empty,
    section_too_short, section_list_only, section_markup_left.
    """
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
        return _article(page, title, origin, options)
    except Exception as exc:  # the parser copes with most garbage; never lose the dump over a page
        out.dead_letter(origin, SOURCE, "unparsable_wikitext", f"{type(exc).__name__}: {exc}")
        return out


def _article(page: dict, title: str, origin: str, options: WikipediaOptions) -> Extraction:
    """An article's pairs and parts, from its wikitext with templates, tables, references and
    file links cut out first (`wikitext.strip_wikitext`)."""
    out = Extraction()
    text = strip_wikitext(page.get("text") or "", _NAMESPACE_PREFIX)
    lead_text, sections = split_sections(text)
    lead = next((p for p in _paragraphs(_plain(lead_text)) if word_count(p) >= options.min_lead_words),
                "")
    page_origin = f"wikipedia:{title}"
    language = page.get("lang") or _file_language(origin.rsplit(":", 1)[0])
    lang = pair_language(language)
    if not lead:
        out.drop("no_lead")
    else:
        out.pairs.append(make_pair(ENTITY_DESCRIPTION, title, lead, SOURCE, page_origin,
                                   lang=lang, meta={"page_id": str(page.get("id") or "")}))
        out.part("page", title, {"lead": lead})
    if options.section_pairs:
        _section_pairs(sections, title, str(page.get("id") or ""), back_matter_names(language),
                       options, out, lang)
    _link_parts(text, title, options, out, lang)
    return out


def _section_pairs(sections: list[Section], title: str, page_id: str,
                   back_matter: frozenset[str], options: WikipediaOptions, out: Extraction,
                   lang: str | None = None) -> None:
    """("Title: Heading: Subheading", the section's own text) for each flat section: the text
    runs up to the first subsection and is cleaned as the lead is, then without stray `==`
    lines."""
    path: list[tuple[int, str]] = []  # the headings above this section, outermost first
    for section in sections:
        while path and path[-1][0] >= section.level:
            path.pop()
        path.append((section.level, _heading_text(section.title)))
        # The outermost heading and any top-level one (`==`) decide: "Literatur" under "Kultur"
        # is a subject, and a stray `= X =` above "See also" must not hide it.
        if any(is_back_matter(name, back_matter)
               for depth, (above, name) in enumerate(path) if depth == 0 or above <= 2):
            out.drop("section_back_matter")
            continue
        if not all(name for _, name in path):
            out.drop("section_untitled")
            continue
        paragraphs = _paragraphs(_STRAY_HEADING.sub("", _plain(section.body)))
        if not paragraphs:
            out.drop("section_empty")  # only subsections, a table, a gallery, templates
            continue
        passage = "\n\n".join(paragraphs)
        if word_count(passage) < options.min_section_words:
            out.drop("section_too_short")
            continue
        if _list_only(section.body):
            out.drop("section_list_only")
            continue
        if any(mark in passage for mark in _MARKUP_LEFT):
            out.drop("section_markup_left")
            continue
        heading = path[-1][1]
        out.pairs.append(make_pair(
            SECTION_PASSAGE, ": ".join([title, *(h for _, h in path)]), passage, SOURCE,
            f"wikipedia:{title}#{heading}", lang=lang,
            meta={"page_id": page_id, "section": heading}))


def _heading_text(wikitext: str) -> str:
    """A heading's plain text: links as shown, templates and comments gone, and the `=` of a
    heading whose two sides differ (`=== x ==`) dropped."""
    return normalize_whitespace(plain_text(wikitext)).strip("= \t")


def _list_only(wikitext: str) -> bool:
    """A section that is a list (links, works, births): list items (`*`, `#`) hold at least
    four fifths of its lines of text, a lead-in line beside them. Template, table, comment,
    definition (`;`, `:`) and hatnote lines (all italics: "''See also ...''") count for neither
    side."""
    listed = prose = 0
    for line in wikitext.splitlines():
        line = line.strip()
        if not line or line[0] in "|!:;" or line.startswith(("{|", "}}", "<!--", "__")) \
                or line.startswith("{{") and line.endswith("}}") \
                or line.startswith("''") and line.endswith("''"):
            continue
        if line[0] in "*#":
            listed += len(line)
        else:
            prose += len(line)
    return listed > 0 and prose < (listed + prose) / 5


def _link_parts(wikitext: str, title: str, options: WikipediaOptions, out: Extraction,
                lang: str | None = None) -> None:
    """Sentences holding an article link, keyed by the (unresolved) target title."""
    emitted = 0
    if options.max_links_per_page == 0:
        return
    for raw in re.split(r"\n\s*\n", _HEADING_LINE.sub("", wikitext)):
        if "[[" not in raw or raw.lstrip().startswith(("{|", "|", "!")):
            continue
        plain, links = plain_and_links(raw)
        plain = normalize_whitespace(_SPACE_BEFORE_PUNCT.sub(r"\1", _EMPTY_BRACKETS.sub("", plain)))
        sentences = _SENTENCE_END.split(plain)
        cursor = 0
        for target, shown in links:
            target = normalize_title(target)
            if not target or target == title or not shown:
                continue
            found = next((i for i in range(cursor, len(sentences)) if shown in sentences[i]), None)
            if found is None:
                continue
            cursor = found
            sentence = sentences[found]
            if word_count(sentence) < options.min_sentence_words:
                continue
            out.part("link", target, {"sentence": sentence, "from": title, "lang": lang})
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
                                   f"wikipedia:{link['from']}->{target}", lang=link.get("lang"),
                                   meta={"from": link["from"], "target": target}))
    return out


SPEC = SourceSpec(
    name=SOURCE,
    help="(title, lead), (title: section, section text) and (linking sentence, linked lead) "
         "pairs from a dump",
    description="Mine wikipedia_entity_description (article title, lead paragraph), "
                "wikipedia_section_passage (\"Title: Section: Subsection\", the section's text; "
                "back matter such as See also or References skipped by name in the dump's "
                "language) and wikipedia_citation_reference (a sentence with a wiki link, the "
                "linked article's lead; redirects resolved) from a pages-articles XML dump "
                "(plain or .bz2, streamed).",
    tasks=(Task(ENTITY_DESCRIPTION, "article title", "lead paragraph"),
           Task(CITATION_REFERENCE, "sentence with a link", "linked article's lead"),
           Task(SECTION_PASSAGE, "article title: section headings", "section text")),
    options=WikipediaOptions,
    requires=(("mwparserfromhell", "text"), ("lxml", "text")),
    inputs=(InputKind("input", "pages-articles dumps (files or glob patterns; local, gs://, s3://)",
                      lambda options: functools.partial(extract_wikipedia_page, options=options),
                      records=iter_pages),),
    joins=lambda options: (JoinStage(("link", "redirect"), resolve_wikipedia_redirects),
                           JoinStage(("resolved_link", "page"), join_wikipedia_links)),
)
