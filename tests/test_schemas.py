import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairmill.dataset.output import describe_file, write_manifest
from pairmill.schemas import (
    PAIR_SCHEMA,
    REQUIRED_COLUMNS,
    TASKS,
    Manifest,
    ManifestError,
    SchemaError,
    load_verified_manifest,
    make_pair,
    pair_id,
    read_manifest,
    validate_dataset,
)


def test_pair_id_is_stable_and_content_sensitive():
    a = pair_id("code_docstring_code", "Add numbers.", "def add(a, b): ...")
    assert a == pair_id("code_docstring_code", "Add numbers.", "def add(a, b): ...")
    assert len(a) == 32
    assert a != pair_id("code_docstring_code", "Add numbers!", "def add(a, b): ...")
    assert a != pair_id("arxiv_title_abstract", "Add numbers.", "def add(a, b): ...")
    # field boundaries matter: moving text between query and document changes the id
    assert pair_id("web_title_body", "ab", "c") != pair_id("web_title_body", "a", "bc")


def test_make_pair_follows_the_schema():
    pair = make_pair("code_docstring_code", "q text", "d text", "repo", "f.py:3", lang="python",
                     meta={"function": "f"})
    table = pa.Table.from_pylist([pair], schema=PAIR_SCHEMA)
    assert table.num_rows == 1
    assert set(REQUIRED_COLUMNS) <= set(table.column_names)
    assert table.column("meta").to_pylist() == [[{"key": "function", "value": "f"}]]


@pytest.mark.parametrize("task,query,document", [
    ("No such task", "q", "d"), ("web_title_body", "  ", "d"), ("web_title_body", "q", ""),
])
def test_make_pair_rejects_bad_input(task, query, document):
    with pytest.raises(SchemaError):
        make_pair(task, query, document, "s", "o")


def test_task_names_match_the_design():
    from pairmill.extractors.registry import sources, task_families

    tasks = task_families()
    assert tasks.items() <= TASKS.items()  # the registry fills the schema's task table
    assert set(tasks.values()) == set(sources())  # every source has its tasks in the table
    assert tasks["code_docstring_code"] == "code"
    assert tasks["s2orc_citation_reference"] == "s2orc"
    assert tasks["pubmed_title_abstract"] == "pubmed"
    assert tasks["commit_message_diff"] == "commits"


def _dataset(tmp_path, rows=5):
    folder = tmp_path / "ds"
    (folder / "data" / "web_title_body").mkdir(parents=True)
    pairs = [make_pair("web_title_body", f"title {i}", f"body {i}", "crawl", f"f:{i}")
             for i in range(rows)]
    rel = "data/web_title_body/part-00000.parquet"
    pq.write_table(pa.Table.from_pylist(pairs, schema=PAIR_SCHEMA), folder / rel)
    manifest = Manifest(tasks={"web_title_body": [describe_file(folder, rel)]},
                        counters={"records_read": rows}, command=["pairmill", "x"])
    write_manifest(folder, manifest)
    return folder, rel


def test_manifest_round_trip(tmp_path):
    folder, rel = _dataset(tmp_path)
    manifest = read_manifest(folder)
    assert manifest.rows("web_title_body") == 5
    assert manifest.tasks["web_title_body"][0].path == rel
    assert json.loads((folder / "manifest.json").read_text())["format"] == "pairmill/1"
    assert validate_dataset(folder) == []
    assert load_verified_manifest(folder).total_rows == 5


def test_validation_catches_a_changed_file(tmp_path):
    folder, rel = _dataset(tmp_path)
    data = bytearray((folder / rel).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / rel).write_bytes(bytes(data))
    problems = validate_dataset(folder)
    assert any("sha256" in p for p in problems)
    with pytest.raises(ManifestError):
        load_verified_manifest(folder)


def test_validation_catches_wrong_row_count_and_missing_files(tmp_path):
    folder, rel = _dataset(tmp_path)
    obj = json.loads((folder / "manifest.json").read_text())
    obj["tasks"]["web_title_body"]["files"][0]["rows"] = 7
    obj["tasks"]["web_title_body"]["files"].append(
        {"path": "data/web_title_body/part-00001.parquet", "rows": 1, "sha256": "0" * 64})
    (folder / "manifest.json").write_text(json.dumps(obj))
    problems = validate_dataset(folder)
    assert any("5 rows, manifest says 7" in p for p in problems)
    assert any("part-00001.parquet: missing" in p for p in problems)


def test_truncated_parquet_is_reported_not_read(tmp_path):
    folder, rel = _dataset(tmp_path)
    path = folder / rel
    path.write_bytes(path.read_bytes()[:-20])
    problems = validate_dataset(folder, check_hashes=False)
    assert problems and "unreadable Parquet" in problems[0]


@pytest.mark.parametrize("content", ["{not json", json.dumps({"format": "other/9"}),
                                     json.dumps({"format": "pairmill/1"})])
def test_bad_manifests_are_errors(tmp_path, content):
    (tmp_path / "manifest.json").write_text(content)
    with pytest.raises(ManifestError):
        read_manifest(tmp_path)
    assert validate_dataset(tmp_path)


def test_missing_manifest(tmp_path):
    assert "no manifest.json" in validate_dataset(tmp_path)[0]


def test_storage_paths_and_uris(tmp_path):
    from pairmill.schemas import storage

    assert storage.join("gs://bucket/run/", "data", "/web/") == "gs://bucket/run/data/web"
    assert storage.join(str(tmp_path), "a", "b.txt") == str(tmp_path / "a" / "b.txt")
    uri = f"file://{tmp_path}/d"
    storage.write_bytes(storage.join(uri, "x", "one.bin"), b"1")
    storage.write_bytes(storage.join(uri, "two.bin"), b"22")
    storage.write_bytes(storage.join(uri, "two.bin"), b"333")  # replaced whole
    assert storage.list_files(uri) == ["two.bin", "x/one.bin"]
    assert storage.read_bytes(f"{tmp_path}/d/two.bin") == b"333"
    assert storage.is_dir(uri) and storage.is_file(f"{uri}/two.bin") and not storage.is_file(uri)
    storage.move(f"{uri}/two.bin", f"{uri}/y/z/two.bin")
    assert storage.list_files(uri) == ["x/one.bin", "y/z/two.bin"]
    storage.delete_dir(uri)
    storage.delete_dir(uri)  # already gone: no error
    assert storage.list_files(uri) == [] and not storage.exists(uri)


def test_a_part_appears_only_when_complete_and_a_failed_attempt_leaves_nothing(tmp_path):
    """Cluster engines retry bundles and lose workers: a part file is written under a name of
    its own attempt and moved into place whole, so a failed attempt leaves no file, and a
    retried one gives the same bytes."""
    from pairmill.dataset.output import write_part
    from pairmill.schemas import storage

    table = pa.Table.from_pylist([make_pair("web_title_body", "t", "b", "crawl", "f:1")],
                                 schema=PAIR_SCHEMA)
    target = str(tmp_path / "data" / "web_title_body" / "part-00000.parquet")
    with pytest.raises(RuntimeError):
        with storage.committed_output(target) as out:
            out.write(b"PAR1 half a file")
            raise RuntimeError("worker lost")
    assert list((tmp_path / "data" / "web_title_body").iterdir()) == []
    write_part(target, table, 10)
    first = (tmp_path / "data" / "web_title_body" / "part-00000.parquet").read_bytes()
    write_part(target, table, 10)  # the retried bundle
    assert (tmp_path / "data" / "web_title_body" / "part-00000.parquet").read_bytes() == first
    assert sorted(p.name for p in (tmp_path / "data" / "web_title_body").iterdir()) == [
        "part-00000.parquet"]


@pytest.mark.parametrize("value, expected, changed", [
    ({"text": "caf\u00e9 \u65e5\u672c", "n": 3, "xs": [1.5, None, True]}, None, 0),
    ({"meta": [{"k\ud800": "v"}]}, {"meta": [{"k\ufffd": "v"}]}, 1),  # a key deep inside
    ({"parts": ["ok", ("a", "b\udcff")]}, {"parts": ["ok", ("a", "b\\xff")]}, 1),
    (ValueError("x"), None, 0),  # a type marshal refuses: walked, nothing to repair
])
def test_repair_record_finds_every_unencodable_string(value, expected, changed):
    from pairmill.schemas.pairs import repair_record

    fixed, n = repair_record(value)
    assert n == changed
    if expected is None:  # unchanged: the very object comes back
        assert fixed is value
    else:
        assert fixed == expected


def test_repair_record_walks_what_marshal_refuses_and_ignores_a_false_alarm():
    import marshal
    import struct
    from collections import namedtuple

    from pairmill.schemas.pairs import repair_record

    Part = namedtuple("Part", "key text")

    class Text(str):
        pass

    fixed, n = repair_record(Part("k", Text("x\ud83d")))
    assert n == 1 and isinstance(fixed, Part) and fixed.text == "x\ufffd"
    # a float whose bytes hold the surrogate pattern: walked, and nothing is changed
    alarm = struct.unpack("<d", b"\xed\xa0\x00\x00\x00\x00\xf0\x3f")[0]
    assert b"\xed\xa0" in marshal.dumps(alarm)
    record = {"score": alarm}
    fixed, n = repair_record(record)
    assert n == 0 and fixed is record
