"""The mixture plan, the streaming reader and `pairmill mix`: one task per batch, α, exact cursors."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from pairmill.cli import main
from pairmill.dataset.read import RowGroup, task_row_groups
from pairmill.schemas import ManifestError
from pairmill.trainer.data import RowGroupReader, stream_batches
from pairmill.trainer.plan import MixturePlan, rank_slice

from .conftest import write_pairs_dataset


def synthetic_tasks(sizes: dict[str, int], group: int = 7) -> dict[str, list[RowGroup]]:
    return {t: [RowGroup(f"{t}.parquet", i, min(group, n - i * group)) for i in range(-(-n // group))]
            for t, n in sizes.items()}


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_task_frequencies_follow_alpha(alpha):
    sizes = {"a": 100, "b": 900, "c": 10_000}
    plan = MixturePlan(synthetic_tasks(sizes), alpha=alpha, batch_size=8, seed=3)
    expected = np.array([n ** alpha for n in sizes.values()])
    expected /= expected.sum()
    assert np.allclose([plan.probabilities[t] for t in sizes], expected)
    steps = 40_000
    observed = np.bincount(plan.task_indices(0, steps), minlength=3) / steps
    assert np.abs(observed - expected).max() < 0.01, (observed, expected)


def test_every_batch_is_one_task_and_each_epoch_visits_every_row_once():
    sizes = {"a": 23, "b": 40}
    plan = MixturePlan(synthetic_tasks(sizes), alpha=0.5, batch_size=5, seed=0)
    seen = {t: [] for t in sizes}
    cursors = plan.cursors(0)
    for step in range(60):
        task, refs = plan.batch(step, cursors)
        cursors[task] += plan.batch_size
        assert len(refs) == 5
        assert all(0 <= r.group < len(plan.groups[task]) for r in refs)
        assert all(0 <= r.row < plan.groups[task][r.group].rows for r in refs)
        seen[task].extend((r.group, r.row) for r in refs)
    for task, n in sizes.items():
        epochs = [seen[task][k:k + n] for k in range(0, len(seen[task]) - n + 1, n)]
        assert len(epochs) >= 2
        for epoch in epochs:  # every row exactly once per epoch
            assert len(set(epoch)) == n
        assert epochs[0] != epochs[1]  # the wrap reshuffles


def test_plan_is_identical_across_ranks_and_resumes_from_the_step_alone():
    tasks = synthetic_tasks({"a": 50, "b": 80, "c": 33})
    ranks = [MixturePlan(tasks, 0.5, 8, seed=11) for _ in range(4)]
    for step in (0, 1, 17, 4095, 4096, 9000):
        batches = [p.batch(step) for p in ranks]
        assert all(b == batches[0] for b in batches)
    assert ranks[0].fingerprint() == ranks[3].fingerprint()
    # running cursors and the recount from the step agree
    plan, cursors = ranks[0], ranks[0].cursors(0)
    for step in range(200):
        task, refs = plan.batch(step, cursors)
        assert plan.batch(step) == (task, refs)
        cursors[task] += plan.batch_size
    assert cursors == plan.cursors(200)
    # another seed, alpha or batch size is another plan
    assert MixturePlan(tasks, 0.5, 8, seed=12).fingerprint() != plan.fingerprint()
    assert MixturePlan(tasks, 1.0, 8, seed=11).fingerprint() != plan.fingerprint()


def test_rank_slices_partition_the_global_batch():
    slices = [rank_slice(12, r, 4) for r in range(4)]
    covered = [i for s in slices for i in range(12)[s]]
    assert covered == list(range(12))
    with pytest.raises(ValueError, match="not divisible"):
        rank_slice(10, 0, 4)


def test_plan_refuses_tasks_smaller_than_a_batch_and_empty_mixtures():
    with pytest.raises(ValueError, match=r"b \(3 rows\)"):
        MixturePlan(synthetic_tasks({"a": 50, "b": 3}), batch_size=8)
    with pytest.raises(ValueError, match="no tasks"):
        MixturePlan({}, batch_size=8)


def test_reader_returns_the_planned_rows_for_each_rank(tmp_path):
    data = write_pairs_dataset(tmp_path / "ds", {"code_docstring_code": 47, "arxiv_title_abstract": 31},
                               negatives=2)
    plan = MixturePlan(task_row_groups([str(data)]), alpha=0.5, batch_size=6, seed=1)
    assert plan.rows == {"arxiv_title_abstract": 31, "code_docstring_code": 47}
    encode = lambda texts, kind: [[len(t)] for t in texts]  # noqa: E731
    reader = RowGroupReader(plan)
    whole = list(stream_batches(plan, lambda t, k: t, 0, 12, negatives=2))
    for batch in whole:
        task, refs = plan.batch(batch.step)
        queries, documents, negatives = reader.texts(task, refs, 2)
        assert batch.task == task and batch.queries == queries and batch.documents == documents
        assert all(q.split()[1] == task for q in queries)
        assert [q.replace("query", "document") for q in queries] == documents  # aligned pairs
        assert len(negatives) == 12 and batch.negatives == negatives
    halves = [list(stream_batches(plan, lambda t, k: t, 0, 12, rank=r, world_size=2)) for r in range(2)]
    for b, h0, h1 in zip(whole, *halves, strict=True):
        assert h0.queries + h1.queries == b.queries
    tokenised = next(stream_batches(plan, encode, 3, 4))
    assert tokenised.step == 3 and len(tokenised.queries) == 6


def test_reader_errors_reach_the_consumer(tmp_path):
    data = write_pairs_dataset(tmp_path / "ds", {"code_docstring_code": 40})
    part = data / "data" / "code_docstring_code" / "part-00000.parquet"
    part.write_bytes(part.read_bytes()[:200])  # truncated file
    plan = MixturePlan(task_row_groups([str(data)]), batch_size=8)
    with pytest.raises(Exception, match="(?i)parquet|magic|size"):
        list(stream_batches(plan, lambda t, k: t, 0, 5))


def test_row_groups_that_disagree_with_the_manifest_are_refused(tmp_path):
    data = write_pairs_dataset(tmp_path / "ds", {"code_docstring_code": 40}, row_group_size=10)
    manifest = json.loads((data / "manifest.json").read_text())
    manifest["row_group_size"] = 8
    (data / "manifest.json").write_text(json.dumps(manifest))
    plan = MixturePlan(task_row_groups([str(data)]), batch_size=4)
    with pytest.raises(ManifestError, match="manifest implies"):
        list(stream_batches(plan, lambda t, k: t, 0, 20))
    with pytest.raises(ManifestError, match="not a pairmill dataset"):
        task_row_groups([str(tmp_path)])


def test_mix_writes_the_plan_as_aligned_one_task_blocks(tmp_path, capsys):
    data = write_pairs_dataset(tmp_path / "ds", {"code_docstring_code": 60, "arxiv_title_abstract": 25})
    out = tmp_path / "mix"
    args = ["mix", "--data", str(data), "--output", str(out), "--batch-size", "5", "--steps", "30",
            "--alpha", "0.5", "--seed", "4", "--rows-per-file", "50"]
    assert main(args) == 0
    described = json.loads((out / "mixture.json").read_text())
    assert described["format"] == "pairmill-mixture/1"
    assert sum(described["steps_per_task"].values()) == 30
    assert len(described["files"]) == 3 and all(f["rows"] == 50 for f in described["files"])
    plan = MixturePlan(task_row_groups([str(data)]), 0.5, 5, seed=4)
    assert described["plan"] == plan.fingerprint()
    reader = RowGroupReader(plan)
    step = 0
    for entry in described["files"]:
        parquet = pq.ParquetFile(out / entry["path"])
        assert parquet.metadata.num_row_groups == entry["steps"]
        for g in range(parquet.metadata.num_row_groups):
            block = parquet.read_row_group(g)
            task, refs = plan.batch(step)
            assert set(block.column("task").to_pylist()) == {task}
            assert block.column("id").to_pylist() == reader.rows(task, refs).column("id").to_pylist()
            step += 1
    assert step == 30
    assert main(args) == 2  # an existing mixture is never overwritten silently
    assert "--overwrite" in capsys.readouterr().err


def test_datasets_are_read_through_fsspec_urls(tmp_path):
    """`hf://`, `s3://` and `file://` locations all go through fsspec; file:// runs here."""
    data = write_pairs_dataset(tmp_path / "ds", {"code_docstring_code": 30})
    local = MixturePlan(task_row_groups([str(data)]), batch_size=5, seed=2)
    remote = MixturePlan(task_row_groups([data.as_uri()]), batch_size=5, seed=2)
    assert all(g.location.startswith("file://") for g in remote.groups["code_docstring_code"])
    as_local = list(stream_batches(local, lambda t, k: t, 0, 8))
    as_url = list(stream_batches(remote, lambda t, k: t, 0, 8))
    assert [b.queries for b in as_url] == [b.queries for b in as_local]
    with pytest.raises(ManifestError, match="no manifest.json"):
        task_row_groups([(tmp_path / "missing").as_uri()])
