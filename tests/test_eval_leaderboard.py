"""`pairmill eval --beir` with default flags embeds as sentence-transformers and MTEB do (the
model's own max length and prompts, title + space + text), agrees with sentence-transformers'
InformationRetrievalEvaluator, shows its progress, and writes MTEB's results layout."""

from __future__ import annotations

import inspect
import json
import random
from pathlib import Path

import pytest

from pairmill.cli import main
from pairmill.trainer.retrieval import CUTOFFS, evaluate_run, load_set
from pairmill.trainer.st_config import model_max_length, prompt_for

from .test_beir import write_beir


def _set(folder: Path, n_docs: int = 40, n_queries: int = 8, split: str = "test") -> Path:
    rng = random.Random(7)
    words = [f"w{i}" for i in range(300)]
    corpus = {f"d{i}": {"title": f"title {i}" if i % 2 else "",
                        "text": " ".join(rng.choice(words) for _ in range(rng.randint(3, 60)))}
              for i in range(n_docs)}
    queries = {f"q{i}": " ".join(corpus[f"d{i}"]["text"].split()[:4]) for i in range(n_queries)}
    qrels = {f"q{i}": {f"d{i}": 1, f"d{i + n_queries}": 1} for i in range(n_queries)}
    return write_beir(folder, corpus, queries, qrels, split=split)


@pytest.fixture(scope="module")
def st_model(tiny_model, tmp_path_factory) -> Path:
    """The tiny model as a sentence-transformers folder with its own max_seq_length (24) and
    prompts, as models such as E5 or BGE declare them."""
    from pairmill.trainer.model import Encoder, load_tokenizer

    path = tmp_path_factory.mktemp("st-model") / "model"
    Encoder.from_pretrained(str(tiny_model)).save(path, load_tokenizer(str(tiny_model)), 24)
    (path / "config_sentence_transformers.json").write_text(json.dumps(
        {"prompts": {"query": "query: ", "document": "passage: "}, "default_prompt_name": None}))
    return path


def test_max_length_is_the_models_own_as_sentence_transformers_reads_it(tiny_model, st_model):
    from sentence_transformers import SentenceTransformer

    assert model_max_length(str(st_model)) == 24
    # no sentence-transformers config: the tokenizer's limit, capped by the position embeddings
    assert model_max_length(str(tiny_model)) == 128
    for path in (tiny_model, st_model):
        assert SentenceTransformer(str(path), device="cpu").max_seq_length == model_max_length(str(path))


def test_prompts_follow_mteb_order_and_flags_win(tmp_path):
    (tmp_path / "config_sentence_transformers.json").write_text(json.dumps({
        "prompts": {"query": "q: ", "passage": "p: ", "SciFact-query": "claim: ",
                    "Retrieval": "retrieve: ", "web": "web: "},
        "default_prompt_name": "web"}))
    model = str(tmp_path)
    assert prompt_for(model, "query", "SciFact") == "claim: "
    assert prompt_for(model, "query", "NFCorpus") == "retrieve: "  # task type before "query"
    (tmp_path / "config_sentence_transformers.json").write_text(json.dumps({
        "prompts": {"query": "q: ", "passage": "p: ", "web": "web: "}, "default_prompt_name": "web"}))
    assert prompt_for(model, "query") == "q: " and prompt_for(model, "document") == "p: "
    assert prompt_for(model, "query", given="") == ""  # an empty flag turns the prompt off
    (tmp_path / "config_sentence_transformers.json").write_text(json.dumps({
        "prompts": {"web": "web: "}, "default_prompt_name": "web"}))
    assert prompt_for(model, "document") == "web: "  # the model's default prompt
    assert prompt_for(str(tmp_path / "none"), "query") == ""


def test_one_default_for_every_entry_point():
    """The command, the library function and recipes (which build an EvalConfig) all leave the
    length to the model."""
    from pairmill.trainer.configs import EvalConfig
    from pairmill.trainer.evaluate import evaluate, evaluate_beir

    assert EvalConfig().max_length is None
    assert EvalConfig().query_prompt is None and EvalConfig().document_prompt is None
    for fn in (evaluate, evaluate_beir):
        assert inspect.signature(fn).parameters["max_length"].default is None


def test_texts_are_what_mteb_embeds(tmp_path):
    from pairmill.trainer.retrieval import iter_corpus

    folder = write_beir(tmp_path / "s", {"a": {"title": "Title", "text": "body "},
                                         "b": {"title": "", "text": " only body"}},
                        {"q": "a question"}, {"q": {"a": 1}})
    rset = load_set(str(folder))
    assert dict(iter_corpus(rset)) == {"a": "Title body", "b": "only body"}
    assert rset.queries == {"q": "a question"}


def test_embeddings_do_not_depend_on_the_token_budget(tiny_model):
    """Sorting by length and batching by a token budget only changes speed."""
    import torch

    from pairmill.trainer.evaluate import ModelEmbedder

    rng = random.Random(1)
    texts = [" ".join(f"w{rng.randint(0, 99)}" for _ in range(rng.randint(1, 80))) for _ in range(30)]
    embedder = ModelEmbedder(str(tiny_model), device="cpu", token_budget=64)
    small = embedder.embed(texts, "document")
    embedder.token_budget = 1 << 20
    large = embedder.embed(texts, "document")
    one_by_one = torch.cat([embedder.embed([t], "document") for t in texts])
    assert torch.allclose(small, large, atol=1e-5) and torch.allclose(small, one_by_one, atol=1e-5)


def test_the_models_prompts_are_applied_unless_flags_say_otherwise(st_model):
    import torch

    from pairmill.trainer.evaluate import ModelEmbedder, embed_texts

    embedder = ModelEmbedder(str(st_model), device="cpu")
    assert embedder.max_length == 24
    plain = embed_texts(embedder.encoder, embedder.encode, ["query: some words"], "query",
                        embedder.tokenizer.pad_token_id, "cpu")
    assert torch.allclose(embedder.embed(["some words"], "query"), plain, atol=1e-6)
    flagged = ModelEmbedder(str(st_model), device="cpu", query_prompt="")
    assert not torch.allclose(flagged.embed(["some words"], "query"), plain, atol=1e-4)


def test_figures_match_sentence_transformers_information_retrieval_evaluator(st_model, tmp_path):
    """Same folder, same model, default settings on both sides: the same nDCG@10 and MRR@10."""
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.evaluation import (
            InformationRetrievalEvaluator,
        )
    except ImportError:  # sentence-transformers before 6
        from sentence_transformers.evaluation import InformationRetrievalEvaluator

    from pairmill.schemas.beir import beir_text, iter_jsonl, read_qrels
    from pairmill.trainer.evaluate import evaluate_beir

    folder = _set(tmp_path / "scifact")
    ours = evaluate_beir(str(st_model), [str(folder)], device="cpu", progress=False)
    row = ours["sets"]["scifact"]
    model = SentenceTransformer(str(st_model), device="cpu")
    corpus = {r["_id"]: beir_text(r) for r in iter_jsonl(str(folder / "corpus.jsonl"))}
    queries = {r["_id"]: r["text"] for r in iter_jsonl(str(folder / "queries.jsonl"))}
    relevant = {q: set(d) for q, d in read_qrels(str(folder / "qrels" / "test.tsv")).items()}
    theirs = InformationRetrievalEvaluator(
        queries, corpus, relevant, mrr_at_k=[10], ndcg_at_k=[10], accuracy_at_k=[1],
        precision_recall_at_k=[10], map_at_k=[100], show_progress_bar=False,
        query_prompt_name="query", corpus_prompt_name="document")(model)
    value = lambda m: next(v for k, v in theirs.items() if k.endswith(m))  # noqa: E731
    assert ours["max_length"] == model.max_seq_length == 24
    assert row["ndcg@10"] == pytest.approx(value("ndcg@10"), abs=1e-4)
    assert row["mrr@10"] == pytest.approx(value("mrr@10"), abs=1e-4)
    assert row["recall@10"] == pytest.approx(value("recall@10"), abs=1e-4)


def test_metrics_at_every_cutoff_agree_with_pytrec_eval():
    pytrec_eval = pytest.importorskip("pytrec_eval")
    rng = random.Random(11)
    docs = [f"d{i}" for i in range(150)]
    qrels = {f"q{i}": {d: rng.choice([0, 1, 2]) for d in rng.sample(docs, 8)} for i in range(30)}
    run = {q: {d: rng.random() for d in rng.sample(docs, 120)} for q in qrels}
    ours = evaluate_run(run, qrels, CUTOFFS)
    cut = ",".join(map(str, CUTOFFS))
    theirs = pytrec_eval.RelevanceEvaluator(
        qrels, {f"ndcg_cut.{cut}", f"map_cut.{cut}", f"recall.{cut}", f"P.{cut}"}).evaluate(run)
    mean = lambda key: sum(r[key] for r in theirs.values()) / len(theirs)  # noqa: E731
    for k in CUTOFFS:
        assert ours[f"ndcg@{k}"] == pytest.approx(mean(f"ndcg_cut_{k}"), abs=1e-6)
        assert ours[f"map@{k}"] == pytest.approx(mean(f"map_cut_{k}"), abs=1e-6)
        assert ours[f"recall@{k}"] == pytest.approx(mean(f"recall_{k}"), abs=1e-6)
        assert ours[f"precision@{k}"] == pytest.approx(mean(f"P_{k}"), abs=1e-6)


def test_output_dir_writes_mteb_results_and_the_table_shows_the_mean(st_model, tmp_path, capsys):
    sets = [_set(tmp_path / "scifact"), _set(tmp_path / "nfcorpus", n_docs=30)]
    out = tmp_path / "results"
    args = ["eval", "--model", str(st_model), "--beir", *map(str, sets), "--device", "cpu",
            "--output-dir", str(out)]
    assert main(args) == 0
    captured = capsys.readouterr()
    table = captured.out
    assert "scifact" in table and "nfcorpus" in table and "mean" in table
    assert "24 tokens per text" in table
    # progress: a bar per set for embedding and one for searching, each with its rate
    assert "scifact: embed" in captured.err and "text/s" in captured.err
    assert "scifact: search" in captured.err and "doc/s" in captured.err
    assert main([*args, "--json"]) == 0
    flat = json.loads(capsys.readouterr().out)
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    (revision,) = list(folder.iterdir())
    assert revision.name == "no_revision_available"
    names = sorted(p.name for p in revision.iterdir())
    assert names == ["NFCorpus.json", "SciFact.json", "model_meta.json"]
    result = json.loads((revision / "SciFact.json").read_text())
    assert result["task_name"] == "SciFact"
    score = result["scores"]["test"][0]
    assert score["ndcg_at_10"] == pytest.approx(flat["sets"]["scifact"]["ndcg@10"], abs=1e-6)
    assert score["main_score"] == score["ndcg_at_10"]
    assert score["hf_subset"] == "default" and score["languages"] == ["eng-Latn"]
    assert {"map_at_100", "recall_at_100", "mrr_at_10", "precision_at_1"} <= set(score)
    assert result["evaluation_time"] > 0
    meta = json.loads((revision / "model_meta.json").read_text())
    assert meta["max_tokens"] == 24 and meta["pairmill"]["prompts"]["query"] == "query: "


def test_split_selects_the_qrels_file(st_model, tmp_path, capsys):
    folder = _set(tmp_path / "arguana", split="dev")
    base = ["eval", "--model", str(st_model), "--beir", str(folder), "--device", "cpu",
            "--json", "--no-progress"]
    assert main([*base, "--split", "dev"]) == 0
    assert 0 <= json.loads(capsys.readouterr().out)["ndcg@10"] <= 1
    assert main(base) == 2
    assert "no qrels/test.tsv (splits here: dev)" in capsys.readouterr().err
