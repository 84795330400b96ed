"""Web crawls (WARC): (page title, main text) and (anchor in its sentence, linked page) pairs.

`iter_warc_responses` reads HTTP responses with FastWARC in its lenient mode (WARC/0.18
headers, bad dates and junk between records do not stop a file); transfer and content
encodings are undone. Each page is decoded once (byte-order mark, HTTP charset, `<meta>`
charset, then charset-normalizer's guess) and parsed by trafilatura's loader, whose tree gives the
title and the prose links. The main text comes from `--extractor`: `fast` (the default,
`maintext.py`: resiliparse's main content plus boilerplate rules, 6-11× trafilatura's speed and
within 0.006 of its token F1 on three public benchmarks, see `benchmarks/bench_web_extraction.py`)
or `trafilatura` on the same tree. Anchors leave as join parts keyed by the normalised target
URL and meet the target page's `page` part in `join_web_anchors`.
"""

from __future__ import annotations

import codecs
import functools
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ...schemas import make_pair
from ...schemas.settings import non_negative_int, positive_int, setting, share
from ..result import Extraction, Skipped, Unreadable
from ..spec import InputKind, JoinStage, SourceSpec, Task
from .badwords import adult_content, gambling_content, keyword_stuffed, spam_contact
from .boilerplate import strip_navigation
from .maintext import main_text
from .quality import QualitySettings, quality_issue
from .textnorm import normalize_paragraphs, normalize_whitespace
from .titlematch import script_mismatch, unrelated
from .urlfilter import URLFilter
from .words import word_count

SOURCE = "web"
TITLE_BODY = "web_title_body"
ANCHOR_TARGET = "web_anchor_target"
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
# What browsers really use for the labels pages most often get wrong (WHATWG encoding standard).
_ENCODING_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "iso-8859-1": "cp1252",
                     "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "cp1252",
                     "ascii": "cp1252", "shift_jis": "cp932", "x-sjis": "cp932",
                     "euc-kr": "cp949", "ks_c_5601-1987": "cp949"}
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")
_GENERIC_ANCHORS = frozenset({"here", "click here", "read more", "more", "link", "this", "this link",
                              "continue reading", "learn more", "source", "website"})
EXTRACTORS = ("fast", "trafilatura")
_NOT_PROSE = frozenset({"nav", "header", "footer", "aside", "menu", "script", "style", "form",
                        "button", "select"})
_PROSE_BLOCKS = ("p", "li", "dd", "blockquote")


@dataclass(frozen=True)
class WebOptions(QualitySettings):
    extractor: str = setting(
        "fast", "main text: fast (resiliparse's main content plus boilerplate rules, 6-11x "
                "trafilatura's speed at its quality) or trafilatura", choices=EXTRACTORS)
    min_body_words: int = setting(50, "main texts with fewer words give no title_body pair",
                                  type=positive_int)
    lead_words: int = setting(100, "words of the main text that describe a page as a link target",
                              type=positive_int)
    min_sentence_words: int = setting(6, "an anchor's sentence must have this many words",
                                      type=positive_int)
    max_anchors_per_page: int = setting(20, "linking sentences kept per page",
                                        type=non_negative_int)
    max_anchors_per_target: int = setting(20, "anchor pairs kept per linked page", type=positive_int)
    max_page_bytes: int = setting(5 << 20, "larger HTML payloads are dropped, not parsed",
                                  type=positive_int)
    url_filter: str = setting(
        "on", "URL rules: the shipped block list (UT1 via datatrove) and URL words plus your "
              "lists (on), your lists only (user), none (off)", choices=("on", "user", "off"))
    url_blocklist: list[str] = setting(
        [], "files of domains or URLs to drop (one a line; hosts-file lines accepted)",
        many=True, metavar="FILE")
    url_allowlist: list[str] = setting(
        [], "files of domains or URLs exempt from the URL rules (false positives)", many=True,
        metavar="FILE")
    url_soft_words: int = setting(
        2, "drop a URL holding this many of the soft listed words (datatrove); 0 turns it off",
        type=non_negative_int)
    max_bad_words: int = setting(
        3, "drop a page holding this many distinct LDNOOBW words (of its own language and "
           "English; 26 languages listed), or one "
           "in its title; 0 turns the rule off", type=non_negative_int)
    max_gambling_words: int = setting(
        3, "drop a page whose title and body hold this many distinct gambling terms (betting, "
           "casino, lottery; 20 languages); 0 turns the rule off", type=non_negative_int)
    max_repeated_numbers: int = setting(
        3, "drop a page repeating one contact number this often, or naming a QQ/WeChat/LINE "
           "contact; 0 turns the rule off", type=non_negative_int)
    max_title_parts: int = setting(
        8, "drop a page whose title has this many separator-delimited keyword parts; 0 turns "
           "the rule off", type=non_negative_int)
    max_boilerplate_share: float = setting(
        0.5, "menu and breadcrumb lines are removed; drop the page when they were more than "
             "this share of its text; 1 keeps every page", type=share)
    min_title_script_share: float = setting(
        0.05, "drop a pair whose title's script is less than this share of the body's letters; "
              "0 turns the rule off", type=share)
    min_title_overlap: int = setting(
        1, "drop a pair whose title shares fewer content words (CJK: character bigrams) with "
           "the body; 0 turns the rule off", type=non_negative_int)


# The start of another WARC record inside a record's content: its Content-Length lied.
_EMBEDDED_RECORD = re.compile(rb"\r?\n(WARC/[01]\.\d+\r?\n)")


def _embedded_record(body: bytes) -> re.Match | None:
    """Where another record starts inside `body`. The regex, which has no literal prefix to
    skip ahead with, scanned every byte of every page (0.3 ms of a 5 ms page); a byte search
    for the `\\nWARC/` it needs rules out almost every body first."""
    return _EMBEDDED_RECORD.search(body) if b"\nWARC/" in body else None


_RECORD_LINE = re.compile(rb"(?:^|\n)(WARC/[01]\.\d+\r?\n)")
_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*(\d+)")


def iter_warc_responses(stream: BinaryIO, _base: str = "") -> Iterator[tuple[str, dict | Unreadable]]:
    """(WARC record offset, response) for each HTTP response record of a WARC stream.

    WARC/0.18 files (ClueWeb09) are also cut into records at their `WARC/` lines: a record whose
    Content-Length runs into the next record ends there (the ClueWeb09 sample file's records lack
    the HTTP status line their length counts, so each ran into the next and every other record
    was lost); such a block without a status line is a 200.
    """
    if _base or not _first_bytes(stream, 9) == b"WARC/0.18":
        yield from _warc_responses(stream, _base)
        return
    for offset, record in _clueweb_records(stream, b""):
        for _, response in _warc_responses(io.BytesIO(record), ""):
            yield str(offset), response


def _first_bytes(stream, n: int) -> bytes:
    """The stream's first bytes, left unread (peek, or read and seek back); b"" when neither."""
    try:
        if hasattr(stream, "peek"):
            return stream.peek(n)[:n]
        at = stream.tell()
        head = stream.read(n)
        stream.seek(at)
        return head
    except (AttributeError, OSError, ValueError):
        return b""


def _clueweb_records(stream: BinaryIO, buffer: bytes) -> Iterator[tuple[int, bytes]]:
    """(offset, record) with its Content-Length set to its real length, a missing HTTP status
    line supplied."""
    consumed, eof = 0, False
    while True:
        starts = [m.start(1) for m in itertools.islice(_RECORD_LINE.finditer(buffer), 2)]
        if len(starts) < 2 and not eof and len(buffer) <= _MAX_DECODED:  # bounded memory
            chunk = stream.read(1 << 20)
            buffer += chunk
            eof = not chunk
            continue
        if not starts:  # no record line in a whole window: skip it
            if eof:
                return
            consumed, buffer = consumed + len(buffer), b""
            continue
        end = starts[1] if len(starts) > 1 else len(buffer)
        record, buffer, at = buffer[starts[0]:end], buffer[end:], consumed + starts[0]
        consumed += end
        blank = re.search(rb"\r?\n\r?\n", record)
        if blank is None:  # a header cut short: not a record
            continue
        header, sep, block = record[:blank.start()], blank.group(), record[blank.end():]
        declared = _LENGTH.search(header)
        if declared and int(declared.group(1)) <= len(block):
            block = block[:int(declared.group(1))]  # the length holds: what follows is junk
        else:
            block = block.rstrip(b"\r\n")
        if b"application/http" in header and not block.startswith(b"HTTP/"):
            block = b"HTTP/1.1 200 OK\r\n" + block
        header = re.sub(rb"(?im)^content-length:.*$", b"Content-Length: %d" % len(block), header)
        yield at, header + sep + block + b"\r\n\r\n"


def _warc_responses(stream, _base: str = "") -> Iterator[tuple[str, dict | Unreadable]]:
    """(WARC record offset, response) for each HTTP response record of a WARC stream (FastWARC).

    Transfer and content encodings are undone here, each only when the body really is encoded:
    a `chunked` header over a body stored decoded (pywb's captures) or a `Content-Encoding: gzip`
    header over a decoded body (ClueWeb09's WARC/0.18) keeps the raw body instead of failing the
    file. Non-HTTP records (Heritrix's `dns:`) are skipped as `not_http`. A record whose
    Content-Length runs into the records after it is a `warc_length_mismatch` dead letter, and
    reading resumes at the record found inside it.
    """
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    records = ArchiveIterator(stream, record_types=WarcRecordType.response, parse_http=True,
                              auto_decode="none", quirks_mode=True)
    for record in records:
        offset = f"{_base}{record.stream_pos}"
        http = record.http_headers
        if not (record.headers.get("WARC-Target-URI") or "").lstrip("<").lower().startswith("http"):
            yield offset, Skipped("not_http")  # Heritrix's `dns:` lookups: no page, no error
            continue
        if http is None:
            yield offset, Unreadable("invalid_http", "response record without HTTP headers")
            continue
        body = record.reader.read()
        embedded = _embedded_record(body)
        if embedded:
            yield offset, Unreadable("warc_length_mismatch",
                                     "Content-Length runs past the end of the record; reading "
                                     "resumes at the next record inside it")
            rest = io.BytesIO(body[embedded.start(1):])
            yield from iter_warc_responses(rest, f"{offset}+{embedded.start(1)}+")
            continue
        if "chunked" in (http.get("Transfer-Encoding") or "").lower():
            body = _dechunked(body)
        body, undecoded = _content_decoded(body, http.get("Content-Encoding") or "")
        uri = (record.headers.get("WARC-Target-URI") or "").strip()
        yield offset, {
            # WARC/1.0's grammar and wget, dolma and others write the URI in angle brackets
            "url": uri[1:-1] if uri.startswith("<") and uri.endswith(">") else uri,
            "status": http.status_code,
            "content_type": (record.http_content_type or "").lower(),
            "charset": record.http_charset or "",
            "body": body,
            "content_encoding_not_applied": undecoded,
        }


def _dechunked(body: bytes) -> bytes:
    """The body with its chunked transfer coding undone; as it is when it is not chunked (the
    header left over a body stored decoded); what decoded when it is cut short."""
    out, pos = bytearray(), 0
    while pos < len(body):
        end = body.find(b"\n", pos)
        try:
            size = int(body[pos:end].split(b";")[0].strip(), 16) if end >= 0 else -1
        except ValueError:
            size = -1
        if size < 0:
            return body if pos == 0 else bytes(out)
        if size == 0:
            break
        out += body[end + 1:end + 1 + size]
        pos = end + 1 + size
        pos += 2 if body.startswith(b"\r\n", pos) else body.startswith(b"\n", pos)
    return bytes(out)


# Decoded bodies are capped: anything larger is dropped as page_too_large anyway, and a
# compressed body must not expand without bound in memory.
_MAX_DECODED = 64 << 20


def _content_decoded(body: bytes, encoding: str) -> tuple[bytes, bool]:
    """(body, True when a declared content encoding did not decode and the raw body is kept)."""
    import zlib

    encoding = encoding.strip().lower()
    if encoding in ("", "identity", "none"):
        return body, False
    try:
        if encoding in ("gzip", "x-gzip", "deflate"):
            wbits = 47 if encoding != "deflate" else 15
            try:
                return zlib.decompressobj(wbits=wbits).decompress(body, _MAX_DECODED), False
            except zlib.error:
                if encoding != "deflate":
                    raise
                return zlib.decompressobj(wbits=-15).decompress(body, _MAX_DECODED), False
        if encoding == "br":
            from fastwarc.stream_io import BrotliReader

            return BrotliReader(io.BytesIO(body)).read(_MAX_DECODED), False
    except Exception:  # the header lies (already decoded) or the body is damaged
        return body, True
    return body, True  # an encoding nothing here decodes


def decode_html(body: bytes, declared: str = "") -> tuple[str, str]:
    """(text, encoding): BOM, then the HTTP charset, then `<meta charset>`, then a guess."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                          (codecs.BOM_UTF16_BE, "utf-16-be")):
        if body.startswith(bom):
            return body[len(bom):].decode(encoding, "replace"), encoding
    meta = _META_CHARSET.search(body[:4096])
    for label in (declared, meta.group(1).decode("ascii", "ignore") if meta else ""):
        encoding = _codec(label)
        if encoding:
            try:
                return body.decode(encoding), encoding
            except UnicodeDecodeError:
                continue  # a lying header: try the next clue
    from charset_normalizer import from_bytes

    guess = from_bytes(body[:65536]).best()
    encoding = _codec(guess.encoding) if guess is not None else None
    return body.decode(encoding or "utf-8", "replace"), encoding or "utf-8"


def _codec(label: str) -> str | None:
    label = label.strip().lower()
    if not label:
        return None
    label = _ENCODING_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def normalize_url(url: str) -> str:
    """The join key of a page: scheme and host lower-cased, default port, fragment and tracking
    parameters dropped (courlan, the URL library trafilatura uses)."""
    url = url.strip()
    return _plain_url_key(url) or _courlan_key(url)


# http(s), a host of ASCII letters, digits and `._~-`, a path of the characters courlan leaves
# as they are (no entity to unescape, nothing to quote), maybe a fragment; no query, port or user.
_PLAIN_URL = re.compile(r"(https?://)([A-Za-z0-9._~-]+)(/[A-Za-z0-9._~!=:,%/-]*)?(?:#[!-%'-~]*)?")


def _plain_url_key(url: str) -> str:
    """courlan's key of a plain URL, "" for any other URL (left to courlan).

    courlan only lower-cases such a URL's host and drops its fragment, but its general path
    (entity unescaping, parsing, punycode, ports, path and query rules) took 11 µs a link, a
    fifth of the anchors' time; this takes 1 µs, and takes two thirds of the real WARC
    sample's links (nine tenths of news pages'). `tests/test_web_urls.py` holds it to courlan.
    """
    plain = _PLAIN_URL.fullmatch(url)
    if plain is None:
        return ""
    host, path = plain.group(2).lower(), plain.group(3) or ""
    # what courlan would change: "//" collapsed, a leading "/.." dropped, punycode decoded
    if "//" in path or path.startswith("/..") or "xn--" in host:
        return ""
    return plain.group(1) + host + path


def _courlan_key(url: str) -> str:
    """courlan's normalised URL when it is an http(s) URL with a host, else ""."""
    from urllib.parse import urlsplit

    from courlan import normalize_url as courlan_normalize

    try:
        normalized = courlan_normalize(url, strict=True)
        parts = urlsplit(normalized)
    except ValueError:
        return ""
    return normalized if parts.scheme in ("http", "https") and parts.hostname else ""


def _title(tree) -> str:
    for xpath in ('//meta[@property="og:title"]/@content', "//title//text()", "//h1//text()"):
        found = normalize_whitespace(" ".join(tree.xpath(xpath)[:1] if "meta" in xpath
                                              else tree.xpath(xpath)))
        if found:
            return found
    return ""


def _links(tree) -> list[tuple[object, str]]:
    """(element, whitespace-normalised text) of every link, in document order: the anchors and
    the navigation rule both read these texts, so they are made once."""
    from lxml.etree import tostring

    # `"".join(link.itertext())` made in C, at a third of its cost
    return [(link, normalize_whitespace(tostring(link, method="text", encoding="unicode",
                                                 with_tail=False)))
            for link in tree.iter("a")]


def _prose_block(link):
    """The paragraph, list item, definition or quotation holding a link; None when the link has
    none or sits in page chrome (nav, header, footer, aside, forms, ...). lxml walks the
    ancestors and only matching ones become Python objects: visiting every ancestor of every
    link from Python was most of the anchors' time. Most links have no block: the chrome is
    looked for only above those that do."""
    block = next(link.iterancestors(*_PROSE_BLOCKS), None)
    if block is None or next(link.iterancestors(*_NOT_PROSE), None) is not None:
        return None
    return block


class _LinkingSentences:
    """The sentence of a link's prose block that holds its anchor text, "" when there is none
    or it is shorter than `min_words`. Links share blocks and sentences: each block is split,
    and each sentence counted, once a page."""

    def __init__(self, min_words: int):
        from lxml.etree import tostring

        self._tostring = tostring
        self._min_words = min_words
        self._blocks: dict[object, list[str]] = {}
        self._long_enough: dict[str, bool] = {}

    def __call__(self, link, anchor: str) -> str:
        block = _prose_block(link)
        if block is None:
            return ""
        if block not in self._blocks:
            text = self._tostring(block, method="text", encoding="unicode", with_tail=False)
            self._blocks[block] = _SENTENCE_END.split(normalize_whitespace(text))
        sentence = next((s for s in self._blocks[block] if anchor in s), "")
        if sentence not in self._long_enough:
            self._long_enough[sentence] = word_count(sentence) >= self._min_words
        return sentence if self._long_enough[sentence] else ""


def _link_target(base: str, href: str) -> str:
    """The join key of the page a link points to; "" when it has none."""
    from urllib.parse import urljoin

    try:
        return normalize_url(urljoin(base, href))
    except ValueError:
        return ""


def _anchors(tree, links: list[tuple[object, str]], page_url: str,
             options: WebOptions) -> list[tuple[str, dict]]:
    """(target key, {sentence, anchor}) for links inside prose paragraphs."""
    base = (tree.xpath("//base/@href") or [page_url])[0]
    sentence_of = _LinkingSentences(options.min_sentence_words)
    found, seen, targets = [], set(), {}
    for link, anchor in links:
        href = (link.get("href") or "").strip()
        if (not href or href.startswith(("#", "javascript:", "mailto:", "tel:"))
                or len(anchor) < 2 or anchor.lower() in _GENERIC_ANCHORS):
            continue
        sentence = sentence_of(link, anchor)
        if not sentence:
            continue
        if href not in targets:  # a page often links one target from several places
            targets[href] = _link_target(base, href)
        target = targets[href]
        if not target or target == page_url or (target, sentence) in seen:
            continue
        seen.add((target, sentence))
        found.append((target, {"sentence": sentence, "anchor": anchor}))
        if len(found) >= options.max_anchors_per_page:
            break
    return found


def _lead(text: str, words: int) -> str:
    """The first paragraphs of the main text, about `words` words (whole sentences when short)."""
    taken: list[str] = []
    count = 0
    for paragraph in text.split("\n\n"):
        taken.append(paragraph)
        count += word_count(paragraph)
        if count >= words:
            break
    lead = "\n\n".join(taken)
    tokens = lead.split(" ")
    return lead if len(tokens) <= 2 * words else " ".join(tokens[: 2 * words])


@functools.lru_cache(maxsize=8)
def _url_filter(mode: str, blocklists: tuple[str, ...], allowlists: tuple[str, ...],
                soft_words: int) -> URLFilter:
    return URLFilter(blocklists, allowlists, shipped=mode == "on", soft_words=soft_words)


def _unpublishable(title: str, text: str, options: WebOptions) -> str | None:
    """A page no one should publish (adult, gambling, spam): it gives no pair, page or anchors."""
    if adult_content(title, text, options.max_bad_words):
        return "adult_content"
    if gambling_content(title, text, options.max_gambling_words):
        return "gambling_content"
    if spam_contact(text, options.max_repeated_numbers):
        return "spam_contact"
    if keyword_stuffed(title, options.max_title_parts):
        return "keyword_stuffed_title"
    return None


def _main_text(extractor: str, html: str, tree, url: str, title: str) -> str:
    if extractor == "trafilatura":
        import trafilatura

        extracted = trafilatura.bare_extraction(tree, url=url, include_comments=False,
                                                include_tables=False)
        return (extracted.text if extracted is not None else "") or ""
    return main_text(html, title)


def extract_web_page(response: dict, origin: str, options: WebOptions = WebOptions()) -> Extraction:
    """One HTTP response: a web_title_body pair, a `page` part, and `anchor` parts.

    Drops: not_ok_status, not_html, missing_url, page_too_large, url_blocklisted,
    url_banned_word, empty_document, no_main_text, missing_title, adult_content,
    gambling_content, spam_contact, keyword_stuffed_title (these last four, like the URL rules,
    leave no page or anchor parts), body_too_short, mostly_boilerplate, the quality rules',
    title_script_mismatch, title_body_unrelated.
    """
    from trafilatura.utils import load_html

    out = Extraction()
    if response.get("content_encoding_not_applied"):
        out.note("content_encoding_not_applied")
    if response.get("status") != 200:
        out.drop("not_ok_status")
        return out
    if "html" not in response.get("content_type", "html"):
        out.drop("not_html")
        return out
    url = normalize_url(response.get("url") or "")
    if not url:
        out.drop("missing_url")
        return out
    body = response.get("body") or b""
    if len(body) > options.max_page_bytes:
        out.drop("page_too_large")
        return out
    if options.url_filter != "off" and (issue := _url_filter(
            options.url_filter, tuple(options.url_blocklist), tuple(options.url_allowlist),
            options.url_soft_words).issue(url)):
        out.drop(issue)
        return out
    html, encoding = decode_html(body, response.get("charset") or "")
    # trafilatura's own loader: comments removed, the parser settings its extractors expect.
    tree = load_html(html) if html.strip() else None
    if tree is None:
        out.drop("empty_document")
        return out
    title = _title(tree)
    links = _links(tree)
    anchors = _anchors(tree, links, url, options)
    # Both extractors put one block per line; blocks are paragraphs here.
    blocks = _main_text(options.extractor, html, tree, url, title)
    text = normalize_paragraphs(blocks.replace("\n", "\n\n"))
    if title and text.startswith(title + "\n\n"):  # the <h1> repeating the title
        text = text[len(title) + 2:]
    extracted_chars = len(text)
    text, navigation_chars = strip_navigation(text, frozenset(t for _, t in links))
    if navigation_chars:
        out.note("navigation_lines_removed")
    if text and title and (issue := _unpublishable(title, text, options)):
        out.drop(issue)
        return out
    if not text:
        out.drop("no_main_text" if not navigation_chars else "mostly_boilerplate")
    elif not title:
        out.drop("missing_title")
    elif navigation_chars > options.max_boilerplate_share * extracted_chars:
        out.drop("mostly_boilerplate")
    elif word_count(text) < options.min_body_words:
        out.drop("body_too_short")
    elif issue := quality_issue(title, text, options):
        out.drop(issue)
    elif script_mismatch(title, text, options.min_title_script_share):
        out.drop("title_script_mismatch")
    elif unrelated(title, text, options.min_title_overlap):
        out.drop("title_body_unrelated")
    else:
        out.pairs.append(make_pair(TITLE_BODY, title, text, SOURCE, url,
                                   meta={"url": url, "encoding": encoding}))
    if title and text:
        out.part("page", url, {"title": title, "lead": _lead(text, options.lead_words)})
    for target, anchor in anchors:
        out.part("anchor", target, {**anchor, "from": url})
    return out


def join_web_anchors(url: str, groups: dict[str, list[dict]],
                     max_anchors_per_target: int = 20) -> Extraction:
    """Anchors pointing at `url` meet that page's title and lead.

    Drops: anchor_target_missing (per anchor: the page is not in the crawl),
    anchors_over_limit (a page linked from everywhere keeps `max_anchors_per_target`).
    """
    out = Extraction()
    pages, anchors = groups.get("page", []), groups.get("anchor", [])
    if not pages:
        out.drop("anchor_target_missing", len(anchors))
        return out
    page = min(pages, key=lambda p: (p["title"], p["lead"]))  # the same URL crawled twice
    anchors = sorted((a for a in anchors if a["from"] != url), key=lambda a: (a["from"], a["sentence"]))
    if len(anchors) > max_anchors_per_target:
        out.drop("anchors_over_limit", len(anchors) - max_anchors_per_target)
        anchors = anchors[:max_anchors_per_target]
    document = f"{page['title']}\n\n{page['lead']}"
    for anchor in anchors:
        out.pairs.append(make_pair(ANCHOR_TARGET, anchor["sentence"], document, SOURCE,
                                   f"{anchor['from']}->{url}",
                                   meta={"anchor": anchor["anchor"], "from": anchor["from"],
                                         "target": url}))
    return out


SPEC = SourceSpec(
    name=SOURCE,
    aliases=("crawl",),
    requires=(("fastwarc", "text"), ("trafilatura", "text"), ("resiliparse", "text"),
              ("lxml_html_clean", "text"), ("charset_normalizer", "text"), ("courlan", "text"),
              ("lxml", "text")),
    help="(title, main text) and (anchor sentence, linked page) pairs from WARC files",
    description="Mine web_title_body (page title, main text: resiliparse's main content plus "
                "boilerplate rules, or trafilatura with --extractor trafilatura) and "
                "web_anchor_target (a link's sentence, the linked page's title and lead; "
                "joined on the normalised URL across the whole crawl) from WARC files "
                "(.warc, .warc.gz; Common Crawl layout). HTTP 200 HTML responses only.",
    tasks=(Task(TITLE_BODY, "page title", "main text"),
           Task(ANCHOR_TARGET, "anchor text in its sentence", "linked page's title + lead")),
    options=WebOptions,
    inputs=(InputKind("input", "WARC files (files or glob patterns; local, gs://, s3://)",
                      lambda options: functools.partial(extract_web_page, options=options),
                      records=iter_warc_responses),),
    joins=lambda options: (JoinStage(("anchor", "page"), functools.partial(
        join_web_anchors, max_anchors_per_target=options.max_anchors_per_target)),),
)
