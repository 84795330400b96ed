"""`pairmill mine crawl`: WARC reading, charsets, main text and anchors, the URL join, real crawl files."""

from __future__ import annotations

import gzip
import io
import os

import pyarrow.parquet as pq
import pytest

from pairmill.cli import main
from pairmill.extractors.text import (
    WebOptions,
    decode_html,
    extract_web_page,
    iter_warc_responses,
    join_web_anchors,
    normalize_url,
)
from pairmill.schemas import read_manifest, validate_dataset
from pairmill.schemas.pairs import meta_dict

from .conftest import REALDATA

PROSE = ("Grinding coffee just before brewing keeps the aromatic oils that make a cup taste fresh. "
         "A burr grinder gives an even particle size, which lets water extract flavour at one rate. "
         "Blade grinders chop unevenly, so some grounds over-extract while others stay sour. ")


def page(title: str, paragraphs: list[str], nav_links: str = "", charset: str = "utf-8") -> str:
    body = "".join(f"<p>{p}</p>\n" for p in paragraphs)
    return (f'<html><head><meta charset="{charset}"><title>{title}</title></head><body>'
            f"<nav>{nav_links}</nav><article><h1>{title}</h1>\n{body}</article>"
            "<footer><a href='/about'>About this site and its many authors here</a></footer></body></html>")


def http_response(html: bytes, status: str = "200 OK", content_type: str = "text/html") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(html)}\r\n\r\n").encode() + html


def warc_record(url: str, payload: bytes, version: str = "WARC/1.0",
                date: str = "2020-08-03T10:00:00Z", kind: str = "response") -> bytes:
    head = (f"{version}\r\nWARC-Type: {kind}\r\nWARC-Target-URI: {url}\r\nWARC-Date: {date}\r\n"
            f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(payload)}\r\n\r\n")
    return head.encode() + payload + b"\r\n\r\n"


GRINDER = page("How to grind coffee", [
    PROSE * 2,
    'For espresso, see the <a href="/brew/espresso#top">espresso brewing guide</a> before you '
    "buy a new machine for the kitchen.",
    'Storage matters as much as grinding; <a href="http://Other.example:80/beans?utm_source=x">'
    "keep whole beans airtight</a> and away from light and heat.",
    'Read <a href="/x">here</a> or <a href="mailto:a@b.c">mail us</a> about this grinding guide today.',
], nav_links="<a href='/brew/espresso'>Espresso guide in the site menu</a>")
ESPRESSO = page("Espresso brewing guide", [PROSE + "Espresso needs the finest grind of all methods."])


def test_decoding_follows_bom_header_meta_then_guess():
    text = "Кофе и чай: история напитков в России и в мире, подробный рассказ о традициях. " * 20
    assert decode_html(b"\xef\xbb\xbf<p>caf\xc3\xa9</p>") == ("<p>café</p>", "utf-8")
    assert decode_html("<p>café</p>".encode("utf-16"))[0] == "<p>café</p>"
    assert decode_html(page("t", ["コーヒー"], charset="EUC-JP").encode("euc-jp"))[1] == "euc_jp"
    assert decode_html("<p>café</p>".encode("cp1252"), "iso-8859-1") == ("<p>café</p>", "cp1252")
    # A header that lies (says UTF-8, bytes are cp1251) falls through to the guess.
    decoded, encoding = decode_html(f"<p>{text}</p>".encode("cp1251"), "utf-8")
    assert encoding == "cp1251" and "история" in decoded
    assert decode_html("<p>中文网页</p>".encode("gb18030"), "gb2312")[1] == "gb18030"


def test_urls_normalise_for_the_join():
    assert normalize_url("HTTP://Example.COM:80/a/b?utm_source=x#frag") == "http://example.com/a/b"
    assert normalize_url("not a url") == ""


def test_warc_reader_survives_old_versions_bad_dates_and_junk():
    data = (warc_record("http://a.example/", http_response(b"<p>a</p>"), version="WARC/0.18")
            + warc_record("http://b.example/", http_response(b"<p>b</p>"), date="sometime in 2020")
            + b"junk that is not a record\r\n\r\n"
            + warc_record("http://c.example/", b"GET / HTTP/1.1\r\n\r\n", kind="request")
            + warc_record("http://d.example/", http_response(b"<p>d</p>", "404 Not Found")))
    got = [(r["url"], r["status"], r["body"]) for _, r in iter_warc_responses(io.BytesIO(data))]
    assert got == [("http://a.example/", 200, b"<p>a</p>"), ("http://b.example/", 200, b"<p>b</p>"),
                   ("http://d.example/", 404, b"<p>d</p>")]


def test_page_gives_title_body_page_part_and_prose_anchors_only():
    response = {"url": "http://site.example/grind", "status": 200, "content_type": "text/html",
                "charset": "", "body": GRINDER.encode()}
    out = extract_web_page(response, "crawl.warc:0")
    (pair,) = out.pairs
    assert pair["task"] == "web_title_body" and pair["query"] == "How to grind coffee"
    assert pair["document"].startswith("Grinding coffee just before brewing")
    assert "site menu" not in pair["document"]
    anchors = {p.key: p.value for p in out.parts if p.side == "anchor"}
    assert set(anchors) == {"http://site.example/brew/espresso", "http://other.example/beans"}
    assert anchors["http://site.example/brew/espresso"]["sentence"] == (
        "For espresso, see the espresso brewing guide before you buy a new machine for the kitchen.")
    (page_part,) = [p for p in out.parts if p.side == "page"]
    assert page_part.key == "http://site.example/grind"
    assert page_part.value["lead"].startswith("Grinding coffee")


@pytest.mark.parametrize("change, reason", [
    ({"status": 404}, "not_ok_status"),
    ({"content_type": "application/pdf"}, "not_html"),
    ({"url": ""}, "missing_url"),
    ({"body": b""}, "empty_document"),
    ({"body": b"<html><body><script>var x = 1;</script></body></html>"}, "no_main_text"),
    ({"body": b"<html><head><title>T</title></head><body><p>Too short.</p></body></html>"},
     "body_too_short"),
    ({"body": b"x" * 200}, "page_too_large"),
])
def test_unusable_responses_are_counted(change, reason):
    response = {"url": "http://site.example/", "status": 200, "content_type": "text/html",
                "charset": "", "body": GRINDER.encode(), **change}
    out = extract_web_page(response, "f:0", WebOptions(max_page_bytes=100 if reason == "page_too_large"
                                                       else 5 << 20))
    assert out.drops == {reason: 1} and not out.pairs


def test_join_meets_anchors_with_the_target_and_caps_them():
    target = {"title": "Espresso", "lead": "Espresso is strong."}
    anchors = [{"sentence": f"Sentence {i} about espresso here.", "anchor": "espresso",
                "from": f"http://s{i}.example/"} for i in range(5)]
    out = join_web_anchors("http://t.example/", {"page": [target], "anchor": anchors},
                           max_anchors_per_target=3)
    assert len(out.pairs) == 3 and out.drops == {"anchors_over_limit": 2}
    assert out.pairs[0]["document"] == "Espresso\n\nEspresso is strong."
    assert out.pairs[0]["task"] == "web_anchor_target"
    assert join_web_anchors("http://t.example/", {"page": [], "anchor": anchors}).drops == {
        "anchor_target_missing": 5}


def test_pipeline_joins_anchors_across_files_and_keeps_records_before_a_break(tmp_path):
    image = http_response(b"\x89PNG", content_type="image/png")
    first = (warc_record("http://site.example/grind", http_response(GRINDER.encode()))
             + warc_record("http://site.example/img.png", image))
    (tmp_path / "a.warc.gz").write_bytes(gzip.compress(first))
    espresso = warc_record("http://site.example/brew/espresso", http_response(ESPRESSO.encode()))
    fillers = [warc_record(f"http://filler.example/{i}", http_response(
        page(f"Filler page {i}", [PROSE * 2 + f"Number {i}."]).encode())) for i in range(200)]
    members = b"".join(gzip.compress(r) for r in [espresso, *fillers])  # one gzip member per record
    (tmp_path / "b.warc.gz").write_bytes(members[: len(members) // 2])
    out = tmp_path / "out"
    assert main(["mine", "crawl", "--input", str(tmp_path / "*.warc.gz"), "--output", str(out)]) == 0
    assert validate_dataset(out) == []
    manifest = read_manifest(out)
    (pair,) = pq.read_table(out / manifest.tasks["web_anchor_target"][0].path).to_pylist()
    assert pair["query"].startswith("For espresso, see the espresso brewing guide")
    assert pair["document"].startswith("Espresso brewing guide\n\nGrinding coffee")
    drops = manifest.counters["drops"]
    assert drops["not_html"] == 1 and drops["truncated_file"] == 1
    assert drops["anchor_target_missing"] == 1  # other.example/beans was never crawled
    assert 2 + 50 < manifest.rows("web_title_body") < 2 + 200


WARC = REALDATA / "warc" / "warcfile.warc.gz"
CHUNKED = REALDATA / "warc" / "example-iana.org-chunked.warc"


@pytest.mark.skipif(not WARC.exists(), reason="../shared/realdata is not present")
def test_real_crawl_files(tmp_path):
    """How pages are read and decoded, with the publishable-page rules off: the slice's GB2312
    pages are its pornography and lottery spam, which those rules drop by default
    (tests/test_web_publishable.py)."""
    out = tmp_path / "crawl"
    publishable_rules_off = ["--url-filter", "off", "--max-bad-words", "0", "--max-gambling-words", "0",
                             "--max-repeated-numbers", "0", "--max-title-parts", "0",
                             "--max-boilerplate-share", "1", "--min-title-script-share", "0",
                             "--min-title-overlap", "0"]
    assert main(["mine", "crawl", "--input", str(WARC), str(CHUNKED), "--output", str(out),
                 *publishable_rules_off]) == 0
    manifest = read_manifest(out)
    assert manifest.counters["records_read"] == 16 + 1  # response records only
    rows = pq.read_table(out / manifest.tasks["web_title_body"][0].path).to_pylist()
    by_url = {meta_dict(r["meta"])["url"]: r for r in rows}
    iana = by_url["http://www.iana.org/"]  # chunked transfer encoding undone
    assert iana["query"] == "Internet Assigned Numbers Authority"
    assert "Domain Names" in iana["document"] and "001c37" not in iana["document"]
    russian = by_url["http://01spb.ru/company/"]  # windows-1251 page
    assert meta_dict(russian["meta"])["encoding"] == "cp1251"
    assert russian["query"].startswith("О компании")
    gb = [r for r in rows if meta_dict(r["meta"])["encoding"] == "gb18030"]  # gb2312 pages read as GB18030
    assert gb and all("\ufffd" not in r["query"] for r in gb)
    quality = ("error_page", "placeholder_text", "duplicate_lines", "duplicate_line_chars",
               "repeated_ngrams", "symbol_ratio", "few_stop_words", "unpunctuated_lines",
               "short_lines")
    assert len(rows) + sum(manifest.counters["drops"].get(r, 0) for r in
                           ("body_too_short", "no_main_text", "missing_title", "not_html",
                            *quality)) == 17
    # the quality rules remove lottery and listing pages of the sample, never the IANA page (with
    # the fast main text one error page has too little text left: body_too_short, not error_page)
    assert sum(manifest.counters["drops"].get(r, 0) for r in quality) >= 4


def test_per_record_gzip_warc_with_records_over_a_mebibyte_reads_every_record(tmp_path):
    """Common Crawl writes one gzip member per record and caps payloads at 1 MiB: members whose
    output crosses the reader's 1 MiB cap must not lose or repeat the members after them."""
    large = os.urandom(3 << 19)  # 1.5 MiB, incompressible: one member larger than the cap
    records = [warc_record("http://big.example/a.bin", http_response(large, content_type="image/png"))]
    records += [warc_record(f"http://filler.example/{i}", http_response(
        page(f"Filler page {i}", [PROSE * 2 + f"Number {i}."]).encode())) for i in range(30)]
    records.insert(15, warc_record("http://big.example/b.bin",
                                   http_response(b"\x00" * (5 << 20), content_type="image/png")))
    (tmp_path / "cc.warc.gz").write_bytes(b"".join(gzip.compress(r) for r in records))
    out = tmp_path / "out"
    assert main(["mine", "web", "--input", str(tmp_path / "cc.warc.gz"), "--output", str(out)]) == 0
    manifest = read_manifest(out)
    assert manifest.counters["records_read"] == 32
    drops = manifest.counters["drops"]
    assert "truncated_file" not in drops and drops["not_html"] == 2
    rows = pq.read_table(out / manifest.tasks["web_title_body"][0].path).to_pylist()
    assert sorted(r["query"] for r in rows) == sorted(f"Filler page {i}" for i in range(30))
