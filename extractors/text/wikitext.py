"""Cheap removal of the wikitext that never reaches a Wikipedia pair, before any full parse.

Templates, tables, references, comments and file or category links are most of an article's
markup, and parsing them into mwparserfromhell nodes only to delete them again cost about 90%
of the extractor's time (quadratic `Wikicode.remove` searches, then a Python node per template
parameter). Here they go in a few regular-expression passes and one scan over the brackets, so
the parser sees only prose, links, headings and formatting; what it strips from there is what
it stripped before (it drops templates and comments the same way).

Unbalanced markup is left as text, as the parser leaves it: an unclosed `{{` or `<ref>` stays
for the extractor's `markup left` check to catch.
"""

from __future__ import annotations

import functools
import re
from html.entities import name2codepoint
from typing import NamedTuple

from .textnorm import normalize_whitespace

# Tags whose whole element is not prose (references, HTML tables, code, media, and the extension
# tags the parser shows nothing of).
DROPPED_TAGS = ("ref", "table", "gallery", "math", "timeline", "imagemap", "score",
                "syntaxhighlight", "source", "templatedata", "graph", "categorytree", "inputbox",
                "section")
# Left where a cut would join two quote runs; plain text never holds it (XML cannot carry NUL).
GAP = "\x00"
# `<nowiki>` and `<pre>` hold literal text: nothing inside them is markup.
_VERBATIM = re.compile("|".join(
    rf"<{name}\b[^<>]*(?<!/)>[^<]*(?:<(?!/?{name}\b)[^<]*)*</{name}\s*>" for name in ("nowiki", "pre")),
    re.I)
_KEPT = re.compile(r"\x01(\d+)\x02")  # where a verbatim element waits (XML cannot carry these)
# One element of a dropped tag, self-closed or closed without another of its kind inside (nested
# HTML tables go innermost first, over a few passes).
_DROPPED = re.compile("|".join(
    rf"<{name}\b[^<>]*?/>|<{name}\b[^<>]*>[^<]*(?:<(?!/?{name}\b)[^<]*)*</{name}\s*>"
    for name in DROPPED_TAGS), re.I)
# A template parameter (`{{{1|default}}}`): its default, as the parser shows it.
_ARGUMENT = re.compile(r"\{\{\{([^{}|]*)(?:\|([^{}]*))?\}\}\}")
# The brackets that open or close what goes: templates, wiki tables (at the start of a line),
# links (whose nesting decides where a file link's caption ends).
# every alternative starts with a bracket character, so `re` skips to the next one quickly; a
# table's `{|` and `|}` count only at the start of a line, checked where one is found
# (anchoring them with `^` made the engine try every alternative at every character: the
# bracket scan was a quarter of the extractor's time on a Ukrainian dump)
_BRACKET = re.compile(r"\{\{|\}\}|\[\[|\]\]|\{\||\|\}")
_OPENERS = {"{{": "}}", "[[": "]]", "{|": "|}"}
_TABLE = ("{|", "|}")


def strip_wikitext(text: str, namespaced) -> str:
    """`text` without comments, dropped tags, templates, tables and the links whose target
    `namespaced` (a compiled pattern, matched at the start of the target) takes for a file,
    category, interwiki or other non-article link."""
    if "<!--" in text:
        text = _drop_comments(text)
    if "<" not in text:
        return _strip_brackets(text, namespaced)
    kept: list[str] = []
    if re.search(r"<(?:nowiki|pre)\b", text, re.I):  # set aside, so no bracket inside counts
        text = _VERBATIM.sub(lambda m: kept.append(m.group()) or f"\x01{len(kept) - 1}\x02", text)
    text = _strip_brackets(_drop_tags(text), namespaced)
    return _KEPT.sub(lambda m: kept[int(m.group(1))], text) if kept else text


def _drop_comments(text: str) -> str:
    """Closed comments out; from an unclosed `<!--` on, the text stays (as the parser leaves
    it). By `str.find`, linear however many comments are left open."""
    out, last = [], 0
    while (start := text.find("<!--", last)) >= 0 and (end := text.find("-->", start + 4)) >= 0:
        out.append(text[last:start])
        out.append(_gap(text, start, end + 3))
        last = end + 3
    out.append(text[last:])
    return "".join(out)


def _drop_tags(text: str) -> str:
    for _ in range(4):
        text, found = _DROPPED.subn(lambda m: _gap(m.string, m.start(), m.end()), text)
        if not found:
            break
    return text


def _strip_brackets(text: str, namespaced) -> str:
    """Templates, tables and non-article links out, nested in any order: one pass over the
    brackets with a stack; a closer with no opener of its kind open is text, and so is an
    opener never closed (what it held stays, as the parser leaves it). Article links count only
    inside a file link (where they decide where its caption ends): the scan skips the other
    tens of thousands a long article holds (measured: a third of the extractor's time)."""
    if "{{{" in text:
        text = _ARGUMENT.sub(lambda m: m.group(2) or "", text)
    if "{{" not in text and "{|" not in text and "[[" not in text:
        return text
    outer = _outer_brackets(namespaced)
    stack: list[tuple[str, int]] = []  # (closer awaited, where its opener starts)
    open_at: dict[str, list[int]] = {"}}": [], "]]": [], "|}": []}  # each kind's stack depths
    cuts: list[tuple[int, int]] = []
    end = 0
    while match := (_BRACKET if open_at["]]"] else outer).search(text, end):
        token, begin, end = match.group(), match.start(), match.end()
        if token in _TABLE and text[text.rfind("\n", 0, begin) + 1:begin].strip(" \t"):
            end = begin + 1  # not at the start of a line: text (its `}` may close a template)
            continue
        if token == "|}" and text.startswith("}}", begin + 1) and open_at["}}"] and (
                not open_at["|}"] or open_at["}}"][-1] > open_at["|}"][-1]):
            token, begin, end = "}}", begin + 1, end + 1  # `|}}` closing a template's last line
        if token in _OPENERS:
            open_at[_OPENERS[token]].append(len(stack))
            stack.append((_OPENERS[token], begin))
            continue
        if not open_at[token]:
            continue  # a stray closer: text
        depth = open_at[token][-1]
        start = stack[depth][1]
        for closer, _ in stack[depth:]:  # this opener and the unclosed ones inside it
            open_at[closer].pop()
        del stack[depth:]
        if token != "]]" or namespaced.match(text, start + 2):
            while cuts and cuts[-1][0] >= start:  # spans inside this one
                cuts.pop()
            cuts.append((start, end))
    if not cuts:
        return text
    out, last = [], 0
    for start, end in cuts:
        out.append(text[last:start])
        out.append(_gap(text, start, end))
        last = end
    out.append(text[last:])
    return "".join(out)


@functools.lru_cache(maxsize=8)
def _outer_brackets(namespaced: re.Pattern) -> re.Pattern:
    """The brackets that matter outside a file link: templates, tables, and the openers of
    links that `namespaced` takes for non-article links."""
    return re.compile(rf"\{{\{{|\}}\}}|\{{\||\|\}}|\[\[(?={namespaced.pattern})", namespaced.flags)


def _gap(text: str, start: int, end: int) -> str:
    """What replaces a cut: nothing, or GAP between two apostrophes, which must not become one
    run of quote markup (`''{{x}}''`, `''Title''<ref/>'s`)."""
    return GAP if text[start - 1:start] == "'" and text[end:end + 1] == "'" else ""


# Formatting tags whose text shows, as the parser strips them: the tags go, their text stays.
_SHOWN_TAGS = ("small|big|sup|sub|span|div|font|center|blockquote|poem|p|b|i|u|s|strike|del|ins"
               "|em|strong|code|tt|var|kbd|samp|abbr|cite|q|dfn|mark|bdi|bdo|ruby|rb|rt|rp|li|ul"
               "|ol|dl|dt|dd|h[1-6]|time|data|br|wbr|hr|references")
_NOWIKI_MARK = re.compile(r"<nowiki\s*/>", re.I)
_TAG = re.compile(rf"</?(?:{_SHOWN_TAGS})\b[^<>]*>", re.I)
_WIKILINK = re.compile(r"\[\[([^\[\]{}<>|\n]*)(?:\|([^\[\]]*))?\]\]")
_EXTERNAL = re.compile(
    r"\[((?:(?:https?|ftps?|git|gopher|ircs?|mms|nntp|redis|sftp|ssh|svn|telnet|worldwind)://|//"
    r"|(?:bitcoin|geo|magnet|mailto|news|sips?|sms|tel|urn|xmpp):)[^\s\[\]<>\"]*)"
    r"(?:[ \t]+([^\]\n]*))?\]", re.I)
_QUOTES = re.compile(r"'{2,}")
_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_LIST_MARK = re.compile(r"^(?:[*#:;]+|-{4,})", re.M)
# What the fast path leaves only where the markup was more than it reads: the parser decides.
_NEEDS_PARSER = re.compile(r"\[\[|\]\]|\{\{|\}\}|\{\||''|<[A-Za-z/!]|\[(?:[A-Za-z]+:|//)"
                           )
_PARSE_LIMIT = 1000  # pieces of markup (see `_parse`); a long real section holds a few hundred
_DEFINITION = re.compile(r"^;[^\n]*:", re.M)
_HEADING = re.compile(r"^=[^\n]*=[ \t]*$", re.M)


def plain_text(wikitext: str) -> str:
    """What mwparserfromhell's `strip_code()` gives for pre-stripped wikitext (links as shown,
    formatting, lists and tags gone, entities decoded, runs of blank lines collapsed): by a few
    regular-expression passes when the markup is plain, by the parser when it is not (unbalanced
    quotes, broken links or tags). The fast path is about 20 times the parser's speed."""
    text = _fast_plain(wikitext)
    if text is None:
        code = _parse(wikitext)
        text = _convert(wikitext, forced=True) if code is None else code.strip_code(
            normalize=True, collapse=True)
    return text.replace(GAP, "")


def plain_and_links(wikitext: str) -> tuple[str, list[tuple[str, str]]]:
    """`plain_text(wikitext)`, and its article links in order as (target, text shown)."""
    text = _fast_plain(wikitext)
    code = None if text is not None else _parse(wikitext)
    if code is None:
        text = text if text is not None else _convert(wikitext, forced=True)
        links = [(link.group(1), plain_text(_shown(link))) for link in _WIKILINK.finditer(wikitext)]
    else:
        text = code.strip_code(normalize=True, collapse=True)
        links = [(str(link.title), (link.title if link.text is None else link.text).strip_code())
                 for link in code.filter_wikilinks(recursive=False)]
    return text.replace(GAP, ""), [(target.replace(GAP, ""), normalize_whitespace(shown.replace(GAP, "")))
                                   for target, shown in links]


def _parse(wikitext: str):
    """mwparserfromhell's parse, or None for text holding more broken markup than the parser
    can take: its time grows with the square of the unclosed tags and brackets (10,000 unclosed
    `<ref>` take 14 s, measured). There the fast path's text is kept, markup left over and all,
    for the extractor's checks to drop."""
    if sum(map(wikitext.count, ("<", "[[", "{{", "''"))) > _PARSE_LIMIT:
        return None
    import mwparserfromhell

    return mwparserfromhell.parse(wikitext)


class Section(NamedTuple):
    """A heading and the text under it up to the next heading (flat, as the parser's
    `get_sections(flat=True)`)."""

    level: int
    title: str  # wikitext
    body: str  # wikitext


def split_sections(wikitext: str) -> tuple[str, list[Section]]:
    """The text before the first heading, and each section. A heading is a line that starts and
    ends with `=`; its level is the shorter run, capped at 6, and the longer run's extra `=` are
    part of its title (`=== x === =` is a level-1 heading), as the parser reads it."""
    heads = [m for m in _HEADING.finditer(wikitext) if m.group().rstrip(" \t").strip("=")]
    lead = wikitext[:heads[0].start()] if heads else wikitext
    out = []
    for k, head in enumerate(heads):
        line = head.group().rstrip(" \t")
        level = min(len(line) - len(line.lstrip("=")), len(line) - len(line.rstrip("=")), 6)
        end = heads[k + 1].start() if k + 1 < len(heads) else len(wikitext)
        out.append(Section(level, line[level:-level], wikitext[head.end():end]))
    return lead, out


def _fast_plain(text: str) -> str | None:
    if "''" in text and not _balanced_quotes(text) or _DEFINITION.search(text):
        return None
    return _convert(text)


def _convert(text: str, forced: bool = False) -> str | None:
    """The fast path's passes; None where markup is left that the parser reads otherwise,
    unless `forced`."""
    if "<" in text:
        text = _TAG.sub("", _NOWIKI_MARK.sub("", text))
    if "[" in text:
        if "[[" in text:
            text = _WIKILINK.sub(_shown, text)
        text = _EXTERNAL.sub(lambda m: m.group(2) or "", text)
    if "''" in text:
        text = _QUOTES.sub("", text)
    if "&" in text:
        text = _ENTITY.sub(_entity, text)
    text = _LIST_MARK.sub("", text)
    if not forced and _NEEDS_PARSER.search(text):
        return None
    text = text.strip("\n")
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text


def _shown(link: re.Match) -> str:
    """A link's text as shown, its own bold and italics gone (an apostrophe beside the link
    stays an apostrophe)."""
    text = link.group(1) if link.group(2) is None else link.group(2)
    return _QUOTES.sub("", text) if "''" in text else text


def _balanced_quotes(text: str) -> bool:
    """Whether italics (`''`) and bold (`'''`) each open and close in pairs: then the parser
    strips every run and the text is the same without them."""
    italic = bold = 0
    for run in _QUOTES.findall(text):
        size = len(run)
        if size not in (2, 3, 5):
            return False  # an apostrophe beside the markup
        italic += size != 3
        bold += size != 2
    return italic % 2 == 0 and bold % 2 == 0


def _entity(match: re.Match) -> str:
    """An HTML entity the parser knows (HTML 4 names, numbers), decoded; others stay text."""
    name = match.group()[1:-1]
    if name[0] != "#":
        return chr(name2codepoint[name]) if name in name2codepoint else match.group()
    try:
        return chr(int(name[2:], 16) if name[1] in "xX" else int(name[1:]))
    except (ValueError, OverflowError):
        return match.group()
