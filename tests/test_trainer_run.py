"""`pairmill train` and `pairmill eval` end to end on code pairs mined by pairmill (tiny model, CPU)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from pairmill.cli import main
from pairmill.trainer.evaluate import evaluate, ranks_of_positives, retrieval_metrics
from pairmill.trainer.model import Encoder, load_tokenizer
from pairmill.trainer.train import TrainConfig, train

STDLIB = Path(sysconfig.get_paths()["stdlib"])


@pytest.fixture(scope="module")
def code_pairs(tmp_path_factory) -> tuple[Path, Path]:
    """Train and held-out datasets mined from different parts of Python's standard library."""
    root = tmp_path_factory.mktemp("mined")
    train_dir, eval_dir = root / "train", root / "heldout"
    assert main(["mine", "code", "--input", *(str(STDLIB / p) for p in ("email", "http", "importlib")),
                 "--programming-languages", "python", "--output", str(train_dir)]) == 0
    assert main(["mine", "code", "--input", *(str(STDLIB / p) for p in ("json", "logging", "xml")),
                 "--programming-languages", "python", "--output", str(eval_dir)]) == 0
    return train_dir, eval_dir


def _config(data: Path, output: Path, model: Path, **overrides) -> TrainConfig:
    settings = dict(input=[str(data)], output=str(output), model=str(model), batch_size=16, steps=8,
                    lr=2e-3, max_length=64, token_budget=256, checkpoint_every=2, eval_every=4,
                    progress=False)
    settings.update(overrides)
    return TrainConfig(**settings)


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "model" / "model.safetensors")


def test_training_lowers_the_loss_and_raises_heldout_mrr(code_pairs, tiny_model, tmp_path):
    train_dir, heldout = code_pairs
    before = evaluate(str(tiny_model), [str(heldout)], max_length=64)["mean"]["mrr@10"]
    summary = train(_config(train_dir, tmp_path / "run", tiny_model, steps=150, checkpoint_every=1000,
                            eval_every=75))
    assert summary["finished"]
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert len(losses) == 150
    assert np.mean(losses[-20:]) < np.mean(losses[:20]) - 0.5
    after = evaluate(summary["model"], [str(heldout)], max_length=64)["mean"]["mrr@10"]
    assert after > 1.3 * before, (before, after)


def test_stopping_and_resuming_reproduces_the_uninterrupted_run(code_pairs, tiny_model, tmp_path):
    train_dir, _ = code_pairs
    whole = train(_config(train_dir, tmp_path / "whole", tiny_model))
    first = train(_config(train_dir, tmp_path / "parts", tiny_model, stop_after=3))
    assert not first["finished"] and first["steps_done"] == 3
    assert not (tmp_path / "parts" / "model").exists()
    rest = train(_config(train_dir, tmp_path / "parts", tiny_model))
    assert rest["finished"] and rest["last_loss"] == pytest.approx(whole["last_loss"], rel=1e-6)
    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "parts")
    assert all(torch.equal(a[k], b[k]) for k in a)
    steps = [json.loads(line)["step"] for line in (tmp_path / "parts" / "metrics.jsonl").open()]
    assert steps == list(range(1, 9))  # the step after the checkpoint is not logged twice
    kept = sorted(p.name for p in (tmp_path / "parts" / "checkpoints").glob("step-*"))
    assert kept == ["step-00000006", "step-00000008"]

    def scores(run: Path) -> list:  # dev evaluations at steps 0, 4, 8, the same across the stop
        return [(h["step"], h["score"]) for h in
                json.loads((run / "selection.json").read_text())["history"]]

    assert scores(tmp_path / "parts") == scores(tmp_path / "whole")
    assert [step for step, _ in scores(tmp_path / "whole")] == [0, 4, 8]


def test_a_killed_run_resumes_to_the_same_model(code_pairs, tiny_model, tmp_path):
    train_dir, _ = code_pairs
    args = ["train", "--data", str(train_dir), "--model", str(tiny_model), "--batch-size", "16",
            "--steps", "40", "--lr", "2e-3", "--max-length", "64", "--token-budget", "256",
            "--checkpoint-every", "1", "--eval-every", "20", "--no-progress"]
    assert main([*args, "--output", str(tmp_path / "whole")]) == 0
    run = tmp_path / "killed"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "pairmill", *args, "--output", str(run)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pointer = run / "checkpoints" / "latest"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if pointer.is_file() and pointer.read_text().strip() >= "step-00000005":
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "model").exists()
    done = subprocess.run([sys.executable, "-m", "pairmill", *args, "--output", str(run)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "resuming" in done.stderr
    a, b = _weights(tmp_path / "whole"), _weights(run)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_other_settings_and_foreign_folders(code_pairs, tiny_model, tmp_path, capsys):
    train_dir, _ = code_pairs
    train(_config(train_dir, tmp_path / "run", tiny_model, stop_after=2))
    with pytest.raises(ValueError, match="other settings \\(lr\\)"):
        train(_config(train_dir, tmp_path / "run", tiny_model, lr=1e-3))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert main(["train", "--data", str(train_dir), "--output", str(tmp_path / "other"), "--steps", "2",
                 "--model", str(tiny_model)]) == 2
    assert "not a pairmill training folder" in capsys.readouterr().err
    assert (tmp_path / "other" / "notes.txt").exists()
    assert main(["train", "--data", str(tmp_path / "nothing"), "--output", str(tmp_path / "x")]) == 2
    assert "not a pairmill dataset" in capsys.readouterr().err


def test_the_exported_model_loads_in_transformers_and_sentence_transformers(code_pairs, tiny_model,
                                                                             tmp_path):
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel

    train_dir, _ = code_pairs
    summary = train(_config(train_dir, tmp_path / "run", tiny_model, steps=2, loss="cpt"))
    model_dir = summary["model"]
    texts = ["parse a JSON document", "def loads(s):\n    return decode(s)"]
    ours = Encoder.from_pretrained(model_dir).eval()
    tokenizer = load_tokenizer(model_dir)
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = ours(batch["input_ids"], batch["attention_mask"]).numpy()
    st = SentenceTransformer(model_dir, device="cpu").encode(texts)
    assert np.allclose(st, expected, atol=1e-5)
    assert type(AutoModel.from_pretrained(model_dir)).__name__ == "BertModel"
    saved = json.loads(Path(model_dir, "pairmill_model.json").read_text())
    assert saved["loss"] == "cpt" and saved["pooling"] == "mean"
    # trained at 64 tokens for speed, it embeds at its base's 128 (the position embeddings):
    # a shorter training length must not truncate every later use of the model
    assert saved["train_max_length"] == 64
    assert SentenceTransformer(model_dir, device="cpu").max_seq_length == 128


def test_retrieval_metrics_from_ranks():
    scores = torch.tensor([[0.9, 0.1, 0.5], [0.8, 0.2, 0.9], [0.1, 0.3, 0.2]])
    ranks = ranks_of_positives(scores, torch.tensor([0, 1, 2]))
    assert ranks.tolist() == [1, 3, 2]
    metrics = retrieval_metrics(np.array([1, 3, 2, 11, 150]))
    assert metrics["recall@1"] == pytest.approx(1 / 5)
    assert metrics["recall@10"] == pytest.approx(3 / 5)
    assert metrics["recall@100"] == pytest.approx(4 / 5)
    assert metrics["mrr@10"] == pytest.approx((1 + 1 / 3 + 1 / 2) / 5)
    assert metrics["ndcg@10"] == pytest.approx((1 + 1 / np.log2(4) + 1 / np.log2(3)) / 5)


def test_eval_cli_with_candidates_and_json(code_pairs, tiny_model, capsys):
    _, heldout = code_pairs
    assert main(["eval", "--model", str(tiny_model), "--data", str(heldout), "--candidates", "20",
                 "--max-length", "64", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    row = report["tasks"]["code_docstring_code"]
    assert row["candidates"] == 20 and row["pairs"] > 100
    assert row["recall@10"] >= row["recall@1"] and row["recall@100"] == 1.0  # 20 candidates < 100
    assert main(["eval", "--model", str(tiny_model), "--data", str(heldout), "--max-length", "64"]) == 0
    table = capsys.readouterr().out
    assert "code_docstring_code" in table and "mrr@10" in table
    assert main(["eval", "--model", str(tiny_model), "--data", str(heldout), "--candidates", "100000"]) == 2
    assert "fewer than --candidates" in capsys.readouterr().err
