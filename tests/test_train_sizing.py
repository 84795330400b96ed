"""`pairmill train` without size flags: batch from the device, steps from --time-budget, the
temperature from the batch, an estimate before the first step (tiny model, CPU)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from pairmill.cli import main
from pairmill.trainer import train as train_module
from pairmill.trainer.configs import TrainConfig, duration
from pairmill.trainer.sizing import (
    CPU_BATCH,
    MIN_STEPS,
    default_temperature,
    device_batch_size,
    fit_batch,
    size_steps,
    steps_for_budget,
)
from pairmill.trainer.train import train

from .conftest import write_pairs_dataset


def test_durations():
    assert duration("90") == 90 and duration("90s") == 90
    assert duration("45m") == 2700 and duration("1.5h") == 5400 and duration("1H") == 3600
    for bad in ("soon", "0", "-1h", ""):
        with pytest.raises(ValueError):
            duration(bad)


def test_the_temperature_follows_the_batch_size():
    assert default_temperature("gte", 16) == default_temperature("gte", 64) == 0.05
    assert default_temperature("gte", 1024) == default_temperature("gte", 16384) == 0.01
    middle = default_temperature("gte", 256)
    assert 0.01 < middle < 0.05 and middle == pytest.approx(math.sqrt(0.05 * 0.01), abs=1e-4)
    assert default_temperature("cpt", 32) is None  # cpt learns its own from 0.05


def test_batch_from_the_device_and_the_data():
    assert device_batch_size(torch.device("cpu")) == CPU_BATCH
    assert fit_batch(32, {"a": 1000, "b": 5000}) == 32
    assert fit_batch(32, {"a": 1000, "b": 20}) == 16  # a batch never mixes tasks
    assert fit_batch(1024, {"a": 700}, world=4) == 512
    assert fit_batch(6, {"a": 700}, world=4) == 4


@pytest.mark.parametrize("eval_s, every", [(None, None), (2.0, None), (2.0, 5), (30.0, None)])
def test_steps_fit_the_budget(eval_s, every):
    budget, spent, step_s = 600.0, 40.0, 1.5
    steps, eval_every = steps_for_budget(budget, spent, step_s, eval_s, every)
    evals = math.ceil(steps / eval_every) if eval_s else 0
    total = spent + steps * step_s + evals * (eval_s or 0)
    assert total <= budget
    assert total > 0.75 * budget  # and use most of it
    if every:
        assert eval_every == every
    if eval_s:
        assert evals * eval_s <= 0.25 * budget  # evaluations never crowd out training


def test_a_small_budget_lowers_an_automatic_batch_for_more_steps():
    batch, steps, _, step_s = size_steps(32, True, 100.0, 10.0, 4.0, None, None)
    assert batch < 32 and steps >= MIN_STEPS and step_s == pytest.approx(4.0 * batch / 32)
    assert size_steps(32, False, 100.0, 10.0, 4.0, None, None)[:2] == (32, 20)  # a given batch stays


@pytest.fixture
def pairs(tmp_path):
    return write_pairs_dataset(tmp_path / "pairs", {"web_title_body": 240, "reddit_title_body": 150},
                               row_group_size=40, rows_per_file=80)


def test_no_size_flags_sizes_the_run_prints_an_estimate_and_finishes(pairs, tiny_model, tmp_path,
                                                                      capsys, monkeypatch):
    monkeypatch.setattr(train_module, "OVERRUN", float("inf"))  # the estimate stands, whatever the load
    out = tmp_path / "run"
    assert main(["train", "--input", str(pairs), "--output", str(out), "--model", str(tiny_model),
                 "--time-budget", "12s", "--max-length", "16", "--lr", "1e-3", "--no-progress"]) == 0
    err = capsys.readouterr().err
    saved = json.loads((out / "train_config.json").read_text())
    sizing = saved["sizing"]
    assert saved["requested"]["batch_size"] is None and saved["requested"]["steps"] is None
    assert saved["batch_size"] == sizing["batch_size"] in (8, 16, 32)  # halved for a short budget
    assert saved["steps"] == sizing["steps"] >= 1
    assert saved["temperature"] == default_temperature("gte", saved["batch_size"])
    assert sizing["step_s"] > 0 and sizing["eval_s"] > 0 and sizing["budget_s"] == 12
    assert f"batch {saved['batch_size']}, {saved['steps']} steps" in err
    assert "s/step measured" in err and "ETA" in err
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").open()]
    assert steps == list(range(1, saved["steps"] + 1))
    assert (out / "model" / "model.safetensors").is_file()

    # the warm-up batches leave no trace: explicit sizes equal to the chosen ones give the same model
    again = TrainConfig(input=[str(pairs)], output=str(tmp_path / "explicit"), model=str(tiny_model),
                        batch_size=saved["batch_size"], steps=saved["steps"],
                        eval_every=saved["eval_every"], max_length=16, lr=1e-3, progress=False)
    train(again)
    for folder in ("model", "checkpoints/last"):
        a = load_file(out / folder / "model.safetensors")
        b = load_file(tmp_path / "explicit" / folder / "model.safetensors")
        assert all(torch.equal(a[k], b[k]) for k in a), folder

    # a rerun resumes with the sizing it made, never a new measurement
    capsys.readouterr()
    assert main(["train", "--input", str(pairs), "--output", str(out), "--model", str(tiny_model),
                 "--time-budget", "12s", "--max-length", "16", "--lr", "1e-3", "--no-progress"]) == 0
    assert "sized to" not in capsys.readouterr().err
    assert json.loads((out / "train_config.json").read_text())["sizing"] == sizing


def test_a_run_slower_than_its_estimate_is_shortened_to_its_budget(pairs, tiny_model, tmp_path,
                                                                   monkeypatch, capsys):
    monkeypatch.setattr(train_module, "_calibrate", lambda run: 0.0005)  # a far too hopeful estimate
    out = tmp_path / "run"
    summary = train(TrainConfig(input=[str(pairs)], output=str(out), model=str(tiny_model),
                                time_budget=20, max_length=16, progress=False, dev_pairs=0))
    saved = json.loads((out / "train_config.json").read_text())
    planned = int(float(capsys.readouterr().err.split(" steps")[0].rsplit(" ", 1)[-1]))
    assert summary["finished"] and summary["steps"] == saved["steps"] < planned
    assert any("shortened from" in note for note in saved["sizing"]["notes"])
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").open()]
    assert steps == list(range(1, saved["steps"] + 1))
    assert (out / "model" / "model.safetensors").is_file()
