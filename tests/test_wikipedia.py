"""`pairmill mine wikipedia`: wikitext to leads, links through redirects, broken dumps, real pages."""

from __future__ import annotations

import bz2
import io
from xml.sax.saxutils import escape

import pyarrow.parquet as pq
import pytest

from pairmill.cli import main
from pairmill.extractors.result import Unreadable
from pairmill.extractors.text import (
    extract_wikipedia_page,
    iter_pages,
    join_wikipedia_links,
    normalize_title,
    resolve_wikipedia_redirects,
)
from pairmill.schemas import read_manifest, validate_dataset
from pairmill.schemas.pairs import meta_dict

from .conftest import REALDATA

HEAD = ('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">\n'
        "<siteinfo><sitename>Wikipedia</sitename></siteinfo>\n")


def page_xml(page_id: int, title: str, text: str = "", ns: int = 0, redirect: str = "") -> str:
    redirect_tag = f'<redirect title="{escape(redirect)}" />' if redirect else ""
    return (f"<page><title>{escape(title)}</title><ns>{ns}</ns><id>{page_id}</id>{redirect_tag}"
            f"<revision><id>{page_id * 100}</id><text xml:space=\"preserve\">{escape(text)}</text>"
            "</revision></page>\n")


def dump(*pages: str) -> bytes:
    return (HEAD + "".join(pages) + "</mediawiki>\n").encode()


ESPRESSO = """{{Infobox beverage|name=Espresso|origin=Italy}}
[[File:Espresso.jpg|thumb|A cup of espresso]]
'''Espresso''' is a concentrated form of [[coffee]] produced by forcing hot water through finely
ground beans.<ref>{{cite web|title=Espresso|url=http://example.org}}</ref> It is the base of the
[[Cappuccino|cappuccino]] and many other drinks served in a [[Coffee house]].

{| class="wikitable"
| Shot || 30 ml
|}

== History ==
The first machine was patented in [[Turin]] by Angelo Moriondo in the year 1884 for public use.
[[Category:Coffee drinks]]
"""


def test_title_normalisation_matches_mediawiki():
    assert normalize_title("coffee_house#History") == "Coffee house"
    assert normalize_title("  espresso   machine ") == "Espresso machine"


def test_lead_is_plain_text_without_refs_tables_files_or_templates():
    out = extract_wikipedia_page({"title": "Espresso", "ns": "0", "id": "1", "text": ESPRESSO},
                                 "dump.xml:1")
    (pair,) = out.pairs
    assert pair["task"] == "wikipedia_entity_description" and pair["query"] == "Espresso"
    assert pair["document"] == ("Espresso is a concentrated form of coffee produced by forcing hot "
                                "water through finely ground beans. It is the base of the cappuccino "
                                "and many other drinks served in a Coffee house.")
    links = {p.key: p.value["sentence"] for p in out.parts if p.side == "link"}
    assert set(links) == {"Coffee", "Cappuccino", "Coffee house", "Turin"}
    assert links["Cappuccino"].startswith("It is the base of the cappuccino")
    assert links["Turin"].startswith("The first machine was patented in Turin")
    assert [p.value for p in out.parts if p.side == "page"] == [{"lead": pair["document"]}]


@pytest.mark.parametrize("page, drops", [
    ({"title": "Talk:Espresso", "ns": "1", "text": ESPRESSO}, {"other_namespace": 1}),
    ({"title": "Espresso", "ns": "0", "text": "== Only a heading ==\nshort"},
     {"no_lead": 1, "section_too_short": 1}),
    ({"title": "", "ns": "0", "text": ESPRESSO}, {"missing_title": 1}),
])
def test_unusable_pages_are_counted(page, drops):
    assert extract_wikipedia_page(page, "d:1").drops == drops


def test_redirect_pages_become_redirect_parts():
    out = extract_wikipedia_page({"title": "Expresso", "ns": "0", "redirect": "espresso",
                                  "text": "#REDIRECT [[Espresso]]"}, "d:1")
    assert not out.pairs and out.drops == {"redirect": 1}
    assert [(p.side, p.key, p.value) for p in out.parts] == [("redirect", "Expresso",
                                                              {"target": "Espresso"})]


def test_joins_resolve_redirects_then_meet_the_target_lead():
    link = {"sentence": "Try an expresso after dinner tonight.", "from": "Dinner"}
    moved = resolve_wikipedia_redirects("Expresso", {"link": [link], "redirect": [{"target": "Espresso"}]})
    assert [(p.side, p.key) for p in moved.parts] == [("resolved_link", "Espresso")]
    direct = resolve_wikipedia_redirects("Espresso", {"link": [link], "redirect": []})
    assert [p.key for p in direct.parts] == ["Espresso"]
    (pair,) = join_wikipedia_links("Espresso", {"resolved_link": [link],
                                                "page": [{"lead": "Espresso is coffee."}]}).pairs
    assert (pair["query"], pair["document"]) == (link["sentence"], "Espresso is coffee.")
    assert pair["task"] == "wikipedia_citation_reference"
    assert join_wikipedia_links("Nowhere", {"resolved_link": [link, link], "page": []}).drops == {
        "link_target_missing": 2}


def test_pages_stream_and_a_broken_dump_ends_with_one_unreadable():
    data = dump(page_xml(1, "Espresso", ESPRESSO), page_xml(2, "Talk:X", "x", ns=1))
    got = list(iter_pages(io.BytesIO(data)))
    assert [(loc, p["title"], p["ns"]) for loc, p in got] == [("1", "Espresso", "0"), ("2", "Talk:X", "1")]
    broken = data[: data.index(b"<page><title>Talk")] + b"<page><title>Cut"
    got = list(iter_pages(io.BytesIO(broken)))
    assert got[0][0] == "1" and isinstance(got[1][1], Unreadable)
    assert got[1][1].reason == "invalid_xml" and got[1][0] == "after 1"
    evil = b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + data
    ((_, refused),) = list(iter_pages(io.BytesIO(evil)))
    assert refused.reason == "dtd_not_allowed"


def test_pipeline_pairs_links_through_redirects(tmp_path):
    pages = [
        page_xml(1, "Espresso", ESPRESSO),
        page_xml(2, "Coffee", "'''Coffee''' is a brewed drink prepared from roasted coffee beans of "
                              "the Coffea plant."),
        page_xml(3, "Cappuccino", "#REDIRECT [[Cappuccino (drink)]]", redirect="Cappuccino (drink)"),
        page_xml(4, "Cappuccino (drink)", "A '''cappuccino''' is an espresso-based coffee drink "
                                          "prepared with steamed milk foam."),
        page_xml(5, "Talk:Coffee", "Discussion about the coffee article.", ns=1),
    ]
    (tmp_path / "wiki-1.xml.bz2").write_bytes(bz2.compress(dump(*pages)))
    filler = [page_xml(10 + i, f"Filler {i}", f"Filler text about nothing much in particular, number {i}.")
              for i in range(3000)]
    whole = bz2.compress(dump(*filler), compresslevel=1)  # 100 kB blocks: the first ones survive
    (tmp_path / "wiki-2.xml.bz2").write_bytes(whole[: len(whole) // 2])
    out = tmp_path / "out"
    assert main(["mine", "wikipedia", "--input", str(tmp_path / "wiki-*.xml.bz2"),
                 "--output", str(out)]) == 0
    assert validate_dataset(out) == []
    manifest = read_manifest(out)
    links = pq.read_table(out / manifest.tasks["wikipedia_citation_reference"][0].path).to_pylist()
    by_target = {meta_dict(r["meta"])["target"]: r for r in links}
    assert set(by_target) == {"Coffee", "Cappuccino (drink)"}
    assert by_target["Cappuccino (drink)"]["document"].startswith("A cappuccino is an espresso-based")
    assert by_target["Coffee"]["query"].startswith("Espresso is a concentrated form of coffee")
    assert 3 + 100 < manifest.rows("wikipedia_entity_description") < 3 + 3000
    drops = manifest.counters["drops"]
    assert drops["redirect"] == 1 and drops["other_namespace"] == 1
    assert drops["link_target_missing"] == 2  # Coffee house, Turin
    assert drops["truncated_file"] == 1


DUMP = REALDATA / "wikipedia" / "enwiki-table-markup.xml.bz2"


@pytest.mark.skipif(not DUMP.exists(), reason="../shared/realdata is not present")
def test_real_dump(tmp_path):
    out = tmp_path / "wiki"
    assert main(["mine", "wikipedia", "--input", str(DUMP), "--output", str(out)]) == 0
    manifest = read_manifest(out)
    assert manifest.counters["records_read"] == 5
    rows = pq.read_table(out / manifest.tasks["wikipedia_entity_description"][0].path).to_pylist()
    leads = {r["query"]: r["document"] for r in rows}
    assert set(leads) == {"Constructive vote of no confidence", "List of Prison Break characters",
                          "Academy Award for Best Production Design", "Economy of Estonia",
                          "Brahui language"}
    assert leads["Constructive vote of no confidence"].startswith(
        "The constructive vote of no confidence (in German: konstruktives Misstrauensvotum")
    # The image caption before the prose is not the lead.
    assert leads["Economy of Estonia"].startswith("Estonian economy is an advanced economy")
    assert leads["List of Prison Break characters"] == ("This is a list of characters in the American "
                                                        "television series, Prison Break.")
    # The reference after "...and Iraq." is gone.
    assert "International Journal of Dravidian Linguistics" not in leads["Brahui language"]
    assert not any(mark in lead for lead in leads.values() for mark in ("[[", "{{", "'''", "<ref", "thumb|"))
    # The five pages link to each other nowhere: every link is counted as missing its target.
    assert manifest.counters["drops"]["link_target_missing"] > 50
