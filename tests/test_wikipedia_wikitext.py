"""The cheap wikitext pass before any parse: what it cuts, what it leaves to the parser, and that
its fast plain text is what mwparserfromhell's `strip_code()` gives."""

from __future__ import annotations

import time

import mwparserfromhell
import pytest

from pairmill.extractors.text import WikipediaOptions, extract_wikipedia_page
from pairmill.extractors.text.wikipedia import _NAMESPACE_PREFIX
from pairmill.extractors.text.wikitext import (
    _fast_plain,
    plain_and_links,
    plain_text,
    split_sections,
    strip_wikitext,
)


def strip(text: str) -> str:
    return strip_wikitext(text, _NAMESPACE_PREFIX)


@pytest.mark.parametrize("wikitext, expected", [
    # Nested templates, a table inside a template and a template inside a table.
    ("a {{Infobox|x={{nowrap|1 {{small|2}}}}|y=\n{|\n| c\n|}\n}} b", "a  b"),
    ("a\n{| class=wikitable\n| {{flag|X}} || [[Y]]\n|-\n| z\n|}\nb", "a\n\nb"),
    # A template's last line `|}}` closes the template, not a table.
    ("a {{Cite\n| x = 1\n|}} b", "a  b"),
    # References (paired and self-closed), comments, math; a reference's own brackets go with it.
    ("a<ref name=x>{{cite|t=[[Z]]}}</ref> b<ref name=x/> <!-- [[c]] --><math>}}</math>d", "a b d"),
    # File and category links go, their captions' links too; article links stay for the parser.
    ("[[File:A.jpg|thumb|A [[b]] c]]x [[Category:Y]][[ファイル:B.png|サムネイル]][[Paris]]",
     "x [[Paris]]"),
    # Unbalanced markup stays text, as the parser leaves it.
    ("a {{broken [[b]] c", "a {{broken [[b]] c"),
    ("a }} b ]] c", "a }} b ]] c"),
    # Nothing inside <nowiki> is markup.
    ("a <nowiki>{{x}} [[y]]</nowiki> {{z}}b", "a <nowiki>{{x}} [[y]]</nowiki> b"),
])
def test_cuts_what_never_reaches_a_pair(wikitext, expected):
    assert strip(wikitext) == expected


def test_a_cut_between_quote_runs_does_not_merge_them():
    # `''{{x}}''` is empty italics, not `''''` (an apostrophe and bold).
    text = strip("In ''[[Category:X]]'', she ''Title''<ref>r</ref>'s end")
    assert plain_text(text) == "In , she Title's end"


PLAIN = [
    "'''Espresso''' is a [[coffee|coffee drink]] from [[Italy]]'s north.",
    "A [[b|c|d]] e [[f]]s and [[g|''h'']] i.",
    "Bold '''''x''''' and ''it'' and '''b''' end.",
    "[http://example.org Example site] and [//example.org/x relative] and [http://example.org] z.",
    "Bare http://example.org/a stays; mail [mailto:a@b.org us].",
    "* one\n** two\n# three\n#: four\n----\nafter",
    "a&nbsp;b &amp; &foo; &#65;&#x42; &eacute;",
    "x<br/>y<br>z <small>s</small> <span style=\"a\">t</span> <sup>1</sup>",
    "para one\n\n\n\npara two\n\n",
    "<blockquote>quoted [[text]]</blockquote> after",
]


@pytest.mark.parametrize("wikitext", PLAIN)
def test_fast_plain_text_is_the_parsers(wikitext):
    fast = _fast_plain(wikitext)
    assert fast is not None  # the fast path took it
    expected = mwparserfromhell.parse(wikitext).strip_code(normalize=True, collapse=True)
    assert " ".join(fast.split()) == " ".join(expected.split())


@pytest.mark.parametrize("wikitext", [
    "l''homme et la femme",            # quotes that do not pair
    "a [[b\nc]] d",                    # not a link: a title holds no line break
    "x '''' y",                        # an apostrophe beside bold
    ";term : definition",              # the definition's colon is markup
    "a <chem>H2O</chem> b",            # a tag the fast path does not know
    "open [[link never closed",
])
def test_what_the_fast_path_cannot_read_goes_to_the_parser(wikitext):
    assert _fast_plain(wikitext) is None
    assert plain_text(wikitext) == mwparserfromhell.parse(wikitext).strip_code(normalize=True,
                                                                              collapse=True)


def test_links_in_order_with_their_text():
    _, links = plain_and_links("A [[Coffee house|''coffee'' house]] in [[Turin]], [[b\nc]].")
    assert links == [("Coffee house", "coffee house"), ("Turin", "Turin")]


def test_sections_read_headings_as_the_parser_does():
    lead, sections = split_sections("lead\n== A ==\na\n=== B === =\nb\n====\n==x\n= C =\nc")
    assert lead == "lead\n"
    assert [(s.level, s.title) for s in sections] == [(2, " A "), (1, "== B === "), (1, " C ")]
    assert sections[1].body == "\nb\n====\n==x\n"  # not headings: all `=`, or one side only


def test_a_plain_page_never_reaches_the_parser(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("parsed")

    monkeypatch.setattr(mwparserfromhell, "parse", refuse)
    page = {"title": "Tea", "ns": "0", "id": "1", "text":
            "{{Infobox drink|name=Tea}}\n'''Tea''' is an aromatic [[beverage]] prepared by pouring "
            "hot water over cured leaves.<ref>{{cite web|url=http://x}}</ref>\n\n== History ==\n"
            "Tea drinking may have begun in the region of [[Yunnan]] during the [[Shang dynasty]], "
            "when it was used for medicinal purposes by the people living there."}
    out = extract_wikipedia_page(page, "d:1")
    assert [p["task"] for p in out.pairs] == ["wikipedia_entity_description",
                                              "wikipedia_section_passage"]
    assert {p.key for p in out.parts if p.side == "link"} == {"Beverage", "Yunnan", "Shang dynasty"}


JAPANESE = """[[ファイル:Tokyo.jpg|thumb|250px|東京の夜景]]
'''東京都'''は、日本の首都であり、関東地方に位置する都である。人口は約千四百万人である。"""


def test_file_links_of_any_script_leave_no_caption_in_the_lead():
    out = extract_wikipedia_page({"title": "東京都", "ns": "0", "id": "1", "text": JAPANESE}, "d:1")
    (pair,) = [p for p in out.pairs if p["task"] == "wikipedia_entity_description"]
    assert pair["document"] == JAPANESE.split("\n")[1].replace("'''", "")
    assert not any(p.key.startswith("ファイル") for p in out.parts)


def test_block_quotes_stay_their_own_paragraphs():
    page = {"title": "Q", "ns": "0", "id": "1", "text":
            "'''Q''' is a page about a quotation that somebody once said aloud.\n\n== Said ==\n"
            "He said, in a speech given to the assembly of the whole town:\n<blockquote>\n"
            "We shall build the bridge over the river before the winter comes.\n</blockquote>\n"}
    (section,) = [p for p in extract_wikipedia_page(page, "d:1").pairs
                  if p["task"] == "wikipedia_section_passage"]
    assert section["document"] == ("He said, in a speech given to the assembly of the whole town:"
                                   "\n\nWe shall build the bridge over the river before the winter comes.")


def test_no_link_sentences_when_the_setting_is_zero():
    page = {"title": "Tea", "ns": "0", "id": "1",
            "text": "'''Tea''' is an aromatic [[beverage]] prepared by pouring hot water over leaves."}
    out = extract_wikipedia_page(page, "d:1", WikipediaOptions(max_links_per_page=0))
    assert not [p for p in out.parts if p.side == "link"]
    assert [p for p in extract_wikipedia_page(page, "d:1").parts if p.side == "link"]


@pytest.mark.parametrize("junk", ["<ref name=a> x ", "<!-- x ", "<nowiki> x ", "{{a ", "[[File:a ",
                                  "''a ''' "])
def test_broken_markup_by_the_thousand_stays_linear(junk):
    # The parser's time grows with the square of unclosed tags (10,000 `<ref>`: 14 s); 30,000
    # would take minutes there.
    page = {"title": "X", "ns": "0", "id": "1", "text":
            "'''X''' is a page that somebody filled with broken markup by the thousand.\n\n"
            f"== Junk ==\nSome words before the junk starts, enough of them to count.\n{junk * 30000}"
            "]] }} |}\n"}
    started = time.process_time()
    out = extract_wikipedia_page(page, "d:1")
    assert time.process_time() - started < 30
    assert [p["document"] for p in out.pairs if p["task"] == "wikipedia_entity_description"] == [
        "X is a page that somebody filled with broken markup by the thousand."]
    assert not [p for p in out.pairs if p["task"] == "wikipedia_section_passage"]


def test_a_title_with_a_colon_is_an_article_not_a_namespace():
    page = {"title": "Rand", "ns": "0", "id": "1", "text":
            "'''Rand''' was a writer. A 1997 documentary film, [[Ayn Rand: A Sense of Life]], was "
            "nominated for an award. [[File:Rand.jpg|thumb|Rand]][[Category:Writers]][[de:Ayn Rand]]"
            "[[Wikipedia: Manual of Style]][[Категорія: Письменники]]"}
    out = extract_wikipedia_page(page, "d:1")
    (lead,) = [p["document"] for p in out.pairs if p["task"] == "wikipedia_entity_description"]
    assert lead == ("Rand was a writer. A 1997 documentary film, Ayn Rand: A Sense of Life, was "
                    "nominated for an award.")
    assert [p.key for p in out.parts if p.side == "link"] == ["Ayn Rand: A Sense of Life"]
