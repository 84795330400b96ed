"""Every source's output on the real samples, pinned row for row.

The digests in `tests/pins/realdata_digests.json` were taken from the pipeline before a redesign;
a change that alters any pair (text, id, task, origin, optional columns) fails here. When a change
of output is intended, regenerate them with `python -m tests.test_realdata_pinned` and say why in
the commit message.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pairmill.cli import main

from .conftest import REALDATA, SOURCES, write_tree

DIGESTS = Path(__file__).with_name("pins") / "realdata_digests.json"

# source -> argv after `pairmill mine SOURCE` (paths relative to REALDATA)
COMMANDS = {
    "web": ["--input", "warc/warcfile.warc.gz", "warc/example-iana.org-chunked.warc"],
    "reddit": ["--submissions", "reddit/AskWomen_submissions.zst", "--comments", "reddit/RC_2005-12.zst"],
    "stackexchange": ["--input", "stackexchange/Posts.xml"],
    "arxiv": ["--input", "arxiv/arxiv-metadata-oai-snapshot.sample.jsonl"],
    "s2orc": ["--input", "s2orc/*.json"],
    "wikipedia": ["--input", "wikipedia/enwiki-table-markup.xml.bz2"],
}
COLUMNS = ("id", "task", "query", "document", "source", "origin", "lang", "negatives", "score", "meta")


def _normalise(value, root: str):
    if isinstance(value, str):
        return value.replace(root, "<ROOT>")
    if isinstance(value, list):  # meta as a list of (key, value) or a list of strings
        return [_normalise(v, root) for v in value]
    if isinstance(value, tuple):
        return [_normalise(v, root) for v in value]
    if isinstance(value, dict) and set(value) == {"key", "value"}:  # a meta record
        return [value["key"], _normalise(value["value"], root)]
    if isinstance(value, dict):
        return sorted([k, _normalise(v, root)] for k, v in value.items())
    return value


def dataset_digest(folder: Path, root: str) -> dict[str, dict]:
    """Per task: rows and the sha256 of its rows, sorted by id, absolute input paths masked."""
    out = {}
    for task_dir in sorted((folder / "data").iterdir()):
        rows = []
        for part in sorted(task_dir.glob("*.parquet")):
            table = pq.read_table(part)
            for row in table.to_pylist():
                rows.append([_normalise(row.get(c), root) for c in COLUMNS])
        rows.sort(key=lambda r: r[0])
        digest = hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()
        out[task_dir.name] = {"rows": len(rows), "sha256": digest}
    return out


def mine(source: str, output: Path, root: Path) -> None:
    if source == "code":
        argv = ["mine", "code", "--input", str(root)]
    else:
        argv = ["mine", source, *[str(root / a) if "/" in a else a for a in COMMANDS[source]]]
    assert main([*argv, "--output", str(output)]) == 0


def current_digests(tmp: Path) -> dict:
    result = {}
    for source in COMMANDS:
        mine(source, tmp / source, REALDATA)
        result[source] = dataset_digest(tmp / source, str(REALDATA) + "/")
    tree = write_tree(tmp / "tree", SOURCES)
    mine("code", tmp / "code", tree)
    result["code"] = dataset_digest(tmp / "code", str(tree) + "/")
    return result


@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is absent (fresh clone)")
@pytest.mark.parametrize("source", [*COMMANDS])
def test_real_sample_output_is_pinned(source, tmp_path):
    expected = json.loads(DIGESTS.read_text())[source]
    mine(source, tmp_path / source, REALDATA)
    assert dataset_digest(tmp_path / source, str(REALDATA) + "/") == expected


def test_code_output_is_pinned(tmp_path):
    expected = json.loads(DIGESTS.read_text())["code"]
    tree = write_tree(tmp_path / "tree", SOURCES)
    mine("code", tmp_path / "code", tree)
    assert dataset_digest(tmp_path / "code", str(tree) + "/") == expected


if __name__ == "__main__":  # regenerate the pins
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        DIGESTS.write_text(json.dumps(current_digests(Path(tmp)), indent=2, sort_keys=True) + "\n")
    print(f"wrote {DIGESTS}", file=sys.stderr)
