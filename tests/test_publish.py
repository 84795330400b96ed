"""`pairmill publish`: the dry-run folder loads with `datasets`, one config per task, the card
states what the dataset holds, the upload goes through huggingface_hub, the token leaks nowhere."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from pairmill.cli import main

from .conftest import write_pairs_dataset

SECRET = "hf_pairmillTestSecretToken0123456789"


@pytest.fixture
def deduped(tmp_path):
    raw = write_pairs_dataset(tmp_path / "raw", {"web_title_body": 40, "arxiv_title_abstract": 25})
    out = tmp_path / "dedup"
    assert main(["dedup", "--input", str(raw), "--output", str(out)]) == 0
    return out


def _card(folder: Path) -> tuple[dict, str]:
    text = (folder / "README.md").read_text()
    _, header, body = text.split("---\n", 2)
    return yaml.safe_load(header), body


def test_dry_run_folder_loads_with_datasets_one_config_per_task(deduped, tmp_path, monkeypatch,
                                                                 capsys):
    from datasets import load_dataset

    monkeypatch.setenv("HF_TOKEN", SECRET)
    out = tmp_path / "repo"
    assert main(["publish", str(deduped), "--repo-id", "someorg/code-pairs", "--license",
                 "cc-by-sa-4.0", "--dry-run", str(out)]) == 0
    header, body = _card(out)
    assert header["license"] == "cc-by-sa-4.0"
    assert "sentence-similarity" in header["task_categories"]
    configs = {c["config_name"]: c for c in header["configs"]}
    assert set(configs) == {"web_title_body", "arxiv_title_abstract"}
    for task, expected_rows in (("web_title_body", 40), ("arxiv_title_abstract", 25)):
        loaded = load_dataset(str(out), task, split="train")
        source = pq.read_table(next((deduped / "data" / task).glob("*.parquet")))
        assert len(loaded) == expected_rows
        assert sorted(loaded["id"]) == sorted(source["id"].to_pylist())
        assert set(loaded["task"]) == {task}
        assert {"key": "duplicates", "value": "0"} in loaded[0]["meta"]  # map -> key/value list
    # the card states counts, lengths, dedup figures and the commands that made the data
    assert "| `web_title_body` | web | 40 |" in body  # `crawl` is now `web`
    assert "threshold 0.8" in body and "| `arxiv_title_abstract` | 25 | 25 | - |" in body
    assert "pairmill dedup --input" in body
    assert "Earlier steps:\n\n```\ntest\n```" in body  # the command that made the input
    assert json.loads((out / "manifest.json").read_text())["tasks"]["web_title_body"]["rows"] == 40
    written = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert SECRET.encode() not in written and SECRET not in "".join(capsys.readouterr())


def test_upload_goes_through_the_hub_api(deduped, monkeypatch, capsys):
    import huggingface_hub

    calls = []

    def create_repo(self, repo_id, **kwargs):
        calls.append(("create", repo_id, kwargs))

    def upload_folder(self, folder_path, repo_id, repo_type, commit_message):
        files = sorted(str(p.relative_to(folder_path)) for p in Path(folder_path).rglob("*")
                       if p.is_file())
        calls.append(("upload", repo_id, repo_type, files))
        return huggingface_hub.CommitInfo(
            commit_url=f"https://huggingface.co/datasets/{repo_id}/commit/abc", commit_message="",
            commit_description="", oid="abc")

    monkeypatch.setenv("HF_TOKEN", SECRET)
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    assert main(["publish", str(deduped), "--repo-id", "someorg/pairs", "--private"]) == 0
    (_, repo, create_args), (_, _, repo_type, files) = calls
    assert repo == "someorg/pairs" and create_args["private"] and create_args["repo_type"] == "dataset"
    assert repo_type == "dataset" and "README.md" in files and "manifest.json" in files
    assert any(f.startswith("data/web_title_body/part-") for f in files)
    out = "".join(capsys.readouterr())
    assert "commit/abc" in out and SECRET not in out


def test_refusals(deduped, tmp_path, capsys, monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import LocalTokenNotFoundError

    def no_token(self, *args, **kwargs):
        raise LocalTokenNotFoundError("Token is required")

    assert main(["publish", str(deduped), "--repo-id", "no-org", "--dry-run",
                 str(tmp_path / "a")]) == 2
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    assert main(["publish", str(deduped), "--repo-id", "o/n", "--dry-run", str(busy)]) == 2
    part = next(deduped.glob("data/*/*.parquet"))
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", no_token)
    assert main(["publish", str(deduped), "--repo-id", "o/n"]) == 2
    assert "HF_TOKEN" in capsys.readouterr().err
    part.write_bytes(part.read_bytes()[:-20])
    assert main(["publish", str(deduped), "--repo-id", "o/n", "--dry-run",
                 str(tmp_path / "b")]) == 2
    assert "does not match its manifest" in capsys.readouterr().err
    assert main(["publish", str(tmp_path), "--repo-id", "o/n", "--repo-type", "model",
                 "--dry-run", str(tmp_path / "c")]) == 2


def test_model_card_and_folder(tiny_model, tmp_path):
    from sentence_transformers import SentenceTransformer

    from pairmill.trainer.model import Encoder, load_tokenizer

    run = tmp_path / "run"
    Encoder.from_pretrained(str(tiny_model)).save(run / "model", load_tokenizer(str(tiny_model)),
                                                  64, extra={"loss": "cpt", "steps": 2})
    (run / "eval.json").write_text(json.dumps({"mrr@10": 0.42}))
    out = tmp_path / "repo"
    assert main(["publish", str(run), "--repo-id", "o/minilm-pairs", "--repo-type", "model",
                 "--dry-run", str(out)]) == 0
    header, body = _card(out)
    assert header["library_name"] == "sentence-transformers"
    assert header["pipeline_tag"] == "sentence-similarity"
    assert '"loss": "cpt"' in body and '"mrr@10": 0.42' in body
    assert SentenceTransformer(str(out), device="cpu").encode(["a b"]).shape == (1, 32)
