"""`pairmill mine pubmed`: PubmedArticleSet streaming, hostile XML, drops, and the PMID join that
applies deletions and keeps the newest version. Fixtures follow the real files (baseline and
update files of 2024/2025, the 2016 MEDLINE format); none is read from outside the tests."""

from __future__ import annotations

import functools
import gzip
import io
import itertools
import zlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pairmill.cli import main
from pairmill.extractors.result import Unreadable
from pairmill.extractors.text.pubmed import (
    PubmedOptions,
    abstract_text,
    extract_pubmed_citation,
    file_rank,
    iter_citations,
    join_pubmed_versions,
    newer_citation,
)
from pairmill.schemas import read_manifest, validate_dataset
from pairmill.schemas.pairs import meta_dict

from . import hostile
from .hostile import pubmed_article as article
from .hostile import pubmed_file

TASK = "pubmed_title_abstract"


def records_of(data: bytes) -> list:
    return list(iter_citations(io.BytesIO(data)))


def extract(data: bytes, name: str = "pubmed25n0001.xml.gz", **options) -> list:
    """Every record of a file through the extractor, as the pipeline calls it."""
    opts = PubmedOptions(**options)
    return [extract_pubmed_citation(record, f"{name}:{locator}", opts)
            for locator, record in records_of(data) if not isinstance(record, Unreadable)]


def pairs_of(data: bytes, **options) -> list[dict]:
    return [p for out in extract(data, join_versions=False, **options) for p in out.pairs]


def counts(data: bytes, **options) -> dict:
    total: dict = {}
    for out in extract(data, join_versions=False, **options):
        for reason, n in out.drops.items():
            total[reason] = total.get(reason, 0) + n
    return total


# --- reading and extracting one record -----------------------------------------------------

def test_a_structured_abstract_keeps_its_labels_and_inline_markup_as_text():
    sections = [("BACKGROUND", "Espresso <i>extraction</i> depends on grind size and dose."),
                ("METHODS", "We brewed 120 shots at 9 bar with r<sup>2</sup> reported per grind "
                            "and <mml:math xmlns:mml=\"http://www.w3.org/1998/Math/MathML\">\n"
                            "  <mml:msub><mml:mi>V</mml:mi>\n  <mml:mn>2</mml:mn></mml:msub>\n"
                            "</mml:math> noted."),
                ("UNLABELLED", "Finer grinds raised the yield."),
                ("CONCLUSIONS", "Grind finer until the shot channels.")]
    data = pubmed_file([article(36400559, abstract=sections)])
    (pair,) = pairs_of(data)
    assert pair["task"] == TASK and pair["source"] == "pubmed"
    assert pair["query"] == "Grind size and extraction yield in espresso, study 36400559."
    assert pair["document"] == (
        "BACKGROUND: Espresso extraction depends on grind size and dose.\n"
        "METHODS: We brewed 120 shots at 9 bar with r2 reported per grind and V2 noted.\n"
        "Finer grinds raised the yield.\n"
        "CONCLUSIONS: Grind finer until the shot channels.")
    assert "Copyright" not in pair["document"]  # <CopyrightInformation> is not the abstract
    # the record's PMID, not the one of a comment or a reference that follows it
    assert pair["origin"] == "pubmed25n0001.xml.gz:36400559"
    assert pair["lang"] == "en"
    meta = meta_dict(pair["meta"])
    assert meta == {"pmid": "36400559", "language": "eng", "doi": "10.1016/j.jcs.2023.36400559",
                    "journal": "Journal of coffee science", "year": "2023", "revised": "2024-01-15",
                    "publication_types": "Journal Article"}


def test_a_foreign_article_keeps_its_language_in_meta_and_loses_the_translation_brackets():
    data = pubmed_file([article(26432306, title="[Vaccines are drugs: a review [in part]].",
                                language="ita"),
                        article(26432307, title="[Partly] bracketed title.", language="ger")])
    first, second = pairs_of(data)
    assert first["query"] == "Vaccines are drugs: a review [in part]."
    assert meta_dict(first["meta"])["title_translated"] == "true"
    assert meta_dict(first["meta"])["language"] == "ita"
    # <Language> is the article's, the title an English translation: the rules identify the pair
    assert first["lang"] is None
    assert second["query"] == "[Partly] bracketed title."
    assert "title_translated" not in meta_dict(second["meta"])


@pytest.mark.parametrize("record, reason", [
    (article(1, title=""), "missing_title"),
    (article(1, title="[Not Available]."), "missing_title"),
    (article(1, abstract=None), "missing_abstract"),
    (article(1, abstract=[("BACKGROUND", "")]), "missing_abstract"),
    (article(1, types=("Journal Article", "Retracted Publication")), "retracted"),
    (article(1, comments='<CommentsCorrections RefType="RetractionIn"><RefSource>J Coffee Sci. '
                         '2025;1:2.</RefSource><PMID Version="1">99000009</PMID>'
                         '</CommentsCorrections>'), "retracted"),
    (article(1, abstract=None, types=("Retracted Publication",)), "retracted"),
    (article(1, types=("Published Erratum",)), "correction_notice"),
    (article(1, types=("Retraction of Publication",)), "correction_notice"),
    (article(1, abstract="Too short to be an abstract."), "abstract_too_short"),
])
def test_unusable_records_are_counted_drops(record, reason):
    (out,) = extract(pubmed_file([record]))
    assert out.drops == {reason: 1} and not out.pairs and not out.dead_letters
    # the drop still travels, so that it hides older versions of the same PMID
    assert [(p.side, p.key, p.value["dropped"]) for p in out.parts] == [("citation", "1", reason)]


def test_abstract_length_limits_are_settings():
    text = " ".join(["word"] * 60)
    assert counts(pubmed_file([article(1, abstract=text)]), max_abstract_words=50) == {
        "abstract_too_long": 1}
    assert pairs_of(pubmed_file([article(1, abstract=text)]), max_abstract_words=0)
    assert pairs_of(pubmed_file([article(1, abstract="Five words are enough here.")]),
                    min_abstract_words=5)


def test_a_record_without_pmid_is_a_dead_letter_located_by_its_position():
    data = pubmed_file([article(10), article(""), article(12)])
    got = records_of(data)
    assert [locator for locator, _ in got] == ["10", "record 2", "12"]
    outs = extract(data)
    assert [len(o.parts) for o in outs] == [1, 0, 1]
    (letter,) = outs[1].dead_letters
    assert letter["reason"] == "missing_pmid"
    assert letter["origin"] == "pubmed25n0001.xml.gz:record 2"


def test_versioned_pmids_are_located_with_their_version():
    data = pubmed_file([article(28479962, version=2)])
    assert [locator for locator, _ in records_of(data)] == ["28479962.2"]
    (pair,) = pairs_of(data)
    assert meta_dict(pair["meta"])["version"] == "2"


def test_the_2016_medline_format_and_book_records_read_the_same_way():
    medline = (b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE MedlineCitationSet PUBLIC '
               b'"-//NLM//DTD Medline Citation, 1st January, 2016//EN"\n    '
               b'"https://www.nlm.nih.gov/databases/dtd/nlmmedlinecitationset_160101.dtd">\n'
               b"<MedlineCitationSet>\n")
    body = article(17942999).split("<MedlineCitation ", 1)[1].split("<PubmedData>")[0]
    data = (medline + b"<MedlineCitation " + body.encode()
            + b'\n<DeleteCitation>\n<PMID Version="1">26432306</PMID>\n</DeleteCitation>\n'
              b"</MedlineCitationSet>")
    got = records_of(data)
    assert [(locator, record["kind"]) for locator, record in got] == [
        ("17942999", "article"), ("26432306", "delete")]
    book = pubmed_file([
        '<PubmedBookArticle><BookDocument><PMID Version="1">20301295</PMID><ArticleIdList>'
        '<ArticleId IdType="bookaccession">NBK1116</ArticleId></ArticleIdList><Book><Publisher>'
        "<PublisherName>University of Washington, Seattle</PublisherName></Publisher><BookTitle "
        'book="gene">GeneReviews</BookTitle></Book><ArticleTitle part="hd">Huntington Disease'
        "</ArticleTitle><Language>eng</Language><Abstract><AbstractText Label=\"CLINICAL "
        'CHARACTERISTICS" NlmCategory="UNASSIGNED">Huntington disease is a progressive disorder '
        "of motor, cognitive, and psychiatric disturbances with a mean onset of 35 to 44 years."
        "</AbstractText></Abstract></BookDocument><PubmedBookData><PublicationStatus>ppublish"
        "</PublicationStatus></PubmedBookData></PubmedBookArticle>"])
    (pair,) = pairs_of(book)
    assert pair["query"] == "Huntington Disease"
    assert pair["document"].startswith("CLINICAL CHARACTERISTICS: Huntington disease is")
    assert meta_dict(pair["meta"])["record"] == "book"


def test_a_deletion_lists_each_pmid_as_a_record():
    data = pubmed_file([article(1)], deleted=[7, 8])
    got = records_of(data)
    assert [(locator, record["kind"]) for locator, record in got] == [
        ("1", "article"), ("7", "delete"), ("8", "delete")]
    outs = extract(data)
    assert [p.side for o in outs for p in o.parts] == ["citation", "delete", "delete"]
    assert sum(o.notes["deletion_read"] for o in outs) == 2


# --- hostile documents ---------------------------------------------------------------------

def test_the_external_doctype_of_real_files_is_accepted_and_not_fetched():
    assert pubmed_file([]).startswith(b'<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC')
    assert [locator for locator, _ in records_of(pubmed_file([article(1), article(2)]))] == ["1", "2"]


@pytest.mark.parametrize("doctype, use", [
    ('<!DOCTYPE PubmedArticleSet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;'
     '&a;&a;&a;">]>', "&b;"),
    ('<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle//EN" "pubmed.dtd" '
     '[<!ENTITY x SYSTEM "file:///etc/passwd">]>', "&x;"),
])
def test_documents_declaring_entities_are_refused_before_any_record(doctype, use):
    data = pubmed_file([article(1, title=f"Title {use}")], head='<?xml version="1.0"?>' + doctype)
    got = records_of(data)
    assert len(got) == 1 and isinstance(got[0][1], Unreadable)
    assert got[0] == ("start", got[0][1]) and got[0][1].reason == "dtd_not_allowed"


def test_a_billion_laughs_costs_one_unreadable_not_the_memory():
    entities = '<!ENTITY l0 "lollollollollollollollollollol">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    data = pubmed_file([article(1, title="&l9;")],
                       head=f'<?xml version="1.0"?><!DOCTYPE PubmedArticleSet [{entities}]>')
    (got,) = records_of(data)
    assert isinstance(got[1], Unreadable) and got[1].reason in ("dtd_not_allowed", "invalid_xml")


def test_another_xml_document_is_one_unreadable():
    (got,) = records_of(hostile.posts_xml(3))
    assert isinstance(got[1], Unreadable) and got[1].reason == "not_pubmed_xml"


def test_bytes_that_are_not_utf8_cost_a_character_not_the_file():
    data = pubmed_file([article(1), article(2, title="Caf\x00 cr\x01me and espresso."), article(3)])
    data = data.replace(b"study 1.", b"study \xff\xfe1.").replace(b"twelve", b"tw\xc3elve", 1)
    outs = extract(data, join_versions=False)
    pairs = [p for o in outs for p in o.pairs]
    assert [meta_dict(p["meta"])["pmid"] for p in pairs] == ["1", "2", "3"]
    assert pairs[0]["query"] == "Grind size and extraction yield in espresso, study \ufffd\ufffd1."
    assert "tw\ufffdelve" in pairs[0]["document"]
    assert pairs[1]["query"] == "Caf\ufffd cr\ufffdme and espresso."
    assert [o.notes["invalid_utf8_replaced"] for o in outs] == [1, 1, 0]


class _Trickle(io.BytesIO):
    """A stream that hands out a few bytes per read, so characters straddle every boundary."""

    def read(self, size: int = -1) -> bytes:
        return super().read(7)


def test_characters_split_between_reads_are_not_replaced():
    title = "Café crème, β2-agonists and 咖啡 at 95 °C."
    data = pubmed_file([article(1, title=title), article(2)])
    got = list(iter_citations(_Trickle(data)))
    assert [record["title"] for _, record in got] == [
        title, "Grind size and extraction yield in espresso, study 2."]
    broken = data.replace("咖".encode(), "咖".encode()[:2])  # a character cut short
    (first, _) = list(iter_citations(_Trickle(broken)))
    assert first[1]["title"] == "Café crème, β2-agonists and \ufffd啡 at 95 °C."


def test_a_document_in_another_declared_encoding_is_decoded_by_its_declaration():
    text = pubmed_file([article(1, title="Café crème and the Maillard reaction.")]).decode()
    latin = text.replace('<?xml version="1.0" ?>', '<?xml version="1.0" encoding="ISO-8859-1"?>')
    (pair,) = pairs_of(latin.encode("latin-1"))
    assert pair["query"] == "Café crème and the Maillard reaction."
    (pair,) = pairs_of(text.encode("utf-16"))
    assert pair["query"] == "Café crème and the Maillard reaction."


def test_broken_xml_keeps_records_before_the_break():
    data = pubmed_file([article(1), article(2)]) .replace(b"</PubmedArticleSet>", b"") \
        + article(3).encode()[:300] + b"<<< garbage >>>"
    got = records_of(data)
    assert [locator for locator, _ in got[:2]] == ["1", "2"]
    assert isinstance(got[2][1], Unreadable) and got[2][1].reason == "invalid_xml"
    assert got[2][0] == "after 2" and len(got) == 3


def test_a_huge_record_is_read_and_the_records_after_it_too():
    huge = " ".join(f"w{i}" for i in range(1_500_000))  # over libxml2's 10 MB text-node limit
    assert len(huge) > 10_000_000
    data = pubmed_file([article(1), article(2, abstract=huge), article(3)])
    outs = extract(data, join_versions=False)
    assert [o.drops.get("abstract_too_long", 0) for o in outs] == [0, 1, 0]
    assert [len(o.pairs) for o in outs] == [1, 0, 1]
    assert pairs_of(pubmed_file([article(2, abstract=huge)]), max_abstract_words=0)[0][
        "document"] == huge


# --- newest version and deletions -----------------------------------------------------------

def test_files_rank_by_year_then_number():
    assert file_rank("pubmed24n1300.xml.gz") == (24, 1300)
    assert file_rank("gs://bucket/baseline/pubmed25n0001.xml.gz") == (25, 1)
    assert file_rank("medline16n0902.xml.gz") == (16, 902)
    assert file_rank("pubmed25n0001.xml.gz") > file_rank("pubmed24n1300.xml.gz") \
        > file_rank("pubmed24n1219.xml")
    assert file_rank("updates/update-17.xml") == (0, 17)
    assert file_rank("efetch.xml") == (0, 0)


def _part(record: str, name: str):
    (out,) = extract(pubmed_file([record]), name=name)
    (part,) = out.parts
    return part


def _deletion(pmid: int, name: str):
    (out,) = extract(pubmed_file([], deleted=[pmid]), name=name)
    (part,) = out.parts
    return part


def _join(parts) -> tuple[list[dict], dict]:
    groups: dict = {}
    for part in parts:
        groups.setdefault(part.side, []).append(part.value)
    out = join_pubmed_versions(parts[0].key, groups)
    return out.pairs, dict(out.drops)


def test_the_newest_reading_wins_whatever_the_order():
    base = _part(article(5, title="Old title."), "pubmed24n0100.xml.gz")
    update = _part(article(5, title="New title."), "pubmed24n1250.xml.gz")
    next_year = _part(article(5, title="Next year's title."), "pubmed25n0007.xml.gz")
    for order in itertools.permutations([base, update, next_year]):
        pairs, drops = _join(list(order))
        assert [p["query"] for p in pairs] == ["Next year's title."]
        assert pairs[0]["origin"] == "pubmed25n0007.xml.gz:5"
        assert drops == {"superseded": 2}
    # in one file (or files named alike), a higher Version, then a later DateRevised wins
    v1 = _part(article(5, title="Version one.", revised=(2024, 6, 1)), "efetch.xml")
    v2 = _part(article(5, title="Version two.", version=2, revised=(2024, 2, 1)), "efetch.xml")
    later = _part(article(5, title="Revised later.", revised=(2024, 9, 1)), "other.xml")
    assert [p["query"] for p in _join([v2, v1])[0]] == ["Version two."]
    assert [p["query"] for p in _join([later, v1])[0]] == ["Revised later."]


def test_a_deletion_removes_its_pmid_from_its_file_and_earlier_ones_only():
    base = _part(article(5), "pubmed24n0100.xml.gz")
    deletion = _deletion(5, "pubmed24n1250.xml.gz")
    assert _join([base, deletion]) == ([], {"deleted": 1})
    assert _join([deletion, base]) == ([], {"deleted": 1})
    same_file = _part(article(5), "pubmed24n1250.xml.gz")
    assert _join([same_file, deletion]) == ([], {"deleted": 1})
    revised = _part(article(5), "pubmed24n1251.xml.gz")  # sent again after its deletion
    pairs, drops = _join([base, deletion, revised])
    assert len(pairs) == 1 and drops == {"superseded": 1}
    assert _join([deletion]) == ([], {})  # a PMID that is not in this run


def test_a_newer_reading_without_a_pair_hides_the_older_pairs():
    base = _part(article(5), "pubmed24n0100.xml.gz")
    retracted = _part(article(5, types=("Retracted Publication",)), "pubmed24n1300.xml.gz")
    assert _join([base, retracted]) == ([], {"superseded": 1})  # `retracted` was counted when read
    older_drop = _part(article(5, abstract=None), "pubmed24n0001.xml.gz")
    pairs, drops = _join([older_drop, base])
    assert len(pairs) == 1 and drops == {}  # a reading counted when read is not counted again


def test_combining_readings_is_associative_and_commutative():
    parts = [_part(article(5, title=f"Title {n}.", version=v), f"pubmed24n{n:04d}.xml.gz").value
             for n, v in ((3, 1), (1, 1), (2, 2), (2, 1))]
    parts.append(_part(article(5, abstract=None), "pubmed24n0004.xml.gz").value)
    results = set()
    for order in itertools.permutations(parts):
        flat = functools.reduce(newer_citation, order)
        nested = newer_citation(functools.reduce(newer_citation, order[:2]),
                                functools.reduce(newer_citation, order[2:]))
        assert flat == nested
        results.add((flat["dropped"], flat["superseded"]))
    assert results == {("missing_abstract", 4)}


def test_abstract_text_joins_sections():
    assert abstract_text([["", "One."], ["RESULTS", "Two."], ["UNASSIGNED", "Three."]]) == \
        "One.\nRESULTS: Two.\nThree."


# --- the pipeline -----------------------------------------------------------------------------

def _rows(out: Path) -> list[dict]:
    manifest = read_manifest(out)
    return [r for f in manifest.tasks.get(TASK, []) for r in pq.read_table(out / f.path).to_pylist()]


def _note(out: Path, reason: str) -> int:
    import json

    counts = json.loads((out / "manifest.json").read_text())["counts"]
    return sum(c["n"] for c in counts if c["kind"] == "note" and c["reason"] == reason)


def test_pipeline_applies_updates_deletions_and_versions_over_the_whole_input(tmp_path):
    baseline = [article(i, title=f"Baseline title of record {i}.") for i in range(1, 7)]
    (tmp_path / "pubmed24n0001.xml.gz").write_bytes(gzip.compress(pubmed_file(baseline)))
    update = pubmed_file([article(2, title="Revised title of record 2.", revised=(2024, 6, 1)),
                          article(3, types=("Journal Article", "Retracted Publication")),
                          article(7, title="A new record in the update.")], deleted=[4, 999])
    (tmp_path / "pubmed24n1220.xml.gz").write_bytes(gzip.compress(update))
    later = pubmed_file([article(6, title="Reinstated after a deletion.")], deleted=[5])
    (tmp_path / "pubmed24n1221.xml.gz").write_bytes(gzip.compress(later))
    out = tmp_path / "out"
    # named newest first: the order of the inputs must not matter
    assert main(["mine", "pubmed", "--input", str(tmp_path / "pubmed24n1221.xml.gz"),
                 str(tmp_path / "pubmed24n1220.xml.gz"), str(tmp_path / "pubmed24n0001.xml.gz"),
                 "--output", str(out)]) == 0
    assert validate_dataset(out) == []
    rows = {meta_dict(r["meta"])["pmid"]: r for r in _rows(out)}
    assert sorted(rows, key=int) == ["1", "2", "6", "7"]
    assert rows["2"]["query"] == "Revised title of record 2."
    assert rows["2"]["origin"] == "pubmed24n1220.xml.gz:2"
    assert rows["6"]["query"] == "Reinstated after a deletion."
    assert rows["1"]["origin"] == "pubmed24n0001.xml.gz:1"
    manifest = read_manifest(out)
    assert manifest.counters["records_read"] == 6 + 3 + 2 + 1 + 1
    drops = manifest.counters["drops"]
    assert drops == {"superseded": 3, "deleted": 2, "retracted": 1}
    assert _note(out, "deletion_read") == 3

    plain = tmp_path / "plain"
    assert main(["mine", "pubmed", "--input", str(tmp_path / "*.xml.gz"), "--output", str(plain),
                 "--no-join-versions"]) == 0
    pmids = sorted(meta_dict(r["meta"])["pmid"] for r in _rows(plain))
    assert pmids == sorted(["1", "2", "2", "3", "4", "5", "6", "6", "7"])  # every reading kept


def test_a_truncated_gzip_keeps_the_records_before_the_cut(tmp_path):
    data = pubmed_file([article(i) for i in range(1, 201)])
    blob = gzip.compress(data)
    cut = blob[:int(len(blob) * 0.7)]
    available = zlib.decompressobj(wbits=31).decompress(cut)
    complete = available.count(b"</PubmedArticle>")
    assert 10 < complete < 200
    (tmp_path / "pubmed25n0001.xml.gz").write_bytes(cut)
    out = tmp_path / "out"
    assert main(["mine", "pubmed", "--input", str(tmp_path / "pubmed25n0001.xml.gz"),
                 "--output", str(out)]) == 0
    manifest = read_manifest(out)
    assert manifest.rows(TASK) == complete
    assert manifest.counters["drops"] == {"truncated_file": 1}
    errors = pq.read_table(out / manifest.errors[0].path).to_pylist()
    assert [e["origin"] for e in errors] == [f"pubmed25n0001.xml.gz:after {complete}"]
