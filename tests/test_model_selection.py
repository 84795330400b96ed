"""Model selection: a dev set scored at step 0 and every few steps, the best checkpoint kept as the
model and the last beside it; a run that never beats its base says so everywhere (tiny model)."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from pairmill.cli import main
from pairmill.dataset.read import task_row_groups
from pairmill.recipe import load_recipe
from pairmill.report import write_report
from pairmill.trainer.configs import TrainConfig
from pairmill.trainer.data import RowGroupReader
from pairmill.trainer.plan import MixturePlan
from pairmill.trainer.selection import hold_out
from pairmill.trainer.train import train

from .conftest import write_pairs_dataset

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _same_weights(a: Path, b: Path) -> bool:
    x, y = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


def test_the_dev_slice_is_chosen_by_pair_id_and_never_trained_on(tmp_path):
    rows = {"web_title_body": 300, "reddit_title_body": 100, "arxiv_title_abstract": 90}
    one = write_pairs_dataset(tmp_path / "one", rows, row_group_size=10, rows_per_file=35)
    other = write_pairs_dataset(tmp_path / "other", rows, row_group_size=25, rows_per_file=100)
    exclude, dev = hold_out(task_row_groups([str(one)]), dev_pairs=20, batch_size=None)
    _, dev_other = hold_out(task_row_groups([str(other)]), dev_pairs=20, batch_size=None)
    # a tenth at most, and none from a task too small to spare ten
    assert {t: len(q) for t, (q, _) in dev.items()} == {"reddit_title_body": 10, "web_title_body": 20}
    assert {t: sorted(q) for t, (q, _) in dev.items()} == {t: sorted(q) for t, (q, _) in
                                                           dev_other.items()}  # layout-free
    plan = MixturePlan(task_row_groups([str(one)]), 0.5, 8, 0, exclude)
    assert plan.rows == {"arxiv_title_abstract": 90, "reddit_title_body": 90, "web_title_body": 280}
    reader = RowGroupReader(plan)
    for task, (queries, documents) in dev.items():
        trained, _, _ = reader.texts(task, plan.rows_at(task, 0, 2 * plan.rows[task]))
        assert not set(trained) & set(queries)  # two epochs, never a dev pair
        assert len(set(trained)) == plan.rows[task]  # every other pair is trained on
        assert all(d == q.replace("query", "document") for q, d in zip(queries, documents,
                                                                       strict=True))
    assert plan.fingerprint() != MixturePlan(task_row_groups([str(one)]), 0.5, 8, 0).fingerprint()


def test_a_run_that_never_beats_its_base_says_so_keeps_the_base_and_is_not_published(
        tiny_model, tmp_path, capsys, monkeypatch):
    data = write_pairs_dataset(tmp_path / "pairs", {"web_title_body": 200}, row_group_size=20)
    out = tmp_path / "run"
    # a learning rate too small to move a weight: every checkpoint scores exactly the base
    assert main(["train", "--input", str(data), "--output", str(out), "--model", str(tiny_model),
                 "--batch-size", "8", "--steps", "4", "--eval-every", "2", "--lr", "1e-30",
                 "--max-length", "16", "--no-progress"]) == 0
    printed = capsys.readouterr()
    assert "NO CHECKPOINT BEAT THE BASE MODEL" in printed.out
    selection = json.loads((out / "selection.json").read_text())
    assert [h["step"] for h in selection["history"]] == [0, 2, 4]
    assert not selection["improved"] and selection["best"]["step"] == 0
    assert _same_weights(out / "model", tiny_model)  # the model is the base, unchanged
    assert json.loads((out / "checkpoints" / "last" / "pairmill_model.json").read_text())["step"] == 4

    page = Path(write_report(str(out), None, [0.5], 1000)).read_text()
    assert "NO CHECKPOINT BEAT THE BASE MODEL" in page

    uploads = []
    monkeypatch.setattr("pairmill.publish.upload_folder",
                        lambda folder, repo_id, repo_type, private: uploads.append(repo_id) or "url")
    assert main(["publish", str(out), "--repo-id", "o/m", "--repo-type", "model"]) == 2
    assert "--force" in capsys.readouterr().err and not uploads
    assert main(["publish", str(out), "--repo-id", "o/m", "--repo-type", "model", "--dry-run",
                 str(tmp_path / "dry")]) == 0
    assert "a real upload needs --force" in capsys.readouterr().err
    card = (tmp_path / "dry" / "README.md").read_text()
    assert "## Model selection" in card and "No checkpoint beat the base model" in card
    assert main(["publish", str(out), "--repo-id", "o/m", "--repo-type", "model", "--force"]) == 0
    assert uploads == ["o/m"]


@pytest.fixture(scope="module")
def code_pairs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mined") / "code"
    assert main(["mine", "code", "--input", str(STDLIB / "email"), str(STDLIB / "json"),
                 "--programming-languages", "python", "--output", str(out)]) == 0
    return out


def _beir_folder(root: Path, pairs: list[tuple[str, str]], split: str) -> Path:
    (root / "qrels").mkdir(parents=True)
    with open(root / "corpus.jsonl", "w") as corpus, open(root / "queries.jsonl", "w") as queries:
        for i, (query, document) in enumerate(pairs):
            corpus.write(json.dumps({"_id": f"d{i}", "title": "", "text": document}) + "\n")
            queries.write(json.dumps({"_id": f"q{i}", "text": query}) + "\n")
    (root / "qrels" / f"{split}.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in range(len(pairs))))
    return root


def test_the_best_checkpoint_is_the_model_and_the_last_is_kept_beside_it(code_pairs, tiny_model,
                                                                         tmp_path, capsys):
    out = tmp_path / "run"
    summary = train(TrainConfig(input=[str(code_pairs)], output=str(out), model=str(tiny_model),
                                batch_size=16, steps=12, eval_every=3, lr=2e-3, max_length=64,
                                token_budget=256, checkpoint_every=100, progress=False))
    selection = summary["selection"]
    assert [h["step"] for h in json.loads((out / "selection.json").read_text())["history"]] == [
        0, 3, 6, 9, 12]
    assert selection["improved"] and selection["best"]["score"] > selection["base"]["score"]
    best = selection["best"]["step"]
    info = json.loads((out / "model" / "pairmill_model.json").read_text())
    assert info["step"] == best and info["selection"]["best"]["step"] == best
    assert _same_weights(out / "model", out / "checkpoints" / "best")
    assert json.loads((out / "checkpoints" / "last" / "pairmill_model.json").read_text())["step"] == 12
    assert _same_weights(out / "model", out / "checkpoints" / "last") == (best == 12)
    logged = {r["step"]: r for r in map(json.loads, (out / "metrics.jsonl").open())}
    assert [s for s, r in logged.items() if "dev_ndcg@10" in r] == [3, 6, 9, 12]
    assert sorted(p.name for p in (out / "checkpoints").glob("step-*"))[-1] == "step-00000012"
    config = json.loads((out / "train_config.json").read_text())
    assert config["dev"]["kind"] == "held-out pairs"

    assert main(["publish", str(out), "--repo-id", "o/m", "--repo-type", "model", "--dry-run",
                 str(tmp_path / "card")]) == 0
    card = (tmp_path / "card" / "README.md").read_text()
    assert "## Model selection" in card and "| best |" in card and "| last |" in card
    assert "No checkpoint beat" not in card


def test_a_benchmark_dev_split_is_the_dev_set_and_no_pair_is_held_out(code_pairs, tiny_model,
                                                                       tmp_path):
    from pairmill.trainer.evaluate import read_pairs

    (task, (queries, documents)), = read_pairs(str(code_pairs), 40, 1).items()
    beir = _beir_folder(tmp_path / "bench", list(zip(queries, documents, strict=True)), "dev")
    out = tmp_path / "run"
    summary = train(TrainConfig(input=[str(code_pairs)], output=str(out), model=str(tiny_model),
                                batch_size=16, steps=2, eval_every=1, lr=2e-3, max_length=64,
                                token_budget=256, progress=False, eval_beir=[str(beir)]))
    assert summary["selection"]["dev"] == {"kind": "beir", "split": "dev",
                                           "sets": {"bench": {"queries": 40}}}
    history = json.loads((out / "selection.json").read_text())["history"]
    assert [h["step"] for h in history] == [0, 1, 2] and "bench" in history[0]["parts"]
    assert "map@100" in history[0]["parts"]["bench"]
    with pytest.raises(FileNotFoundError, match="no qrels/test.tsv"):
        train(TrainConfig(input=[str(code_pairs)], output=str(tmp_path / "x"), model=str(tiny_model),
                          batch_size=16, steps=2, eval_beir=[str(beir)], eval_split="test"))


def test_a_recipe_selects_on_the_dev_split_of_its_benchmarks(tmp_path):
    with_dev = _beir_folder(tmp_path / "with-dev", [("q", "d")], "dev")
    (with_dev / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq0\td0\t1\n")
    test_only = _beir_folder(tmp_path / "test-only", [("q", "d")], "test")
    recipe = {"output": str(tmp_path / "run"),
              "sources": {"code": {"source": "code", "input": [str(tmp_path)]}},
              "train": {"steps": 2}}

    def train_config(beir, **train_keys):
        raw = {**recipe, "eval": {"beir": beir}, "train": {**recipe["train"], **train_keys}}
        return load_recipe(raw).stage("train").config

    assert train_config([str(with_dev)]).eval_beir == [str(with_dev)]
    assert train_config([str(with_dev)]).eval_split == "dev"
    assert train_config([str(test_only)]).eval_beir == []  # a test split is never selected on
    assert train_config([str(with_dev)], **{"dev-pairs": 100}).eval_beir == []
    assert train_config([str(test_only)], **{"eval-beir": [str(with_dev)]}).eval_beir == [
        str(with_dev)]
