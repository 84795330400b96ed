"""`pairmill mine s2orc` on paper metadata: S2ORC metadata rows and the S2AG papers / abstracts /
citations datasets -> s2orc_title_abstract and s2orc_citation_abstract.

Fixtures are written by the tests (tests/hostile.py), shaped as the real exports are: the S2ORC
2020-07-05 metadata sample of allenai/s2orc and the S2AG sample files of the datasets API.
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pairmill.cli import main
from pairmill.extractors.registry import source
from pairmill.extractors.text.s2orc_metadata import (
    CITATION_ABSTRACT,
    TITLE_ABSTRACT,
    PaperMetadataOptions,
    better_text,
    clean_abstract,
    clean_title,
    extract_abstract_row,
    extract_citation_row,
    extract_paper_metadata,
    join_citations,
    join_paper,
    prepare_inputs,
)
from pairmill.schemas import read_manifest, validate_dataset
from pairmill.schemas.pairs import meta_dict

from . import hostile
from .conftest import REALDATA
from .hostile import paper_abstract, s2ag_abstract, s2ag_citation, s2ag_paper, s2orc_metadata_row

OPTIONS = PaperMetadataOptions()


def _rows(out: Path, task: str) -> list[dict]:
    return [r for f in sorted(out.glob(f"data/{task}/*.parquet")) for r in pq.read_table(f).to_pylist()]


def _letters(out: Path) -> list[dict]:
    return [r for f in sorted(out.glob("errors/*.parquet")) for r in pq.read_table(f).to_pylist()]


def _mine(tmp_path: Path, *args: str, name: str = "out") -> tuple[Path, int]:
    out = tmp_path / name
    return out, main(["mine", "s2orc", *args, "--output", str(out)])


# --- cleaning ---------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    # headings S2 keeps in front of the text (13% of the real 2020 metadata sample)
    ("Abstract We prove existence and uniform bounds for critical static systems in four "
     "dimensions.", "We prove existence and uniform bounds for critical static systems in four "
                    "dimensions."),
    ("ABSTRACTIntroduction: The current first line therapy for high grade bladder cancer is "
     "intravesical BCG.", "Introduction: The current first line therapy for high grade bladder "
                          "cancer is intravesical BCG."),
    ("Abstract : Both clinical and experimental studies suggest that platelets play a major role.",
     "Both clinical and experimental studies suggest that platelets play a major role."),
    ("UNLABELLED: The first seven members of the proprotein convertase family activate precursors.",
     "The first seven members of the proprotein convertase family activate precursors."),
    ("Summary form only given. It is well known that the group velocity of a light pulse can "
     "exceed c.", "It is well known that the group velocity of a light pulse can exceed c."),
    ("jdoe@kiu.ac.kr Abstract Big data analytics made its way beyond expectation in science and "
     "technology.", "Big data analytics made its way beyond expectation in science and technology."),
    # not headings: the word is the text's own
    ("Abstract algebra studies groups, rings and fields and the maps between them here.",
     "Abstract algebra studies groups, rings and fields and the maps between them here."),
    # ":::" separates paragraphs; a section label joins its section; empty paragraphs go
    ("BACKGROUND ::: The population in the UK is growing older every year. ::: ::: ::: METHODS "
     "::: We identified all patients older than eighty.",
     "BACKGROUND: The population in the UK is growing older every year. METHODS: We identified "
     "all patients older than eighty."),
    # a truncated teaser repeated in full
    ("NASA has decided to continue with its ... ::: NASA has decided to continue with its "
     "controversial procurement approach to a crew spacecraft.",
     "NASA has decided to continue with its controversial procurement approach to a crew "
     "spacecraft."),
    # Crossref JATS and HTML entities; "p < 0.05" is no tag
    ("<jats:title>Abstract</jats:title><jats:p>We grow <i>E. coli</i> &amp; yeast for weeks and "
     "find p &lt; 0.05 in every plate.</jats:p>",
     "We grow E. coli & yeast for weeks and find p < 0.05 in every plate."),
    ([{"section": "Abstract", "text": "Paragraphs of a parse are read in order and joined."},
      {"section": "Abstract", "text": "The second one follows the first one here."}],
     "Paragraphs of a parse are read in order and joined. The second one follows the first one here."),
])
def test_abstracts_are_cleaned(raw, expected):
    assert clean_abstract(raw, OPTIONS) == (expected, "")


@pytest.mark.parametrize("raw, reason", [
    (None, "missing_abstract"), ("", "missing_abstract"), ("  ::: ::: ", "missing_abstract"),
    (123, "abstract_too_short"), ({"text": "x"}, "missing_abstract"),
    ("No abstract available.", "placeholder_abstract"), ("Abstract", "placeholder_abstract"),
    ("N/A", "placeholder_abstract"), ("[No abstract available]", "placeholder_abstract"),
    ("An abstract is not available for this content so a preview has been provided. Please use "
     "the Get access link above for information on how to access this content.",
     "placeholder_abstract"),
    ("This is a preview of subscription content, log in to check access to the full article.",
     "placeholder_abstract"),
    ("The sections in this article are ::: ::: ::: Introduction ::: Nanoparticles in the "
     "Environment ::: Health Threats", "placeholder_abstract"),
    ("[This corrects the article DOI: 10.1371/journal.pone.0123456.]", "placeholder_abstract"),
    ("or epitome of title requisitions on title", "abstract_too_short"),  # a real S2AG abstract
    ("word " * 1001, "abstract_too_long"),
])
def test_unusable_abstracts_are_named(raw, reason):
    assert clean_abstract(raw, OPTIONS) == ("", reason)


def test_titles_are_cleaned_or_named():
    assert clean_title("[Radioimmunoassay of serum gastrin (author's transl)].", OPTIONS) == (
        "Radioimmunoassay of serum gastrin (author's transl)", "")
    assert clean_title("  Quark-Gluon\n Plasma ", OPTIONS) == ("Quark-Gluon Plasma", "")
    assert clean_title(None, OPTIONS) == ("", "missing_title")
    assert clean_title("Editorial.", OPTIONS) == ("", "generic_title")
    assert clean_title("Book Reviews", OPTIONS) == ("", "generic_title")
    assert clean_title("word " * 51, OPTIONS) == ("", "title_too_long")


# --- records ----------------------------------------------------------------------------------

def _parts(out) -> dict[str, list]:
    found: dict[str, list] = {}
    for part in out.parts:
        found.setdefault(part.side, []).append((part.key, part.value))
    return found


def test_a_metadata_row_leaves_its_title_abstract_and_outbound_citations():
    row = s2orc_metadata_row("77490025", "Grind size and espresso", "Abstract " + paper_abstract(1),
                             outbound=["200", 300, "200", ""], inbound=["400"])
    out = extract_paper_metadata(json.dumps(row), "metadata_0.jsonl:3")
    parts = _parts(out)
    assert parts["title"] == [("77490025", {"text": "Grind size and espresso",
                                            "at": "metadata_0.jsonl:3", "reason": ""})]
    assert parts["abstract"] == [("77490025", {"text": paper_abstract(1),
                                               "at": "metadata_0.jsonl:3", "reason": ""})]
    # inbound_citations are the citing papers' outbound lists: not read twice
    assert parts["cites"] == [("77490025", {"cited": ["200", "300"]})]
    assert not out.pairs and not out.drops


def test_other_layouts_of_a_paper_record_are_read_alike():
    nested = {"paper_id": "15772371", "metadata": {"title": "Grind size and espresso",
                                                    "abstract": paper_abstract(1)},
              "grobid_parse": {"bib_entries": {"BIBREF0": {"title": "t", "links": "200"},
                                               "BIBREF1": {"title": "u", "links": None}}}}
    open_corpus = {"id": "4cd223df721b722b1c40689caa52932a41fcc223",
                   "title": "Grind size and espresso", "paperAbstract": paper_abstract(1),
                   "outCitations": ["abe213ed63c426a089bdf4329597137751dbb3a0"]}
    graph_api = {"paperId": "a92be14f", "externalIds": {"CorpusId": 250364723},
                 "title": "Grind size and espresso", "abstract": paper_abstract(1)}
    for record, key, cited in ((nested, "15772371", ["200"]),
                               (open_corpus, "4cd223df721b722b1c40689caa52932a41fcc223",
                                ["abe213ed63c426a089bdf4329597137751dbb3a0"]),
                               (graph_api, "250364723", None)):
        parts = _parts(extract_paper_metadata(json.dumps(record), "f:1"))
        assert parts["title"][0][0] == key and parts["title"][0][1]["text"] == "Grind size and espresso"
        assert parts["abstract"][0][1]["text"] == paper_abstract(1)
        assert parts.get("cites", [(key, {"cited": None})])[0][1]["cited"] == cited


def test_s2ag_rows_give_their_half_of_a_paper():
    paper = _parts(extract_paper_metadata(json.dumps(s2ag_paper(108228682, "Alkaline protease")),
                                          "papers/0.gz:1"))
    assert paper["title"] == [("108228682", {"text": "Alkaline protease", "at": "papers/0.gz:1",
                                             "reason": ""})]
    assert "abstract" not in paper and "cites" not in paper  # S2AG keeps them in other datasets
    abstract = _parts(extract_abstract_row(json.dumps(s2ag_abstract(108228682, paper_abstract(2))),
                                           "abstracts/0.gz:7"))
    assert abstract == {"abstract": [("108228682", {"text": paper_abstract(2),
                                                    "at": "abstracts/0.gz:7", "reason": ""})]}
    null = _parts(extract_abstract_row(json.dumps(s2ag_abstract(5, None)), "a:1"))
    assert null["abstract"][0][1]["reason"] == "missing_abstract"
    edge = extract_citation_row(json.dumps(s2ag_citation(20187272, 85219962.0)), "c:1")
    assert _parts(edge) == {"cites": [("20187272", {"cited": ["85219962"]})]}


@pytest.mark.parametrize("extract, line, reason", [
    (extract_paper_metadata, json.dumps({"title": "No id at all", "abstract": "x"}), "missing_paper_id"),
    (extract_paper_metadata, json.dumps({"paper_id": "", "corpusid": None}), "missing_paper_id"),
    (extract_abstract_row, json.dumps({"corpusid": True, "abstract": "x"}), "missing_paper_id"),
    (extract_citation_row, json.dumps(s2ag_citation(18835056, None)), "citation_missing_id"),
    (extract_citation_row, json.dumps(s2ag_citation(None, 1)), "citation_missing_id"),
    (extract_citation_row, json.dumps(s2ag_citation(7, 7)), "self_citation"),
])
def test_rows_without_ids_are_counted(extract, line, reason):
    out = extract(line, "f:1")
    assert out.drops == {reason: 1} and not out.parts


@pytest.mark.parametrize("line, reason", [
    (b'{"paper_id": "1", "title": "caf\xe9"}', "decode_error"),
    (b'{"paper_id": "1", "title": ', "invalid_json"),
    (b'["paper_id", "1"]', "not_an_object"),
])
def test_unreadable_rows_are_dead_letters(line, reason):
    for extract in (extract_paper_metadata, extract_abstract_row, extract_citation_row):
        out = extract(line, "metadata.jsonl:9")
        assert [d["reason"] for d in out.dead_letters] == [reason] and not out.parts


# --- joins ------------------------------------------------------------------------------------

def _value(text: str, at: str, reason: str = "") -> dict:
    return {"text": text, "at": at, "reason": reason}


def test_one_paper_read_twice_gives_one_pair_from_its_best_record():
    full, cut = paper_abstract(1), paper_abstract(1)[:60] + "..."
    groups = {"title": [_value("Grind size", "b:2"), _value("", "a:1", "missing_title")],
              "abstract": [_value(cut, "a:1"), _value("", "c:1", "missing_abstract"),
                           _value(full, "b:2")],
              "cites": [{"cited": ["20", "30"]}, {"cited": ["30", "10"]}]}
    for order in (1, -1):  # whatever order the records come in
        out = join_paper("10", {k: v[::order] for k, v in groups.items()})
        (pair,) = out.pairs
        assert (pair["task"], pair["query"], pair["document"]) == (TITLE_ABSTRACT, "Grind size", full)
        assert pair["origin"] == "s2orc:10"
        assert meta_dict(pair["meta"]) == {"paper": "10", "title_record": "b:2", "abstract_record": "b:2"}
        parts = _parts(out)
        assert parts["citing"] == [("20", {"title": "Grind size", "paper": "10"}),
                                   ("30", {"title": "Grind size", "paper": "10"})]
        assert parts["cited"] == [("10", {"title": "Grind size", "abstract": full, "lang": "en"})]
        assert pair["lang"] == "en"  # what the language rule would find, found once per paper
        assert parts["paper"] == [("10", {"abstract": full})]  # for the paper-parse join
        assert out.drops == {"self_citation": 1}
    assert better_text(groups["abstract"][0], groups["abstract"][2]) == groups["abstract"][2]


@pytest.mark.parametrize("groups, drops", [
    ({"abstract": [_value(paper_abstract(1), "a:1")]}, {"abstract_without_paper": 1}),
    ({"title": [_value("T", "p:1")]}, {"paper_without_abstract": 1}),
    ({"title": [_value("", "p:1", "missing_title")], "abstract": [_value(paper_abstract(1), "a:1")]},
     {"missing_title": 1}),
    ({"title": [_value("T", "p:1")], "abstract": [_value("", "a:1", "placeholder_abstract")]},
     {"placeholder_abstract": 1}),
    ({"title": [_value("Espresso, grind and yield", "p:1")],
      "abstract": [_value("Espresso: grind and yield!", "a:1")]}, {"abstract_is_title": 1}),
    ({"cites": [{"cited": ["2", "3"]}]}, {"citing_paper_not_in_input": 2}),
    ({"title": [_value("", "p:1", "generic_title")], "cites": [{"cited": ["2"]}]},
     {"generic_title": 1, "citing_paper_without_title": 1}),
])
def test_a_paper_without_a_pair_is_one_named_drop(groups, drops):
    out = join_paper("1", groups)
    assert not out.pairs and out.drops == drops
    cited = [p.value for p in out.parts if p.side == "cited"]
    assert cited == ([{"reason": next(iter(drops))}] if "title" in groups else [])


def test_citations_meet_the_cited_paper():
    citing = [{"title": "Better espresso at home", "paper": "30"},
              {"title": "Crema and pressure", "paper": "20"},
              {"title": "grind SIZE", "paper": "40"}]  # another version of the cited paper
    out = join_citations("10", {"citing": citing,
                                "cited": [{"title": "Grind size", "abstract": paper_abstract(1)}]})
    assert [(p["task"], p["query"], p["origin"]) for p in out.pairs] == [
        (CITATION_ABSTRACT, "Crema and pressure", "s2orc:20->10"),
        (CITATION_ABSTRACT, "Better espresso at home", "s2orc:30->10")]
    assert {p["document"] for p in out.pairs} == {f"Grind size\n\n{paper_abstract(1)}"}
    assert meta_dict(out.pairs[0]["meta"]) == {"citing_paper": "20", "cited_paper": "10"}
    assert out.drops == {"same_title": 1}
    assert {p["lang"] for p in out.pairs} == {None}  # no language known: the rule finds it
    german = join_citations("10", {"citing": citing[:1], "cited": [
        {"title": "Mahlgrad", "abstract": "Wir messen den Mahlgrad.", "lang": "de"}]})
    assert [p["lang"] for p in german.pairs] == ["de"]  # the cited paper's, identified once
    missing = join_citations("10", {"citing": citing, "cited": []})
    assert not missing.pairs and missing.drops == {"cited_paper_not_in_input": 3}
    bare = join_citations("10", {"citing": citing, "cited": [{"reason": "missing_abstract"}]})
    assert not bare.pairs and bare.drops == {"cited_paper_without_abstract": 3}
    assert not join_citations("10", {"citing": [], "cited": [{"title": "t", "abstract": "a"}]}).drops


# --- inputs -----------------------------------------------------------------------------------

def test_the_flags_and_the_inputs_they_need():
    spec = source("s2orc")
    assert {k.name: k.required for k in spec.inputs} == {
        "input": False, "metadata": False, "papers": False, "abstracts": False, "citations": False}
    options = spec.options()
    only_parses = prepare_inputs(options, {"input": ["p"], "metadata": []})
    assert (only_parses.with_parses, only_parses.with_metadata, only_parses.with_citations) == (
        True, False, False)
    assert len(spec.joins(only_parses)) == 1  # the paper-parse join alone, as before
    s2ag = prepare_inputs(options, {"papers": ["p"], "abstracts": ["a"]})
    assert (s2ag.with_parses, s2ag.with_metadata, s2ag.with_citations) == (False, True, False)
    assert len(spec.joins(s2ag)) == 2
    everything = prepare_inputs(options, {"input": ["i"], "metadata": ["m"], "citations": ["c"]})
    assert everything.with_citations and len(spec.joins(everything)) == 3
    off = prepare_inputs(spec.options(citation_pairs=False), {"metadata": ["m"]})
    assert not off.with_citations


@pytest.mark.parametrize("args, message", [
    ([], "give at least one input"),
    (["--papers", "P"], "--papers gives no pairs without --abstracts"),
    (["--abstracts", "A", "--citations", "C"], "without --papers or --metadata"),
    (["--input", "I", "--citations", "C"], "--citations gives no pairs without --papers"),
])
def test_inputs_that_can_give_no_pair_are_refused_before_any_work(tmp_path, capsys, args, message):
    for flag in ("P", "A", "C", "I"):
        (tmp_path / flag).write_text("")
    args = [str(tmp_path / a) if a in "PACI" else a for a in args]
    out, code = _mine(tmp_path, *args)
    assert code == 2 and not out.exists()
    assert message in capsys.readouterr().err


# --- pipelines --------------------------------------------------------------------------------

def _metadata_shards(folder: Path) -> tuple[Path, Path]:
    """Two gzipped metadata shards: good papers, unusable ones, a paper in both shards, edges to
    papers in and out of the input, and lines that cannot be read."""
    folder.mkdir(parents=True, exist_ok=True)
    row = s2orc_metadata_row
    first = [row("1", "Grind size and yield", "Abstract " + paper_abstract(1),
                 outbound=["2", "3", "999", "1"]),
             row("2", "Pressure profiles in espresso", paper_abstract(2)[:70] + "...",
                 outbound=["3"], inbound=["1", "4", "5"]),
             row("3", "Water chemistry for coffee", None, inbound=["1", "2"]),
             row("4", "Milk foam stability", "No abstract available.", outbound=["2"]),
             row("5", None, paper_abstract(5), outbound=["2"])]
    second = [row("2", "Pressure profiles in espresso", paper_abstract(2), outbound=["3"]),
              {**row("6", "No id", paper_abstract(6)), "paper_id": None}]
    one = folder / "metadata_0.jsonl.gz"
    one.write_bytes(gzip.compress(hostile.jsonl(first)))
    two = folder / "metadata_1.jsonl"
    two.write_bytes(hostile.jsonl(second) + b'{"paper_id": "7", "title": "caf\xe9"}\n{"paper_id": \n')
    return one, two


def test_metadata_rows_give_both_tasks_across_shards(tmp_path):
    _metadata_shards(tmp_path / "meta")
    out, code = _mine(tmp_path, "--metadata", str(tmp_path / "meta" / "metadata_*"))
    assert code == 0 and validate_dataset(out) == []
    titles = {r["query"]: r for r in _rows(out, TITLE_ABSTRACT)}
    assert set(titles) == {"Grind size and yield", "Pressure profiles in espresso"}
    assert titles["Grind size and yield"]["document"] == paper_abstract(1)
    # paper 2 is in both shards: one pair, from the complete (not the truncated) abstract
    two = titles["Pressure profiles in espresso"]
    assert two["document"] == paper_abstract(2) and two["origin"] == "s2orc:2"
    assert meta_dict(two["meta"])["abstract_record"] == "metadata_1.jsonl:1"
    cites = _rows(out, CITATION_ABSTRACT)
    assert sorted((r["origin"], r["query"]) for r in cites) == [
        ("s2orc:1->2", "Grind size and yield"), ("s2orc:4->2", "Milk foam stability")]
    assert {r["document"] for r in cites} == {f"Pressure profiles in espresso\n\n{paper_abstract(2)}"}
    manifest = read_manifest(out)
    drops = manifest.counters["drops"]
    assert {k: drops.get(k) for k in (
        "missing_abstract", "placeholder_abstract", "missing_title", "missing_paper_id",
        "self_citation", "cited_paper_not_in_input", "cited_paper_without_abstract",
        "citing_paper_without_title", "invalid_json", "decode_error")} == {
        "missing_abstract": 1, "placeholder_abstract": 1, "missing_title": 1,
        "missing_paper_id": 1, "self_citation": 1, "cited_paper_not_in_input": 1,
        "cited_paper_without_abstract": 2, "citing_paper_without_title": 1, "invalid_json": 1,
        "decode_error": 1}
    assert manifest.counters["records_read"] == 9
    assert sorted(r["origin"] for r in _letters(out)) == ["metadata_1.jsonl:3", "metadata_1.jsonl:4"]


def test_citation_pairs_can_be_switched_off(tmp_path):
    _metadata_shards(tmp_path / "meta")
    out, code = _mine(tmp_path, "--metadata", str(tmp_path / "meta" / "metadata_*"),
                      "--no-citation-pairs")
    assert code == 0
    assert len(_rows(out, TITLE_ABSTRACT)) == 2 and not (out / "data" / CITATION_ABSTRACT).exists()
    assert "cited_paper_not_in_input" not in read_manifest(out).counters["drops"]


def _s2ag(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    papers = [s2ag_paper(10, "Grind size and yield"), s2ag_paper(11, "Pressure profiles"),
              s2ag_paper(12, None), s2ag_paper(13, "Milk foam stability")]
    abstracts = [s2ag_abstract(10, paper_abstract(10)), s2ag_abstract(11, paper_abstract(11)),
                 s2ag_abstract(12, paper_abstract(12)), s2ag_abstract(14, paper_abstract(14)),
                 s2ag_abstract(13, None)]
    citations = [s2ag_citation(11, 10), s2ag_citation(13, 10), s2ag_citation(12, 10),
                 s2ag_citation(10, 555), s2ag_citation(10, None), s2ag_citation(None, 10),
                 s2ag_citation(777, 10), s2ag_citation(11, 10)]
    for name, rows in (("papers", papers), ("abstracts", abstracts), ("citations", citations)):
        (folder / name).mkdir()
        (folder / name / "20230331_00000.gz").write_bytes(gzip.compress(hostile.jsonl(rows)))


def test_s2ag_titles_and_abstracts_join_on_corpusid(tmp_path):
    _s2ag(tmp_path / "s2ag")
    out, code = _mine(tmp_path, "--papers", str(tmp_path / "s2ag" / "papers" / "*.gz"),
                      "--abstracts", str(tmp_path / "s2ag" / "abstracts" / "*.gz"),
                      "--citations", str(tmp_path / "s2ag" / "citations" / "*.gz"))
    assert code == 0 and validate_dataset(out) == []
    titles = {r["origin"]: r for r in _rows(out, TITLE_ABSTRACT)}
    assert set(titles) == {"s2orc:10", "s2orc:11"}
    assert titles["s2orc:10"]["query"] == "Grind size and yield"
    assert titles["s2orc:10"]["document"] == paper_abstract(10)
    assert meta_dict(titles["s2orc:10"]["meta"]) == {
        "paper": "10", "title_record": "20230331_00000.gz:1", "abstract_record": "20230331_00000.gz:1"}
    cites = sorted((r["origin"], r["query"]) for r in _rows(out, CITATION_ABSTRACT))
    # 11 -> 10 twice in the citations file: one pair
    assert cites == [("s2orc:11->10", "Pressure profiles"), ("s2orc:13->10", "Milk foam stability")]
    drops = read_manifest(out).counters["drops"]
    assert {k: drops.get(k) for k in ("missing_title", "abstract_without_paper", "missing_abstract",
                                      "citation_missing_id", "citing_paper_without_title",
                                      "citing_paper_not_in_input", "cited_paper_not_in_input")} == {
        "missing_title": 1, "abstract_without_paper": 1, "missing_abstract": 1,
        "citation_missing_id": 2, "citing_paper_without_title": 1,
        "citing_paper_not_in_input": 1, "cited_paper_not_in_input": 1}


def test_metadata_and_s2ag_meet_on_the_same_ids(tmp_path):
    """S2ORC's paper_id is S2's corpus id: a title from one release meets an abstract from the
    other, and a null abstract in one loses to a real one in the other."""
    (tmp_path / "metadata.jsonl").write_bytes(hostile.jsonl(
        [s2orc_metadata_row("10", "Grind size and yield", None)]))
    (tmp_path / "abstracts.jsonl").write_bytes(hostile.jsonl([s2ag_abstract(10, paper_abstract(10))]))
    out, code = _mine(tmp_path, "--metadata", str(tmp_path / "metadata.jsonl"),
                      "--abstracts", str(tmp_path / "abstracts.jsonl"))
    assert code == 0
    (pair,) = _rows(out, TITLE_ABSTRACT)
    assert (pair["query"], pair["document"]) == ("Grind size and yield", paper_abstract(10))
    assert "missing_abstract" not in read_manifest(out).counters["drops"]


def test_a_truncated_shard_keeps_every_complete_row(tmp_path):
    n = 400
    (tmp_path / "papers.jsonl").write_bytes(hostile.jsonl(
        [s2ag_paper(i, f"Espresso study number {i}") for i in range(n)]))
    blob = gzip.compress(hostile.jsonl([s2ag_abstract(i, paper_abstract(i)) for i in range(n)]))
    cut = blob[:int(len(blob) * 0.6)]
    left = zlib.decompressobj(wbits=31).decompress(cut)
    complete = left.count(b"\n")
    (tmp_path / "abstracts.jsonl.gz").write_bytes(cut)
    out, code = _mine(tmp_path, "--papers", str(tmp_path / "papers.jsonl"),
                      "--abstracts", str(tmp_path / "abstracts.jsonl.gz"))
    assert code == 0 and 0 < complete < n
    assert len(_rows(out, TITLE_ABSTRACT)) == complete
    assert [r["reason"] for r in _letters(out)] == ["truncated_file"]
    assert read_manifest(out).counters["drops"]["paper_without_abstract"] == n - complete


def test_a_huge_row_costs_only_itself(tmp_path):
    huge = s2orc_metadata_row("1", "A very long record", "espresso " * 300_000)
    rows = [s2orc_metadata_row(str(i), f"Espresso study {i}", paper_abstract(i)) for i in range(2, 6)]
    long_abstract = s2orc_metadata_row("9", "A whole paper in the abstract", "crema " * 5000)
    (tmp_path / "metadata.jsonl").write_bytes(hostile.jsonl([rows[0], huge, *rows[1:], long_abstract]))
    out, code = _mine(tmp_path, "--metadata", str(tmp_path / "metadata.jsonl"),
                      "--max-record-bytes", "1000000")
    assert code == 0
    assert len(_rows(out, TITLE_ABSTRACT)) == 4
    assert [(r["reason"], r["origin"]) for r in _letters(out)] == [("record_too_large", "metadata.jsonl:2")]
    assert read_manifest(out).counters["drops"]["abstract_too_long"] == 1


def test_hostile_files_beside_clean_metadata_cost_only_themselves(tmp_path):
    clean = tmp_path / "clean_metadata.jsonl"
    clean.write_bytes(hostile.jsonl([s2orc_metadata_row(str(i), f"Espresso study {i}",
                                                        paper_abstract(i)) for i in range(5)]))
    files = [clean]
    for name, data, suffix in hostile.generic_damage():
        path = tmp_path / f"{name}{suffix}"
        path.write_bytes(data)
        files.append(path)
    out, code = _mine(tmp_path, "--metadata", *map(str, files))
    assert code == 0 and validate_dataset(out) == []
    assert len(_rows(out, TITLE_ABSTRACT)) == 5
    assert read_manifest(out).counters["dead_letters"] >= 1


def test_metadata_abstracts_reach_the_paper_parse_citations(tmp_path):
    """A paper parse citing an S2 id whose parse is not in the input: with --metadata naming that
    paper, the citing sentence's document gets its abstract."""
    from .test_s2orc import paper

    (tmp_path / "parses.jsonl").write_text(json.dumps(paper("100", link="200")) + "\n")
    (tmp_path / "metadata.jsonl").write_bytes(hostile.jsonl(
        [s2orc_metadata_row("200", "Attention is all you need", paper_abstract(200))]))
    out, code = _mine(tmp_path, "--input", str(tmp_path / "parses.jsonl"))
    both, code_both = _mine(tmp_path, "--input", str(tmp_path / "parses.jsonl"),
                            "--metadata", str(tmp_path / "metadata.jsonl"), name="both")
    assert code == code_both == 0
    alone = {r["origin"]: r["document"] for r in _rows(out, "s2orc_citation_reference")}
    joined = {r["origin"]: r["document"] for r in _rows(both, "s2orc_citation_reference")}
    assert alone["s2orc:100#BIBREF0"] == "Attention is all you need"
    assert joined["s2orc:100#BIBREF0"] == f"Attention is all you need\n\n{paper_abstract(200)}"
    assert {k: v for k, v in joined.items() if k != "s2orc:100#BIBREF0"} == {
        k: v for k, v in alone.items() if k != "s2orc:100#BIBREF0"}
    assert len(_rows(both, TITLE_ABSTRACT)) == 1


@pytest.mark.skipif(not (REALDATA / "s2orc").is_dir(), reason="../shared/realdata is absent")
def test_real_parses_mined_with_metadata_keep_their_citation_pairs(tmp_path):
    """Adding metadata about other papers changes nothing in the real parses' citation pairs."""
    (tmp_path / "metadata.jsonl").write_bytes(hostile.jsonl(
        [s2orc_metadata_row(str(i), f"Espresso study {i}", paper_abstract(i)) for i in range(3)]))
    parses = str(REALDATA / "s2orc" / "*.json")
    out, code = _mine(tmp_path, "--input", parses)
    both, code_both = _mine(tmp_path, "--input", parses, "--metadata",
                            str(tmp_path / "metadata.jsonl"), name="both")
    assert code == code_both == 0
    key = ("id", "query", "document", "origin", "meta")
    alone = sorted(tuple(str(r[k]) for k in key) for r in _rows(out, "s2orc_citation_reference"))
    joined = sorted(tuple(str(r[k]) for k in key) for r in _rows(both, "s2orc_citation_reference"))
    assert alone and alone == joined
    assert len(_rows(both, TITLE_ABSTRACT)) == 3
