"""The extraction loop counts a batch of records at once and the sink counts per bundle; joins
pass on only the parts a later stage reads. None of it may change what is counted or kept: the
same counts as one `Extraction.counts` per record, every neighbour of a failing record kept, and
a part made for the second join stage still joined there."""

from __future__ import annotations

import gzip

import apache_beam as beam
import pyarrow.parquet as pq

from pairmill.dataset.output import finalize_staged, prepare_output
from pairmill.extractors.result import Extraction
from pairmill.extractors.spec import InputKind, JoinStage, SourceSpec, Task
from pairmill.extractors.text.records import read_lines
from pairmill.pipelines.dataset_sink import run_pipeline
from pairmill.pipelines.mine import COUNT_EVERY, COUNTS, DEAD_LETTERS, MineInputs, build_mine
from pairmill.pipelines.options import beam_options
from pairmill.schemas import make_pair, read_manifest
from pairmill.schemas.counts import Counts

TASK = "batch_line_text"


def _extract(line: bytes, origin: str) -> Extraction:
    """`pair N`, `drop REASON`, `note`, `letter` (an unusable record) or `boom` (a bug)."""
    text = line.decode().strip()
    out = Extraction()
    if text == "boom":
        raise KeyError("a bug the tests plant")
    if text.startswith("drop "):
        out.drop(text.split()[1])
    elif text == "letter":
        out.dead_letter(origin, "batch", "unusable_record", text)
    else:
        if text == "note":
            out.note("repaired")
        out.pairs.append(make_pair(TASK, "q", text, "batch", origin))
    return out


SPEC = SourceSpec("batch", "", "", (Task(TASK, "q", "d"),), object,
                  (InputKind("lines", "", lambda options: _extract, records=read_lines),))


def _lines(n: int) -> list[bytes]:
    kinds = ["pair {i}", "drop short", "drop {reason}", "note", "letter", "boom", "pair {i}b"]
    return [kinds[i % len(kinds)].format(i=i, reason=f"r{i % 3}").encode() + b"\n" for i in range(n)]


def _process(path: str) -> tuple[list[dict], Counts, list[dict]]:
    fn = MineInputs(SPEC, None)
    fn.setup()
    pairs, counts, letters = [], Counts(), []
    for item in fn.process(("lines", (path, "lines.txt"))):
        if isinstance(item, beam.pvalue.TaggedOutput):
            if item.tag == COUNTS:
                counts += item.value
            elif item.tag == DEAD_LETTERS:
                letters.append(item.value)
        else:
            pairs.append(item)
    return pairs, counts, letters


def _expected(lines: list[bytes]) -> tuple[list[str], Counts]:
    """What one Extraction.counts per record gives, as the loop did before it batched."""
    texts, counts = [], Counts()
    for number, line in enumerate(lines, 1):
        counts.add("total", "records_read")
        try:
            result = _extract(line, f"lines.txt:{number}")
        except KeyError:
            counts.add("dead_letter", "extractor_error")
            continue
        result.counts(into=counts)
        texts += [p["document"] for p in result.pairs]
    return texts, counts


def test_batched_counts_equal_one_count_per_record_and_no_neighbour_is_lost(tmp_path):
    lines = _lines(3 * COUNT_EVERY + 17)  # several full batches and a partial one
    path = tmp_path / "lines.txt"
    path.write_bytes(b"".join(lines))
    pairs, counts, letters = _process(str(path))
    texts, expected = _expected(lines)
    assert [p["document"] for p in pairs] == texts  # every pair beside a bug or a letter kept
    assert counts.get("total", "bytes_read") == path.stat().st_size
    assert Counts((k, n) for k, n in counts if k.reason != "bytes_read") == expected
    assert sorted({letter["reason"] for letter in letters}) == ["extractor_error", "unusable_record"]
    assert len(letters) == expected.get_kind("dead_letter")


def test_a_file_that_breaks_mid_batch_still_counts_every_record_before_the_break(tmp_path):
    lines = _lines(2 * COUNT_EVERY + 500)
    whole = gzip.compress(b"".join(lines))
    path = tmp_path / "lines.gz"
    path.write_bytes(whole[: len(whole) * 3 // 4])  # cut inside a gzip block
    pairs, counts, letters = _process(str(path))
    read = counts.get("total", "records_read")
    assert 0 < read < len(lines)
    texts, expected = _expected(lines[:read])
    assert [p["document"] for p in pairs] == texts
    assert counts.by_reason("drop") == expected.by_reason("drop")
    assert counts.get("note", "repaired") == expected.get("note", "repaired")
    assert [letter["reason"] for letter in letters].count("truncated_file") == 1


# --- two join stages: a part made by the first is joined in the second --------------------------

def _extract_parts(line: bytes, origin: str) -> Extraction:
    """`a K`, `b K` (first stage), `c K` (second stage), `z K` (a side no stage reads), `p TEXT`
    (a pair on its own)."""
    side, key = line.decode().split()
    out = Extraction()
    if side == "p":
        out.pairs.append(make_pair(TASK, "plain", key, "batch", origin))
    else:
        out.part(side, key, {"from": side, "origin": origin})
    return out


def _join_ab(key: str, sides: dict) -> Extraction:
    out = Extraction()
    if sides["a"] and sides["b"]:
        out.part("d", key, {"from": "ab"})
    else:
        out.drop("unmatched_ab")
    return out


def _join_cd(key: str, sides: dict) -> Extraction:
    out = Extraction()
    if sides["c"] and sides["d"]:
        out.pairs.append(make_pair(TASK, f"joined {key}", "c and d", "batch", f"key:{key}"))
    else:
        out.drop("unmatched_cd")
    return out


def test_parts_for_the_second_stage_reach_it_and_duplicates_are_counted_once(tmp_path):
    spec = SourceSpec("batch", "", "", (Task(TASK, "q", "d"),), object,
                      (InputKind("lines", "", lambda options: _extract_parts, records=read_lines),),
                      joins=lambda options: (JoinStage(("a", "b"), _join_ab),
                                             JoinStage(("c", "d"), _join_cd)))
    lines = ["a 1", "b 1", "c 1",  # joined in both stages: a pair
             "a 2", "c 2",  # no b: stage one drops it, stage two has c without d
             "a 3", "b 3",  # d without c
             "z 4",  # a side no stage reads: left out
             "p same", "p same", "p other"]  # two exact duplicates, one survivor
    path = tmp_path / "parts.txt"
    path.write_text("\n".join(lines) + "\n")
    output = str(tmp_path / "out")
    prepare_output(output, False)
    pipeline = beam.Pipeline(options=beam_options([]))
    build_mine(pipeline, spec, None, [("lines", (str(path), "parts.txt"))], output)
    run_pipeline(pipeline)
    manifest = finalize_staged(output, ["test"], 1000)
    rows = [row for part in sorted((tmp_path / "out" / "data" / TASK).glob("*.parquet"))
            for row in pq.read_table(part).to_pylist()]
    assert sorted((r["query"], r["document"]) for r in rows) == [
        ("joined 1", "c and d"), ("plain", "other"), ("plain", "same")]
    drops = read_manifest(output).counters["drops"]
    assert drops["exact_duplicate"] == 1
    assert drops["unmatched_ab"] == 1  # key 2 (a alone)
    assert drops["unmatched_cd"] == 2  # key 2 (c alone), key 3 (d alone)
    assert manifest.counters["pairs_kept"] == 3 and manifest.counters["records_read"] == len(lines)


def _extract_scored(line: bytes, origin: str) -> Extraction:
    kind, key, value = line.decode().split()
    out = Extraction()
    if kind == "plain":  # the same pair a join makes, from another origin
        out.pairs.append(make_pair(TASK, f"joined {key}", "best", "batch", f"z-{origin}"))
    else:
        out.part(kind, key, {"score": int(value), "text": value})
    return out


def _join_best(key: str, sides: dict) -> Extraction:
    out = Extraction()
    if sides["head"] and sides["reply"]:
        (reply,) = sides["reply"]  # the reducer leaves one
        document = "best" if reply["score"] == 9 else f"not the best: {reply['text']}"
        out.pairs.append(make_pair(TASK, f"joined {key}", document, "batch", f"a-{key}"))
    return out


def test_a_reduced_side_keeps_its_best_part_and_duplicates_across_producers_keep_the_first_origin(
        tmp_path):
    spec = SourceSpec("batch", "", "", (Task(TASK, "q", "d"),), object,
                      (InputKind("lines", "", lambda options: _extract_scored, records=read_lines),),
                      joins=lambda options: (JoinStage(
                          ("head", "reply"), _join_best,
                          reducers={"reply": lambda a, b: a if a["score"] >= b["score"] else b}),))
    # the parts of key 1 come from two files, the best reply in the middle of the second
    first = ["reply 1 3", "head 1 0", "plain 1 0"]
    second = ["reply 1 5", "reply 1 9", "reply 1 1", "plain 1 0"]
    units = []
    for name, lines in (("first.txt", first), ("second.txt", second)):
        (tmp_path / name).write_text("\n".join(lines) + "\n")
        units.append(("lines", (str(tmp_path / name), name)))
    output = str(tmp_path / "out")
    prepare_output(output, False)
    pipeline = beam.Pipeline(options=beam_options([]))
    build_mine(pipeline, spec, None, units, output)
    run_pipeline(pipeline)
    finalize_staged(output, ["test"], 1000)
    rows = pq.read_table(tmp_path / "out" / "data" / TASK).to_pylist()
    # three copies of one pair (the join's and two plain ones): the smallest origin survives
    assert [(r["query"], r["document"], r["origin"]) for r in rows] == [("joined 1", "best", "a-1")]
    assert read_manifest(output).counters["drops"]["exact_duplicate"] == 2


def _mine_lines(tmp_path, name: str, lines: list[str]) -> tuple[dict[str, bytes], dict]:
    path = tmp_path / f"{name}.txt"
    path.write_text("\n".join(lines) + "\n")
    output = str(tmp_path / name)
    prepare_output(output, False)
    pipeline = beam.Pipeline(options=beam_options([]))
    build_mine(pipeline, SPEC, None, [("lines", (str(path), "lines.txt"))], output,
               rows_per_file=7)
    run_pipeline(pipeline)
    finalize_staged(output, ["test"], 1000)
    files = {str(p.relative_to(output)): p.read_bytes()
             for p in sorted((tmp_path / name).rglob("*.parquet"))}
    return files, read_manifest(output).counters


def test_kept_pairs_cross_the_writer_in_batches_and_every_boundary_keeps_each_row_once(
        tmp_path, monkeypatch):
    from pairmill.pipelines import dataset_sink

    lines = [f"pair {i}" for i in range(40)] + ["pair 3", "letter", "drop short"]
    whole, whole_counts = _mine_lines(tmp_path, "whole", lines)
    monkeypatch.setattr(dataset_sink, "ROWS_PER_BATCH", 3)  # 40 kept rows: 14 batches
    batched, batched_counts = _mine_lines(tmp_path, "batched", lines)
    data = sorted(name for name in whole if name.startswith("data/"))
    assert len(data) == 6  # 40 rows at 7 a file: each file gathers rows of several batches
    assert batched == whole  # the same files, byte for byte
    assert batched_counts == whole_counts
    rows = [row for name in data for row in pq.read_table(tmp_path / "batched" / name).to_pylist()]
    assert sorted(row["document"] for row in rows) == sorted(f"pair {i}" for i in range(40))
    assert batched_counts["drops"]["exact_duplicate"] == 1
    assert any(name.startswith("errors/") for name in batched)  # the dead letter is written too


def _combined(parts: list[tuple], max_held: int) -> list[tuple]:
    from apache_beam.utils.windowed_value import WindowedValue

    from pairmill.pipelines.mine import CombineParts

    fn = CombineParts({"reply": lambda a, b: a if a["score"] >= b["score"] else b}, max_held)
    fn.start_bundle()
    out = [item for part in parts for item in fn.process(part)]
    out += [item.value for item in fn.finish_bundle() if isinstance(item, WindowedValue)]
    return out


def test_a_reduced_sides_parts_are_combined_per_key_before_the_shuffle():
    parts = [("reply", "1", {"score": 3}), ("head", "1", {"title": "a"}), ("reply", "2", {"score": 1}),
             ("reply", "1", {"score": 9}), ("head", "1", {"title": "b"}), ("reply", "1", {"score": 5})]
    combined = _combined(parts, max_held=100)
    assert combined[:2] == [("head", "1", {"title": "a"}), ("head", "1", {"title": "b"})]  # as they came
    assert sorted(combined[2:]) == [("reply", "1", {"score": 9}), ("reply", "2", {"score": 1})]
    # a full buffer is sent on and reduction starts again: more parts travel, the best still does
    flushed = _combined(parts, max_held=1)
    replies = [value["score"] for side, key, value in flushed if side == "reply" and key == "1"]
    assert len(replies) > 1 and max(replies) == 9
    assert sorted(v["score"] for s, k, v in flushed if s == "reply") == sorted(
        v["score"] for s, k, v in parts if s == "reply")  # nothing held was lost
