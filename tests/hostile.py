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
    pubmed = folder / "pubmed25n0001.xml"  # a structured abstract, a deletion of another PMID
    pubmed.write_bytes(pubmed_file(
        [pubmed_article(1, abstract=[("BACKGROUND", "Grind <i>finer</i> than r<sup>2</sup> says "
                                                    "for espresso shots pulled at nine bar."),
                                     ("RESULTS", "Yield rose with every finer setting.")])]
        + [pubmed_article(i) for i in range(2, 6)], deleted=[99]))
    return {"reddit": ("--submissions", reddit, 5), "arxiv": ("--input", arxiv, 5),
            "stackexchange": ("--input", posts, 10), "web": ("--input", warc, 5),
            "s2orc": ("--input", s2orc, 5), "wikipedia": ("--input", wiki, 5),
            "pubmed": ("--input", pubmed, 5)}


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


# --- paper metadata (`mine s2orc --metadata`, `--papers/--abstracts/--citations`) -------------
# Rows shaped as the real exports are: S2ORC 2020-07-05 `metadata/*.jsonl.gz` lines, and the
# S2AG `papers`, `abstracts`, `citations` datasets (corpusid an integer there, a string in
# `citations`; `citedcorpusid` null for an unresolved reference).

def s2orc_metadata_row(paper_id: str, title: str | None, abstract: str | None,
                       outbound: list[str] = (), inbound: list[str] = ()) -> dict:
    return {"paper_id": paper_id, "title": title,
            "authors": [{"first": "Ada", "middle": [], "last": "Lovelace", "suffix": ""}],
            "abstract": abstract, "year": 2016, "arxiv_id": None, "acl_id": None, "pmc_id": None,
            "pubmed_id": None, "doi": None, "venue": None, "journal": "Brewing Science",
            "mag_id": "2426173123", "mag_field_of_study": ["Chemistry"],
            "outbound_citations": list(outbound), "inbound_citations": list(inbound),
            "has_outbound_citations": bool(outbound), "has_inbound_citations": bool(inbound),
            "has_pdf_parse": False, "s2_url": f"https://api.semanticscholar.org/CorpusID:{paper_id}"}


def paper_abstract(i: int) -> str:
    return (f"We measure how grind size {i} changes extraction yield in espresso and show that "
            f"finer grinds raise the yield until channelling sets in at high pressure.")


def s2ag_paper(corpusid: int, title: str | None) -> dict:
    return {"corpusid": corpusid,
            "externalids": {"ACL": None, "DBLP": None, "ArXiv": None, "MAG": "2921691074",
                            "CorpusId": str(corpusid), "PubMed": None, "DOI": None,
                            "PubMedCentral": None},
            "url": f"https://www.semanticscholar.org/paper/{corpusid:040d}", "title": title,
            "authors": [{"authorId": "93500598", "name": "R. Thanoon"}], "venue": "",
            "publicationvenueid": None, "year": 2018, "referencecount": 0, "citationcount": 0,
            "influentialcitationcount": 0, "isopenaccess": False, "s2fieldsofstudy": None,
            "publicationtypes": None, "publicationdate": None,
            "journal": {"name": "", "pages": None, "volume": ""},
            "updated": "2022-01-27T02:09:51.713Z"}


def s2ag_abstract(corpusid: int, abstract: str | None) -> dict:
    return {"corpusid": corpusid,
            "openaccessinfo": {"externalids": {"MAG": "2977278554", "ACL": None, "DOI": None,
                                               "PubMedCentral": None, "ArXiv": None},
                               "license": None, "url": None, "status": None},
            "abstract": abstract}


def s2ag_citation(citing, cited) -> dict:
    return {"citingcorpusid": None if citing is None else str(citing),
            "citedcorpusid": None if cited is None else str(cited), "isinfluential": False,
            "contexts": None, "intents": None, "updated": "2020-09-13T15:59:00.392Z"}


def jsonl(rows: list[dict]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


# --- PubMed (`mine pubmed`) --------------------------------------------------------------------
# Records shaped as the real baseline and update files are (pubmed25nNNNN.xml.gz): an external
# DOCTYPE line, MedlineCitation inside PubmedArticle, a PubmedData block whose references carry
# other PMIDs, and a DeleteCitation at the end of an update file.

PUBMED_HEAD = ('<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, '
               '1st January 2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n')


def pubmed_article(pmid: int | str, title: str | None = None, abstract: str | list | None = "",
                   language: str = "eng", types: tuple[str, ...] = ("Journal Article",),
                   version: int = 1, revised: tuple[int, int, int] = (2024, 1, 15),
                   comments: str = "") -> str:
    """One <PubmedArticle>. `abstract`: a plain text, a list of (label, text) sections, "" for a
    default text, None for none; `title` None gives a default title; `pmid` "" gives no <PMID>."""
    from xml.sax.saxutils import escape

    title = f"Grind size and extraction yield in espresso, study {pmid}." if title is None else title
    if abstract == "":
        abstract = (f"We measured extraction yield in study {pmid} across twelve grind settings "
                    f"and found that finer grinds raised the yield until channelling set in.")
    if abstract is None:
        abstract_xml = ""
    else:
        sections = [("", abstract)] if isinstance(abstract, str) else abstract
        parts = "".join(
            f'<AbstractText Label="{escape(label)}" NlmCategory="{escape(label)}">{text}</AbstractText>'
            if label else f"<AbstractText>{text}</AbstractText>" for label, text in sections)
        abstract_xml = (f"<Abstract>{parts}<CopyrightInformation>Copyright © 2024 Elsevier Inc. "
                        f"All rights reserved.</CopyrightInformation></Abstract>")
    pmid_xml = f'<PMID Version="{version}">{pmid}</PMID>' if pmid != "" else ""
    year, month, day = revised
    kinds = "".join(f'<PublicationType UI="D016428">{t}</PublicationType>' for t in types)
    return (
        f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM" IndexingMethod="Automated">'
        f"{pmid_xml}<DateCompleted><Year>2023</Year><Month>11</Month><Day>22</Day></DateCompleted>"
        f"<DateRevised><Year>{year}</Year><Month>{month:02d}</Month><Day>{day:02d}</Day></DateRevised>"
        f'<Article PubModel="Print-Electronic"><Journal><ISSN IssnType="Electronic">1557-9875</ISSN>'
        f'<JournalIssue CitedMedium="Internet"><Volume>41</Volume><Issue>1</Issue><PubDate>'
        f"<Year>2023</Year><Month>Feb</Month></PubDate></JournalIssue><Title>Journal of coffee "
        f"science</Title><ISOAbbreviation>J Coffee Sci</ISOAbbreviation></Journal>"
        f"<ArticleTitle>{title}</ArticleTitle><Pagination><StartPage>61</StartPage><EndPage>76"
        f'</EndPage><MedlinePgn>61-76</MedlinePgn></Pagination><ELocationID EIdType="doi" '
        f'ValidYN="Y">10.1016/j.jcs.2023.{pmid}</ELocationID>{abstract_xml}<AuthorList '
        f'CompleteYN="Y"><Author ValidYN="Y"><LastName>Barista</LastName><ForeName>Ada</ForeName>'
        f"<Initials>A</Initials><AffiliationInfo><Affiliation>Department of Brewing, Example "
        f"University.</Affiliation></AffiliationInfo></Author></AuthorList><Language>{language}"
        f"</Language><PublicationTypeList>{kinds}</PublicationTypeList></Article>"
        f"<MedlineJournalInfo><Country>United States</Country><MedlineTA>J Coffee Sci</MedlineTA>"
        f"<NlmUniqueID>8219232</NlmUniqueID><ISSNLinking>0733-8619</ISSNLinking>"
        f"</MedlineJournalInfo><CitationSubset>IM</CitationSubset>"
        f"<CommentsCorrectionsList>{comments}<CommentsCorrections RefType=\"CommentIn\"><RefSource>"
        f"J Coffee Sci. 2024;42:1.</RefSource><PMID Version=\"1\">99000001</PMID>"
        f"</CommentsCorrections></CommentsCorrectionsList><MeshHeadingList><MeshHeading>"
        f'<DescriptorName UI="D003069" MajorTopicYN="Y">Coffee</DescriptorName></MeshHeading>'
        f"</MeshHeadingList></MedlineCitation><PubmedData><History><PubMedPubDate "
        f'PubStatus="entrez"><Year>2023</Year><Month>11</Month><Day>19</Day><Hour>13</Hour>'
        f"<Minute>52</Minute></PubMedPubDate></History><PublicationStatus>ppublish"
        f'</PublicationStatus><ArticleIdList><ArticleId IdType="pubmed">{pmid}</ArticleId>'
        f'<ArticleId IdType="doi">10.1016/j.jcs.2023.{pmid}</ArticleId></ArticleIdList>'
        f"<ReferenceList><Reference><Citation>Roast degree and extraction. J Coffee Sci. "
        f'2020;3:4.</Citation><ArticleIdList><ArticleId IdType="pubmed">99000002</ArticleId>'
        f"</ArticleIdList></Reference></ReferenceList></PubmedData></PubmedArticle>\n")


def pubmed_file(articles: list[str], deleted: list[int | str] = (), head: str = PUBMED_HEAD) -> bytes:
    """A PubmedArticleSet: the articles, then a DeleteCitation of `deleted` (update files)."""
    deletion = ("<DeleteCitation>" + "".join(f'<PMID Version="1">{p}</PMID>' for p in deleted)
                + "</DeleteCitation>\n") if deleted else ""
    return (head + "<PubmedArticleSet>\n" + "".join(articles) + deletion
            + "</PubmedArticleSet>\n").encode()


# --- git histories (`pairmill mine commits`) ---------------------------------------------------

PARSER_PY = '''"""Read INI-style configuration files."""


def parse(text):
    """Return the sections of `text` as a dict of dicts."""
    sections, current = {}, None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
        elif "=" in line and current is not None:
            key, value = line.split("=", 1)
            current[key.strip()] = value.strip()
    return sections
'''

MIT_TEXT = ("MIT License\n\nCopyright (c) 2024 Example\n\nPermission is hereby granted, free of "
            "charge, to any person obtaining a copy\nof this software and associated documentation "
            "files (the \"Software\"), to deal\nin the Software without restriction.\n")
APACHE_TEXT = ("                                 Apache License\n                           "
               "Version 2.0, January 2004\n                        http://www.apache.org/licenses/\n")


class GitRepo:
    """A repository written commit by commit with the git command, at fixed dates and names."""

    def __init__(self, path: Path, bare: bool = False):
        import subprocess

        self.path, self._tick = path, 0
        self._run = subprocess.run
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main", *(["--bare"] if bare else []))

    def env(self, author: str = "Ann Example <ann@example.com>") -> dict:
        name, email = author.rsplit(" <", 1)
        self._tick += 1
        date = f"{1_700_000_000 + self._tick * 3600} +0000"
        return {**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
                "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
                "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email.rstrip(">"),
                "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email.rstrip(">"),
                "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}

    def git(self, *args, author: str = "Ann Example <ann@example.com>", stdin: bytes | None = None
            ) -> str:
        done = self._run(["git", "-C", str(self.path), *args], env=self.env(author), input=stdin,
                         capture_output=True, check=True)
        return done.stdout.decode("utf-8", "replace").strip()

    def write(self, files: dict) -> None:
        for name, content in files.items():
            target = os.path.join(os.fsencode(self.path), os.fsencode(name))
            if content is None:
                os.remove(target)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(content.encode() if isinstance(content, str) else content)

    def commit(self, message: str | bytes, files: dict | None = None, *,
               author: str = "Ann Example <ann@example.com>", encoding: str = "") -> str:
        """Write `files` (None deletes one), commit them all; the new commit's id. With
        `encoding` the message is stored in it under an `encoding` header."""
        self.write(files or {})
        self.git("add", "-A")
        raw = message.encode() if isinstance(message, str) else message
        config = ["-c", f"i18n.commitEncoding={encoding}"] if encoding else []
        self.git(*config, "commit", "-q", "--allow-empty", "--no-verify", "-F", "-",
                 author=author, stdin=raw)
        return self.git("rev-parse", "HEAD")

    def raw_commit(self, message: bytes, files: dict | None = None) -> str:
        """A commit whose message bytes are stored as given, with no `encoding` header (what
        `git commit` repairs today, and old imports hold)."""
        self.write(files or {})
        self.git("add", "-A")
        tree, parent = self.git("write-tree"), self.git("rev-parse", "HEAD")
        who = "Ann Example <ann@example.com> 1700100000 +0000"
        body = (f"tree {tree}\nparent {parent}\nauthor {who}\ncommitter {who}\n\n".encode()
                + message)
        sha = self.git("hash-object", "-t", "commit", "-w", "--stdin", stdin=body)
        self.git("update-ref", "HEAD", sha)
        return sha


def git_commit_history(folder: Path) -> tuple[Path, dict[str, str]]:
    """A working tree whose history has what real ones have: a root commit, explained commits
    with trailers, a merged branch, a bot, a lock file, vendored code, a binary and a 2 MiB file,
    a Latin-1 message, a file name that is not UTF-8, a revert, a large diff, and a licence that
    changes. Returns the tree and {name: commit id} of the commits the tests look at."""
    repo = GitRepo(folder / "project")
    ids = {}
    ids["initial"] = repo.commit("Initial commit", {"README.md": "# project\n",
                                                    "src/app.py": "print('hello')\n"})
    ids["parser"] = repo.commit(
        "Add a parser for INI configuration files\n\nThe parser reads sections and key = value "
        "lines and returns a dict of dicts,\nso callers no longer split lines by hand.\n\n"
        "Fixes #12\n\nSigned-off-by: Ann Example <ann@example.com>\n"
        "Co-authored-by: Bo Example <bo@example.com>\nChange-Id: I0123456789abcdef\n",
        {"src/parser.py": PARSER_PY})
    ids["license"] = repo.commit("Add the MIT licence text to the project", {"LICENSE": MIT_TEXT})
    ids["wip"] = repo.commit("wip", {"src/app.py": "print('hello world')\n"})
    ids["bot"] = repo.commit("Bump requests from 2.31.0 to 2.32.0 in the pip group",
                             {"requirements.txt": "requests==2.32.0\n"},
                             author="dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>")
    ids["lock"] = repo.commit("Refresh the locked versions of the web dependencies",
                              {"package-lock.json": '{"lockfileVersion": 3}\n'})
    ids["binary"] = repo.commit("Add the project logo to the documentation pages",
                                {"docs/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256))})
    ids["big_file"] = repo.commit("Add the recorded sensor readings used by the examples",
                                  {"examples/readings.txt": b"12.5 13.1 12.9\n" * 150_000})
    ids["mixed"] = repo.commit(
        "Strip whitespace around values when splitting lines",
        {"src/util.py": "def split(line):\n    key, value = line.split('=', 1)\n"
                        "    return key.strip(), value.strip()\n",
         "vendor/left_pad.js": "module.exports = function leftPad(s) { return s; };\n",
         "yarn.lock": "# yarn lockfile v1\n"})
    repo.git("checkout", "-q", "-b", "feature")
    ids["branch"] = repo.commit("Handle empty sections in the configuration parser",
                                {"src/parser.py": PARSER_PY.replace(
                                    "    return sections\n",
                                    "    return {k: v for k, v in sections.items() if v}\n")})
    repo.git("checkout", "-q", "main")
    ids["docs"] = repo.commit("Document the configuration format in the readme",
                              {"README.md": "# project\n\nConfiguration files use INI sections.\n"})
    repo.git("merge", "-q", "--no-ff", "feature", "-m", "Merge branch 'feature'")
    ids["merge"] = repo.git("rev-parse", "HEAD")
    ids["latin1"] = repo.commit("Corrige l'analyse des en-t\xeates accentu\xe9s".encode("latin-1"),
                                {"src/headers.py": "def header(name):\n    return name.title()\n"},
                                encoding="latin1")
    ids["raw_bytes"] = repo.raw_commit(
        "Gère les fichiers de configuration vides sans erreur".encode("latin-1"),
        {"src/empty.py": "def is_empty(text):\n    return not text.strip()\n"})
    ids["odd_path"] = repo.commit("Add the sample data loader for the French dataset",
                                  {os.fsdecode(b"src/donn\xe9es.py"): "def load():\n    return []\n"})
    ids["typo"] = repo.commit("Add a helper that reads the settings file from disk",
                              {"src/settings.py": "def read(path):\n    return open(path).read()\n"})
    repo.git("revert", "--no-edit", "HEAD")
    ids["revert"] = repo.git("rev-parse", "HEAD")
    big = "".join(f"def handler_{i}(event):\n    return event.get('value_{i}')\n\n\n"
                  for i in range(600))
    ids["large"] = repo.commit("Generate one event handler per sensor value",
                               {"src/handlers.py": big})
    ids["relicense"] = repo.commit("Relicense the project under the Apache License 2.0",
                                   {"LICENSE": APACHE_TEXT})
    return repo.path, ids


def post_links_xml(links: list[tuple[object, object, object, object]]) -> bytes:
    """A StackExchange PostLinks.xml as the dump writes it (byte order mark, one row a line):
    (Id, PostId, RelatedPostId, LinkTypeId) per row; LinkTypeId 3 marks PostId a duplicate of
    RelatedPostId, 1 a plain link."""
    out = [b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?>\n<postlinks>\n']
    for link_id, post, related, kind in links:
        out.append(f'  <row Id="{link_id}" CreationDate="2015-02-03T10:11:12.130" PostId="{post}" '
                   f'RelatedPostId="{related}" LinkTypeId="{kind}" />\n'.encode())
    out.append(b"</postlinks>\n")
    return b"".join(out)


def site_7z(path: Path, members: dict[str, bytes | str]) -> Path:
    """A site archive as the dump ships it: one .7z holding Posts.xml, PostLinks.xml, ..."""
    import py7zr

    with py7zr.SevenZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(data, name)
    return path
