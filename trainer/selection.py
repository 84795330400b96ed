"""Model selection: a dev set scored at step 0 and every few steps; the best checkpoint is the model.

A run that only keeps its last step can hand back a model worse than the one it started from
(issue 31: nDCG@10 0.593 → 0.564 after 150 CPU steps). Here the base model is scored first, each
evaluation that beats the best so far is saved as `checkpoints/best/`, and at the end that folder
becomes `OUTPUT/model/` while the last step goes to `checkpoints/last/`. When nothing beat the
base, the model *is* the base, and the run, the report, the card and `publish` say so.

The dev set is a benchmark's dev split (`--eval-beir DIR --eval-split dev`) or, without one, a
held-out slice of the training data: per task, the pairs with the smallest hash of their id
(deterministic by pair id, whatever the file layout), left out of every training batch.
`OUTPUT/selection.json` records every evaluation, so a resumed run picks up where it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from ..dataset.read import RowGroup
from ..schemas import storage

METRIC = "ndcg@10"  # what "best" means: the mean over the dev tasks or sets
SELECTION_FILE = "selection.json"
MIN_DEV_PAIRS = 10  # fewer held-out pairs per task than this say nothing; none are held out


def _id_hash(pair_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(pair_id.encode(), digest_size=8).digest(), "little")


def dev_size(rows: int, dev_pairs: int, batch_size: int | None) -> int:
    """Pairs of a task held out: at most `dev_pairs` and a tenth of the task, leaving a batch."""
    n = min(dev_pairs, rows // 10)
    if batch_size is not None:
        n = min(n, rows - batch_size)
    return n if n >= MIN_DEV_PAIRS else 0


def hold_out(tasks: dict[str, list[RowGroup]], dev_pairs: int, batch_size: int | None
             ) -> tuple[dict[str, dict[int, list[int]]], dict[str, tuple[list[str], list[str]]]]:
    """The rows to leave out of training (task -> row group index -> rows) and the dev pairs
    (task -> (queries, documents)). Reads the `id` column of every file, then the texts of the
    row groups that hold a chosen pair."""
    exclude: dict[str, dict[int, list[int]]] = {}
    pairs: dict[str, tuple[list[str], list[str]]] = {}
    for task, groups in sorted(tasks.items()):
        n = dev_size(sum(g.rows for g in groups), dev_pairs, batch_size)
        if n == 0:
            continue
        hashes, where = [], []
        by_file: dict[str, list[int]] = defaultdict(list)
        for i, g in enumerate(groups):
            by_file[g.location].append(i)
        for location, members in by_file.items():
            with storage.open_input(location) as f:
                ids = pq.read_table(f, columns=["id"]).column("id").to_pylist()
            offset = 0
            for i in sorted(members, key=lambda m: groups[m].index):
                part = ids[offset:offset + groups[i].rows]
                offset += groups[i].rows
                hashes += [_id_hash(x) for x in part]
                where += [(i, r) for r in range(len(part))]
        chosen = sorted(np.argsort(np.array(hashes, dtype=np.uint64), kind="stable")[:n].tolist())
        held: dict[int, list[int]] = defaultdict(list)
        for k in chosen:
            held[where[k][0]].append(where[k][1])
        exclude[task] = dict(held)
        queries, documents = [], []
        for i, rows in sorted(held.items()):
            with storage.open_input(groups[i].location) as f:
                table = pq.ParquetFile(f).read_row_group(groups[i].index, columns=["query", "document"])
            queries += [table.column("query")[r].as_py() for r in rows]
            documents += [table.column("document")[r].as_py() for r in rows]
        pairs[task] = (queries, documents)
    return exclude, pairs


@dataclass
class DevSet:
    """What the run is selected on: held-out pairs per task, or BEIR/MTEB sets of a split."""

    pairs: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    beir: list = field(default_factory=list)  # retrieval.RetrievalSet
    split: str | None = None

    @property
    def empty(self) -> bool:
        return not self.pairs and not self.beir

    def describe(self) -> dict:
        if self.beir:
            return {"kind": "beir", "split": self.split,
                    "sets": {s.name: {"queries": len(s.queries)} for s in self.beir}}
        return {"kind": "held-out pairs", "tasks": {t: len(q) for t, (q, _) in self.pairs.items()}}

    def label(self) -> str:
        if self.beir:
            return f"{', '.join(s.name for s in self.beir)} ({self.split} split)"
        return f"{sum(len(q) for q, _ in self.pairs.values()):,} held-out pairs"

    def evaluate(self, encoder, tokenizer, max_length: int, device) -> dict:
        """{"score": mean nDCG@10, "parts": {task or set: metrics}} of the encoder as it is now."""
        import torch

        from .evaluate import embed_texts, ranks_of_positives, retrieval_metrics
        from .model import make_encode

        was_training = encoder.training
        encoder.eval()
        encode = make_encode(tokenizer, max_length, encoder.pooling)
        pad = tokenizer.pad_token_id
        parts = {}
        try:  # embed_texts runs without gradients
            for task, (queries, documents) in self.pairs.items():
                q = embed_texts(encoder, encode, queries, "query", pad, device)
                d = embed_texts(encoder, encode, documents, "document", pad, device)
                ranks = ranks_of_positives(q @ d.T, torch.arange(len(queries), device=q.device))
                parts[task] = retrieval_metrics(ranks)
            if self.beir:
                from .retrieval import evaluate_run, search

                def embed(texts: list[str], kind: str):
                    return embed_texts(encoder, encode, texts, kind, pad, device).cpu()

                for rset in self.beir:
                    parts[rset.name] = evaluate_run(search(embed, rset), rset.qrels)
        finally:
            encoder.train(was_training)
        score = float(np.mean([p[METRIC] for p in parts.values()]))
        return {"score": score, "parts": {k: {m: round(float(v), 6) for m, v in p.items()}
                                          for k, p in parts.items()}}


def load_dev_set(tasks: dict[str, list[RowGroup]], eval_beir: list[str], split: str,
                 dev_pairs: int, batch_size: int | None
                 ) -> tuple[DevSet, dict[str, dict[int, list[int]]]]:
    """The dev set and the rows it takes out of training (none for a benchmark's split)."""
    if eval_beir:
        from .retrieval import load_set

        return DevSet(beir=[load_set(p, split) for p in eval_beir], split=split), {}
    if dev_pairs == 0:
        return DevSet(), {}
    exclude, pairs = hold_out(tasks, dev_pairs, batch_size)
    return DevSet(pairs=pairs), exclude


class Selection:
    """The evaluations of a run and its best step, kept in OUTPUT/selection.json (torch-free:
    the report reads it too)."""

    def __init__(self, output: Path, dev: DevSet):
        self.output = output
        self.path = output / SELECTION_FILE
        self.dev = dev
        self.history: list[dict] = []
        if self.path.is_file():
            self.history = json.loads(self.path.read_text()).get("history", [])

    @property
    def best_dir(self) -> Path:
        return self.output / "checkpoints" / "best"

    def trim(self, start: int) -> None:
        """Forget evaluations past the step a resumed run restarts from (they will be redone)."""
        self.history = [h for h in self.history if h["step"] <= start]

    def has(self, step: int) -> bool:
        return any(h["step"] == step for h in self.history)

    @property
    def best(self) -> dict | None:
        """The first evaluation with the highest score (the base wins ties: a change must help)."""
        best = None
        for h in self.history:
            if best is None or h["score"] > best["score"]:
                best = h
        return best

    def record(self, step: int, result: dict, seconds: float) -> bool:
        """Add an evaluation; True when it is the new best (the caller saves the weights)."""
        before = self.best
        self.history.append({"step": step, "score": round(result["score"], 6),
                             "parts": result["parts"], "seconds": round(seconds, 2)})
        return before is None or self.history[-1]["score"] > before["score"]

    def summary(self) -> dict:
        """Base, best and last, and whether any checkpoint beat the base."""
        if not self.history:
            return {}
        base, best, last = self.history[0], self.best, self.history[-1]
        trained = max(self.history[1:], key=lambda h: h["score"], default=None)
        return {"metric": METRIC, "dev": self.dev.describe(), "base": _brief(base),
                "best": _brief(best), "last": _brief(last),
                "best_checkpoint": _brief(trained) if trained else None,
                "improved": best["step"] != base["step"]}

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**self.summary(), "history": self.history}, indent=2))
        os.replace(tmp, self.path)


def _brief(entry: dict) -> dict:
    return {"step": entry["step"], "score": entry["score"],
            "metrics": _mean(entry["parts"])}


def _mean(parts: dict) -> dict:
    metrics = next(iter(parts.values())).keys() if parts else ()
    return {m: round(float(np.mean([p[m] for p in parts.values()])), 6) for m in metrics}


def save_atomic(folder: Path, write) -> None:
    """`write(tmp)` fills a temporary folder that then replaces `folder`."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    write(tmp)
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def verdict(summary: dict) -> str:
    """One line on base, best and last: what the run's last lines and the report say."""
    base, best, last = summary["base"], summary["best"], summary["last"]
    best = summary.get("best_checkpoint") or best
    figures = (f"dev {summary['metric']}: base {base['score']:.4f}, best checkpoint "
               f"{best['score']:.4f} (step {best['step']}), last {last['score']:.4f} "
               f"(step {last['step']})")
    if summary["improved"]:
        return f"{figures}; the model is the best checkpoint"
    return (f"NO CHECKPOINT BEAT THE BASE MODEL ({figures}); the model is the base model "
            f"unchanged, and `pairmill publish` refuses it without --force")


def timed(fn):
    """(result, seconds) of fn()."""
    began = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - began
