"""`pairmill mine code` on The Stack-style Parquet: file contents as rows, read a row group at a
time, columns detected (v1 and v2 naming) or named, licences in `meta`, origin `repo:path:line`;
the same pairs as mining the same repository from an archive."""

from __future__ import annotations

import sysconfig
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairmill.cli import main
from pairmill.schemas.pairs import meta_dict

from .conftest import SOURCES, write_tree

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _repo(tmp_path: Path) -> tuple[Path, list[tuple[str, bytes]]]:
    """Real repository files: the standard library's json package and the six-language tree."""
    root = write_tree(tmp_path / "myrepo", SOURCES)
    for path in sorted((STDLIB / "json").glob("*.py")):
        (root / "json").mkdir(exist_ok=True)
        (root / "json" / path.name).write_bytes(path.read_bytes())
    files = sorted((p.relative_to(root).as_posix(), p.read_bytes())
                   for p in root.rglob("*") if p.is_file())
    return root, files


V1 = {"content": "content", "path": "max_stars_repo_path", "repo": "max_stars_repo_name",
      "lang": "lang", "licences": "max_stars_repo_licenses"}
V2 = {"content": "content", "path": "path", "repo": "repo_name", "lang": "language",
      "licences": "detected_licenses"}


def write_stack(path: Path, files, names: dict[str, str], row_group_size: int = 4) -> Path:
    table = pa.table({
        names["content"]: [data.decode("utf-8", "replace") for _, data in files],
        names["path"]: [rel for rel, _ in files],
        names["repo"]: ["org/myrepo"] * len(files),
        names["lang"]: [rel.rsplit(".", 1)[-1] for rel, _ in files],
        names["licences"]: [["MIT", "Apache-2.0"]] * len(files),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def _pairs(out: Path) -> list[dict]:
    return [r for f in sorted(out.glob("data/*/*.parquet")) for r in pq.read_table(f).to_pylist()]


@pytest.mark.parametrize("naming", [V1, V2], ids=["stack-v1", "stack-v2"])
def test_parquet_rows_give_the_pairs_the_archive_gives(tmp_path, naming):
    root, files = _repo(tmp_path)
    archive = tmp_path / "myrepo.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="myrepo")
    shard = write_stack(tmp_path / "stack" / "train-00000.parquet", files, naming)
    assert pq.ParquetFile(shard).num_row_groups > 2  # several units
    assert main(["mine", "code", "--input", str(archive), "--output", str(tmp_path / "a")]) == 0
    assert main(["mine", "code", "--input", str(shard), "--output", str(tmp_path / "p")]) == 0
    from_archive, from_parquet = _pairs(tmp_path / "a"), _pairs(tmp_path / "p")
    assert len(from_parquet) > 20
    assert sorted(r["id"] for r in from_parquet) == sorted(r["id"] for r in from_archive)
    row = from_parquet[0]
    assert row["source"] == "org/myrepo" and row["origin"].startswith("org/myrepo:")
    assert row["origin"].rsplit(":", 1)[1].isdigit()  # repo:path:line
    assert meta_dict(row["meta"])[naming["licences"]] == "MIT,Apache-2.0"


def test_columns_can_be_named_and_unknown_layouts_are_one_clear_line(tmp_path, capsys):
    _, files = _repo(tmp_path)
    odd = {"content": "blob", "path": "filename", "repo": "project", "lang": "ext",
           "licences": "license"}
    shard = write_stack(tmp_path / "odd.parquet", files, odd)
    out = tmp_path / "out"
    assert main(["mine", "code", "--input", str(shard), "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "name them with --content-column and --path-column" in err[0]
    assert not out.exists()  # refused before any work
    assert main(["mine", "code", "--input", str(shard), "--output", str(out), "--overwrite",
                 "--content-column", "blob", "--path-column", "filename",
                 "--repo-column", "project"]) == 0
    rows = _pairs(out)
    assert rows and all(r["source"] == "org/myrepo" for r in rows)
    assert main(["mine", "code", "--input", str(tmp_path / "none-*.parquet"),
                 "--output", str(tmp_path / "x")]) == 2
    assert "no such Parquet file" in capsys.readouterr().err


def test_parquet_through_a_uri_and_a_glob(tmp_path):
    _, files = _repo(tmp_path)
    for i, part in enumerate((files[: len(files) // 2], files[len(files) // 2:])):
        write_stack(tmp_path / "shards" / f"train-{i:05d}.parquet", part, V1)
    local = tmp_path / "local"
    uri = tmp_path / "uri"
    assert main(["mine", "code", "--input", str(tmp_path / "shards" / "*.parquet"),
                 "--output", str(local)]) == 0
    assert main(["mine", "code", "--input", (tmp_path / "shards").as_uri() + "/*.parquet",
                 "--output", str(uri)]) == 0
    assert sorted(r["id"] for r in _pairs(local)) == sorted(r["id"] for r in _pairs(uri))
    assert len(_pairs(local)) > 20


def test_a_damaged_shard_costs_only_itself(tmp_path):
    _, files = _repo(tmp_path)
    good = write_stack(tmp_path / "shards" / "train-00000.parquet", files, V1)
    damaged = tmp_path / "shards" / "train-00001.parquet"
    damaged.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    out = tmp_path / "out"
    assert main(["mine", "code", "--input", str(tmp_path / "shards" / "*.parquet"),
                 "--output", str(out)]) == 0
    letters = [r for f in out.glob("errors/*.parquet") for r in pq.read_table(f).to_pylist()]
    assert [(r["origin"], r["reason"]) for r in letters] == [("train-00001.parquet",
                                                              "unreadable_file")]
    assert len(_pairs(out)) > 20


def test_text_sources_read_hub_style_parquet_and_renamed_fields(tmp_path):
    """Reddit as the Hub's mirrors publish it: Parquet rows, some fields named otherwise."""
    import json

    from . import hostile

    records = [json.loads(line) for line in hostile.submissions(30)]
    table = pa.table({"post_id": [r["id"] for r in records],
                      "title": [r["title"] for r in records],
                      "body": [r["selftext"] for r in records],
                      "score": [r["score"] for r in records],
                      "author": [r["author"] for r in records],
                      "subreddit": [r["subreddit"] for r in records]})
    pq.write_table(table, tmp_path / "reddit.parquet", row_group_size=7)
    lines = tmp_path / "reddit.jsonl"
    lines.write_text("".join(json.dumps({**r, "body": r.pop("selftext")}) + "\n" for r in records))
    outs = {}
    for name, path in (("parquet", tmp_path / "reddit.parquet"), ("jsonl", lines)):
        outs[name] = tmp_path / f"out-{name}"
        renames = ["--column", "selftext=body"] + (["id=post_id"] if name == "parquet" else [])
        assert main(["mine", "reddit", "--submissions", str(path), "--output", str(outs[name]),
                     *renames]) == 0
    rows = {name: sorted((r["query"], r["document"]) for r in _pairs(out)) for name, out in outs.items()}
    assert len(rows["parquet"]) == 30 and rows["parquet"] == rows["jsonl"]
    assert main(["mine", "reddit", "--submissions", str(lines), "--output", str(tmp_path / "bad"),
                 "--column", "selftext"]) == 2
