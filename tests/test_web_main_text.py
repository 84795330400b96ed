"""The fast main-text path for web pages (issue 26): each boilerplate rule, the `--extractor`
choice, and, on the real WARC sample, titles and anchors identical under both extractors."""

from __future__ import annotations

import gzip

import pytest

from pairmill.extractors.text import WebOptions, extract_web_page
from pairmill.extractors.text.maintext import main_text
from pairmill.extractors.text.web import iter_warc_responses

from .conftest import REALDATA

PROSE = ("Grinding coffee just before brewing keeps the aromatic oils that make a cup taste fresh. "
         "A burr grinder gives an even particle size, which lets water extract flavour at one rate.")
MORE = ("Blade grinders chop unevenly, so some grounds over-extract while others stay sour, and "
        "the cup ends up both bitter and thin at once.")
TITLE = "How to grind coffee beans at home"


def page(article: str, before: str = "", after: str = "") -> str:
    return (f"<html><head><title>{TITLE}</title></head><body>{before}"
            f"<article><h1>{TITLE}</h1>{article}</article>{after}</body></html>")


def test_article_paragraphs_are_kept_in_order_one_block_a_line():
    text = main_text(page(f"<p>{PROSE}</p><h2>Blades</h2><p>{MORE}</p>"), TITLE)
    assert text.split("\n") == [PROSE, "Blades", MORE]


def test_the_headline_and_what_comes_before_it_go():
    ticker = "<div><p>Breaking: markets open higher</p><p>Weather: sunny, 21 degrees</p></div>"
    text = main_text(page(f"<p>{PROSE}</p>", before=ticker), TITLE)
    assert text == PROSE
    # without the title, the headline stays (nothing says it is one)
    assert main_text(page(f"<p>{PROSE}</p>")).split("\n")[0] == TITLE


def test_a_related_links_list_goes_and_a_linked_sentence_stays():
    related = "".join(f'<p><a href="/a{i}">Teaser headline number {i} about coffee</a></p>'
                      for i in range(4))
    linked = f'<p>As <a href="/burr">our burr grinder test</a> showed, {MORE}</p>'
    text = main_text(page(f"<p>{PROSE}</p>{linked}<p>You may also like...</p>{related}"), TITLE)
    assert "Teaser headline" not in text and "You may also like" not in text
    assert f"As our burr grinder test showed, {MORE}" in text


def test_a_lone_linked_heading_stays_but_a_short_lone_link_goes():
    text = main_text(page(f'<h2><a href="/dn">Domain Names</a></h2><p>{PROSE}</p>'
                          f'<p><a href="/next">Next page</a></p><p>{MORE}</p>'), TITLE)
    assert text.split("\n") == ["Domain Names", PROSE, MORE]


def test_a_sidebar_marked_by_its_role_inside_the_article_goes():
    sidebar = ('<div role="complementary"><p>Our newsletter brings you the best brewing guides '
               "every week of the year.</p></div>")
    assert main_text(page(f"<p>{PROSE}</p>{sidebar}<p>{MORE}</p>"), TITLE).split("\n") == [PROSE, MORE]


def test_captions_advertising_consent_and_repeated_credits_go():
    figure = '<figure><img src="g.jpg" alt="A grinder"><figcaption>A burr grinder.</figcaption></figure>'
    article = (f"<p>{PROSE}</p>{figure}<p>Advertisement</p><p>Photo: Reuters</p><p>{MORE}</p>"
               "<p>Photo: Reuters</p><p>We use cookies to improve your experience. By continuing "
               "you accept our use of cookies.</p>")
    text = main_text(page(article), TITLE)
    assert text.split("\n") == [PROSE, MORE]


def test_an_account_bar_goes_and_a_sentence_about_logging_in_stays():
    bar = ('<p><a href="/create/">Upload</a><b>Anonymous User</b> (<a href="/login">login</a> or '
           '<a href="/join">join us</a>)</p>')
    how = "<p>Log in or register with your e-mail address to keep your grind settings.</p>"
    text = main_text(page(f"{bar}<p>{PROSE}</p>{how}<p>{MORE}</p>"), TITLE)
    assert text.split("\n") == [PROSE, "Log in or register with your e-mail address to keep your "
                                        "grind settings.", MORE]


def test_a_repeated_sentence_is_kept():
    """Real text repeats itself (a refrain, a quoted line); only short fragments are credits."""
    text = main_text(page(f"<p>{PROSE}</p><p>Taste it.</p><p>{MORE}</p><p>Taste it.</p>"), TITLE)
    assert text.split("\n") == [PROSE, "Taste it.", MORE, "Taste it."]


def response(html: str) -> dict:
    return {"url": "http://site.example/coffee", "status": 200, "content_type": "text/html",
            "charset": "utf-8", "body": html.encode()}


@pytest.mark.parametrize("extractor", ["fast", "trafilatura"])
def test_both_extractors_give_the_pair(extractor):
    html = page(f"<p>{PROSE}</p><p>{MORE}</p><p>{PROSE.replace('coffee', 'tea')}</p>")
    out = extract_web_page(response(html), "f:0", WebOptions(extractor=extractor))
    assert [p["query"] for p in out.pairs] == [TITLE]
    assert out.pairs[0]["document"].startswith(PROSE) and TITLE not in out.pairs[0]["document"]


def test_fast_is_the_default_and_trafilatura_is_a_flag(capsys):
    from pairmill.cli import main

    assert WebOptions().extractor == "fast"
    with pytest.raises(SystemExit):
        main(["mine", "web", "--help"])
    assert "--extractor" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["mine", "web", "--input", "x.warc", "--output", "o", "--extractor", "jusText"])
    assert "jusText" in capsys.readouterr().err


WARCS = [REALDATA / "warc" / "warcfile.warc.gz", REALDATA / "warc" / "example-iana.org-chunked.warc"]


def _real_pages() -> list[dict]:
    pages = []
    for path in WARCS:
        with (gzip.open(path) if path.suffix == ".gz" else path.open("rb")) as stream:
            pages += [r for _, r in iter_warc_responses(stream) if isinstance(r, dict)]
    return pages


@pytest.mark.skipif(not WARCS[0].exists(), reason="../shared/realdata is absent (fresh clone)")
def test_real_warc_titles_and_anchors_do_not_depend_on_the_extractor():
    """Titles and anchor sentences come from the same tree under both extractors; what the
    main text changes is the body, and whether a spam page's text trips a publishability rule
    (then it leaves no anchors under either, as before)."""
    kept = {}
    for response_ in _real_pages():
        outs = {name: extract_web_page(response_, "f:0", WebOptions(extractor=name))
                for name in ("trafilatura", "fast")}
        pairs = {name: [(p["query"], p["origin"]) for p in out.pairs] for name, out in outs.items()}
        assert pairs["fast"] == pairs["trafilatura"]  # same pages kept, same titles
        kept[response_["url"]] = pairs["fast"]
        titles = {name: {p.value["title"] for p in out.parts if p.side == "page"}
                  for name, out in outs.items()}
        anchors = {name: [(p.key, p.value) for p in out.parts if p.side == "anchor"]
                   for name, out in outs.items()}
        if anchors["fast"] and anchors["trafilatura"]:
            assert anchors["fast"] == anchors["trafilatura"]
        if titles["fast"] and titles["trafilatura"]:
            assert titles["fast"] == titles["trafilatura"]
    assert sum(map(len, kept.values())) == 3
    assert kept["http://www.iana.org/"] == [("Internet Assigned Numbers Authority", "http://www.iana.org/")]


@pytest.mark.skipif(not WARCS[0].exists(), reason="../shared/realdata is absent (fresh clone)")
def test_real_warc_bodies_keep_the_article():
    """The IANA page: the fast path keeps every block trafilatura keeps, plus the page's
    opening sentence, which trafilatura lost."""
    iana = next(r for r in _real_pages() if r["url"] == "http://www.iana.org/")
    bodies = {name: extract_web_page(iana, "f:0", WebOptions(extractor=name)).pairs[0]["document"]
              for name in ("trafilatura", "fast")}
    fast_blocks = bodies["fast"].split("\n\n")
    assert set(bodies["trafilatura"].split("\n\n")) <= set(fast_blocks)
    assert fast_blocks[0].startswith("The global coordination of the DNS Root")
