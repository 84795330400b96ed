"""Stage 2 (GTE §4): group batches shaped as configured, the stage-2 preset, the Matryoshka loss
equal to its formula with GradCache on and off, offline TensorBoard logs, and the recipe's
`negatives` and `finetune` stages."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from pairmill.cli import main
from pairmill.dataset.read import task_row_groups
from pairmill.recipe import load_recipe
from pairmill.trainer.configs import TrainConfig
from pairmill.trainer.data import stream_batches
from pairmill.trainer.gradcache import GradCacheStep
from pairmill.trainer.losses import MatryoshkaLoss, make_loss, reference_loss
from pairmill.trainer.model import load_tokenizer, make_encode, pad_chunk
from pairmill.trainer.plan import MixturePlan
from pairmill.trainer.train import apply_preset

from .conftest import write_pairs_dataset
from .test_trainer_losses import DOCUMENTS, NEGATIVES, QUERIES, _tiny, unit


def test_group_batches_are_shaped_as_configured(tmp_path):
    data = write_pairs_dataset(tmp_path / "ds", {"code_docstring_code": 40}, negatives=20)
    plan = MixturePlan(task_row_groups([str(data)]), alpha=0.5, batch_size=8, seed=0)
    for group in (1, 4, 16):
        for batch in stream_batches(plan, lambda texts, kind: [[len(t)] for t in texts], 0, 3,
                                    negatives=group - 1):
            assert len(batch.queries) == len(batch.documents) == 8
            assert len(batch.negatives) == 8 * (group - 1)


def test_stage2_preset_fills_what_was_not_given():
    config = apply_preset(TrainConfig(input=["d"], output="o", preset="stage2", lr=1e-4))
    assert (config.batch_size, config.group_size, config.max_length) == (128, 16, 512)
    assert config.lr == 1e-4  # given: kept
    plain = apply_preset(TrainConfig(input=["d"], output="o"))
    assert (plain.batch_size, plain.group_size) == (None, 2)  # None: sized to the device


@pytest.mark.parametrize("kind", ["gte", "cpt"])
def test_matryoshka_loss_equals_its_formula(kind):
    q = unit(9, seed=1).requires_grad_(True)
    d = unit(14, seed=2).requires_grad_(True)  # positives and five hard negatives
    loss = MatryoshkaLoss(make_loss(kind, 0.07), (16, 8, 4))
    value = loss.backward_loss(q, d, chunk_rows=4)
    q2, d2 = q.detach().clone().requires_grad_(True), d.detach().clone().requires_grad_(True)
    expected = sum(reference_loss(kind, F.normalize(q2[:, :k], dim=-1),
                                  F.normalize(d2[:, :k], dim=-1), 0.07) for k in (16, 8, 4))
    expected.backward()
    assert value == pytest.approx(float(expected.detach()), rel=1e-5)
    assert torch.allclose(q.grad, q2.grad, atol=1e-5) and torch.allclose(d.grad, d2.grad, atol=1e-5)
    assert loss.card()["matryoshka_dims"] == [16, 8, 4]


def test_matryoshka_gradients_are_the_same_with_gradcache_on_and_off(tiny_model):
    encoder = _tiny(tiny_model, dropout=False)
    tokenizer = load_tokenizer(str(tiny_model))
    encode = make_encode(tokenizer, 48, "mean")
    q_ids, d_ids = encode(QUERIES, "query"), encode(DOCUMENTS + NEGATIVES, "document")
    dims = (32, 16, 8)
    loss = MatryoshkaLoss(make_loss("gte", 0.05), dims)
    encoder.zero_grad()
    qi, qm = pad_chunk(q_ids, tokenizer.pad_token_id, "cpu")
    di, dm = pad_chunk(d_ids, tokenizer.pad_token_id, "cpu")
    loss.reference_of(encoder(qi, qm), encoder(di, dm), 0.05).backward()
    expected = {n: p.grad.clone() for n, p in encoder.named_parameters() if p.grad is not None}
    for budget in (40, 10_000):
        encoder.zero_grad()
        step = GradCacheStep(encoder, loss, tokenizer.pad_token_id, "cpu", token_budget=budget,
                             chunk_rows=3)
        step(q_ids, d_ids[:len(QUERIES)], d_ids[len(QUERIES):])
        for name, grad in expected.items():
            got = dict(encoder.named_parameters())[name].grad
            assert torch.allclose(got, grad, atol=2e-5, rtol=1e-3), (budget, name)


def test_training_with_groups_matryoshka_and_tensorboard_logs(tmp_path, tiny_model):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    data = write_pairs_dataset(tmp_path / "ds", {"code_docstring_code": 40}, negatives=3)
    out = tmp_path / "run"
    assert main(["train", "--input", str(data), "--output", str(out), "--model", str(tiny_model),
                 "--steps", "3", "--batch-size", "8", "--group-size", "4", "--max-length", "32",
                 "--matryoshka-dims", "32,16", "--report-to", "tensorboard", "--device", "cpu",
                 "--no-progress"]) == 0
    settings = json.loads((out / "train_config.json").read_text())
    assert settings["group_size"] == 4 and settings["matryoshka_dims"] == [32, 16]
    card = json.loads((out / "model" / "pairmill_model.json").read_text())
    assert card["matryoshka_dims"] == [32, 16]
    events = EventAccumulator(str(out / "runs"))
    events.Reload()
    losses = [e.value for e in events.Scalars("train/loss")]
    logged = [json.loads(line)["loss"] for line in (out / "metrics.jsonl").open()]
    assert losses == pytest.approx(logged, rel=1e-5) and len(losses) == 3
    with pytest.raises(ValueError, match="32 dimensions"):
        from pairmill.trainer.train import train

        train(TrainConfig(input=[str(data)], output=str(tmp_path / "r2"), model=str(tiny_model),
                          steps=1, batch_size=8, matryoshka_dims=(64,), device="cpu"))


def test_a_recipe_mines_negatives_with_the_stage1_model_then_finetunes_from_it(tmp_path):
    recipe = {
        "output": str(tmp_path / "run"),
        "sources": {"code": {"source": "code", "input": [str(tmp_path / "src")]}},
        "train": {"steps": 2, "device": "cpu"},
        "negatives": {"per-query": 3, "device": "cpu"},
        "finetune": {"steps": 1, "device": "cpu"},
    }
    loaded = load_recipe(recipe, recipe["output"])
    names = [s.name for s in loaded.stages]
    assert names[:4] == ["mine-code", "train", "negatives", "finetune"]
    stage1_model = str(tmp_path / "run" / "train" / "model")
    negatives, finetune = loaded.stage("negatives"), loaded.stage("finetune")
    assert negatives.config.model == stage1_model and "train" in negatives.inputs
    assert negatives.config.input == loaded.stage("train").config.input
    assert finetune.config.model == stage1_model and finetune.config.preset == "stage2"
    assert finetune.config.input == [negatives.output]
    assert finetune.argv[:1] == ["train"] and "--preset" in finetune.argv
    sources = dict(recipe["sources"], held={"source": "code", "input": [str(tmp_path / "h")]})
    evaluated = load_recipe(dict(recipe, sources=sources, eval={"data": ["held"]}),
                            recipe["output"])
    after = evaluated.stage("eval-after")
    assert after.config.model == str(tmp_path / "run" / "finetune" / "model")
    assert "finetune" in after.inputs
    with pytest.raises(ValueError, match="finetune: needs a train section"):
        load_recipe({k: v for k, v in recipe.items() if k != "train"}, recipe["output"])
