"""A generated corpus of hostile inputs: the kinds of damage real dumps have.

Each function writes one hostile file (or tree) and returns where it is and what a clean reader
should get out of it. The tests run them through `pairmill mine`; `benchmarks/bench_hostile.py`
measures rows kept and peak memory against the clean file.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import zstandard

GOOD_WORDS = "a question about brewing coffee at home with a simple pour over kettle"


def submissions(n: int, start: int = 0) -> list[bytes]:
    """Pushshift-style submission lines that each give one reddit_title_body pair."""
    return [json.dumps({"id": f"s{i}", "title": f"Question {i} about coffee",
                        "selftext": f"{GOOD_WORDS} number {i}", "score": 5, "author": f"u{i}",
                        "subreddit": "Coffee", "created_utc": 1_600_000_000 + i}).encode()
            for i in range(start, start + n)]


def arxiv_records(n: int) -> list[bytes]:
    return [json.dumps({"id": f"2101.{i:05d}", "title": f"On the theory of item {i}",
                        "abstract": f"We study item {i} and show a bound that holds for every "
                                    f"case considered in the literature so far.",
                        "categories": "cs.LG"}).encode() for i in range(n)]


def zst(lines: list[bytes]) -> bytes:
    return zstandard.ZstdCompressor().compress(b"\n".join(lines) + b"\n")


def with_lone_surrogate(folder: Path, source: str = "reddit", good: int = 299) -> tuple[Path, int]:
    """`good` records and one whose title holds a lone surrogate escape (`\\ud800`)."""
    lines = submissions(good) if source == "reddit" else arxiv_records(good)
    bad = lines[0].replace(b'"title": "', b'"title": "\\ud800 ', 1)
    bad = bad.replace(b'"s0"', b'"bad"').replace(b'2101.00000', b'2101.99999')
    path = folder / ("RS_surrogate.zst" if source == "reddit" else "arxiv_surrogate.jsonl")
    body = [*lines[:good // 2], bad, *lines[good // 2:]]
    path.write_bytes(zst(body) if source == "reddit" else b"\n".join(body) + b"\n")
    return path, good + 1  # the bad record is repaired, not lost


def blank_bomb(folder: Path, blank_bytes: int, good: int = 10) -> tuple[Path, int]:
    """A small .zst holding `blank_bytes` of whitespace lines between good lines."""
    path = folder / "RS_blanks.zst"
    compressor = zstandard.ZstdCompressor(level=3)
    with open(path, "wb") as out, compressor.stream_writer(out) as writer:
        for line in submissions(good // 2):
            writer.write(line + b"\n")
        blank = b" " * 1023 + b"\n"
        for _ in range(blank_bytes // len(blank)):
            writer.write(blank)
        for line in submissions(good - good // 2, start=good // 2):
            writer.write(line + b"\n")
    return path, good


def endless_line(folder: Path, line_bytes: int, suffix: str = ".gz", good: int = 10
                 ) -> tuple[Path, int]:
    """Good lines, then one line of `line_bytes` without a newline until its end, then more."""
    path = folder / f"RS_long{suffix}"
    opener = {".gz": gzip.open, ".zst": None, ".bz2": bz2.open}[suffix]
    first, second = submissions(good // 2), submissions(good - good // 2, start=good // 2)
    chunk = b"x" * (1 << 20)
    if opener is None:
        compressor = zstandard.ZstdCompressor(level=1)
        handle = compressor.stream_writer(open(path, "wb"))
    else:
        handle = opener(path, "wb", compresslevel=1)
    with handle as out:
        out.write(b"\n".join(first) + b"\n")
        for _ in range(line_bytes // len(chunk)):
            out.write(chunk)
        out.write(b"\n" + b"\n".join(second) + b"\n")
    return path, good


def posts_xml(rows: int) -> bytes:
    """A StackExchange Posts.xml with `rows` questions, each with an accepted answer."""
    out = [b'<?xml version="1.0" encoding="utf-8"?>\n<posts>\n']
    for i in range(rows):
        q, a = 2 * i + 1, 2 * i + 2
        out.append(f'  <row Id="{q}" PostTypeId="1" AcceptedAnswerId="{a}" Score="3" '
                   f'Title="How do I brew coffee number {i}?" Body="&lt;p&gt;{GOOD_WORDS} {i}'
                   f'&lt;/p&gt;" Tags="&lt;brewing&gt;" />\n'.encode())
        out.append(f'  <row Id="{a}" PostTypeId="2" ParentId="{q}" Score="2" '
                   f'Body="&lt;p&gt;Use water just off the boil for brew {i}.&lt;/p&gt;" />\n'
                   .encode())
    out.append(b"</posts>\n")
    return b"".join(out)


def truncated_xml(folder: Path, suffix: str, rows: int = 400, keep: float = 0.8
                  ) -> tuple[Path, int]:
    """Posts.xml compressed and cut; returns the rows that are complete in what is left."""
    import re
    import zlib

    data = posts_xml(rows)
    if suffix == ".gz":
        blob = gzip.compress(data)
        cut = blob[:int(len(blob) * keep)]
        available = zlib.decompressobj(wbits=31).decompress(cut)
    else:  # bz2: 100 KB blocks, several per file, so a cut keeps whole blocks
        blob = bz2.compress(data, compresslevel=1)
        cut = blob[:int(len(blob) * keep)]
        decompressor = bz2.BZ2Decompressor()
        available = decompressor.decompress(cut)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"Posts.xml{suffix}"
    path.write_bytes(cut)
    return path, len(re.findall(rb"<row [^>]*/>", available))


def _warc_record(url: bytes, html: bytes, version: bytes = b"WARC/1.0", extra_length: int = 0,
                 http_extra: bytes = b"") -> bytes:
    http = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n" + http_extra
            + b"Content-Length: %d\r\n\r\n" % len(html) + html)
    head = (version + b"\r\nWARC-Type: response\r\nWARC-Target-URI: " + url
            + b"\r\nWARC-Record-ID: <urn:uuid:" + url[-8:].rjust(8, b"0") + b">\r\n"
            b"Content-Type: application/http; msgtype=response\r\n"
            b"Content-Length: %d\r\n\r\n" % (len(http) + extra_length))
    return head + http + b"\r\n\r\n"


def page(title: str) -> bytes:
    body = " ".join([f"{title} is a page about coffee and the ways people brew it at home."] * 8)
    return (f"<html><head><title>{title}</title></head><body><article><p>{body}</p>"
            f"</article></body></html>").encode()


def clueweb_warc(folder: Path, pages: int = 29) -> tuple[Path, int]:
    """WARC/0.18 responses whose `Content-Encoding: gzip` header sits over a decoded body."""
    path = folder / "clueweb.warc.gz"
    with open(path, "wb") as out:
        for i in range(pages):
            record = _warc_record(f"http://clue.example/{i:08d}".encode(), page(f"Page {i}"),
                                  b"WARC/0.18", http_extra=b"Content-Encoding: gzip\r\n")
            out.write(gzip.compress(record))
    return path, pages


def lying_length_warc(folder: Path, pages: int = 10, liar: int = 3) -> tuple[Path, int]:
    """Plain WARC where record `liar` claims 100 KB more than it has: the records after it
    must still be read."""
    path = folder / "lying.warc"
    with open(path, "wb") as out:
        for i in range(pages):
            out.write(_warc_record(f"http://lie.example/{i:08d}".encode(), page(f"Page {i}"),
                                   extra_length=100_000 if i == liar else 0))
    return path, pages - 1


def code_tree_with_undecodable_names(folder: Path) -> tuple[Path, Path, int]:
    """A directory and a tarball each holding a file whose name is not UTF-8."""
    source = (b'def total(a, b):\n    """Return the total of two numbers given."""\n'
              b"    x = a + b\n    y = x * 1\n    return y\n")
    tree = folder / "tree"
    os.makedirs(os.fsencode(tree / "pkg"), exist_ok=True)  # parents too
    (tree / "pkg" / "good.py").write_bytes(source)
    with open(os.fsencode(tree / "pkg") + b"/bad\xff.py", "wb") as f:
        f.write(source.replace(b"total", b"other"))
    archive = folder / "repo.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in (("repo/good.py", source),
                           (os.fsdecode(b"repo/bad\xff.py"), source.replace(b"total", b"other"))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return tree, archive, 2


def tree_with_outside_link(folder: Path) -> tuple[Path, Path]:
    """A code tree with a symlink to a file outside it (which holds a documented function)."""
    folder.mkdir(parents=True, exist_ok=True)
    outside = folder / "secret" / "private.py"
    outside.parent.mkdir(parents=True)
    outside.write_text('def leak(a):\n    """Return the private value kept outside."""\n'
                       '    b = a\n    c = b\n    return c\n')
    tree = folder / "linked"
    tree.mkdir()
    (tree / "ok.py").write_text('def fine(a):\n    """Return the value given to it here."""\n'
                                '    b = a\n    c = b\n    return c\n')
    (tree / "link.py").symlink_to(outside)
    return tree, outside


# Generic damage every `pairmill mine` command gets: (name, bytes, file suffix).
def generic_damage() -> list[tuple[str, bytes, str]]:
    good = b"\n".join(submissions(3)) + b"\n"
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
              b"<posts><row Id=\"1\" Body=\"&lol2;\"/></posts>")
    return [
        ("empty", b"", ".jsonl"),
        ("binary", bytes(range(256)) * 64, ".jsonl"),
        ("nul_bytes", good.replace(b"coffee", b"cof\x00fee"), ".jsonl"),
        ("invalid_utf8", good.replace(b"coffee", b"cof\xff\xfefee"), ".jsonl"),
        ("truncated_gzip", gzip.compress(good * 50)[:-30], ".jsonl.gz"),
        ("truncated_zstd", zst(submissions(400))[:-40], ".zst"),
        ("garbage_bz2", b"BZh9" + os.urandom(2048), ".bz2"),
        ("deep_json", b"[" * 100_000 + b"]" * 100_000 + b"\n" + good, ".jsonl"),
        ("billion_laughs", laughs, ".xml"),
        ("not_xml", b"<posts><row Id='1' Title='x'" + b"\n" + good, ".xml"),
        ("warc_garbage", b"WARC/1.0\r\nContent-Length: 99999999\r\n\r\n" + os.urandom(512), ".warc"),
    ]


def clean_inputs(folder: Path) -> dict[str, tuple[str, Path, int]]:
    """source -> (input flag, a clean file, pairs it gives): the good file beside the damage."""
    folder.mkdir(parents=True, exist_ok=True)
    reddit = folder / "clean_RS.zst"
    reddit.write_bytes(zst(submissions(5)))
    arxiv = folder / "clean_arxiv.jsonl"
    arxiv.write_bytes(b"\n".join(arxiv_records(5)) + b"\n")
    posts = folder / "clean_Posts.xml"
    posts.write_bytes(posts_xml(5))
    warc = folder / "clean.warc"
    warc.write_bytes(b"".join(_warc_record(f"http://ok.example/{i:08d}".encode(), page(f"Ok {i}"))
                              for i in range(5)))
    s2orc = folder / "clean_s2orc.jsonl"
    s2orc.write_bytes(b"\n".join(json.dumps(paper).encode() for paper in s2orc_papers(5)) + b"\n")
    wiki = folder / "clean_wiki.xml"
    wiki.write_bytes(wiki_export(5))
    return {"reddit": ("--submissions", reddit, 5), "arxiv": ("--input", arxiv, 5),
            "stackexchange": ("--input", posts, 10), "web": ("--input", warc, 5),
            "s2orc": ("--input", s2orc, 5), "wikipedia": ("--input", wiki, 5)}


def s2orc_papers(n: int) -> list[dict]:
    papers = []
    for i in range(n):
        text = (f"Extraction in method {i} depends on grind size and water temperature in "
                f"every case studied here [1].")
        papers.append({"paper_id": str(100 + i), "body_text": [{"text": text, "cite_spans": [
            {"start": len(text) - 4, "end": len(text) - 1, "text": "[1]", "ref_id": "BIBREF0"}]}],
            "bib_entries": {"BIBREF0": {"title": f"The physics of espresso, part {i}"}}})
    return papers


def wiki_export(n: int) -> bytes:
    pages = "".join(
        f"<page><title>Coffee {i}</title><ns>0</ns><id>{i + 1}</id><revision><id>{i + 100}</id>"
        f"<text>'''Coffee {i}''' is a drink brewed from roasted coffee beans and enjoyed around "
        f"the world every single day.</text></revision></page>" for i in range(n))
    return f"<mediawiki>{pages}</mediawiki>".encode()


def hostile_python() -> dict[str, bytes]:
    """Source files that must cost one dead letter or drop each, never the run."""
    good = b'def f(a):\n    """Return the value it was given back."""\n    b = a\n    c = b\n    return c\n'
    return {"binary.py": bytes(range(256)) * 8, "nul.py": good.replace(b"value", b"val\x00ue"),
            "latin1.py": good.replace(b"value", b"caf\xe9"), "deep.py": b"x = " + b"(" * 50_000,
            "huge_line.py": b"x = '" + b"a" * (2 << 20) + b"'\n", "good.py": good}


def s2orc_layouts(papers: list[Path], flat: Path, nested: Path) -> None:
    """Each paper written twice: as given (2020 pdf_parses) and with its parse nested under
    `grobid_parse` (the 2019/2020 full releases)."""
    flat.mkdir(parents=True, exist_ok=True)
    nested.mkdir(parents=True, exist_ok=True)
    for path in papers:
        paper = json.loads(path.read_text())
        (flat / path.name).write_text(json.dumps(paper))
        inner = {k: paper.pop(k) for k in ("body_text", "bib_entries") if k in paper}
        (nested / path.name).write_text(json.dumps({**paper, "grobid_parse": inner}))
