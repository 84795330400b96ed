"""`pairmill dedup`: near-duplicate recall and false positives against brute-force Jaccard,
survivor rule, short texts, decontamination, determinism, merged tasks."""

import json
import random
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairmill.cli import main
from pairmill.dataset.minhash import EMPTY, LshBands, estimated_jaccard, signatures
from pairmill.dataset.output import describe_file, write_manifest
from pairmill.schemas import PAIR_SCHEMA, Manifest, make_pair
from pairmill.schemas.pairs import meta_dict


def write_dataset(folder, pairs):
    by_task = {}
    for p in pairs:
        by_task.setdefault(p["task"], []).append(p)
    manifest = Manifest()
    for task, rows in by_task.items():
        rel = f"data/{task}/part-00000.parquet"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=PAIR_SCHEMA), folder / rel)
        manifest.tasks[task] = [describe_file(folder, rel)]
    folder.mkdir(parents=True, exist_ok=True)
    write_manifest(folder, manifest)
    return folder


def read_rows(folder):
    return [r for f in sorted(folder.glob("data/*/*.parquet")) for r in pq.read_table(f).to_pylist()]


def shingles(text, n=5):
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def jaccard(a, b):
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def edit(words, fraction, rng, vocab):
    out = list(words)
    for i in rng.sample(range(len(out)), int(len(out) * fraction)):
        out[i] = rng.choice(vocab)
    return out


def test_signature_estimates_track_exact_jaccard():
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(3000)]
    base = [rng.choice(vocab) for _ in range(300)]
    errors = []
    for fraction in np.linspace(0, 0.2, 21):
        other = " ".join(edit(base, fraction, rng, vocab))
        sig = signatures([" ".join(base), other])
        errors.append(abs(estimated_jaccard(sig[0], sig[1]) - jaccard(" ".join(base), other)))
    assert max(errors) < 0.15 and np.mean(errors) < 0.05


def test_short_texts_do_not_all_collide():
    texts = ["a b", "c d", "e", "a b", "", "A  B"]
    sig = signatures(texts, ngram=5)
    assert estimated_jaccard(sig[0], sig[1]) == 0.0
    assert estimated_jaccard(sig[0], sig[2]) == 0.0
    assert estimated_jaccard(sig[0], sig[3]) == 1.0
    assert estimated_jaccard(sig[0], sig[5]) == 1.0  # case and spacing are normalised
    keys = LshBands(4, 32).keys(sig)
    assert sig[4][0] == EMPTY and keys[4] == []
    assert keys[0] == keys[3] == keys[5] and len(set(keys[0])) == 4
    assert not set(keys[0]) & set(keys[1])


def test_bands_follow_the_threshold():
    bands = LshBands.for_threshold(0.8, 128)
    assert bands.bands * bands.rows <= 128
    # candidates at J = 0.9 are almost certain, so verification decides
    assert 1 - (1 - 0.9 ** bands.rows) ** bands.bands > 0.99


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Clusters of two documents with a controlled edit; each cluster has its own vocabulary so
    clusters never interact."""
    rng = random.Random(11)
    pairs, truth = [], []
    for c in range(240):
        vocab = [f"c{c}x{i}" for i in range(400)]
        base = [rng.choice(vocab) for _ in range(rng.randint(120, 300))]
        fraction = rng.choice([0.0, 0.005, 0.01, 0.015] if c % 2 else [0.06, 0.08, 0.1, 0.15])
        other = edit(base, fraction, rng, vocab)
        a, b = " ".join(base), " ".join(other)
        truth.append((c, jaccard(a, b)))
        for k, text in enumerate((a, b)):
            pairs.append(make_pair("web_title_body", f"cluster {c} copy {k}", text, "crawl",
                                   f"c{c}:{k}", meta={"cluster": str(c)}))
    folder = write_dataset(tmp_path_factory.mktemp("planted") / "in", pairs)
    out = tmp_path_factory.mktemp("planted") / "out"
    assert main(["dedup", "--input", str(folder), "--output", str(out), "--field", "document",
                 "--threshold", "0.8"]) == 0
    survivors = {}
    for row in read_rows(out):
        cluster = meta_dict(row["meta"])["cluster"]
        survivors[int(cluster)] = survivors.get(int(cluster), 0) + 1
    return truth, survivors, out


def test_recall_and_false_positives_against_brute_force(planted):
    truth, survivors, _ = planted
    high = [c for c, j in truth if j >= 0.9]
    low = [c for c, j in truth if j <= 0.7]
    assert len(high) > 50 and len(low) > 50
    recall = sum(survivors[c] == 1 for c in high) / len(high)
    false_positive = sum(survivors[c] == 1 for c in low) / len(low)
    assert recall >= 0.95, recall
    assert false_positive <= 0.05, false_positive


def test_report_counts_clusters(planted):
    truth, survivors, out = planted
    manifest = json.loads((out / "manifest.json").read_text())
    report = manifest["dedup"]
    removed = 2 * len(truth) - sum(survivors.values())
    entry = report["tasks"]["web_title_body"]
    assert entry["rows_in"] == 2 * len(truth) and entry["rows_out"] == sum(survivors.values())
    assert sum(entry["removed"].values()) == removed
    assert report["cluster_sizes"].get("2", 0) == removed
    rows = read_rows(out)
    assert sum(int(meta_dict(r["meta"])["duplicates"]) for r in rows) == removed


def _pair(task, query, document, score=None, origin="o"):
    pair = make_pair(task, query, document, "s", origin)
    pair["score"] = score
    return pair


TEXT = " ".join(f"token{i}" for i in range(80))


def test_survivor_rule_prefers_quality_then_id(tmp_path):
    low = _pair("stackexchange_question_answer", "How do I sort?", TEXT, score=1.0)
    high = _pair("stackexchange_question_answer", "How do I sort? ", TEXT + " extra", score=9.0)
    tie_a = _pair("reddit_title_body", "title one here", TEXT + " alpha")
    tie_b = _pair("reddit_title_body", "title one here", TEXT + " alpha ")
    folder = write_dataset(tmp_path / "in", [low, high, tie_a, tie_b])
    out = tmp_path / "out"
    assert main(["dedup", "--input", str(folder), "--output", str(out)]) == 0
    rows = {r["task"]: r for r in read_rows(out)}
    assert rows["stackexchange_question_answer"]["id"] == high["id"]
    assert meta_dict(rows["stackexchange_question_answer"]["meta"])["duplicates"] == "1"
    # equal quality (same length up to one space) -> longer wins; exact twins -> smaller id
    assert rows["reddit_title_body"]["id"] in {tie_a["id"], tie_b["id"]}


def test_determinism_merge_and_decontamination(tmp_path):
    rng = random.Random(3)
    docs = [" ".join(f"v{rng.randint(0, 5000)}" for _ in range(60)) for _ in range(40)]
    web = [_pair("web_title_body", f"page {i}", d) for i, d in enumerate(docs[:20])]
    arxiv = [_pair("arxiv_title_abstract", f"paper {i}", d) for i, d in enumerate(docs[20:])]
    a = write_dataset(tmp_path / "a", web)
    b = write_dataset(tmp_path / "b", arxiv + web[:5])  # the same 5 pairs in both inputs
    evals = tmp_path / "bench.jsonl"
    contaminated = docs[25].split()
    contaminated[3] = "changed"
    evals.write_text(json.dumps({"query": "unrelated words", "corpus": " ".join(contaminated)})
                     + "\nnot json, a plain line of text\n")
    outs = []
    # the shuffle's shape changes nothing; 0 (the default) sizes it from the rows: 16 here
    for name, shards in (("o1", "1024"), ("o2", "3"), ("o3", "0")):
        out = tmp_path / name
        assert main(["dedup", "--input", str(a), str(b), "--output", str(out),
                     "--decontaminate", str(evals), "--shuffle-shards", shards]) == 0
        outs.append(out)
    files = sorted(p.relative_to(outs[0]) for p in outs[0].rglob("*.parquet"))
    assert files and all((outs[0] / f).read_bytes() == (out / f).read_bytes()
                         for f in files for out in outs[1:])
    report = json.loads((outs[0] / "manifest.json").read_text())["dedup"]["tasks"]
    assert report["web_title_body"] == {"rows_in": 25, "rows_out": 20,
                                        "removed": {"exact_duplicate": 5}}
    assert report["arxiv_title_abstract"]["removed"] == {"decontaminated:bench.jsonl": 1}
    kept = {r["query"] for r in read_rows(outs[0])}
    assert "paper 5" not in kept and "paper 4" in kept and len(kept) == 39


def test_a_pairs_dataset_decontaminates_by_its_queries_and_documents(tmp_path):
    """A held-out pairs dataset can be passed as it is: both of its tasks' files (same file
    names) count, and the counter is named after the folder."""
    rng = random.Random(5)
    docs = [" ".join(f"h{rng.randint(0, 5000)}" for _ in range(60)) for _ in range(10)]
    train = write_dataset(tmp_path / "train", [_pair("web_title_body", f"page {i}", d)
                                               for i, d in enumerate(docs)])
    heldout = write_dataset(tmp_path / "heldout", [
        _pair("arxiv_title_abstract", "a paper", docs[2]),
        _pair("reddit_title_body", docs[7], "a body that matches nothing in the training set")])
    out = tmp_path / "out"
    assert main(["dedup", "--input", str(train), "--output", str(out),
                 "--decontaminate", str(heldout)]) == 0
    report = json.loads((out / "manifest.json").read_text())["dedup"]["tasks"]
    assert report["web_title_body"]["removed"] == {"decontaminated:heldout": 2}
    assert {r["query"] for r in read_rows(out)} == {f"page {i}" for i in range(10)} - {
        "page 2", "page 7"}


def test_empty_input_and_bad_input(tmp_path, capsys):
    empty = write_dataset(tmp_path / "empty", [])
    out = tmp_path / "out"
    assert main(["dedup", "--input", str(empty), "--output", str(out)]) == 0
    assert json.loads((out / "manifest.json").read_text())["tasks"] == {}
    damaged = write_dataset(tmp_path / "dmg", [_pair("web_title_body", "t", TEXT)])
    part = next(damaged.glob("data/*/*.parquet"))
    part.write_bytes(part.read_bytes()[:-10])
    assert main(["dedup", "--input", str(damaged), "--output", str(tmp_path / "o2")]) == 2
    assert "does not match its manifest" in capsys.readouterr().err
    assert main(["dedup", "--input", str(empty), "--output", str(tmp_path / "o3"),
                 "--num-perm", "100"]) == 2
    with pytest.raises(SystemExit):
        main(["dedup", "--input", str(empty), "--output", "x", "--threshold", "1.5"])


def test_inputs_outputs_and_eval_files_may_be_uris(tmp_path, monkeypatch):
    """Everything goes through pyarrow.fs, as on Dataflow or Spark where the driver and the
    workers share no disk: a file:// URI must work and must not become a local folder."""
    rng = random.Random(9)
    docs = [" ".join(f"u{rng.randint(0, 5000)}" for _ in range(60)) for _ in range(6)]
    pairs = [_pair("web_title_body", f"page {i}", d) for i, d in enumerate(docs)]
    pairs.append(_pair("web_title_body", "page 0", docs[0] + " tail"))  # a near duplicate
    folder = write_dataset(tmp_path / "in", pairs)
    evals = tmp_path / "evals.jsonl"
    evals.write_text(json.dumps({"text": docs[3]}) + "\n")
    monkeypatch.chdir(tmp_path)
    out_uri = f"file://{tmp_path}/out"
    assert main(["dedup", "--input", f"file://{folder}", "--output", out_uri,
                 "--decontaminate", f"file://{evals}"]) == 0
    assert not (tmp_path / "file:").exists()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["dedup"]["tasks"]["web_title_body"]["removed"] == {
        "near_duplicate": 1, "decontaminated:evals.jsonl": 1}
    assert {r["query"] for r in read_rows(tmp_path / "out")} == {
        "page 0", "page 1", "page 2", "page 4", "page 5"}
    assert main(["stats", out_uri]) == 0
    assert not list(tmp_path.glob("out/_staging*")) and not list(tmp_path.rglob("*.tmp"))


def test_portable_runner_gives_the_same_dataset(tmp_path):
    """The shard-packed shuffles (finish_bundle output, pickled key functions) must behave the
    same on the portable runner, the path Flink and Spark jobs take."""
    rng = random.Random(4)
    docs = [" ".join(f"p{rng.randint(0, 3000)}" for _ in range(60)) for _ in range(30)]
    pairs = [_pair("web_title_body", f"page {i}", d) for i, d in enumerate(docs)]
    pairs += [_pair("web_title_body", f"page {i}", d + " extra") for i, d in enumerate(docs[:8])]
    pairs += [_pair("web_title_body", f"page {i}", d.replace(" ", "  "))  # new id, same text
              for i, d in enumerate(docs[8:12], 8)]
    folder = write_dataset(tmp_path / "in", pairs)
    outs = {}
    for name, extra in (("local", []), ("portable", ["--runner=PortableRunner",
                                                     "--job_endpoint=embed",
                                                     "--environment_type=LOOPBACK"])):
        outs[name] = tmp_path / name
        assert main(["dedup", "--input", str(folder), "--output", str(outs[name]), *extra]) == 0
    files = sorted(p.relative_to(outs["local"]) for p in outs["local"].rglob("*.parquet"))
    assert files and all((outs["local"] / f).read_bytes() == (outs["portable"] / f).read_bytes()
                         for f in files)
    report = json.loads((outs["portable"] / "manifest.json").read_text())["dedup"]["tasks"]
    assert report["web_title_body"]["removed"] == {"exact_duplicate": 4, "near_duplicate": 8}


def test_more_workers_than_cores_give_the_same_bytes(tmp_path):
    """A simulated multi-worker run (four worker processes on this two-core machine) writes
    the very files one worker writes: nothing depends on how work is spread."""
    rng = random.Random(8)
    docs = [" ".join(f"m{rng.randint(0, 3000)}" for _ in range(60)) for _ in range(40)]
    pairs = [_pair("web_title_body", f"page {i}", d) for i, d in enumerate(docs)]
    pairs += [_pair("web_title_body", f"page {i}", d + " tail") for i, d in enumerate(docs[:10])]
    folder = write_dataset(tmp_path / "in", pairs)
    outs = {}
    for name, extra in (("one", ["--direct_num_workers=1"]),
                        ("four", ["--direct_running_mode=multi_processing",
                                  "--direct_num_workers=4"])):
        outs[name] = tmp_path / name
        assert main(["dedup", "--input", str(folder), "--output", str(outs[name]), *extra]) == 0
    files = sorted(p.relative_to(outs["one"]) for p in outs["one"].rglob("*.parquet"))
    assert files and all((outs["one"] / f).read_bytes() == (outs["four"] / f).read_bytes()
                         for f in files)
    removed = json.loads((outs["four"] / "manifest.json").read_text())["dedup"]["tasks"]
    assert removed["web_title_body"]["removed"] == {"near_duplicate": 10}


def test_the_default_shuffle_shards_follow_the_row_count():
    """A shard is a task on Spark and Flink: a small input gets few, a billion pairs many;
    an explicit --shuffle-shards is kept."""
    from pairmill.dataset.minhash import LshBands
    from pairmill.dataset.settings import DedupConfig
    from pairmill.pipelines.dedup import ENTRIES_PER_SHARD, shuffle_shards_for

    config = DedupConfig(input=[])
    bands = LshBands.for_threshold(config.threshold, config.num_perm).bands
    assert shuffle_shards_for(180, config) == 16
    assert shuffle_shards_for(10**9, config) == 10**9 * bands // ENTRIES_PER_SHARD
    assert shuffle_shards_for(10**9, DedupConfig(input=[], shuffle_shards=7)) == 7
