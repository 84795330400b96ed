"""WARC readers on layouts real archives use: pywb's captures keep a `Transfer-Encoding: chunked`
header over a body stored decoded, wget or dolma write the target URI in angle brackets, and
Heritrix stores its `dns:` lookups as response records."""

import io

from pairmill.extractors.result import Skipped
from pairmill.extractors.text.web import _dechunked, iter_warc_responses

PAGE = b"<!doctype html><html><head><title>T</title></head><body><p>Hello.</p></body></html>"


def _record(uri: str, http_headers: bytes, body: bytes) -> bytes:
    block = b"HTTP/1.1 200 OK\r\n" + http_headers + b"\r\n" + body
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: {uri}\r\n"
            "WARC-Date: 2014-01-26T20:06:24Z\r\nWARC-Record-ID: <urn:uuid:1>\r\n"
            "Content-Type: application/http; msgtype=response\r\n"
            f"Content-Length: {len(block)}\r\n\r\n").encode()
    return head + block + b"\r\n\r\n"


def _read(*records: bytes) -> list:
    return [r for _, r in iter_warc_responses(io.BytesIO(b"".join(records)))]


def test_a_chunked_header_over_a_decoded_body_keeps_the_page_and_the_file():
    html = b"Content-Type: text/html\r\nTransfer-Encoding: chunked\r\n"
    got = _read(_record("http://a.example/", html, PAGE), _record("http://b.example/", html, PAGE))
    assert [r["url"] for r in got] == ["http://a.example/", "http://b.example/"]
    assert all(r["body"] == PAGE for r in got)


def test_a_chunked_body_is_decoded():
    chunked = b"10\r\n" + PAGE[:16] + b"\r\n" + f"{len(PAGE) - 16:x}".encode() + b"\r\n" + \
        PAGE[16:] + b"\r\n0\r\n\r\n"
    got = _read(_record("http://a.example/", b"Transfer-Encoding: chunked\r\n", chunked))
    assert got[0]["body"] == PAGE
    assert _dechunked(b"5\r\nHello\r\n") == b"Hello"  # cut short: what decoded


def test_a_target_uri_in_angle_brackets_is_the_url():
    got = _read(_record("<https://c.example/page>", b"Content-Type: text/html\r\n", PAGE))
    assert got[0]["url"] == "https://c.example/page"


def test_heritrix_dns_records_are_skipped_not_dead_letters():
    dns = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: dns:www.archive.org\r\n"
           b"WARC-Date: 2008-04-30T20:48:25Z\r\nWARC-Record-ID: <urn:uuid:2>\r\n"
           b"Content-Type: text/dns\r\nContent-Length: 16\r\n\r\n20080430204825\r\n\r\n\r\n")
    got = _read(dns, _record("http://a.example/", b"Content-Type: text/html\r\n", PAGE))
    assert isinstance(got[0], Skipped) and got[0].reason == "not_http"
    assert got[1]["url"] == "http://a.example/"


def _clueweb(trec_id: str, uri: str) -> bytes:
    """A record of the ClueWeb09 sample file: no HTTP status line, which its length counts."""
    block = b"Content-Type: text/html\nServer: Apache\n\n" + PAGE
    return (f"WARC/0.18\nWARC-Type: response\nWARC-Target-URI: {uri}\nWARC-TREC-ID: {trec_id}\n"
            "Content-Type: application/http;msgtype=response\n"
            f"Content-Length: {len(block) + 16}\n\n").encode() + block + b"\n"


def test_clueweb09_records_without_a_status_line_are_all_read():
    info = (b"WARC/0.18\nWARC-Type: warcinfo\nContent-Type: application/warc-fields\n"
            b"Content-Length: 40\n\nsoftware: Nutch 1.0-dev\n\n")
    data = info + b"".join(_clueweb(f"clueweb09-en0039-05-0000{i}", f"http://p{i}.example/")
                           for i in range(4))
    for stream in (io.BytesIO(data), io.BufferedReader(io.BytesIO(data))):
        got = [r for _, r in iter_warc_responses(stream)]
        assert [r["url"] for r in got] == [f"http://p{i}.example/" for i in range(4)]
        assert all(r["status"] == 200 and r["body"] == PAGE and "html" in r["content_type"]
                   for r in got)
