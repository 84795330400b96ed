"""`pairmill report`: the page's figures come from the dataset and the training run it describes."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pairmill.cli import main
from pairmill.dataset.output import describe_file, write_manifest
from pairmill.dataset.stats import task_lengths
from pairmill.schemas import DEAD_LETTER_SCHEMA, PAIR_SCHEMA, Manifest, make_dead_letter, make_pair

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _dataset(folder, rows_per_task: dict[str, int]):
    """Task t's i-th pair has a query of i+1 characters and a document of 10*(i+1)."""
    manifest = Manifest(counters={"records_read": 500, "pairs_kept": sum(rows_per_task.values()),
                                  "dead_letters": 2,
                                  "drops": {"undocumented": 40, "short_function": 7, "unused": 0}},
                        extra={"dedup": {"threshold": 0.8, "num_perm": 128, "ngram": 5,
                                         "field": "pair", "bands": 16, "rows_per_band": 8,
                                         "tasks": {"web_title_body": {
                                             "rows_in": 110, "rows_out": 100,
                                             "removed": {"near_duplicate": 10}}},
                                         "cluster_sizes": {"1": 95, "2": 4, "3": 1}}})
    for task, n in rows_per_task.items():
        rows = [make_pair(task, "q" * (i + 1), "d" * (10 * (i + 1)), "src", f"o{i}")
                for i in range(n)]
        rel = f"data/{task}/part-00000.parquet"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=PAIR_SCHEMA), folder / rel)
        manifest.tasks[task] = [describe_file(folder, rel)]
    errors = "errors/part-00000.parquet"
    (folder / "errors").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(
        [make_dead_letter("f:1", "src", "invalid_xml"), make_dead_letter("f:2", "src", "invalid_xml")],
        schema=DEAD_LETTER_SCHEMA), folder / errors)
    manifest.errors = [describe_file(folder, errors)]
    write_manifest(folder, manifest)
    return folder


def _cells(page: str, first: str, nth: int = 0) -> list[str]:
    """The cells after the first one of the nth table row that starts with `first`."""
    rows = re.findall(rf"<tr><td>{re.escape(first)}</td>(.*?)</tr>", page)
    assert len(rows) > nth, f"no table row {nth} for {first}"
    return re.findall(r"<td>(.*?)</td>", rows[nth])


def test_dataset_report_figures(tmp_path, capsys):
    data = _dataset(tmp_path / "pairs", {"web_title_body": 100, "arxiv_title_abstract": 400})
    out = tmp_path / "report"
    assert main(["report", str(data), "--output", str(out), "--alpha", "0", "0.5", "1"]) == 0
    assert capsys.readouterr().out.strip() == str(out / "index.html")
    page = (out / "index.html").read_text()
    # pairs and lengths: query lengths 1..100 -> median 50, p95 95; documents ten times that
    assert _cells(page, "web_title_body")[:3] == ["100", "50 / 95", "505 / 950"]
    assert _cells(page, "arxiv_title_abstract")[0] == "400"
    # mixture: 100 and 400 rows -> uniform, 1/3 : 2/3 at α = 0.5, proportional at α = 1
    assert _cells(page, "web_title_body", nth=2) == ["0.5000", "0.3333", "0.2000"]
    assert _cells(page, "undocumented") == ["40"] and _cells(page, "dead letter: invalid_xml") == ["2"]
    assert "<td>unused</td>" not in page  # a zero counter is not a reason anything was dropped
    assert "near_duplicate: 10" in page and "Jaccard threshold 0.8" in page
    charts = sorted(p.stem for p in out.glob("*.png"))
    assert charts == ["dedup_clusters", "drops", "lengths", "mixture", "pairs_per_task"]
    embedded = [base64.b64decode(b) for b in re.findall(r'base64,([^"]+)"', page)]
    assert sorted(embedded) == sorted((out / f"{c}.png").read_bytes() for c in charts)
    assert all(png.startswith(PNG_MAGIC) for png in embedded)


def test_lengths_are_sampled_per_task(tmp_path):
    data = _dataset(tmp_path / "pairs", {"web_title_body": 30})
    lengths = task_lengths(str(data), sample_rows=10)
    assert lengths["web_title_body"]["query"].tolist() == list(range(1, 11))
    assert np.array_equal(lengths["web_title_body"]["document"], 10 * np.arange(1, 11))


def test_training_report_curves(tmp_path):
    train = tmp_path / "train"
    train.mkdir()
    (train / "train_config.json").write_text(json.dumps({"loss": "gte", "batch_size": 64,
                                                         "steps": 3, "alpha": 0.5}))
    steps = [{"step": i, "task": "web_title_body", "loss": 3.0 - i, "pairs_per_s": 100.0 * i,
              "tokens_per_s": 1e4 * i, "peak_memory_mb": 500.0 + i} for i in (1, 2, 3)]
    (train / "metrics.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps)
                                         + '{"step": 4, "lo')  # a killed run's last line
    assert main(["report", str(train)]) == 0
    page = (train / "report" / "index.html").read_text()
    assert _cells(page, "3") == ["2.0000", "0.0000", "200.0000", "20000.0000", "503.0000"]
    assert _cells(page, "batch_size") == ["64"]
    assert sorted(p.name for p in (train / "report").glob("*.png")) == ["loss.png", "throughput.png"]


def test_report_refuses_what_it_cannot_describe(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "neither a pairs dataset" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing")]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    write_manifest(empty, Manifest())
    assert main(["report", str(empty), "--output", str(tmp_path / "r")]) == 0
    assert "holds no pairs" in (tmp_path / "r" / "index.html").read_text()
