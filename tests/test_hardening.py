"""Real dumps never break a run: each defect of the hardening issue, reproduced and kept fixed.

Every test mines a generated hostile file (tests/hostile.py) and checks that the good records
next to the damage are all kept, the damage is a counted dead letter, and memory stays bounded.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pairmill.cli import main
from pairmill.schemas import read_manifest, validate_dataset

from . import hostile
from .conftest import REALDATA


def _rows(out: Path) -> list[dict]:
    return [r for f in sorted(out.glob("data/*/*.parquet")) for r in pq.read_table(f).to_pylist()]


def _letters(out: Path) -> list[dict]:
    return [r for f in sorted(out.glob("errors/*.parquet")) for r in pq.read_table(f).to_pylist()]


@pytest.mark.parametrize("source", ["reddit", "arxiv"])
def test_a_lone_surrogate_is_repaired_and_no_good_row_is_lost(tmp_path, source):
    path, expected = hostile.with_lone_surrogate(tmp_path, source)
    flag = "--submissions" if source == "reddit" else "--input"
    out = tmp_path / "out"
    assert main(["mine", source, flag, str(path), "--output", str(out)]) == 0
    rows = _rows(out)
    assert len(rows) == expected
    repaired = [r for r in rows if "\ufffd" in r["query"]]
    assert len(repaired) == 1
    manifest = read_manifest(out)
    assert manifest.counts.get("total", "texts_repaired") == 1
    assert validate_dataset(out) == []


def test_file_names_that_are_not_utf8_neither_crash_nor_lose_rows(tmp_path):
    tree, archive, expected = hostile.code_tree_with_undecodable_names(tmp_path)
    for i, source in enumerate((tree, archive)):
        out = tmp_path / f"out{i}"
        assert main(["mine", "code", "--input", str(source), "--output", str(out)]) == 0
        rows = _rows(out)
        assert len(rows) == expected
        assert any("\\xff" in r["origin"] for r in rows)  # the odd byte, shown, not lost


def test_a_decompression_bomb_of_blank_lines_costs_no_memory(tmp_path):
    """zstd output is produced a feed at a time: however extreme the ratio, nothing balloons."""
    from pairmill.extractors.inputs import _ZstdFrames

    path, expected = hostile.blank_bomb(tmp_path, 256 << 20)
    assert path.stat().st_size < 1 << 20
    frames = _ZstdFrames(open(path, "rb"))
    largest, buffer = 0, bytearray(1 << 20)
    while frames.readinto(buffer):
        largest = max(largest, len(frames._pending) + len(buffer))
    frames.close()
    assert largest < 64 << 20
    out = tmp_path / "out"
    assert main(["mine", "reddit", "--submissions", str(path), "--output", str(out)]) == 0
    assert len(_rows(out)) == expected


@pytest.mark.parametrize("suffix", [".gz", ".zst", ".bz2"])
def test_a_line_longer_than_the_limit_is_a_dead_letter_and_reading_goes_on(tmp_path, suffix):
    path, expected = hostile.endless_line(tmp_path, 24 << 20, suffix)
    out = tmp_path / "out"
    assert main(["mine", "reddit", "--submissions", str(path), "--output", str(out),
                 "--max-record-bytes", str(4 << 20)]) == 0
    assert len(_rows(out)) == expected
    (letter,) = _letters(out)
    assert letter["reason"] == "record_too_large" and f"{(24 << 20) + 1:,}" in letter["detail"]


def test_clueweb_content_encoding_over_a_decoded_body_keeps_every_page(tmp_path):
    path, expected = hostile.clueweb_warc(tmp_path)
    out = tmp_path / "out"
    assert main(["mine", "web", "--input", str(path), "--output", str(out)]) == 0
    assert len(_rows(out)) == expected
    assert read_manifest(out).counts.get("note", "content_encoding_not_applied") == expected


def test_a_warc_record_with_a_lying_length_is_a_dead_letter_and_the_rest_is_read(tmp_path):
    path, expected = hostile.lying_length_warc(tmp_path)
    out = tmp_path / "out"
    assert main(["mine", "web", "--input", str(path), "--output", str(out)]) == 0
    assert len(_rows(out)) == expected
    assert [letter["reason"] for letter in _letters(out)] == ["warc_length_mismatch"]


@pytest.mark.parametrize("suffix", [".gz", ".bz2"])
def test_every_complete_xml_row_before_a_truncation_is_kept(tmp_path, suffix):
    path, complete = hostile.truncated_xml(tmp_path, suffix)
    assert complete > 100
    out = tmp_path / "out"
    assert main(["mine", "stackexchange", "--input", str(path), "--output", str(out)]) == 0
    manifest = read_manifest(out)
    assert manifest.counters["records_read"] == complete
    assert [letter["reason"] for letter in _letters(out)] == ["truncated_file"]


def _flat_paper() -> dict:
    text = ("Coffee extraction depends on grind size and water temperature in every method "
            "studied here [1].")
    return {"paper_id": "100", "abstract": [{"text": "An abstract."}],
            "body_text": [{"text": text, "cite_spans": [{"start": len(text) - 4,
                                                          "end": len(text) - 1, "text": "[1]",
                                                          "ref_id": "BIBREF0"}]}],
            "bib_entries": {"BIBREF0": {"title": "The physics of espresso", "link": "200"}}}


@pytest.mark.parametrize("layout", ["grobid_parse", "pdf_parse", "latex_parse"])
def test_s2orc_2019_2020_and_doc2json_layouts_give_the_same_pairs(tmp_path, layout):
    from pairmill.extractors.text import extract_s2orc_paper

    flat = _flat_paper()
    nested = {"paper_id": "100", "metadata": {"title": "x", "abstract": "An abstract."},
              layout: {k: flat[k] for k in ("body_text", "bib_entries")}}
    for k in ("body_text", "bib_entries"):
        nested[layout][k] = flat[k]
    a = extract_s2orc_paper(json.dumps(flat), "f:1")
    b = extract_s2orc_paper(json.dumps(nested), "f:1")
    assert a.parts and a.parts == b.parts and a.pairs == b.pairs and not b.drops


@pytest.mark.skipif(not (REALDATA / "s2orc").is_dir(), reason="../shared/realdata is absent")
def test_real_s2orc_papers_read_the_same_in_the_2019_layout(tmp_path):
    flat, nested = tmp_path / "flat", tmp_path / "nested"
    hostile.s2orc_layouts(sorted((REALDATA / "s2orc").glob("*.json")), flat, nested)
    for folder in (flat, nested):
        assert main(["mine", "s2orc", "--input", str(folder / "*.json"),
                     "--output", str(folder / "out")]) == 0
    assert len(_rows(flat / "out")) > 100
    assert ({r["id"] for r in _rows(flat / "out")} == {r["id"] for r in _rows(nested / "out")})


def test_a_link_out_of_a_code_tree_is_not_followed(tmp_path):
    tree, outside = hostile.tree_with_outside_link(tmp_path)
    out = tmp_path / "out"
    assert main(["mine", "code", "--input", str(tree), "--output", str(out)]) == 0
    rows = _rows(out)
    assert [r["query"] for r in rows] == ["Return the value given to it here."]
    assert read_manifest(out).counters["drops"]["link_outside_input"] == 1


def test_credentials_are_never_recorded(tmp_path, capsys):
    path, _ = hostile.with_lone_surrogate(tmp_path, "arxiv", good=5)
    out = tmp_path / "out"
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert main(["mine", "arxiv", "--input", str(path), "--output", str(out),
                 f"--s3_secret_access_key={secret}", "--s3_access_key_id", "AKIAIOSFODNN7EXAMPLE"]) == 0
    text = (out / "manifest.json").read_text()
    assert secret not in text and "AKIAIOSFODNN7EXAMPLE" not in text
    assert "--s3_secret_access_key=<REDACTED>" in text


def test_a_recipe_never_expands_a_credential_into_a_recorded_command(tmp_path, monkeypatch):
    from pairmill.recipe import RecipeError, load_recipe

    monkeypatch.setenv("HF_TOKEN", "hf_" + "x" * 30)
    recipe = {"output": str(tmp_path / "run"),
              "sources": {"a": {"source": "arxiv", "input": ["${HF_TOKEN}.jsonl"]}}}
    with pytest.raises(RecipeError, match="credentials are not recipe values"):
        load_recipe(recipe)
    recipe = {"output": str(tmp_path / "run"), "beam": ["--s3_secret_access_key=abc"],
              "sources": {"a": {"source": "arxiv", "input": ["x.jsonl"]}}}
    (stage,) = [s for s in load_recipe(recipe).stages if s.name == "mine-a"]
    assert "--s3_secret_access_key=<REDACTED>" in stage.argv and "abc" not in " ".join(stage.argv)


class _Payload:
    """Unpickling this creates a file: what a crafted checkpoint would do to a user."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_crafted_checkpoint_is_refused_and_never_run(tmp_path, tiny_model, capsys):
    from .conftest import write_pairs_dataset

    data = write_pairs_dataset(tmp_path / "data", {"code_docstring_code": 40})
    run = tmp_path / "run"
    args = ["train", "--input", str(data), "--model", str(tiny_model), "--output", str(run),
            "--batch-size", "8", "--steps", "4", "--stop-after", "2", "--checkpoint-every", "1",
            "--device", "cpu", "--no-progress", "--max-length", "32"]
    assert main(args) == 0
    latest = run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip()
    marker = tmp_path / "pwned"
    (latest / "state.pt").write_bytes(pickle.dumps({"step": _Payload(str(marker))}))
    assert main(args) == 2
    assert not marker.exists()
    assert "not a pairmill checkpoint" in capsys.readouterr().err


def test_a_run_that_keeps_nothing_fails_loudly(tmp_path, capsys):
    path = tmp_path / "wrong.jsonl"
    path.write_bytes(b"<html>not json</html>\n" * 20)
    out = tmp_path / "out"
    assert main(["mine", "arxiv", "--input", str(path), "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert "every record was dropped (invalid_json 20)" in err
    assert main(["mine", "arxiv", "--input", str(path), "--output", str(out), "--overwrite",
                 "--allow-empty"]) == 0


def test_a_missing_optional_package_is_one_line_before_any_work(tmp_path, monkeypatch, capsys):
    from pairmill.extractors import registry

    spec = registry.sources()["wikipedia"]
    broken = dataclasses.replace(spec, requires=(("no_such_package_xyz", "text"),))
    monkeypatch.setitem(registry.sources(), "wikipedia", broken)
    out = tmp_path / "out"
    (tmp_path / "dump.xml").write_text("<mediawiki/>")
    assert main(["mine", "wikipedia", "--input", str(tmp_path / "dump.xml"),
                 "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["pairmill: error: mine wikipedia needs the Python package "
                   "'no_such_package_xyz': pip install 'pairmill[text]'"]
    assert not out.exists()


def test_a_dataset_folder_loads_as_written_with_datasets_and_pandas(tmp_path):
    datasets = pytest.importorskip("datasets")
    import pandas as pd

    path, expected = hostile.with_lone_surrogate(tmp_path, "arxiv", good=20)
    out = tmp_path / "out"
    assert main(["mine", "arxiv", "--input", str(path), "--output", str(out)]) == 0
    files = sorted(str(p) for p in out.glob("data/*/*.parquet"))
    loaded = datasets.load_dataset("parquet", data_files=files, split="train")
    assert len(loaded) == expected
    assert {"key": "arxiv_id", "value": "2101.00000"} in [m for row in loaded["meta"] for m in row]
    by_task = datasets.load_dataset(str(out), "arxiv_title_abstract", split="train")
    assert sorted(by_task["id"]) == sorted(loaded["id"])
    assert len(pd.read_parquet(files[0])) == expected


def test_origins_are_relative_to_the_input_the_user_named(tmp_path):
    dumps = tmp_path / "dumps" / "coffee.stackexchange.com"
    dumps.mkdir(parents=True)
    (dumps / "Posts.xml").write_bytes(hostile.posts_xml(5))
    (dumps / "bad.xml").write_bytes(b"<posts><row Id='1'")
    out = tmp_path / "out"
    assert main(["mine", "stackexchange", "--input", str(tmp_path / "dumps" / "*" / "*.xml"),
                 "--output", str(out)]) == 0
    origins = [r["origin"] for r in _rows(out)] + [r["origin"] for r in _letters(out)]
    assert len(origins) == 11
    assert all(o.startswith(("coffee.stackexchange.com/Posts.xml:",
                             "coffee.stackexchange.com/bad.xml:")) for o in origins)


@pytest.mark.parametrize("source", ["reddit", "arxiv", "stackexchange", "web", "s2orc", "wikipedia",
                                    "pubmed"])
def test_every_hostile_file_beside_a_clean_one_costs_only_itself(tmp_path, source):
    """One run over the whole hostile corpus plus one clean file: the run completes, the clean
    file's pairs are all there, and the dataset is valid."""
    flag, clean, expected = hostile.clean_inputs(tmp_path / "clean")[source]
    files = [clean]
    for name, data, suffix in hostile.generic_damage():
        path = tmp_path / f"{name}{suffix}"
        path.write_bytes(data)
        files.append(path)
    out = tmp_path / "out"
    code = main(["mine", source, flag, *map(str, files), "--output", str(out)])
    assert code == 0
    assert validate_dataset(out) == []
    manifest = read_manifest(out)
    assert manifest.total_rows == expected
    assert manifest.counters["dead_letters"] >= 1


def test_hostile_source_files_cost_only_themselves(tmp_path):
    tree = tmp_path / "repo"
    tree.mkdir()
    for name, data in hostile.hostile_python().items():
        (tree / name).write_bytes(data)
    out = tmp_path / "out"
    assert main(["mine", "code", "--input", str(tree), "--output", str(out)]) == 0
    assert [r["query"] for r in _rows(out)] == ["Return the value it was given back."]
    assert validate_dataset(out) == []
