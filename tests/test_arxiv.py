"""`pairmill mine arxiv`: the extractor on hand-made lines, the pipeline on broken files, real data."""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import zstandard

from pairmill.cli import main
from pairmill.extractors.text import ArxivOptions, extract_arxiv_record, latex_to_text
from pairmill.schemas import read_manifest, validate_dataset
from pairmill.schemas.pairs import meta_dict

from .conftest import REALDATA

ABSTRACT = "We prove that every planar graph admits a proper colouring with four colours, " \
           "using a computer-assisted discharging argument."


def record(**fields) -> bytes:
    base = {"id": "2101.00001", "title": "Four colours suffice", "abstract": ABSTRACT,
            "categories": "math.CO  cs.DM", "doi": None, "comments": "12 pages"}
    base.update(fields)
    return json.dumps(base).encode()


def test_a_record_becomes_one_normalised_pair():
    out = extract_arxiv_record(record(title="Four   colours\n  suffice"), "f:1")
    (pair,) = out.pairs
    assert pair["task"] == "arxiv_title_abstract"
    assert pair["query"] == "Four colours suffice"
    assert pair["document"] == ABSTRACT
    assert pair["origin"] == "arxiv:2101.00001"
    assert meta_dict(pair["meta"]) == {"arxiv_id": "2101.00001", "categories": "math.CO cs.DM"}


def test_latex_markup_becomes_plain_text():
    converted = latex_to_text(r"Erd\H{o}s--R\'enyi graphs with $n^2$ \emph{edges}")
    assert converted == "Erdős–Rényi graphs with n^2 edges"
    assert latex_to_text("plain  title\n") == "plain title"
    assert latex_to_text(r"unbalanced { brace and \cite{x} $ dollar") == "unbalanced brace and dollar"


@pytest.mark.parametrize("line, reason", [
    (b'{"id": "1", "title": "x", "abstract": ', "invalid_json"),
    (b"[1, 2, 3]", "not_an_object"),
    (b"\xff\xfe{\x00", "decode_error"),
])
def test_unreadable_lines_are_dead_letters(line, reason):
    out = extract_arxiv_record(line, "snapshot.jsonl:7")
    assert not out.pairs and out.drops[reason] == 1
    (letter,) = out.dead_letters
    assert letter["origin"] == "snapshot.jsonl:7" and letter["reason"] == reason


@pytest.mark.parametrize("fields, reason", [
    ({"title": "  "}, "missing_title"),
    ({"abstract": None}, "missing_abstract"),
    ({"abstract": "  This paper has been withdrawn by the author."}, "withdrawn"),
    ({"abstract": "Too short to be useful."}, "abstract_too_short"),
])
def test_unusable_records_are_counted_drops(fields, reason):
    out = extract_arxiv_record(record(**fields), "f:1")
    assert not out.pairs and not out.dead_letters and out.drops == {reason: 1}


def test_byte_order_mark_and_threshold_flag():
    assert extract_arxiv_record(b"\xef\xbb\xbf" + record(), "f:1").pairs
    assert not extract_arxiv_record(record(), "f:1", ArxivOptions(min_abstract_words=100)).pairs


def _lines(n: int, start: int = 0) -> list[bytes]:
    return [record(id=f"2101.{i:05d}", title=f"Paper number {i}") for i in range(start, start + n)]


def test_pipeline_reads_every_compression_and_keeps_lines_before_a_break(tmp_path, capsys):
    good = b"\n".join(_lines(5)) + b"\n"
    (tmp_path / "a.jsonl").write_bytes(good + b"not json\n\n")
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(b"\n".join(_lines(5, 10)) + b"\n"))
    (tmp_path / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(b"\n".join(_lines(5, 20))))
    (tmp_path / "d.jsonl.bz2").write_bytes(bz2.compress(b"\n".join(_lines(5, 30))))
    whole = gzip.compress(b"\n".join(_lines(2000, 40)) + b"\n")
    (tmp_path / "e.jsonl.gz").write_bytes(whole[: len(whole) // 2])  # truncated member
    out = tmp_path / "out"
    assert main(["mine", "arxiv", "--input", str(tmp_path / "*.jsonl*"), "--output", str(out)]) == 0
    manifest = read_manifest(out)
    assert validate_dataset(out) == []
    kept = manifest.rows("arxiv_title_abstract")
    counters = manifest.counters
    assert counters["drops"]["invalid_json"] == 1 and counters["drops"]["truncated_file"] == 1
    assert 20 + 100 < kept < 20 + 2000  # every earlier file whole, the truncated one in part
    assert counters["records_read"] == kept + 1
    errors = pq.read_table(out / manifest.errors[0].path).to_pylist()
    assert sorted(e["reason"] for e in errors) == ["invalid_json", "truncated_file"]
    truncated = next(e for e in errors if e["reason"] == "truncated_file")
    assert truncated["origin"].startswith("e.jsonl.gz:")  # relative to the input named
    ids = pq.read_table(out / manifest.tasks["arxiv_title_abstract"][0].path).column("origin").to_pylist()
    assert {"arxiv:2101.00000", "arxiv:2101.00034", "arxiv:2101.00040"} <= set(ids)
    assert "withdrawn" not in capsys.readouterr().out


def test_bad_inputs_are_one_clear_line(tmp_path, capsys):
    missing = str(tmp_path / "none*.jsonl")
    assert main(["mine", "arxiv", "--input", missing, "--output", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["mine", "arxiv", "--input", str(tmp_path), "--output", str(tmp_path / "o")]) == 2
    assert "is a directory" in capsys.readouterr().err


SAMPLE = REALDATA / "arxiv" / "arxiv-metadata-oai-snapshot.sample.jsonl"


@pytest.mark.skipif(not SAMPLE.exists(), reason="../shared/realdata is not present")
def test_real_snapshot_sample(tmp_path):
    out = tmp_path / "arxiv"
    assert main(["mine", "arxiv", "--input", str(SAMPLE), "--output", str(out)]) == 0
    manifest = read_manifest(out)
    assert manifest.counters["records_read"] == 200
    assert manifest.counters["drops"]["withdrawn"] == 1  # 0704.0156: "This paper has been withdrawn"
    assert manifest.rows("arxiv_title_abstract") == 199
    table = pq.read_table(out / manifest.tasks["arxiv_title_abstract"][0].path)
    rows = {r["origin"]: r for r in table.to_pylist()}
    first = rows["arxiv:0704.0001"]
    assert first["query"] == ("Calculation of prompt diphoton production cross sections at Tevatron and "
                              "LHC energies")
    assert first["document"].startswith("A fully differential calculation in perturbative quantum")
    assert meta_dict(first["meta"])["categories"] == "hep-ph"
    assert "(k,ℓ)-pebble game" in rows["arxiv:0704.0002"]["document"]  # LaTeX \ell
    assert "arxiv:0704.0156" not in rows
    assert not any("\n" in r["document"] or "  " in r["document"] for r in rows.values())
    assert Path(out, "manifest.json").exists()
