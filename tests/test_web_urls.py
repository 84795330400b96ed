"""The web join key: pairmill's shortcut for plain URLs must give courlan's key, on every URL."""

from __future__ import annotations

import gzip
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

pytest.importorskip("courlan")
lxml_html = pytest.importorskip("lxml.html")

from pairmill.extractors.text.web import _plain_url_key, iter_warc_responses, normalize_url  # noqa: E402

WARC = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "warc" / "warcfile.warc.gz"

TRICKY = [
    "http://example.com", "http://example.com/", "https://Example.COM/A/B.html",
    "http://example.com/a/b/", "http://example.com/a//b", "http://example.com//a",
    "http://example.com/../a", "http://example.com/..", "http://example.com/..a/b",
    "http://example.com/a/../b", "http://example.com/./a", "http://example.com/a/./b/.",
    "http://example.com/a%20b", "http://example.com/a%2Fb%zz", "http://example.com/a b",
    "http://example.com/a!b=c:d,e-f~g_h.i", "http://example.com/a;b", "http://example.com/a'b",
    "http://example.com/a(b)*$+@", "http://example.com/caf\u00e9", "http://ex\u00e4mple.com/",
    "http://xn--exmple-cua.com/a", "http://XN--EXMPLE-CUA.com/", "http://example.com/xn--a",
    "http://example.com:80/a", "http://example.com:443/a", "https://example.com:443/a",
    "http://example.com:8080/a", "http://example.com:abc/", "http://user:pw@example.com/a",
    "http://[::1]/a", "http://[::1/a", "http://example.com/a?b=1", "http://example.com/?",
    "http://example.com/a?utm_source=x&id=2", "http://example.com/a#frag",
    "http://example.com/a#", "http://example.com#top", "http://example.com/a#x?y=1",
    "http://example.com/a#b&amp;c", "http://example.com/a&amp;b", "http://example.com/a&b",
    "http://example.com/a&#47;b", "HTTP://example.com/a", "Https://example.com/a",
    "ftp://example.com/a", "mailto:a@example.com", "//example.com/a", "/a/b", "", " ",
    "http://", "http:///a", "http://./a", "http://-/a", "http://example.com./a",
    "http://exa_mple.com/a", "http://example.com/a\tb", "http://example.com/a\nb",
    "  http://example.com/a  ", "\x00http://example.com/", "http://example.com/\x7f",
    "http://example.com/a~b/%7Ec", "http://example.com/a/b.php/c=d", "http://1.2.3.4/a",
    "http://example.com/a/b/..", "http://example.com/%2e%2e/a",
]


def _courlan(url: str) -> str:
    """The key as courlan gives it (what `normalize_url` did before its shortcut)."""
    from courlan import normalize_url as courlan_normalize

    try:
        normalized = courlan_normalize(url.strip(), strict=True)
        parts = urlsplit(normalized)
    except ValueError:
        return ""
    return normalized if parts.scheme in ("http", "https") and parts.hostname else ""


@pytest.mark.parametrize("url", TRICKY)
def test_tricky_urls_get_courlans_key(url):
    assert normalize_url(url) == _courlan(url)


def test_the_shortcut_takes_plain_urls_and_leaves_the_rest_to_courlan():
    assert _plain_url_key("https://Example.COM/a/b.html#top") == "https://example.com/a/b.html"
    for url in ("http://example.com/a?b=1", "http://example.com:80/", "http://example.com//a",
                "http://example.com/../a", "http://xn--exmple-cua.com/", "http://example.com/a&amp;b",
                "HTTP://example.com/"):
        assert _plain_url_key(url) == ""


@pytest.mark.skipif(not WARC.exists(), reason="the real WARC sample is not there")
def test_every_link_of_the_real_warc_sample_gets_courlans_key():
    urls = set()
    with gzip.open(WARC) as f:
        for _, response in iter_warc_responses(f):
            if not isinstance(response, dict):
                continue
            urls.add(response["url"])
            tree = lxml_html.fromstring(response["body"])
            for href in tree.xpath("//a/@href"):
                try:
                    urls.add(urljoin(response["url"], href.strip()))
                except ValueError:
                    continue
    assert len(urls) > 900  # 971 links and page URLs
    assert [u for u in urls if normalize_url(u) != _courlan(u)] == []
