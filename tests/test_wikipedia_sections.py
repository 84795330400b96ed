"""`wikipedia_section_passage`: ("Title: Heading: Subheading", the section's text) from the same
parse as the lead; back matter skipped by name in the dump's language; empty, short, list and
broken sections dropped with their reason."""

from __future__ import annotations

import io

import pyarrow.parquet as pq
import pytest

from pairmill.cli import main
from pairmill.extractors.text import WikipediaOptions, extract_wikipedia_page, iter_pages
from pairmill.extractors.text.wikipedia import back_matter_names, is_back_matter
from pairmill.schemas import read_manifest, validate_dataset
from pairmill.schemas.pairs import meta_dict

from .conftest import REALDATA
from .test_wikipedia import ESPRESSO, dump, page_xml

SECTION = "wikipedia_section_passage"
PROSE = ("The city grew around a river crossing and became the seat of the kings, who built a "
         "palace, a cathedral and a wall around the markets on both banks of the river.")

PARIS = f"""'''Paris''' is the capital and most populous city of France, on the river Seine.

== History ==
=== Middle Ages ===
{PROSE}
==== [[Louvre|The Louvre]] ''fortress''<ref>Built 1190.</ref> ====
Philip Augustus built the fortress to defend the city against attacks from the west, and later
kings made it a palace. It stands on the right bank of the river.
== x
This line follows a broken heading, which the wiki shows as text; the sentence itself belongs to
the fortress section above.
== Geography ==
{{{{Main|Geography of Paris}}}}
{{| class="wikitable"
! Arrondissement !! Area
|-
| 1st || 1.83 km²
|}}
=== Climate ===
Paris has an oceanic climate with mild winters, warm summers and rain spread over the whole year,
as the westerly winds bring air from the Atlantic most of the time.
== People ==
Too short to be a passage.
== Twin towns ==
''See also [[:Category:Twin towns]] and the list of partner cities of the other capitals''
* [[Rome]], Italy, since 1956, as the only twin town of the city of Paris, by a treaty
== Bridges ==
{PROSE}
* [[Pont Neuf]]
* [[Pont des Arts]]
== {{{{lang|fr|Rive gauche}}}} ==
The left bank of the river has the university quarter and many of the older publishers' shops.
=== {{{{anchor|Quarter}}}}Latin Quarter ===
{PROSE}
=== Quarter === =
{PROSE}
== See also ==
* [[France]]
== Notes and references ==
=== Citations ===
{PROSE}
"""


def sections(out) -> dict[str, str]:
    return {p["query"]: p["document"] for p in out.pairs if p["task"] == SECTION}


def test_sections_nest_headings_and_are_cleaned_as_the_lead():
    out = extract_wikipedia_page({"title": "Paris", "ns": "0", "id": "7", "text": PARIS}, "d.xml:1")
    got = sections(out)
    assert got["Paris: History: Middle Ages"] == PROSE
    fortress = got["Paris: History: Middle Ages: The Louvre fortress"]  # link text, no italics or ref
    assert fortress.startswith("Philip Augustus built the fortress to defend the city against")
    # The unbalanced `== x` is not a heading: its text stays in the section above, its line goes.
    assert fortress.endswith("the sentence itself belongs to the fortress section above.")
    assert "== x" not in fortress and "\n\n" in fortress
    assert got["Paris: Geography: Climate"].startswith("Paris has an oceanic climate")
    # `=== Quarter === =` is a level-1 heading, as the wiki reads it (its `=` are not kept); the
    # back matter under it is still back matter.
    assert got["Paris: Quarter"] == PROSE
    # A list beside prose stays in the text (as the lead keeps it), a hatnote and a list do not.
    assert got["Paris: Bridges"] == PROSE + " Pont Neuf Pont des Arts"
    assert set(got) == {"Paris: History: Middle Ages", "Paris: History: Middle Ages: The Louvre fortress",
                        "Paris: Geography: Climate", "Paris: Bridges", "Paris: Quarter"}
    assert out.drops == {
        "section_empty": 2,       # History (only subsections), Geography (a template and a table)
        "section_too_short": 1,   # People
        "section_list_only": 1,   # Twin towns: a hatnote and a list item
        "section_untitled": 2,    # a heading of one template, and the one below it
        "section_back_matter": 3,  # See also, Notes and references, and Citations under it
    }
    pair = next(p for p in out.pairs if p["query"] == "Paris: Geography: Climate")
    assert pair["origin"] == "wikipedia:Paris#Climate"
    assert meta_dict(pair["meta"]) == {"page_id": "7", "section": "Climate"}


def test_the_lead_and_link_parts_do_not_change_with_sections():
    page = {"title": "Paris", "ns": "0", "id": "7", "text": PARIS + ESPRESSO}
    on = extract_wikipedia_page(page, "d.xml:1")
    off = extract_wikipedia_page(page, "d.xml:1", WikipediaOptions(section_pairs=False))
    assert [p for p in on.pairs if p["task"] != SECTION] == off.pairs
    assert on.parts == off.parts and off.parts
    assert not any(reason.startswith("section_") for reason in off.drops)
    assert len(on.pairs) > len(off.pairs)


def test_min_section_words_is_a_setting():
    page = {"title": "Paris", "ns": "0", "id": "7", "text": PARIS}
    short = extract_wikipedia_page(page, "d.xml:1", WikipediaOptions(min_section_words=3))
    assert sections(short)["Paris: People"] == "Too short to be a passage."
    strict = extract_wikipedia_page(page, "d.xml:1", WikipediaOptions(min_section_words=40))
    assert set(sections(strict)) == {"Paris: History: Middle Ages: The Louvre fortress"}


GERMAN = f"""'''Köln''' ist mit über einer Million Einwohnern die größte Stadt Nordrhein-Westfalens.

== Kultur ==
=== Literatur ===
{PROSE}
== Literatur ==
{PROSE}
== Weblinks ==
{PROSE}
== Einzelnachweise ==
{PROSE}
== Filmografie (Auswahl) ==
{PROSE}
== Literatur und Weblinks ==
{PROSE}
== See also ==
{PROSE}
== References ==
{PROSE}
"""


def test_back_matter_is_skipped_by_name_in_the_dumps_language():
    page = {"title": "Köln", "ns": "0", "id": "1", "text": GERMAN, "lang": "de"}
    out = extract_wikipedia_page(page, "x.xml:1")
    # "Literatur" under "Kultur" is a subject; as a top-level heading it is the bibliography.
    assert set(sections(out)) == {"Köln: Kultur: Literatur"}
    assert out.drops["section_back_matter"] == 7  # English names count in every dump
    # In an English dump the German headings are subjects.
    english = extract_wikipedia_page({**page, "lang": "en"}, "x.xml:1")
    assert set(sections(english)) == {"Köln: Kultur: Literatur", "Köln: Literatur", "Köln: Weblinks",
                                      "Köln: Einzelnachweise", "Köln: Filmografie (Auswahl)",
                                      "Köln: Literatur und Weblinks"}
    # Without a language field the file name tells it (`dewiki-...`), else every list applies.
    named = extract_wikipedia_page({**page, "lang": ""}, "dumps/dewiki-20240101-pages-articles.xml.bz2:9")
    assert set(sections(named)) == {"Köln: Kultur: Literatur"}
    unknown = extract_wikipedia_page({**page, "lang": ""}, "pages.xml:9")
    assert set(sections(unknown)) == {"Köln: Kultur: Literatur"}


@pytest.mark.parametrize("language, heading", [
    ("fr", "Notes et références"), ("fr", "Annexes"), ("es", "Véase también"), ("it", "Voci correlate"),
    ("pt", "Ligações externas"), ("ru", "Примечания"), ("ru", "См. также"), ("ja", "脚注"),
    ("ja", "出典・脚注"), ("zh", "参考文献"), ("zh", "外部連結"), ("nl", "Zie ook"), ("pl", "Przypisy"),
    ("pl", "Przypisy i bibliografia"), ("zh-yue", "參見"), ("simple", "Other websites"),
    ("de", "Einzelnachweise"), ("en", "References and notes"), ("en", "External links:"),
])
def test_back_matter_names(language, heading):
    assert is_back_matter(heading, back_matter_names(language))
    assert not is_back_matter("History", back_matter_names(language))


def test_back_matter_names_belong_to_their_language():
    assert not is_back_matter("Literatur", back_matter_names("en"))
    assert not is_back_matter("Notes and history", back_matter_names("en"))
    assert is_back_matter("Literatur", back_matter_names("xx"))  # unknown: every list


EDO = ("江戸時代には徳川幕府が置かれ、江戸は政治の中心として大いに栄えた。"
       "明治時代に東京と改称され、首都となった。")
JAPANESE = f"""'''東京都'''は、日本の首都であり、関東地方に位置する都である。人口は約千四百万人である。

== 歴史 ==
[[ファイル:Edo.jpg|thumb|200px|江戸の町並み]]
{EDO}

== 脚注 ==
{EDO}
"""


def test_a_japanese_dump_names_its_language_and_loses_file_links():
    head = dump(page_xml(1, "東京都", JAPANESE)).replace(b'xml:lang="en"', b'xml:lang="ja"')
    ((_, page),) = list(iter_pages(io.BytesIO(head)))
    assert page["lang"] == "ja"
    out = extract_wikipedia_page(page, "pages.xml:1")
    assert sections(out) == {"東京都: 歴史": EDO}  # no "thumb|200px|江戸の町並み"
    assert out.drops == {"section_back_matter": 1}
    # Read as an English dump, 脚注 (footnotes) would be a subject like any other.
    assert "東京都: 脚注" in sections(extract_wikipedia_page({**page, "lang": "en"}, "pages.xml:1"))


def test_the_language_comes_from_the_siteinfo_when_the_root_has_none():
    data = dump(page_xml(1, "A", "x"), page_xml(2, "B", "y")).replace(b' xml:lang="en"', b"")
    data = data.replace(b"<sitename>", b"<dbname>plwiki</dbname><sitename>")
    assert [p["lang"] for _, p in iter_pages(io.BytesIO(data))] == ["pl", "pl"]
    bare = dump(page_xml(1, "A", "x")).replace(b' xml:lang="en"', b"")
    assert [p["lang"] for _, p in iter_pages(io.BytesIO(bare))] == [""]


BROKEN = f"""'''Broken''' is a page whose sections hold markup the parser could not read at all.

== Reception ==
{PROSE} The critic wrote it.<ref>''Comm. Magnum'', III, and the reference is never closed.
== Influence ==
{PROSE} See also [[Aristotle and the link that is never closed.
== Legacy ==
{PROSE}
== Born ==
''See also [[:Category:Born in 1779]], the people of the year in the category of the wiki
* [[28 May]] — [[Thomas Moore]], an Irish poet, writer and singer who wrote the Irish melodies
== Died ==
* 7 December — the patriarch of the church, after a long illness that had lasted many years
''See also [[:Category:Died in 1779]]''
"""


def test_sections_with_markup_left_over_are_dropped():
    out = extract_wikipedia_page({"title": "Broken", "ns": "0", "id": "1", "text": BROKEN}, "d:1")
    assert set(sections(out)) == {"Broken: Legacy"}
    # Italics left open in "Born" are markup left over; they no longer swallow the heading below
    # (a heading is a line, as MediaWiki reads it), so "Died" is its own section: one list item
    # and a hatnote, too short.
    assert out.drops == {"section_markup_left": 3, "section_too_short": 1}


def test_pipeline_writes_the_section_task_and_the_flag_turns_it_off(tmp_path):
    (tmp_path / "wiki.xml").write_bytes(dump(page_xml(1, "Paris", PARIS), page_xml(2, "Espresso", ESPRESSO)))
    out = tmp_path / "out"
    assert main(["mine", "wikipedia", "--input", str(tmp_path / "wiki.xml"), "--output", str(out),
                 "--min-section-words", "5"]) == 0
    assert validate_dataset(out) == []
    manifest = read_manifest(out)
    rows = pq.read_table(out / manifest.tasks[SECTION][0].path).to_pylist()
    assert {r["query"] for r in rows} == {"Paris: History: Middle Ages", "Paris: People",
                                          "Paris: History: Middle Ages: The Louvre fortress",
                                          "Paris: Geography: Climate", "Paris: Quarter",
                                          "Paris: Bridges", "Espresso: History"}
    assert manifest.counters["drops"]["section_back_matter"] == 3
    off = tmp_path / "off"
    assert main(["mine", "wikipedia", "--input", str(tmp_path / "wiki.xml"), "--output", str(off),
                 "--no-section-pairs"]) == 0
    manifest_off = read_manifest(off)
    assert SECTION not in manifest_off.tasks
    for task in manifest_off.tasks:  # the other tasks' files are the same bytes
        assert [f.sha256 for f in manifest_off.tasks[task]] == [f.sha256 for f in manifest.tasks[task]]


DUMP = REALDATA / "wikipedia" / "enwiki-table-markup.xml.bz2"


@pytest.mark.skipif(not DUMP.exists(), reason="../shared/realdata is not present")
def test_real_dump_sections(tmp_path):
    out = tmp_path / "wiki"
    assert main(["mine", "wikipedia", "--input", str(DUMP), "--output", str(out)]) == 0
    manifest = read_manifest(out)
    rows = pq.read_table(out / manifest.tasks[SECTION][0].path).to_pylist()
    got = {r["query"]: r["document"] for r in rows}
    assert len(got) == 52
    # Three levels deep; the vote table beside the text is gone.
    vote = got["Constructive vote of no confidence: Germany: History of use: 1982 (successful vote)"]
    assert vote.startswith("On 1 October 1982, Helmut Schmidt was successfully voted out of office")
    # Text up to the first subsection only: the German section stops before "History of use".
    germany = got["Constructive vote of no confidence: Germany"]
    assert germany.startswith("Governments in the 1919 Weimar Republic were usually very unstable.")
    assert "Since 1949, only two constructive votes" not in germany
    assert got["Brahui language: Orthography: Latin script"].startswith("More recently, a Roman-based")
    assert not any(q.endswith((": References", ": External links", ": See also", ": Notes")) for q in got)
    assert not any(mark in d for d in got.values()
                   for mark in ("[[", "{{", "'''", "<ref", "thumb|", "{|", "==", "wikitable"))
    drops = manifest.counters["drops"]
    assert drops["section_back_matter"] == 13 and drops["section_empty"] == 19


@pytest.mark.parametrize("wiki, lang", [("de", "de"), ("simple", "en"), ("zh-yue", "zh"),
                                        ("als", None), ("", None)])
def test_pairs_carry_the_wikis_language(wiki, lang):
    """A wiki's pairs are in its language: `lang` comes from the dump (ISO 639-1 codes only), so
    the language rule identifies only pairs of wikis without one."""
    page = {"title": "Köln", "ns": "0", "id": "1", "text": GERMAN, "lang": wiki}
    out = extract_wikipedia_page(page, "x.xml:1")
    assert out.pairs and {p["lang"] for p in out.pairs} == {lang}
    assert {p["value"]["lang"] for p in out.parts if p.side == "link"} <= {lang}


def test_mined_wikipedia_pairs_are_not_identified_again(tmp_path, monkeypatch):
    import pairmill.extractors.rules as rules

    def refuse(text):
        raise AssertionError("identified a pair whose dump names its language")

    monkeypatch.setattr(rules, "identify_language", refuse)
    from .test_wikipedia import dump as wiki_dump
    from .test_wikipedia import page_xml

    path = tmp_path / "dewiki-latest-pages-articles.xml"
    path.write_bytes(wiki_dump(page_xml(1, "Köln", GERMAN)).replace(b'xml:lang="en"', b'xml:lang="de"'))
    out = tmp_path / "out"
    assert main(["mine", "wikipedia", "--input", str(path), "--output", str(out)]) == 0
    rows = [r for task in read_manifest(out).tasks.values() for f in task
            for r in pq.read_table(out / f.path).to_pylist()]
    assert rows and {r["lang"] for r in rows} == {"de"}
