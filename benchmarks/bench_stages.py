"""Stage 1 then stage 2 (GTE) on CPU, small scale: held-out MRR@10 and nDCG@10 per task for the
base model, after stage 1 and after stage 2, on the real samples.

  python benchmarks/bench_stages.py [--stage1-steps 40] [--stage2-steps 30]

Data: code pairs from CPython's json, email, http, logging and urllib packages, and the real
StackExchange, Reddit submissions, arXiv and S2ORC samples (../shared/realdata), mined with
`pairmill mine`. One pair in five of every task (by id) is held out. Stage 1: `pairmill train` on
the α-mixture (α 0.5) of all tasks, from the packaged all-MiniLM-L6-v2, batch 32, 128 tokens,
in-batch negatives only. Stage 2: `pairmill negatives` with the stage-1 model on the training
pairs, then `pairmill train` from the stage-1 model with the stage-2 preset's learning rate
(2e-6) but batch 16, groups of 4 (1 positive, 3 hard negatives) and 128 tokens so that it fits a
CPU. Every held-out pair is ranked
against all the held-out documents of its task. Results go to benchmarks/results/stages.json.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import platform
import sysconfig
import tempfile
import time
from pathlib import Path

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
RESULTS = Path(__file__).parent / "results" / "stages.json"
STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _cli(*argv: str) -> None:
    from pairmill.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(list(argv))
    if code != 0:
        raise SystemExit(f"pairmill {' '.join(argv)}: exit {code}")


def mine(work: Path) -> list[str]:
    code = [str(STDLIB / p) for p in ("json", "email", "http", "logging", "urllib")]
    runs = {
        "code": ["mine", "code", "--input", *code, "--programming-languages", "python"],
        "stackexchange": ["mine", "stackexchange", "--input",
                          str(REALDATA / "stackexchange" / "Posts.xml")],
        "reddit": ["mine", "reddit", "--submissions",
                   str(REALDATA / "reddit" / "AskWomen_submissions.zst")],
        "arxiv": ["mine", "arxiv", "--input",
                  str(REALDATA / "arxiv" / "arxiv-metadata-oai-snapshot.sample.jsonl")],
        "s2orc": ["mine", "s2orc", "--input", str(REALDATA / "s2orc" / "*.json")],
    }
    for name, argv in runs.items():
        _cli(*argv, "--output", str(work / "mined" / name))
    return [str(work / "mined" / name) for name in runs]


def split(mined: list[str], work: Path) -> tuple[str, str]:
    """One pair in five of every task (by id hash) into `heldout`, the rest into `train`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pairmill.dataset.output import describe_file, write_manifest
    from pairmill.schemas import PAIR_SCHEMA, Manifest

    parts: dict[str, dict[str, list]] = {"train": {}, "heldout": {}}
    for folder in mined:
        for path in sorted(Path(folder).glob("data/*/*.parquet")):
            for row in pq.read_table(path).to_pylist():
                held = int(hashlib.sha256(row["id"].encode()).hexdigest(), 16) % 5 == 0
                parts["heldout" if held else "train"].setdefault(row["task"], []).append(row)
    for name, tasks in parts.items():
        manifest = Manifest(row_group_size=100)
        for task, rows in sorted(tasks.items()):
            rel = f"data/{task}/part-00000.parquet"
            (work / name / rel).parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(sorted(rows, key=lambda r: r["id"]),
                                                schema=PAIR_SCHEMA), work / name / rel,
                           row_group_size=100)
            manifest.tasks[task] = [describe_file(str(work / name), rel)]
        write_manifest(str(work / name), manifest)
    return str(work / "train"), str(work / "heldout")


def evaluate_model(model: str, heldout: str) -> dict:
    from pairmill.trainer.evaluate import evaluate

    report = evaluate(model, [heldout], None, 1000, 128, 0, "cpu")
    return {task: {"pairs": t["pairs"], "mrr@10": round(t["mrr@10"], 4),
                   "ndcg@10": round(t["ndcg@10"], 4)} for task, t in report["tasks"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage1-steps", type=int, default=40)
    parser.add_argument("--stage2-steps", type=int, default=30)
    args = parser.parse_args()
    from pairmill.trainer.model import default_model_path

    timings = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        train_data, heldout = split(mine(work), work)
        base = evaluate_model(default_model_path(), heldout)
        start = time.perf_counter()
        _cli("train", "--input", train_data, "--output", str(work / "stage1"), "--steps",
             str(args.stage1_steps), "--batch-size", "32", "--max-length", "128",
             "--group-size", "1", "--device", "cpu", "--no-progress")
        timings["stage1_s"] = round(time.perf_counter() - start, 1)
        stage1_model = str(work / "stage1" / "model")
        stage1 = evaluate_model(stage1_model, heldout)
        start = time.perf_counter()
        _cli("negatives", "--input", train_data, "--output", str(work / "negatives"), "--model",
             stage1_model, "--per-query", "3", "--device", "cpu")
        timings["negatives_s"] = round(time.perf_counter() - start, 1)
        start = time.perf_counter()
        _cli("train", "--input", str(work / "negatives"), "--output", str(work / "stage2"),
             "--model", stage1_model, "--steps", str(args.stage2_steps), "--lr", "2e-6",
             "--batch-size", "16", "--group-size", "4", "--max-length", "128", "--device", "cpu",
             "--no-progress")
        timings["stage2_s"] = round(time.perf_counter() - start, 1)
        stage2 = evaluate_model(str(work / "stage2" / "model"), heldout)
        train_rows = json.loads(Path(train_data, "manifest.json").read_text())
    tasks = {task: {"base": base[task], "stage1": stage1[task], "stage2": stage2[task]}
             for task in base}
    results = {"machine": f"{platform.machine()}, Python {platform.python_version()}, CPU",
               "method": __doc__.split("\n\n")[1].replace("\n", " "),
               "stage1_steps": args.stage1_steps, "stage2_steps": args.stage2_steps,
               "training_pairs": {t: entry["rows"] for t, entry in train_rows["tasks"].items()},
               **timings, "tasks": tasks}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print("| task | held-out pairs | base MRR@10 / nDCG@10 | stage 1 | stage 2 |")
    print("|---|---|---|---|---|")
    for task, row in tasks.items():
        cells = [f"{row[k]['mrr@10']:.3f} / {row[k]['ndcg@10']:.3f}"
                 for k in ("base", "stage1", "stage2")]
        print(f"| {task} | {row['base']['pairs']} | {' | '.join(cells)} |")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
