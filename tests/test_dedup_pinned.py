"""`pairmill dedup` output pinned byte for byte.

The pins in `tests/pins/dedup_digests.json` were taken before dedup stopped moving texts through
its shuffles (survivors are now read back from the input row groups); the dataset files must not
change. The file bytes are compared when the pinned pyarrow version is installed (Parquet footers
name the writer's version), the rows always. Regenerate with `python -m tests.test_dedup_pinned`
only for an intended change of output, and say why in the commit message.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pairmill.cli import main
from pairmill.dataset.output import describe_file, write_manifest
from pairmill.schemas import PAIR_SCHEMA, Manifest, make_pair

PINS = Path(__file__).with_name("pins") / "dedup_digests.json"
TASKS = ("web_title_body", "reddit_title_body", "arxiv_title_abstract")


def _pairs(rng: random.Random, n: int, salt: str) -> list[dict]:
    """Pairs with every case dedup decides: near copies, exact copies, whitespace twins (new id,
    same exact key), wordless texts, scores, meta, several tasks."""
    vocab = [f"w{i}" for i in range(400)]
    out = []
    for i in range(n):
        task = TASKS[i % len(TASKS)]
        words = [rng.choice(vocab) for _ in range(40)]
        kind = rng.random()
        if out and kind < 0.15:  # near copy of an earlier pair of the same task
            base = rng.choice([p for p in out if p["task"] == task] or out[:1])
            words = base["document"].split()
            words[rng.randrange(len(words))] = "edited"
            task = base["task"]
        document = " ".join(words)
        query = f"{salt} title {i}"
        if out and 0.15 <= kind < 0.2:  # whitespace twin: same exact key, another id
            base = out[-1]
            task, query, document = base["task"], base["query"], base["document"].replace(" ", "  ", 3)
        if 0.2 <= kind < 0.23:
            document = "!!! ??? ..."  # no words: only exact duplicates are possible
        meta = {"rank": str(i % 5)} if i % 3 == 0 else None
        score = float(i % 7) if i % 4 == 0 else None
        out.append(make_pair(task, query, document, "bench", f"{salt}:{i}", meta=meta,
                             score=score))
    return out


def _write(folder: Path, pairs: list[dict]) -> Path:
    manifest = Manifest()
    for task in TASKS:
        rows = sorted((p for p in pairs if p["task"] == task), key=lambda p: p["id"])
        for k in range(2):  # two files per task, several row groups each
            rel = f"data/{task}/part-{k:05d}.parquet"
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(rows[k::2], schema=PAIR_SCHEMA), folder / rel,
                           row_group_size=17)
            manifest.tasks.setdefault(task, []).append(describe_file(folder, rel))
    write_manifest(folder, manifest)
    return folder


def run_dedup(tmp: Path) -> Path:
    rng = random.Random(11)
    a = _pairs(rng, 700, "a")
    b = _pairs(rng, 300, "b") + a[:120]  # the same pairs (same ids) in both inputs
    first, second = _write(tmp / "a", a), _write(tmp / "b", b)
    evals = tmp / "evals.jsonl"
    evals.write_text("".join(json.dumps({"text": p["document"]}) + "\n" for p in b[40:45]))
    out = tmp / "out"
    assert main(["dedup", "--input", str(first), str(second), "--output", str(out),
                 "--decontaminate", str(evals), "--rows-per-file", "90",
                 # the pins were taken with MinHash decontamination, still a mode of its own
                 "--decontamination-mode", "minhash",
                 "--row-group-size", "13"]) == 0
    return out


def digests(out: Path) -> dict:
    files, rows = {}, []
    for part in sorted(out.glob("data/*/*.parquet")):
        rel = part.relative_to(out).as_posix()
        files[rel] = hashlib.sha256(part.read_bytes()).hexdigest()
        rows.append([rel, pq.read_table(part).to_pylist()])
    counts = json.loads((out / "manifest.json").read_text())["counts"]
    return {"pyarrow": pa.__version__, "files": files,
            "rows": hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest(),
            "counts": hashlib.sha256(json.dumps(counts, sort_keys=True).encode()).hexdigest()}


def test_dedup_output_is_pinned(tmp_path):
    expected = json.loads(PINS.read_text())
    got = digests(run_dedup(tmp_path))
    assert list(got["files"]) == list(expected["files"])  # the same files, shards and names
    assert got["rows"] == expected["rows"]
    assert got["counts"] == expected["counts"]
    if got["pyarrow"] == expected["pyarrow"]:
        assert got["files"] == expected["files"]


if __name__ == "__main__":  # regenerate the pins
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        PINS.write_text(json.dumps(digests(run_dedup(Path(tmp))), indent=2) + "\n")
    print(f"wrote {PINS}", file=sys.stderr)
