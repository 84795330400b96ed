"""`pairmill mine s2orc`: citing sentences, the paper-id join for abstracts, broken input, real papers."""

from __future__ import annotations

import gzip
import io
import json

import pyarrow.parquet as pq
import pytest

from pairmill.cli import main
from pairmill.extractors.text import extract_s2orc_paper, join_s2orc_citations, read_papers
from pairmill.schemas import read_manifest, validate_dataset
from pairmill.schemas.pairs import meta_dict

from .conftest import REALDATA

TEXT = ("Transformers now dominate most large-scale language modelling work (Vaswani et al., 2017). "
        "Earlier work relied on recurrent networks with gating [3]. Short one [3].")


def paper(paper_id: str = "100", text: str = TEXT, link: str | None = "200", **extra) -> dict:
    start = TEXT.index("(Vaswani")
    cites = [{"start": start, "end": start + len("(Vaswani et al., 2017)"), "text": "(Vaswani et al., 2017)",
              "ref_id": "BIBREF0"},
             {"start": TEXT.index("[3]"), "end": TEXT.index("[3]") + 3, "text": "[3]", "ref_id": "BIBREF1"},
             {"start": TEXT.rindex("[3]"), "end": TEXT.rindex("[3]") + 3, "text": "[3]", "ref_id": "BIBREF1"}]
    base = {"paper_id": paper_id, "abstract": [{"section": "Abstract", "text": f"Abstract of {paper_id}."}],
            "body_text": [{"section": "Intro", "text": text, "cite_spans": cites, "ref_spans": []}],
            "bib_entries": {"BIBREF0": {"title": "Attention is all you need", "link": link},
                            "BIBREF1": {"title": "Long short-term memory", "link": None}}}
    base.update(extra)
    return base


def test_citing_sentences_lose_their_markers_and_linked_references_become_parts():
    out = extract_s2orc_paper(json.dumps(paper()), "p.json:1")
    (pair,) = out.pairs  # BIBREF1: no link, title only; its second sentence is too short
    assert pair["query"] == "Earlier work relied on recurrent networks with gating."
    assert pair["document"] == "Long short-term memory"
    assert pair["task"] == "s2orc_citation_reference" and pair["origin"] == "s2orc:100#BIBREF1"
    assert out.drops == {"sentence_too_short": 1}
    parts = {p.side: p for p in out.parts}
    assert parts["citation"].key == "200"
    assert parts["citation"].value["sentence"] == ("Transformers now dominate most large-scale "
                                                   "language modelling work.")
    assert parts["paper"].key == "100" and parts["paper"].value == {"abstract": "Abstract of 100."}


def test_join_adds_the_abstract_when_the_cited_paper_was_read():
    citation = {"sentence": "s", "title": "Attention is all you need", "origin": "s2orc:100#B",
                "citing_paper": "100"}
    (pair,) = join_s2orc_citations("200", {"citation": [citation],
                                           "paper": [{"abstract": "We propose the Transformer."}]}).pairs
    assert pair["document"] == "Attention is all you need\n\nWe propose the Transformer."
    assert meta_dict(pair["meta"]) == {"citing_paper": "100", "cited_paper": "200"}
    (alone,) = join_s2orc_citations("200", {"citation": [citation], "paper": []}).pairs
    assert alone["document"] == "Attention is all you need"
    assert not join_s2orc_citations("300", {"citation": [], "paper": [{"abstract": "x"}]}).pairs


@pytest.mark.parametrize("change, reason", [
    ({"paper_id": ""}, "missing_paper_id"),
    ({"body_text": []}, "no_body_text"),
    ({"bib_entries": {}}, "unknown_reference"),
    ({"bib_entries": {"BIBREF0": {"title": " "}, "BIBREF1": {"title": ""}}}, "reference_without_title"),
])
def test_unusable_papers_and_references_are_counted(change, reason):
    out = extract_s2orc_paper(json.dumps(paper(**change)), "p.json:1")
    assert reason in out.drops and not out.pairs


def test_malformed_spans_are_skipped_not_fatal():
    bad = paper()
    bad["body_text"][0]["cite_spans"] += [{"start": "x", "end": 3, "ref_id": "BIBREF0"}, None]
    assert len(extract_s2orc_paper(json.dumps(bad), "p:1").pairs) == 1


def test_reader_takes_json_lines_or_one_pretty_document():
    lines = b"\n".join(json.dumps(paper(str(i))).encode() for i in range(3)) + b"\n{broken}\n"
    got = list(read_papers(io.BytesIO(lines)))
    assert [loc for loc, _ in got] == ["1", "2", "3", "4"]
    assert extract_s2orc_paper(got[3][1], "f:4").drops == {"invalid_json": 1}
    pretty = json.dumps(paper(), indent=2).encode()
    ((loc, document),) = read_papers(io.BytesIO(b"\n" + pretty))
    assert json.loads(document)["paper_id"] == "100"
    broken_first = b'{"paper_id": "1", "body_text": \n' + lines
    assert len(list(read_papers(io.BytesIO(broken_first)))) == 1  # one (invalid) document


def test_pipeline_joins_abstracts_across_files_and_keeps_good_papers(tmp_path):
    cited = paper("200", link=None, abstract=[{"text": "We propose the Transformer."}])
    shard = b"\n".join(json.dumps(p).encode() for p in (paper("100"), paper("101", link="999")))
    (tmp_path / "shard.jsonl.gz").write_bytes(gzip.compress(shard + b"\n{not json\n"))
    (tmp_path / "cited.json").write_text(json.dumps(cited, indent=2))
    out = tmp_path / "out"
    assert main(["mine", "s2orc", "--input", str(tmp_path / "shard.jsonl.gz"),
                 str(tmp_path / "cited.json"), "--output", str(out)]) == 0
    assert validate_dataset(out) == []
    manifest = read_manifest(out)
    rows = pq.read_table(out / manifest.tasks["s2orc_citation_reference"][0].path).to_pylist()
    documents = {(r["origin"], r["document"]) for r in rows}
    assert ("s2orc:100#BIBREF0", "Attention is all you need\n\nWe propose the Transformer.") in documents
    assert ("s2orc:101#BIBREF0", "Attention is all you need") in documents  # 999 not in the input
    assert manifest.counters["drops"]["invalid_json"] == 1
    assert manifest.counters["records_read"] == 4


SAMPLES = REALDATA / "s2orc"


@pytest.mark.skipif(not SAMPLES.exists(), reason="../shared/realdata is not present")
def test_real_papers(tmp_path):
    out = tmp_path / "s2orc"
    assert main(["mine", "s2orc", "--input", str(SAMPLES / "*.json"), "--output", str(out)]) == 0
    manifest = read_manifest(out)
    assert manifest.counters["records_read"] == 3
    rows = pq.read_table(out / manifest.tasks["s2orc_citation_reference"][0].path).to_pylist()
    papers = {p.stem: json.loads(p.read_text()) for p in SAMPLES.glob("*.json")}
    spans = sum(len(par["cite_spans"]) for p in papers.values() for par in p["body_text"])
    assert 0.6 * spans < len(rows) <= spans
    # A bibliography entry links to 18980380, which is one of the three files: those pairs carry
    # its abstract, the rest only a title.
    abstract = " ".join(a["text"] for a in papers["18980380"]["abstract"])
    joined = [r for r in rows if meta_dict(r["meta"]).get("cited_paper") == "18980380"]
    assert joined and all(r["document"].endswith(" ".join(abstract.split())) for r in joined)
    citing = {pid for pid, p in papers.items()
              if any(b.get("link") == "18980380" for b in p["bib_entries"].values())}
    assert citing and {meta_dict(r["meta"])["citing_paper"] for r in joined} == citing
    others = [r for r in rows if meta_dict(r["meta"]).get("cited_paper") != "18980380"]
    assert all("\n\n" not in r["document"] for r in others)
    assert not any("BIBREF" in r["query"] or "(Green et al. 1993)" in r["query"] for r in rows)
