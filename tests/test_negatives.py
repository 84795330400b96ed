"""`pairmill negatives`: no own document and no planted near copy among a row's negatives, the
margin and rank window respected, exact blocked search, random fill, resumable per task."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from pairmill.cli import main
from pairmill.schemas import make_pair, read_manifest
from pairmill.trainer.negatives import top_candidates

from .test_consistency_filter import TOPICS
from .test_dedup import write_dataset

TASK = "stackexchange_question_answer"


def _answer(topic: str) -> str:
    return (f"Here is what matters about {topic}: the basics of {topic}, the common mistakes "
            f"people make with {topic} when they start, and where to learn more about {topic} "
            f"from people who have done it for years.")


def _pairs():
    pairs = [make_pair(TASK, f"What should I know about {t}?", _answer(t), "s", f"t{i}")
             for i, t in enumerate(TOPICS)]
    # near copies of the first rows' answers under other questions: never a negative of them
    copies = [make_pair(TASK, f"Any advice on {t} for a beginner like me?",
                        _answer(t).replace("for years.", "for many years."), "s", f"c{i}")
              for i, t in enumerate(TOPICS[:5])]
    return pairs, copies


def _rows(folder):
    return [r for f in sorted(folder.glob("data/*/*.parquet")) for r in pq.read_table(f).to_pylist()]


@pytest.fixture(scope="module")
def mined(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("negatives")
    pairs, copies = _pairs()
    folder = write_dataset(tmp / "in", pairs + copies)
    out = tmp / "out"
    assert main(["negatives", "--input", str(folder), "--output", str(out), "--per-query", "4",
                 "--rank-range", "0:12", "--device", "cpu"]) == 0
    return folder, out, pairs, copies


def test_no_own_document_and_no_planted_near_copy(mined):
    _, out, pairs, copies = mined
    rows = {r["origin"]: r for r in _rows(out)}
    assert len(rows) == len(pairs) + len(copies)
    for row in rows.values():
        assert len(row["negatives"]) == 4
        assert row["document"] not in row["negatives"]
    for i, copy in enumerate(copies):
        # the copy and the original are each other's near duplicates in both directions
        assert copy["document"] not in rows[f"t{i}"]["negatives"]
        assert pairs[i]["document"] not in rows[f"c{i}"]["negatives"]
    notes = read_manifest(out).counts.by_reason("note")
    assert notes["negative_near_duplicate"] >= 2 * len(copies)
    assert notes["negatives_written"] == 4 * len(rows)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"][:2] == ["pairmill", "negatives"]
    assert manifest["negatives"]["rank_range"] == [0, 12]


class _Corpus:
    def __init__(self, texts):
        import pyarrow as pa

        self.texts = pa.array(texts)
        self.signatures = None

    def __len__(self):
        return len(self.texts)


def test_margin_skips_candidates_close_to_the_positive_and_random_documents_fill():
    from types import SimpleNamespace

    from pairmill.schemas.counts import Counts
    from pairmill.trainer.negatives import choose_negatives

    texts = ["own", "close", "far", "farther", "r1", "r2", "r3", "r4"]
    corpus = _Corpus(texts)
    config = SimpleNamespace(seed=0, per_query=4, margin=0.1)
    counts = Counts()
    # positive score 0.8: a candidate above 0.9 × 0.8 = 0.72 is a likely false negative
    picked = choose_negatives("row", "own", 0.8, None, [0, 1, 2, 3], [0.9, 0.75, 0.7, 0.5],
                              corpus, dict(enumerate(texts)), config, counts, "t")
    assert {"far", "farther"} <= set(picked) and "close" not in picked and "own" not in picked
    assert len(picked) == 4 == len(set(picked))
    notes = counts.by_reason("note")
    assert notes == {"negative_own_document": 1, "negative_above_margin": 1,
                     "negative_random_fill": 2, "negatives_written": 4}
    again = choose_negatives("row", "own", 0.8, None, [0, 1, 2, 3], [0.9, 0.75, 0.7, 0.5],
                             corpus, dict(enumerate(texts)), config, Counts(), "t")
    assert again == picked  # seeded by the row id


def test_rank_window_and_bad_settings(tmp_path):
    pairs, _ = _pairs()
    folder = write_dataset(tmp_path / "in", pairs)
    # a window of one rank below the top: at most one hard negative per row, the rest random
    out = tmp_path / "window"
    assert main(["negatives", "--input", str(folder), "--output", str(out), "--per-query", "2",
                 "--rank-range", "1:2", "--margin", "0", "--device", "cpu"]) == 0
    notes = read_manifest(out).counts.by_reason("note")
    assert notes["negative_random_fill"] >= len(pairs)
    assert notes["negatives_written"] == 2 * len(pairs)
    with pytest.raises(SystemExit) as refused:  # argparse: usage error, exit status 2
        main(["negatives", "--input", str(folder), "--output", str(tmp_path / "x"),
              "--rank-range", "5:5"])
    assert refused.value.code == 2


def test_blocked_search_is_exact():
    generator = torch.Generator().manual_seed(0)
    corpus = torch.nn.functional.normalize(torch.randn(1000, 16, generator=generator), dim=1)
    queries = torch.nn.functional.normalize(torch.randn(7, 16, generator=generator), dim=1)
    full_s, full_i = (queries @ corpus.T).topk(25, dim=1)
    scores, indices = top_candidates(queries, corpus.numpy(), 25, block_rows=64)
    assert torch.equal(indices, full_i) and torch.allclose(scores, full_s)
    memmapped = np.asarray(corpus.numpy(), dtype=np.float16)
    _, approx = top_candidates(queries, memmapped, 5, block_rows=999)
    assert (approx[:, 0] == full_i[:, 0]).float().mean() > 0.8  # float16 storage


def test_a_rerun_keeps_finished_tasks(mined, tmp_path, capsys):
    folder, out, _, _ = mined
    before = {r["id"]: r["negatives"] for r in _rows(out)}
    (out / "manifest.json").unlink()  # as if the run stopped before its manifest
    assert main(["negatives", "--input", str(folder), "--output", str(out), "--per-query", "4",
                 "--rank-range", "0:12", "--device", "cpu"]) == 0
    assert "finished in an earlier run" in capsys.readouterr().err
    assert {r["id"]: r["negatives"] for r in _rows(out)} == before
    assert main(["negatives", "--input", str(folder), "--output", str(out)]) == 2  # exists


def test_faiss_search_finds_what_the_exact_search_finds(tmp_path):
    from pairmill.trainer.negatives import faiss_search

    generator = torch.Generator().manual_seed(1)
    corpus = torch.nn.functional.normalize(torch.randn(500, 16, generator=generator), dim=1)
    queries = torch.nn.functional.normalize(torch.randn(9, 16, generator=generator), dim=1)
    exact_s, exact_i = top_candidates(queries, corpus.numpy(), 20, block_rows=128)
    faiss_s, faiss_i = faiss_search(corpus.numpy(), block_rows=128)(queries, 20)
    assert torch.equal(faiss_i, exact_i) and torch.allclose(faiss_s, exact_s, atol=1e-5)
    pairs, _ = _pairs()
    folder = write_dataset(tmp_path / "in", pairs)
    exact, fast = tmp_path / "exact", tmp_path / "faiss"
    for out, search in ((exact, "exact"), (fast, "faiss")):
        assert main(["negatives", "--input", str(folder), "--output", str(out), "--per-query",
                     "3", "--search", search, "--device", "cpu"]) == 0
    assert [r["negatives"] for r in _rows(exact)] == [r["negatives"] for r in _rows(fast)]


def test_a_teacher_that_calls_everything_relevant_leaves_only_random_negatives(tmp_path,
                                                                               tiny_model):
    from transformers import AutoConfig, BertForSequenceClassification

    config = AutoConfig.from_pretrained(tiny_model, num_labels=1)
    teacher = BertForSequenceClassification(config)
    torch.nn.init.zeros_(teacher.classifier.weight)
    torch.nn.init.constant_(teacher.classifier.bias, 5.0)  # sigmoid(5) ≈ 0.99 for every pair
    teacher.save_pretrained(tmp_path / "teacher")
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(tmp_path / "teacher")
    pairs, _ = _pairs()
    folder = write_dataset(tmp_path / "in", pairs)
    out = tmp_path / "out"
    assert main(["negatives", "--input", str(folder), "--output", str(out), "--per-query", "2",
                 "--margin", "0", "--rank-range", "0:10", "--teacher", str(tmp_path / "teacher"),
                 "--teacher-max-score", "0.9", "--device", "cpu"]) == 0
    notes = read_manifest(out).counts.by_reason("note")
    assert notes["negative_teacher"] > 0
    assert notes["negative_random_fill"] == notes["negatives_written"] == 2 * len(pairs)


def test_an_output_url_keeps_its_work_files_on_this_machine(tmp_path):
    """`--output file://...` (any URL): the dataset goes there, the memory-mapped corpus to a
    local temporary folder, and a rerun finds its finished tasks there."""
    from pairmill.trainer.negatives import _work_folder

    pairs, _ = _pairs()
    folder = write_dataset(tmp_path / "in", pairs[:12])
    url = f"file://{tmp_path}/remote"
    assert main(["negatives", "--input", str(folder), "--output", url, "--per-query", "2",
                 "--device", "cpu"]) == 0
    assert len(_rows(tmp_path / "remote")) == 12
    assert not (tmp_path / "remote" / "_work").exists()
    assert (_work_folder(url) / TASK / "task.done").is_file()
    assert main(["negatives", "--input", str(folder), "--output", url, "--per-query", "2",
                 "--device", "cpu", "--overwrite"]) == 0


def test_a_corpus_is_reused_only_when_made_the_same_way(tmp_path):
    from pairmill.trainer.negatives import Corpus

    pairs, _ = _pairs()
    folder = write_dataset(tmp_path / "in", pairs)
    paths = [str(p) for p in sorted(folder.glob("data/*/*.parquet"))]
    calls = []

    def embed(texts):
        calls.append(len(texts))
        return torch.nn.functional.normalize(torch.ones(len(texts), 4), dim=1)

    work = tmp_path / "work"
    assert len(Corpus.build(work, paths, embed, None, 4, made_by="model A")) == len(pairs)
    Corpus.build(work, paths, embed, None, 4, made_by="model A")
    assert sum(calls) == len(pairs)  # reused
    Corpus.build(work, paths, embed, None, 4, made_by="model B")
    assert sum(calls) == 2 * len(pairs)  # another model: embedded again


def test_outputs_keep_the_row_group_size_their_manifest_promises(tmp_path, tiny_model):
    """Input row groups of another size were written as they came, and training then refused
    the dataset ("row group 0 has 100 rows, the manifest implies 140")."""
    pairs, _ = _pairs()
    folder = write_dataset(tmp_path / "in", pairs)
    out = tmp_path / "out"
    assert main(["negatives", "--input", str(folder), "--output", str(out), "--per-query", "2",
                 "--row-group-size", "7", "--device", "cpu"]) == 0
    filtered = tmp_path / "filtered"
    assert main(["filter", "--input", str(out), "--output", str(filtered), "--pool", "16",
                 "--top-k", "8", "--row-group-size", "4", "--device", "cpu"]) == 0
    for folder_, size in ((out, 7), (filtered, 4)):
        for path in folder_.glob("data/*/*.parquet"):
            meta = pq.ParquetFile(path).metadata
            sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
            assert all(n == size for n in sizes[:-1]) and 0 < sizes[-1] <= size, sizes
    assert main(["train", "--input", str(filtered), "--output", str(tmp_path / "run"),
                 "--model", str(tiny_model), "--steps", "1", "--batch-size", "4",
                 "--group-size", "3", "--max-length", "32", "--device", "cpu",
                 "--no-progress"]) == 0
