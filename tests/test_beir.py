"""`pairmill eval --beir`: BEIR/MTEB folders and CodeSearchNet files, metrics as trec_eval
defines them (checked against pytrec_eval on the same run), several sets at once, and BEIR
folders as decontamination sources."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from pairmill.cli import main
from pairmill.trainer.retrieval import BEIR_METRICS, evaluate_run, load_set, read_qrels

from .conftest import REALDATA

POSTS = REALDATA / "stackexchange" / "Posts.xml"


def write_beir(folder: Path, corpus: dict[str, dict], queries: dict[str, str],
               qrels: dict[str, dict[str, int]], gz: bool = False, split: str = "test") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "qrels").mkdir(exist_ok=True)

    def write(name: str, rows: list[dict]) -> None:
        data = "".join(json.dumps(r) + "\n" for r in rows).encode()
        if gz:
            (folder / f"{name}.jsonl.gz").write_bytes(gzip.compress(data))
        else:
            (folder / f"{name}.jsonl").write_bytes(data)

    write("corpus", [{"_id": d, **v} for d, v in corpus.items()])
    write("queries", [{"_id": q, "text": t} for q, t in queries.items()])
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{g}" for q, docs in qrels.items()
                                              for d, g in docs.items()]
    (folder / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    return folder


def stackexchange_beir(folder: Path) -> Path:
    """Questions of the real coffee.stackexchange sample against all answers: the accepted
    answer graded 2, other positively scored answers 1."""
    from lxml import etree

    from pairmill.extractors.text import html_to_text

    rows = [dict(el.attrib) for _, el in etree.iterparse(str(POSTS), tag="row")]
    questions = {r["Id"]: r for r in rows if r.get("PostTypeId") == "1"}
    answers = [r for r in rows if r.get("PostTypeId") == "2" and r.get("ParentId") in questions]
    corpus = {a["Id"]: {"title": "", "text": html_to_text(a.get("Body", ""))} for a in answers}
    qrels: dict[str, dict[str, int]] = {}
    for a in answers:
        q = questions[a["ParentId"]]
        grade = 2 if q.get("AcceptedAnswerId") == a["Id"] else 1 if int(a.get("Score", 0)) > 0 else 0
        if grade:
            qrels.setdefault(q["Id"], {})[a["Id"]] = grade
    queries = {q: questions[q]["Title"] for q in qrels}
    return write_beir(folder, corpus, queries, qrels)


def _random_run(qrels, docs, rng):
    """A run with many tied scores: the order among ties is where evaluators differ."""
    return {q: {d: float(rng.choice([0.1, 0.2, 0.2, 0.5, 0.9])) for d in rng.sample(docs, 30)}
            for q in qrels}


def test_metrics_agree_with_pytrec_eval_on_the_same_run():
    pytrec_eval = pytest.importorskip("pytrec_eval")
    rng = random.Random(3)
    docs = [f"d{i}" for i in range(60)]
    qrels = {f"q{i}": {d: rng.choice([0, 1, 1, 2, 3]) for d in rng.sample(docs, 6)}
             for i in range(40)}
    run = _random_run(qrels, docs, rng)
    ours = evaluate_run(run, qrels)
    measures = {"ndcg_cut.10", "map_cut.100", "recall.10,100", "P.10", "recip_rank"}
    theirs = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    top10 = {q: dict(sorted(s.items(), key=lambda x: (x[1], x[0]), reverse=True)[:10])
             for q, s in run.items()}
    mrr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    mean = lambda key, res=theirs: sum(r[key] for r in res.values()) / len(res)  # noqa: E731
    assert ours["ndcg@10"] == pytest.approx(mean("ndcg_cut_10"), abs=1e-6)
    assert ours["map@100"] == pytest.approx(mean("map_cut_100"), abs=1e-6)
    assert ours["recall@10"] == pytest.approx(mean("recall_10"), abs=1e-6)
    assert ours["recall@100"] == pytest.approx(mean("recall_100"), abs=1e-6)
    assert ours["precision@10"] == pytest.approx(mean("P_10"), abs=1e-6)
    assert ours["mrr@10"] == pytest.approx(mean("recip_rank", mrr), abs=1e-6)


def test_qrels_header_grades_and_gzip_are_read(tmp_path):
    folder = write_beir(tmp_path / "set", {"d1": {"title": "T", "text": "x"}},
                        {"q1": "question", "q2": "unjudged"}, {"q1": {"d1": 2}}, gz=True)
    rset = load_set(str(folder))
    assert rset.queries == {"q1": "question"} and rset.qrels == {"q1": {"d1": 2}}
    assert read_qrels(str(folder / "qrels" / "test.tsv")) == {"q1": {"d1": 2}}
    with pytest.raises(FileNotFoundError, match="splits here: test"):
        load_set(str(folder), split="dev")


@pytest.mark.skipif(not POSTS.is_file(), reason="../shared/realdata is absent")
def test_eval_beir_on_a_real_sample_folder_prints_the_table_and_json(tmp_path, tiny_model, capsys):
    pytrec_eval = pytest.importorskip("pytrec_eval")
    folder = stackexchange_beir(tmp_path / "coffee")
    args = ["eval", "--model", str(tiny_model), "--beir", str(folder), "--device", "cpu",
            "--max-length", "64"]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "ndcg@10" in table and "coffee" in table
    assert main([*args, "--json", "--output", str(tmp_path / "report.json")]) == 0
    flat = json.loads(capsys.readouterr().out)
    assert set(flat) == set(BEIR_METRICS) and all(0 <= v <= 1 for v in flat.values())
    report = json.loads((tmp_path / "report.json").read_text())
    row = report["sets"]["coffee"]
    assert row["queries"] > 100 and row["corpus"] > 200
    # the same ranking scored by pytrec_eval gives the same figures
    from pairmill.trainer.evaluate import Encoder, embed_texts, load_tokenizer, make_encode
    from pairmill.trainer.retrieval import search

    encoder = Encoder.from_pretrained(str(tiny_model)).eval()
    tokenizer = load_tokenizer(str(tiny_model))
    encode = make_encode(tokenizer, 64, encoder.pooling)
    rset = load_set(str(folder))
    run = search(lambda t, k: embed_texts(encoder, encode, t, k, tokenizer.pad_token_id, "cpu"),
                 rset, block=97)  # blocks that do not divide the corpus
    ours = evaluate_run(run, rset.qrels)
    assert ours["ndcg@10"] == pytest.approx(flat["ndcg@10"], abs=1e-5)
    theirs = pytrec_eval.RelevanceEvaluator(rset.qrels, {"ndcg_cut.10"}).evaluate(run)
    assert ours["ndcg@10"] == pytest.approx(
        sum(r["ndcg_cut_10"] for r in theirs.values()) / len(theirs), abs=1e-6)


def test_several_sets_and_codesearchnet_files(tmp_path, tiny_model, capsys):
    beir = write_beir(tmp_path / "tiny", {f"d{i}": {"title": f"t{i}", "text": f"text number {i}"}
                                          for i in range(20)},
                      {f"q{i}": f"text number {i}" for i in range(5)},
                      {f"q{i}": {f"d{i}": 1} for i in range(5)})
    csn = tmp_path / "python_test.jsonl"
    csn.write_text("".join(json.dumps({"docstring_tokens": ["add", "two", f"numbers{i}"],
                                       "code_tokens": ["def", f"add{i}", "(", "a", ")"]}) + "\n"
                           for i in range(8)))
    assert main(["eval", "--model", str(tiny_model), "--beir", str(beir), str(csn),
                 "--device", "cpu", "--json"]) == 0
    flat = json.loads(capsys.readouterr().out)
    assert set(flat["sets"]) == {"tiny", "python_test"}
    for metric in BEIR_METRICS:
        assert flat[metric] == pytest.approx((flat["sets"]["tiny"][metric]
                                              + flat["sets"]["python_test"][metric]) / 2)
    assert main(["eval", "--model", str(tiny_model), "--device", "cpu"]) == 2
    assert "give --input DATASET... or --beir FOLDER..." in capsys.readouterr().err


def test_decontamination_by_a_beir_folder_removes_its_queries_and_corpus_documents(tmp_path):
    from .test_dedup import TEXT, _pair, write_dataset

    rng = random.Random(5)
    texts = [" ".join(f"w{rng.randint(0, 9000)}" for _ in range(40)) for _ in range(6)]
    beir = write_beir(tmp_path / "bench", {"d1": {"title": "", "text": texts[0]},
                                           "d2": {"title": "", "text": texts[5]}},
                      {"q1": texts[1]}, {"q1": {"d1": 1}})  # d2 is never judged
    pairs = [_pair("web_title_body", "a title", texts[0]),   # a judged document
             _pair("web_title_body", texts[1], "some body " + TEXT),  # a query
             _pair("web_title_body", "other", texts[5]),      # an unjudged corpus document
             _pair("web_title_body", "clean", texts[3])]
    data = write_dataset(tmp_path / "data", pairs)
    out = tmp_path / "out"
    assert main(["dedup", "--input", str(data), "--output", str(out),
                 "--decontaminate", str(beir)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    removed = manifest["dedup"]["tasks"]["web_title_body"]["removed"]
    assert removed == {"decontaminated:bench": 3}  # the whole corpus is the benchmark's
    assert manifest["tasks"]["web_title_body"]["rows"] == 1
    assert manifest["dedup"]["decontamination"]["benchmarks"]["bench"]["texts"] == 3
    # a corpus too big to read whole: its judged documents only
    judged = tmp_path / "judged"
    assert main(["dedup", "--input", str(data), "--output", str(judged), "--decontaminate",
                 str(beir), "--decontamination-documents", "judged"]) == 0
    manifest = json.loads((judged / "manifest.json").read_text())
    assert manifest["dedup"]["tasks"]["web_title_body"]["removed"] == {"decontaminated:bench": 2}
    assert manifest["dedup"]["decontamination"]["documents"] == "judged"
    assert manifest["dedup"]["decontamination"]["benchmarks"]["bench"]["texts"] == 2


def test_a_recipe_evaluates_beir_sets_before_and_after_training(tmp_path, tiny_model, capsys):
    import sysconfig

    import yaml

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    beir = write_beir(tmp_path / "tinyset", {f"d{i}": {"title": "", "text": f"text number {i}"}
                                             for i in range(30)},
                      {f"q{i}": f"number {i}" for i in range(6)}, {f"q{i}": {f"d{i}": 1} for i in range(6)})
    recipe = {"output": str(tmp_path / "run"),
              "sources": {"code": {"source": "code", "input": [str(stdlib / "json")],
                                   "programming_languages": "python"}},
              "train": {"model": str(tiny_model), "steps": 2, "batch-size": 4, "max-length": 32,
                        "device": "cpu", "no-progress": True},
              "eval": {"beir": [str(beir)], "max-length": 32, "device": "cpu"},
              "publish": {"model": {"repo-id": "org/model"}, "dry-run": True}}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    assert main(["run", str(path)]) == 0
    assert "the BEIR/MTEB sets (mean), before -> after training" in capsys.readouterr().out
    after = json.loads((tmp_path / "run" / "eval" / "beir-after.json").read_text())
    assert set(after["sets"]) == {"tinyset"} and after["sets"]["tinyset"]["queries"] == 6
    card = (tmp_path / "run" / "publish" / "model" / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    (result,) = header["model-index"][0]["results"]
    assert result["task"]["type"] == "retrieval" and result["dataset"]["name"] == "tinyset"
    metrics = {m["type"]: m["value"] for m in result["metrics"]}
    assert metrics["ndcg_at_10"] == pytest.approx(after["sets"]["tinyset"]["ndcg@10"], abs=1e-6)
    page = (tmp_path / "run" / "report" / "index.html").read_text()
    assert "BEIR/MTEB sets" in page and "beir-after: tinyset" in page
