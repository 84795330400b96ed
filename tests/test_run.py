"""`pairmill run RECIPE.yaml`: every stage from raw source trees to the report, skipping complete
stages, rerunning what changed and what depends on it, resuming a stopped training run."""

from __future__ import annotations

import json
import random
import shutil
import sysconfig
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from pairmill.cli import main
from pairmill.recipe import RecipeError, load_recipe
from pairmill.schemas import validate_dataset

STDLIB = Path(sysconfig.get_paths()["stdlib"])
STAGES = ["mine-code", "mine-heldout", "dedup", "train", "eval-before", "eval-after",
          "publish-dataset", "publish-model", "report"]


def _recipe(tmp_path: Path, model: Path, **train) -> dict:
    heldout = tmp_path / "heldout-src"
    if not heldout.exists():  # held-out code plus one file the training set also holds
        shutil.copytree(STDLIB / "json", heldout / "json")
        shutil.copy(STDLIB / "email" / "quoprimime.py", heldout / "quoprimime.py")
    return {
        "output": str(tmp_path / "run"),
        "sources": {
            "code": {"source": "code", "input": [str(STDLIB / p) for p in ("email", "http")],
                     "programming_languages": "python"},
            "heldout": {"source": "code", "input": [str(heldout)], "programming_languages": "python"},
        },
        "dedup": {"decontaminate": ["heldout"], "threshold": 0.8},
        "train": {"model": str(model), "steps": 4, "batch-size": 8, "max-length": 32, "lr": 1e-3,
                  "checkpoint-every": 2, "device": "cpu", "no-progress": True, **train},
        "eval": {"data": ["heldout"], "max-pairs": 15, "max-length": 32, "device": "cpu"},
        "publish": {"dataset": {"repo-id": "org/pairs", "license": "mit"},
                    "model": {"repo-id": "org/model"}, "dry-run": True},
        "report": True,
    }


def _write(tmp_path: Path, recipe: dict) -> str:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return str(path)


def _plan(capsys, recipe_file: str) -> dict[str, str]:
    capsys.readouterr()
    assert main(["run", recipe_file, "--plan"]) == 0
    lines = [line.split() for line in capsys.readouterr().err.splitlines()[1:]]
    return {words[1]: words[2] for words in lines if len(words) > 2 and words[0].endswith(".")}


def test_a_recipe_runs_every_stage_then_skips_what_is_complete(tmp_path, tiny_model, capsys):
    recipe_file = _write(tmp_path, _recipe(tmp_path, tiny_model))
    run = tmp_path / "run"
    assert main(["run", recipe_file]) == 0
    out = capsys.readouterr()
    assert "before -> after training" in out.out and "mrr@10" in out.out
    for name in ("mined/code", "mined/heldout", "pairs"):
        assert validate_dataset(run / name) == []
    dedup = json.loads((run / "pairs" / "manifest.json").read_text())
    removed = dedup["dedup"]["tasks"]["code_docstring_code"]["removed"]
    assert removed.get("decontaminated:heldout", 0) > 0  # the shared file's functions
    assert ["pairmill", "mine", "code"] == dedup["history"][0][:3]
    assert (run / "train" / "model" / "model.safetensors").is_file()
    before = json.loads((run / "eval" / "before.json").read_text())
    after = json.loads((run / "eval" / "after.json").read_text())
    assert before["model"] == str(tiny_model) and after["model"].endswith("train/model")
    assert set(after["tasks"]) == {"code_docstring_code"} and after["tasks"]["code_docstring_code"][
        "pairs"] == 15
    card = (run / "publish" / "dataset" / "README.md").read_text()
    assert "license: mit" in card and "config_name: code_docstring_code" in card
    model_card = (run / "publish" / "model" / "README.md").read_text()
    assert "## Evaluation" in model_card and f'{after["mean"]["mrr@10"]}' in model_card
    # cards name the base model and carry no path of this machine
    assert f"base_model: {tiny_model.name}" in model_card
    assert str(tmp_path) not in model_card and str(tmp_path) not in card
    page = (run / "report" / "index.html").read_text()
    assert page.count("data:image/png;base64,") == len(list((run / "report").glob("*.png"))) >= 6
    state = json.loads((run / "run.json").read_text())["stages"]
    assert list(state) == STAGES and all(s["done"] for s in state.values())

    # a second run changes nothing: every stage is complete, made by the same command
    model_file = run / "train" / "model" / "model.safetensors"
    stamp = model_file.stat().st_mtime_ns
    assert _plan(capsys, recipe_file) == dict.fromkeys(STAGES, "skip")
    assert main(["run", recipe_file]) == 0
    assert model_file.stat().st_mtime_ns == stamp

    # another setting reruns that stage and what depends on it, nothing else
    changed = _write(tmp_path, _recipe(tmp_path, tiny_model, steps=6))
    assert _plan(capsys, changed) == {
        "mine-code": "skip", "mine-heldout": "skip", "dedup": "skip", "train": "run",
        "eval-before": "skip", "eval-after": "run", "publish-dataset": "skip",
        "publish-model": "run", "report": "run"}

    # a damaged output is not complete: the stage and everything downstream run again
    part = next((run / "pairs" / "data").rglob("*.parquet"))
    part.write_bytes(part.read_bytes()[:-100])
    plan = _plan(capsys, recipe_file)
    assert plan["mine-code"] == "skip" and plan["dedup"] == "run" and plan["train"] == "run"
    assert plan["eval-before"] == "skip"
    assert _plan(capsys, recipe_file) == plan  # planning reads, never writes
    capsys.readouterr()
    assert main(["run", recipe_file, "--redo", "mine-heldout", "--plan"]) == 0
    assert "mine-heldout     run" in capsys.readouterr().err


def test_a_stopped_training_stage_resumes_from_its_checkpoint(tmp_path, tiny_model, capsys):
    recipe = _recipe(tmp_path, tiny_model, **{"stop-after": 2})
    del recipe["publish"], recipe["dedup"]
    recipe["report"] = False
    recipe_file = _write(tmp_path, recipe)
    assert main(["run", recipe_file]) == 1  # training stops after 2 of 4 steps
    assert "train stopped before its output was complete" in capsys.readouterr().err
    state = json.loads((tmp_path / "run" / "run.json").read_text())["stages"]
    assert state["mine-code"]["done"] and not state["train"]["done"]
    assert _plan(capsys, recipe_file) == {"mine-code": "skip", "mine-heldout": "skip",
                                          "train": "resume", "eval-before": "run",
                                          "eval-after": "run"}
    assert main(["run", recipe_file]) == 0
    assert "resuming" in capsys.readouterr().err
    steps = [json.loads(line)["step"]
             for line in (tmp_path / "run" / "train" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    # the held-out source is not trained on: train reads only the other source's dataset
    config = json.loads((tmp_path / "run" / "train" / "train_config.json").read_text())
    assert config["input"] == [str(tmp_path / "run" / "mined" / "code")]  # `data` is now `input`
    rows = pq.read_table(next((tmp_path / "run" / "mined" / "code").rglob("*.parquet")))
    assert rows.num_rows >= 8


@pytest.mark.parametrize("change, message", [
    ({"colour": 1}, "unknown section(s) colour"),
    ({"train": {"batchsize": 8}}, "unknown key `batchsize` for `pairmill train`"),
    ({"train": {"output": "x"}}, "`output` is set by the run"),
    ({"train": {"steps": "many"}}, "'many' is not a whole number"),
    ({"sources": {"a": {"source": "ftp", "input": ["x"]}}}, "unknown source 'ftp'"),
    ({"sources": {"a": {"input": ["x"]}}}, "needs `source:`"),
    ({"sources": {"a": {"source": "crawl", "discover": "stdlib"}}}, "`discover` is for code"),
    ({"sources": {}}, "must name at least one source"),
    ({"publish": {"model": {"repo-id": "o/m"}}, "train": None}, "needs a `train` section"),
    ({"eval": {"data": ["code"]}, "dedup": None}, "nothing is left to train on"),
])
def test_recipe_mistakes_are_refused_before_anything_runs(tmp_path, change, message):
    recipe = {"output": str(tmp_path / "run"),
              "sources": {"code": {"source": "code", "input": [str(tmp_path)]}},
              "dedup": {}, "train": {"steps": 2}}
    recipe.update(change)
    recipe = {k: v for k, v in recipe.items() if v is not None}
    with pytest.raises(RecipeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_recipe(recipe)
    assert not (tmp_path / "run").exists()


def test_bad_recipe_files_give_one_line_and_exit_2(tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text("sources: [unclosed\n")
    assert main(["run", str(broken)]) == 2
    assert "not valid YAML" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert "no such recipe file" in capsys.readouterr().err
    good = _write(tmp_path, {"output": str(tmp_path / "run"),
                             "sources": {"code": {"source": "code", "input": [str(tmp_path)]}}})
    assert main(["run", good, "--redo", "train"]) == 2
    assert "--redo: no stage train" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_the_bundled_demo_recipe_finds_its_inputs_on_this_machine(tmp_path):
    from importlib import resources

    from pairmill.run import read_recipe_file

    raw = read_recipe_file(str(resources.files("pairmill") / "recipes" / "demo.yaml"))
    raw["sources"]["code"]["budget-mb"] = 1
    recipe = load_recipe(raw, str(tmp_path / "demo"))
    assert [s.name for s in recipe.stages] == ["mine-code", "mine-heldout", "dedup", "train",
                                               "eval-before", "eval-after", "report"]
    mine = recipe.stage("mine-code").argv
    inputs = mine[mine.index("--input") + 1:mine.index("--output")]
    assert inputs and all(Path(p).exists() for p in inputs)
    assert recipe.stage("mine-heldout").argv[recipe.stage("mine-heldout").argv.index("--input") + 1
                                             ] == str(STDLIB)
    dedup = recipe.stage("dedup").argv
    assert dedup[dedup.index("--decontaminate") + 1] == str(tmp_path / "demo" / "mined" / "heldout")
    assert "--device" in recipe.stage("train").argv  # the demo never needs a GPU


def test_an_uploaded_stage_is_not_uploaded_again(tmp_path, source_tree, monkeypatch, capsys):
    """Publishing without dry-run goes through huggingface_hub once; a rerun of a complete
    recipe must not push a second commit. The datasets live at a URI (as on a bucket)."""
    import pairmill.publish

    uploads = []

    def fake_upload(folder, repo_id, repo_type, private):
        uploads.append((repo_id, repo_type, private, sorted(p.name for p in folder.iterdir())))
        return f"https://huggingface.co/datasets/{repo_id}/commit/1"

    monkeypatch.setattr(pairmill.publish, "upload_folder", fake_upload)
    recipe_file = _write(tmp_path, {
        "output": str(tmp_path / "run"),
        "datasets": f"file://{tmp_path}/data",
        "sources": {"code": {"source": "code", "input": [str(source_tree)]}},
        "dedup": {},
        "publish": {"dataset": {"repo-id": "org/pairs", "private": True}},
        "report": True})
    assert main(["run", recipe_file]) == 0
    assert uploads == [("org/pairs", "dataset", True, ["README.md", "data", "manifest.json"])]
    assert validate_dataset(tmp_path / "data" / "pairs") == []
    assert not (tmp_path / "run" / "pairs").exists() and not (tmp_path / "file:").exists()
    page = (tmp_path / "run" / "report" / "index.html").read_text()
    assert "Mined datasets" in page and "<td>code</td>" in page and "code_docstring_code" in page
    assert _plan(capsys, recipe_file)["publish-dataset"] == "skip"
    assert main(["run", recipe_file]) == 0
    assert len(uploads) == 1
    assert main(["run", recipe_file, "--redo", "publish-dataset"]) == 0
    assert len(uploads) == 2


REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"


@pytest.mark.skipif(not (REALDATA / "stackexchange" / "Posts.xml").is_file(),
                    reason="../shared/realdata is absent")
def test_a_recipe_on_real_dumps(tmp_path, tiny_model):
    """StackExchange and Reddit to train on, arXiv held out: the report shows every source's
    tasks and drops, and the arXiv pairs never reach the training set."""
    recipe_file = _write(tmp_path, {
        "output": str(tmp_path / "run"),
        "sources": {
            "se": {"source": "stackexchange", "input": [str(REALDATA / "stackexchange/Posts.xml")]},
            "reddit": {"source": "reddit",
                       "submissions": [str(REALDATA / "reddit/AskWomen_submissions.zst")]},
            "arxiv": {"source": "arxiv", "input": [
                str(REALDATA / "arxiv/arxiv-metadata-oai-snapshot.sample.jsonl")]},
        },
        "dedup": {"decontaminate": ["arxiv"]},
        "train": {"model": str(tiny_model), "steps": 3, "batch-size": 8, "max-length": 32,
                  "device": "cpu", "no-progress": True},
        "eval": {"data": ["arxiv"], "max-pairs": 50, "max-length": 32, "device": "cpu"},
    })
    assert main(["run", recipe_file]) == 0
    run = tmp_path / "run"
    tasks = json.loads((run / "pairs" / "manifest.json").read_text())["tasks"]
    assert set(tasks) == {"stackexchange_title_body", "stackexchange_question_answer",
                          "reddit_title_body"}
    page = (run / "report" / "index.html").read_text()
    for text in ("stackexchange_question_answer", "reddit_title_body", "other_post_type",
                 "removed_or_deleted", "before: arxiv_title_abstract",
                 "after: arxiv_title_abstract"):
        assert text in page
    steps = (run / "train" / "metrics.jsonl").read_text().splitlines()
    assert {json.loads(s)["task"] for s in steps} <= set(tasks)


def test_a_filter_section_runs_consistency_filtering_between_dedup_and_training(tmp_path, capsys):
    recipe = _recipe(tmp_path, tmp_path / "model")
    for section in ("train", "eval", "publish"):
        recipe.pop(section)
    recipe["filter"] = {"top-k": 2, "pool": 64, "device": "cpu"}
    loaded = load_recipe(recipe, recipe["output"])
    assert [s.name for s in loaded.stages] == ["mine-code", "mine-heldout", "dedup", "filter",
                                               "report"]
    assert loaded.stage("filter").config.input == [loaded.stage("dedup").output]
    recipe_file = _write(tmp_path, recipe)
    assert main(["run", recipe_file]) == 0
    filtered = Path(loaded.stage("filter").output)
    assert (filtered / "manifest.json").is_file()
    assert _plan(capsys, recipe_file)["filter"] == "skip"
    trained = dict(recipe, train={"steps": 1})
    assert load_recipe(trained, recipe["output"]).stage("train").config.input == [str(filtered)]


def test_a_recipe_mixes_the_newer_sources_into_training(tmp_path, tiny_model):
    """PubMed, commit histories, paper metadata, StackExchange duplicates (PostLinks.xml
    inside the site archive) and Wikipedia sections, each one entry of `sources:`, reach the
    deduplicated dataset and the training batches (uniform mixture, so every task is drawn)."""
    from . import hostile

    dumps = tmp_path / "dumps"
    dumps.mkdir()
    pubmed = dumps / "pubmed25n0001.xml"
    pubmed.write_bytes(hostile.pubmed_file([hostile.pubmed_article(100 + i) for i in range(12)]))
    tree, _ = hostile.git_commit_history(dumps)
    papers = [hostile.s2orc_metadata_row(str(i), f"Espresso extraction study number {i}",
                                         hostile.paper_abstract(i),
                                         outbound=[str((i + 1) % 12)]) for i in range(12)]
    metadata = dumps / "metadata.jsonl"
    metadata.write_bytes(hostile.jsonl(papers))
    words = ("beans roasted small batches rested week ground before brewing extracted water "
             "degrees minute crema bitter acidity origin farm harvest altitude washed natural "
             "process grinder burr espresso filter kettle pour bloom ratio dose yield").split()
    pages = [f"<page><title>Coffee {i}</title><ns>0</ns><id>{i + 1}</id><revision><text>"
             f"'''Coffee {i}''' is a drink brewed from roasted coffee beans around the world."
             f"\n\n== Preparation ==\n{' '.join(random.Random(i).sample(words, 25))}."
             f"</text></revision></page>" for i in range(8)]
    (dumps / "enwiki.xml").write_text(f"<mediawiki>{''.join(pages)}</mediawiki>")
    links = [(100 + i, 4 * i + 1, 4 * i + 3, 3) for i in range(6)]  # question 2i+1 is a copy of 2i+3
    site = hostile.site_7z(dumps / "coffee.stackexchange.com.7z",
                           {"Posts.xml": hostile.posts_xml(12),
                            "PostLinks.xml": hostile.post_links_xml(links)})
    recipe_file = _write(tmp_path, {
        "output": str(tmp_path / "run"),
        "sources": {"pubmed": {"source": "pubmed", "input": [str(pubmed)]},
                    "commits": {"source": "commits", "input": [str(tree)]},
                    "papers": {"source": "s2orc", "metadata": [str(metadata)]},
                    "se": {"source": "stackexchange", "input": [str(site)]},
                    "wiki": {"source": "wikipedia", "input": [str(dumps / "enwiki.xml")]}},
        "dedup": {},
        "train": {"model": str(tiny_model), "steps": 32, "batch-size": 4, "max-length": 32,
                  "alpha": 0.0, "device": "cpu", "no-progress": True},
    })
    assert main(["run", recipe_file]) == 0
    run = tmp_path / "run"
    tasks = json.loads((run / "pairs" / "manifest.json").read_text())["tasks"]
    new = {"pubmed_title_abstract", "commit_message_diff", "s2orc_title_abstract",
           "s2orc_citation_abstract", "stackexchange_duplicate_question",
           "wikipedia_section_passage"}
    assert new <= set(tasks)
    steps = (run / "train" / "metrics.jsonl").read_text().splitlines()
    assert new <= {json.loads(s)["task"] for s in steps}
