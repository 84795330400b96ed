"""The shared reader of the text sources: records, dead letters and counters from one file."""

from __future__ import annotations

import gzip

import apache_beam as beam

from pairmill.extractors.result import Extraction
from pairmill.extractors.spec import InputKind, SourceSpec, Task
from pairmill.extractors.text.records import read_lines
from pairmill.pipelines.mine import COUNTS, DEAD_LETTERS, MineInputs
from pairmill.schemas import make_pair


def _extract(line: bytes, origin: str) -> Extraction:
    if b"boom" in line:
        raise KeyError("a bug the tests plant")
    out = Extraction()
    out.pairs.append(make_pair("test_line_text", "q", line.decode().strip(), "test", origin))
    return out


SPEC = SourceSpec("test", "", "", (Task("test_line_text", "q", "d"),), object,
                  (InputKind("lines", "", lambda options: _extract, records=read_lines),))


def _run(path: str):
    pairs, counters, errors = [], {}, []
    fn = MineInputs(SPEC, None)
    fn.setup()
    for item in fn.process(("lines", (path, "lines.txt"))):
        if isinstance(item, beam.pvalue.TaggedOutput):
            if item.tag == COUNTS:  # the old flat counter names, from the structured counts
                for key, n in item.value:
                    name = key.reason if key.kind == "total" else f"drop:{key.reason}"
                    counters[name] = counters.get(name, 0) + n
            elif item.tag == DEAD_LETTERS:
                errors.append(item.value)
        else:
            pairs.append(item)
    return pairs, counters, errors


def test_an_extractor_error_is_one_dead_letter_and_the_file_goes_on(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_bytes(b"first\nboom\nthird\n")
    pairs, counters, errors = _run(str(path))
    assert [p["document"] for p in pairs] == ["first", "third"]
    assert counters["drop:extractor_error"] == 1 and counters["records_read"] == 3
    assert errors[0]["origin"] == "lines.txt:2" and "KeyError" in errors[0]["detail"]
    assert counters["bytes_read"] == len(b"first\nboom\nthird\n")


def test_a_corrupt_file_keeps_what_came_before(tmp_path):
    whole = gzip.compress(b"".join(f"line {i}\n".encode() for i in range(50_000)))
    path = tmp_path / "lines.gz"
    path.write_bytes(whole[:-100] + b"\x00" * 100)  # the end replaced with garbage
    pairs, counters, errors = _run(str(path))
    assert 0 < len(pairs) < 50_000 and counters["records_read"] == len(pairs)
    assert [e["reason"] for e in errors] == ["truncated_file"]
    missing = tmp_path / "absent.txt"
    pairs, counters, errors = _run(str(missing))
    assert not pairs and [e["reason"] for e in errors] == ["truncated_file"]


def test_a_pair_of_a_task_its_source_did_not_declare_is_a_dead_letter(tmp_path):
    """A source emits only its own tasks: a plug-in's bug never lands in another task's shards."""
    def other_task(line: bytes, origin: str) -> Extraction:
        out = Extraction()
        out.pairs.append(make_pair("web_title_body", "q", line.decode().strip(), "test", origin))
        return out

    spec = SourceSpec("test", "", "", (Task("test_line_text", "q", "d"),), object,
                      (InputKind("lines", "", lambda options: other_task, records=read_lines),))
    path = tmp_path / "lines.txt"
    path.write_bytes(b"first\n")
    fn = MineInputs(spec, None)
    fn.setup()
    items = list(fn.process(("lines", (str(path), "lines.txt"))))
    assert not [i for i in items if not isinstance(i, beam.pvalue.TaggedOutput)]
    (letter,) = [i.value for i in items if getattr(i, "tag", None) == DEAD_LETTERS]
    assert letter["reason"] == "undeclared_task" and "web_title_body" in letter["detail"]
