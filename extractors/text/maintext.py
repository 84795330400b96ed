"""The fast main text of a web page: resiliparse's main-content pass, then boilerplate rules.

Why: trafilatura runs at 17-40 pages/s per core, most of it in its own tree cleaning and its
readability/jusText fallbacks. resiliparse (lexbor, in C) parses and keeps the main-content
blocks ten times faster, but alone it keeps what a reader skips (token F1 0.90 against 0.96 on
the scrapinghub benchmark): related-article link lists, "Advertisement" and "Tags" lines,
cookie notices, photo credits, the ticker above the headline. So its output is asked for as
minimal HTML with links, cut into blocks here (a paragraph, heading, list item, or a line
inside one), and a block goes when it is

- mostly link text (link density 0.7) and next to another such block, or short and not a
  heading: menus and "you may also like" lists; a sentence with a link in it stays;
- a known boilerplate line (advertisement, share, tags, sign-up, copyright, an account bar)
  of a few words;
- a cookie or consent notice;
- short, not a sentence, and repeated on the page (photo credits, labels);
- the headline repeating the page title, or above it (it is the pair's query, not its body).

Navigation and sidebars marked by their ARIA role inside the article's container are skipped
while extracting; figures and captions are left out, as trafilatura does by default. The
result is one block per line, trafilatura's layout, so callers treat both extractors alike.
`benchmarks/bench_web_extraction.py` measures it against trafilatura on three public sets.
"""

from __future__ import annotations

import html as html_lib
import re
from collections import Counter

# Site chrome that resiliparse's main-content pass keeps when it sits inside the article's
# container. (Its minimal-HTML output already leaves out figures, captions and alt texts.)
_SKIP_ELEMENTS = ["nav", "footer", "aside", "[role=navigation]", "[role=complementary]"]
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>")
_BLOCK_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre", "ul", "ol", "br",
                         "blockquote"})
_SPACE = re.compile(r"\s+")
# Whole lines that are page furniture in any article (English and the commonest others).
_BOILERPLATE = re.compile(
    r"(?i)^(?:advert(?:isement)?s?|anzeige|publicidad|publicité|pubblicità|reklama|"
    r"sponsored(?: links| content)?|tags?|schlagworte|étiquettes|comments?|kommentare|"
    r"(?:share|teilen|partager|compartir)(?: this| on \w+| (?:article|story|post|via \w+))?|"
    r"(?:related|more)(?: articles| stories| posts| news| coverage)?|caption|close|loading|"
    r"breaking news|filed under|key points|image \d+ of\b.*|"
    r"you (?:may|might) (?:also )?like|recommended(?: for you)?|read (?:more|next)|see also|"
    r"most (?:read|popular)|trending(?: now)?|(?:sign up|subscribe)(?: to| for| now)\b.*|"
    r"advertisement\s*[-–—:|].*|%d bloggers like this|"
    r"(?:©|\(c\)|copyright)\s.*|all rights reserved.*|"
    # an account bar: `Upload Anonymous User (login or join us)`, `Log in | Register`
    r".{0,40}\b(?:log ?in|sign ?in)\s*(?:or|/|\||and)\s*(?:join(?: us)?|register|sign ?up|"
    r"create (?:an|your) account)\)?)"
    r"[\s.:!…]*$")
# A cookie or consent notice, in one block.
_CONSENT = re.compile(r"(?i)\b(?:cookies?|consent)\b.*\b(?:use|accept|agree|continu)|"
                      r"\b(?:we|this (?:web)?site) uses? cookies")
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_HEADLINE_WITHIN = 12  # blocks searched for the headline
_LINK_DENSITY = 0.7  # share of a block's characters inside links that makes it a link block
_SENTENCE_END = re.compile(r"[.!?。！？][\"'”’」)]?$")


def _blocks(minimal_html: str) -> list[tuple[str, str, int]]:
    """(tag, text, link characters) per block of resiliparse's minimal-HTML output."""
    blocks: list[tuple[str, str, int]] = []
    parts: list[str] = []
    link_chars, in_link, tag = 0, 0, ""

    def flush() -> None:
        nonlocal link_chars
        text = " ".join("".join(parts).split())  # `\s+` to one space, ends trimmed
        if text:
            blocks.append((tag, text, link_chars))
        parts.clear()
        link_chars = 0

    position = 0
    for match in _TAG.finditer(minimal_html):
        piece = minimal_html[position:match.start()]
        position = match.end()
        if piece:
            piece = html_lib.unescape(piece)
            if not tag and "\n" in piece:  # loose text between blocks: one block per line
                for line in piece.split("\n")[:-1]:
                    parts.append(line)
                    flush()
                piece = piece.rsplit("\n", 1)[1]
            parts.append(piece)
            if in_link:
                link_chars += len(piece.strip())
        closing, name = match.group(1), match.group(2).lower()
        if name == "a":
            in_link = max(0, in_link + (-1 if closing else 1))
        elif name in _BLOCK_TAGS:
            flush()
            in_link = 0  # an unclosed <a> ends with its block
            tag = "" if closing or name in ("br", "ul", "ol") else name
    parts.append(html_lib.unescape(minimal_html[position:]))
    flush()
    return blocks


def main_text(document, title: str = "") -> str:
    """The main text of an HTML page (a string or a resiliparse `HTMLTree`): one block a line.

    `title` (the page's title) finds the headline: it and the blocks above it are left out.
    """
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    tree = document if isinstance(document, HTMLTree) else HTMLTree.parse(document)
    blocks = _blocks(extract_plain_text(
        tree, preserve_formatting="minimal_html", main_content=True, links=True,
        alt_texts=False, comments=False, post_meta=False, list_bullets=False,
        skip_elements=_SKIP_ELEMENTS))
    if title:
        head = next((i for i, block in enumerate(blocks[:_HEADLINE_WITHIN])
                     if _same_title(block[1], title)), None)
        if head is not None:
            blocks = blocks[head + 1:]
    linky = [link_chars >= _LINK_DENSITY * len(text.replace(" ", ""))
             for _, text, link_chars in blocks]
    repeated = Counter(text for _, text, _ in blocks)
    kept = []
    for i, (tag, text, _) in enumerate(blocks):
        if linky[i] and ((len(text) < 20 and tag not in _HEADINGS)
                         or (i > 0 and linky[i - 1]) or (i + 1 < len(linky) and linky[i + 1])):
            continue  # a menu entry or a list of teasers
        if (len(text) < 80 and _BOILERPLATE.match(text)
                or len(text) < 300 and _CONSENT.search(text)
                or repeated[text] > 1 and len(text) < 100 and not _SENTENCE_END.search(text)):
            continue
        kept.append(text)
    return "\n".join(kept)


def _same_title(line: str, title: str) -> bool:
    """The line repeats the page title (a `<title>` often adds the site's name)."""
    line, title = line.casefold(), _SPACE.sub(" ", title).strip().casefold()
    return bool(line) and (line == title or (len(line) > 15 and line in title))
