"""Trainer throughput and peak memory: pairmill's GradCache against sentence-transformers' CachedMNRL.

  python benchmarks/bench_trainer.py                      # CPU: small scale
  python benchmarks/bench_trainer.py --device cuda        # GPU: global batch 16,384 at 128 tokens

Both tools train the same model on the same pairs with the same global batch, truncation, chunk
size (CachedMNRL's `mini_batch_num_tokens`, its padding-aware mini-batches, and pairmill's token
budget are both chunk × max length), loss (the GTE four-direction partition: CachedMNRL with all
four `directions`, scale 1/τ) and dropout on. Each
(tool, model) runs in its own process so peak memory is its own: GPU memory from
`torch.cuda.max_memory_allocated`, on CPU the process's peak resident set.
pairmill runs through `pairmill.trainer.train` (streaming reader, background tokenisation,
checkpoint at the end); CachedMNRL through a plain loop (tokenise, loss, backward, AdamW step).
The first step of each is warm-up and not timed. The texts are generated so every one fills the
maximum length. Results go to benchmarks/results/trainer.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "trainer.json"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def make_models(root: Path) -> dict[str, str]:
    """MiniLM-L6 (packaged) and a randomly initialised BERT-base-sized model (speed needs no weights)."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from pairmill.trainer.model import default_model_path

    minilm = default_model_path()
    base = root / "bert-base-random"
    if not base.exists():
        BertModel(BertConfig()).save_pretrained(base)
        AutoTokenizer.from_pretrained(minilm).save_pretrained(base)
    return {"minilm-l6": minilm, "bert-base": str(base)}


def make_dataset(root: Path, rows: int, words: int) -> Path:
    """A pairs dataset of generated word sequences long enough to fill the maximum length."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pairmill.dataset.output import describe_file, write_manifest
    from pairmill.schemas import PAIR_SCHEMA, Manifest, make_pair

    out = root / f"pairs-{rows}-{words}"
    if (out / "manifest.json").exists():
        return out
    rng = np.random.default_rng(0)
    vocab = np.array([f"w{i}" for i in range(5000)])
    manifest = Manifest(row_group_size=1000, command=["bench_trainer"], created_by="bench")
    for part, start in enumerate(range(0, rows, 50_000)):
        n = min(50_000, rows - start)
        q = [" ".join(rng.choice(vocab, words)) for _ in range(n)]
        d = [" ".join(rng.choice(vocab, words)) for _ in range(n)]
        pairs = [make_pair("code_docstring_code", a, b, "bench", f"row:{start + i}")
                 for i, (a, b) in enumerate(zip(q, d, strict=True))]
        rel = f"data/code_docstring_code/part-{part:05d}.parquet"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(pairs, schema=PAIR_SCHEMA), out / rel, row_group_size=1000)
        manifest.tasks.setdefault("code_docstring_code", []).append(describe_file(out, rel))
    write_manifest(out, manifest)
    return out


def mine_stdlib(root: Path) -> Path:
    """Code pairs of the running Python's standard library: real, uneven lengths."""
    import sysconfig

    from pairmill.cli import main as pairmill

    out = root / "stdlib-pairs"
    if not (out / "manifest.json").exists():
        code = pairmill(["mine", "code", "--input", sysconfig.get_paths()["stdlib"],
                         "--programming-languages", "python", "--output", str(out), "--overwrite"])
        if code:
            sys.exit("mining the standard library failed")
    return out


def peak_memory_mb(device: str) -> float:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_pairmill(args, model: str, data: Path, workdir: Path) -> dict:
    from pairmill.trainer.train import TrainConfig, train

    out = workdir / "pairmill-run"
    train(TrainConfig(input=[str(data)], output=str(out), model=model, batch_size=args.batch_size,
                      steps=args.steps, lr=1e-5, max_length=args.max_length,
                      token_budget=args.chunk * args.max_length, chunk_rows=args.chunk_rows,
                      loss="gte", temperature=0.01, checkpoint_every=10**9, progress=False,
                      device=args.device, bf16="auto" if args.device.startswith("cuda") else "off",
                      group_size=1, overwrite=True))
    lines = [json.loads(line) for line in (out / "metrics.jsonl").open()]
    timed = lines[-1]["elapsed_s"] - lines[0]["elapsed_s"]
    return {"pairs_per_s": args.batch_size * (len(lines) - 1) / timed,
            "loss_first": lines[0]["loss"], "loss_last": lines[-1]["loss"]}


def run_cached_mnrl(args, model: str, data: Path, workdir: Path) -> dict:
    import contextlib

    import pyarrow.parquet as pq
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import CachedMultipleNegativesRankingLoss

    device = args.device
    st = SentenceTransformer(model, device=device)
    st.max_seq_length = args.max_length
    st.train()
    # mini_batch_num_tokens: padding-aware mini-batches, the same budget as pairmill's chunks
    loss_fn = CachedMultipleNegativesRankingLoss(
        st, scale=100.0, mini_batch_size=args.chunk,
        mini_batch_num_tokens=args.chunk * args.max_length,
        directions=("query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc"))
    optimizer = torch.optim.AdamW(st.parameters(), lr=1e-5)
    table = pq.read_table(sorted((data / "data" / "code_docstring_code").glob("*.parquet"))[0],
                          columns=["query", "document"])
    queries, documents = table.column("query").to_pylist(), table.column("document").to_pylist()
    bf16 = device.startswith("cuda") and torch.cuda.is_bf16_supported()
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    losses, started = [], None
    for step in range(args.steps):
        if step == 1:
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            started = time.perf_counter()
        lo = (step * args.batch_size) % (len(queries) - args.batch_size)
        features = [st.tokenize(queries[lo:lo + args.batch_size]),
                    st.tokenize(documents[lo:lo + args.batch_size])]
        features = [{k: v.to(device) if hasattr(v, "to") else v for k, v in f.items()} for f in features]
        with autocast():
            loss = loss_fn(features, None)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    timed = time.perf_counter() - started
    return {"pairs_per_s": args.batch_size * (args.steps - 1) / timed,
            "loss_first": losses[0], "loss_last": losses[-1]}


def worker(args) -> None:
    import torch

    torch.manual_seed(0)
    workdir = Path(args.workdir)
    runner = run_pairmill if args.worker == "pairmill" else run_cached_mnrl
    result = runner(args, args.model_path, Path(args.data), workdir)
    result["peak_memory_mb"] = peak_memory_mb(args.device)
    print("RESULT " + json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--models", default="minilm-l6,bert-base")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--max-length", type=int, default=None)
    parser.add_argument("--chunk", type=int, default=None, help="sequences per grad chunk")
    parser.add_argument("--chunk-rows", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=None, help="steps per run; the first is warm-up")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--texts", choices=("full", "code"), default="full",
                        help="full: generated texts that all fill --max-length (the papers' setting); "
                             "code: the standard library's code pairs, uneven lengths")
    parser.add_argument("--worker", choices=("pairmill", "cached_mnrl"), help=argparse.SUPPRESS)
    parser.add_argument("--model-path", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    gpu = args.device.startswith("cuda")
    args.batch_size = args.batch_size or (16384 if gpu else 32)
    args.max_length = args.max_length or (128 if gpu else 64)
    args.chunk = args.chunk or (512 if gpu else 16)
    args.steps = args.steps or (4 if gpu else 3)
    if args.worker:
        worker(args)
        return

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="pairmill-bench-"))
    models = make_models(workdir)
    data = (make_dataset(workdir, max(args.batch_size * 2, 2000), args.max_length + 32)
            if args.texts == "full" else mine_stdlib(workdir))
    results = []
    for name in args.models.split(","):
        row = {"model": name}
        for tool in ("cached_mnrl", "pairmill"):
            cmd = [sys.executable, __file__, "--worker", tool, "--model-path", models[name],
                   "--data", str(data), "--workdir", str(workdir), "--device", args.device,
                   "--batch-size", str(args.batch_size), "--max-length", str(args.max_length),
                   "--chunk", str(args.chunk), "--chunk-rows", str(args.chunk_rows),
                   "--steps", str(args.steps)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
            if done.returncode or not lines:
                sys.exit(f"{tool} on {name} failed:\n{done.stderr[-3000:]}")
            row[tool] = json.loads(lines[-1][len("RESULT "):])
            print(f"{name:10} {tool:12} {row[tool]['pairs_per_s']:10.1f} pairs/s "
                  f"{row[tool]['peak_memory_mb']:10.0f} MB peak", flush=True)
        row["throughput_ratio"] = row["pairmill"]["pairs_per_s"] / row["cached_mnrl"]["pairs_per_s"]
        row["memory_ratio"] = row["pairmill"]["peak_memory_mb"] / row["cached_mnrl"]["peak_memory_mb"]
        print(f"{name:10} pairmill / CachedMNRL: {row['throughput_ratio']:.2f}x throughput, "
              f"{row['memory_ratio']:.2f}x peak memory", flush=True)
        results.append(row)

    import torch

    cpu = f"{platform.processor() or 'cpu'}, {os.cpu_count()} cores"
    device_name = torch.cuda.get_device_name() if gpu else cpu
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing[f"{'gpu' if gpu else 'cpu'}-{args.texts}-texts"] = {
        "device": device_name, "torch": torch.__version__,
        "settings": {"texts": args.texts, "batch_size": args.batch_size, "max_length": args.max_length,
                     "chunk": args.chunk, "cached_mnrl_mini_batch_num_tokens": args.chunk * args.max_length,
                     "steps_timed": args.steps - 1, "loss": "gte four-direction, tau 0.01",
                     "dropout": True, "bf16": gpu},
        "results": results,
    }
    RESULTS.write_text(json.dumps(existing, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
