"""`pairmill negatives`: hard negatives for stage-2 training (GTE §4), false negatives kept out.

Per task:
1. The candidate documents (the input's own, or those of the same task in --corpus datasets) are
   embedded a row group at a time into a float16 memory-mapped matrix under OUTPUT/_work/TASK/,
   their texts into an Arrow IPC file and, given a signer, their MinHash signatures beside it:
   memory holds one row group whatever the corpus size.
2. Queries are searched --query-rows at a time against --block-rows corpus rows at a time (exact
   inner products, a running top-B merge): peak memory is query_rows × block_rows scores.
   `--search faiss` uses a faiss flat index instead (the embedding matrix in memory).
3. From each query's ranks A..B, a candidate is skipped when it is the row's own document (same
   text), a near copy of the positive (the dedup MinHash estimate), or scores above (1 - margin)
   × the positive's score (sentence-transformers' relative margin), or, given a --teacher
   cross-encoder, is scored by it as a likely positive; N are sampled from what is left,
   seeded by the row id, and random documents of the task fill the group when too
   few pass. Every skip and fill is counted in the manifest.
A finished task leaves a marker under _work/ (a local temporary folder when the output is a URL),
so a rerun after a failure redoes only the others.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
from tqdm import tqdm

from ..dataset.markers import CompletionMarker
from ..dataset.minhash import signatures
from ..dataset.output import DatasetWriter, TaskPart, prepare_output
from ..dataset.read import files_by_task, row_count, row_groups
from ..schemas import storage
from ..schemas.counts import Counts
from ..schemas.settings import redact_argv
from .configs import parse_rank_range
from .evaluate import embed_texts
from .model import Encoder, default_model_path, load_tokenizer, make_encode, offline

Signer = Callable[[list[str]], np.ndarray]  # texts -> (n, num_perm) MinHash signatures
SKIPS = ("own_document", "near_duplicate", "above_margin", "teacher")


class Corpus:
    """A task's candidate documents on disk: embeddings (float16 memmap), texts, signatures."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.embeddings = np.load(folder / "embeddings.npy", mmap_mode="r")
        self.texts = pa.ipc.open_file(pa.memory_map(str(folder / "texts.arrow"))).read_all() \
            .column("document")
        sig = folder / "signatures.npy"
        self.signatures = np.load(sig, mmap_mode="r") if sig.exists() else None

    def __len__(self) -> int:
        return self.embeddings.shape[0]

    @classmethod
    def build(cls, folder: Path, paths: list[str], embed: Callable[[list[str]], torch.Tensor],
              signer: Signer | None, dim: int, progress: str = "", made_by: str = "") -> Corpus:
        """The corpus in `folder`, embedded now unless an earlier run finished it with the same
        `made_by` (model, length, inputs): another model's embeddings are never reused."""
        done = folder / "corpus.done"
        if done.exists() and done.read_text() == made_by:
            return cls(folder)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        n = row_count(paths)
        embeddings = np.lib.format.open_memmap(folder / "embeddings.npy", mode="w+",
                                               dtype=np.float16, shape=(n, dim))
        signatures = None
        schema = pa.schema([("document", pa.large_string())])
        at = 0
        bar = tqdm(total=n, unit="doc", desc=progress or "documents", file=sys.stderr,
                   dynamic_ncols=True)
        with bar, pa.OSFile(str(folder / "texts.arrow"), "wb") as sink, \
                pa.ipc.new_file(sink, schema) as writer:
            for table in row_groups(paths, ["document"]):
                texts = table.column("document").to_pylist()
                embeddings[at:at + len(texts)] = embed(texts).cpu().numpy().astype(np.float16)
                if signer is not None:
                    sig = signer(texts)
                    if signatures is None:
                        signatures = np.lib.format.open_memmap(
                            folder / "signatures.npy", mode="w+", dtype=sig.dtype,
                            shape=(n, sig.shape[1]))
                    signatures[at:at + len(texts)] = sig
                writer.write_table(pa.table({"document": pa.array(texts, pa.large_string())}))
                at += len(texts)
                bar.update(len(texts))
        embeddings.flush()
        if signatures is not None:
            signatures.flush()
        done.write_text(made_by)
        return cls(folder)


def top_candidates(queries: torch.Tensor, embeddings: np.ndarray, k: int, block_rows: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(scores, indices) of each query's k best corpus rows, exact, scanning `block_rows` at a time."""
    best_s = torch.empty((queries.shape[0], 0), device=queries.device)
    best_i = torch.empty((queries.shape[0], 0), dtype=torch.long, device=queries.device)
    for start in range(0, embeddings.shape[0], block_rows):
        block = torch.from_numpy(np.asarray(embeddings[start:start + block_rows],
                                            dtype=np.float32)).to(queries.device)
        scores = queries @ block.T
        kk = min(k, scores.shape[1])
        s, i = scores.topk(kk, dim=1)
        best_s, order = torch.cat([best_s, s], 1).topk(min(k, best_s.shape[1] + kk), dim=1)
        best_i = torch.cat([best_i, i + start], 1).gather(1, order)
    return best_s, best_i


def faiss_search(embeddings: np.ndarray, block_rows: int):
    """A search function over a faiss flat (exact inner product) index of the corpus."""
    try:
        import faiss
    except ImportError:
        raise SystemExit("pairmill: --search faiss needs faiss (pip install faiss-cpu)") from None
    index = faiss.IndexFlatIP(embeddings.shape[1])
    for start in range(0, embeddings.shape[0], block_rows):
        index.add(np.ascontiguousarray(embeddings[start:start + block_rows], dtype=np.float32))

    def search(queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        scores, indices = index.search(queries.float().cpu().numpy(), min(k, index.ntotal))
        return (torch.from_numpy(scores).to(queries.device),
                torch.from_numpy(indices).long().to(queries.device))

    return search


class Teacher:
    """A cross-encoder's opinion of (query, candidate): sigmoid of its first logit, 0..1."""

    def __init__(self, path: str, device: torch.device, max_length: int):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForSequenceClassification.from_pretrained(path).to(device).eval()
        self.device, self.max_length = device, max_length

    @torch.no_grad()
    def scores(self, queries: list[str], documents: list[str], batch: int = 64) -> list[float]:
        out: list[float] = []
        for start in range(0, len(queries), batch):
            tokens = self.tokenizer(queries[start:start + batch], documents[start:start + batch],
                                    truncation=True, max_length=self.max_length, padding=True,
                                    return_tensors="pt").to(self.device)
            out += torch.sigmoid(self.model(**tokens).logits[:, 0].float()).tolist()
        return out


def choose_negatives(row_id: str, positive: str, positive_score: float,
                     positive_signature: np.ndarray | None, candidates: list[int],
                     scores: list[float], corpus: Corpus, texts: dict[int, str], config,
                     counts: Counts, task: str, teacher_scores: list[float] | None = None
                     ) -> list[str]:
    """Up to config.per_query negatives for one row: the window's candidates that pass every
    exclusion, sampled, then random documents of the task (never one the exclusions skipped)."""
    rng = random.Random(f"{config.seed}:{row_id}")
    similar = None  # MinHash estimate of each candidate's Jaccard similarity to the positive
    if positive_signature is not None and corpus.signatures is not None and candidates:
        similar = (np.asarray(corpus.signatures[candidates]) == positive_signature).mean(axis=1)
    threshold = (1.0 - config.margin) * positive_score
    reasons: dict[str, int] = {}
    passed, skipped = [], set()
    for k, (index, score) in enumerate(zip(candidates, scores, strict=True)):
        if texts[index] == positive:
            reason = "own_document"
        elif similar is not None and similar[k] >= config.near_duplicate:
            reason = "near_duplicate"
        elif score > threshold:
            reason = "above_margin"
        elif teacher_scores is not None and teacher_scores[k] >= config.teacher_max_score:
            reason = "teacher"
        else:
            passed.append(index)
            continue
        skipped.add(index)
        reasons[reason] = reasons.get(reason, 0) + 1
    chosen = rng.sample(passed, min(config.per_query, len(passed)))
    picked = [texts[i] for i in chosen]
    hard, tries = len(picked), 0
    while len(picked) < config.per_query and tries < 20 * config.per_query:
        tries += 1
        index = rng.randrange(len(corpus))
        if index in chosen or index in skipped:
            continue
        text = corpus.texts[index].as_py()
        if text == positive or text in picked:
            continue
        chosen.append(index)
        picked.append(text)
    for reason, n in reasons.items():
        counts.add("note", f"negative_{reason}", n, task)
    if len(picked) > hard:
        counts.add("note", "negative_random_fill", len(picked) - hard, task)
    counts.add("note", "negatives_written", len(picked), task)
    return picked


def _mine_task(task: str, paths: list[str], corpus_paths: list[str], work: Path, config,
               encoder: Encoder, encode, pad: int, device: torch.device, signer: Signer | None,
               counts: Counts, part: TaskPart) -> int:
    def embed(texts: list[str], kind: str = "document") -> torch.Tensor:
        with torch.no_grad():
            return embed_texts(encoder, encode, texts, kind, pad, device, config.token_budget)

    dim = int(embed(["dimension probe"]).shape[1])
    made_by = json.dumps({"model": config.model, "max_length": config.max_length,
                          "corpus": corpus_paths, "signatures": signer is not None})
    corpus = Corpus.build(work / "corpus", corpus_paths, embed, signer, dim,
                          f"{task}: embedding candidates", made_by)
    if config.search == "faiss":
        search = faiss_search(corpus.embeddings, config.block_rows)
    else:
        def search(queries, k):
            return top_candidates(queries, corpus.embeddings, k, config.block_rows)
    teacher = Teacher(config.teacher, device, config.max_length) if config.teacher else None
    own_corpus = corpus_paths == paths
    start, stop = parse_rank_range(config.rank_range)
    total, done, offset = row_count(paths), 0, 0
    bar = tqdm(total=total, unit="query", desc=f"{task}: searching", file=sys.stderr,
               dynamic_ncols=True)
    try:
        for table in row_groups(paths):
            rows = table.to_pylist()
            out_negatives = []
            for first in range(0, len(rows), config.query_rows):
                block = rows[first:first + config.query_rows]
                positives = [r["document"] for r in block]
                q = embed([r["query"] for r in block], "query")
                if own_corpus:
                    own = np.arange(offset + first, offset + first + len(block))
                    p = torch.from_numpy(np.asarray(corpus.embeddings[own], dtype=np.float32))
                    p_sig = corpus.signatures[own] if corpus.signatures is not None else None
                else:
                    p = embed(positives)
                    p_sig = signer(positives) if signer is not None else None
                positive_scores = (q * p.to(q.device)).sum(1).tolist()
                scores, indices = search(q, stop)
                scores, indices = scores[:, start:].tolist(), indices[:, start:].tolist()
                wanted = sorted({i for row in indices for i in row})
                texts = dict(zip(wanted, corpus.texts.take(pa.array(wanted, pa.int64()))
                                 .to_pylist(), strict=True))
                judged = None
                if teacher is not None:
                    flat = teacher.scores([r["query"] for r, row in zip(block, indices, strict=True)
                                           for _ in row], [texts[i] for row in indices for i in row])
                    widths = np.cumsum([0] + [len(row) for row in indices])
                    judged = [flat[a:b] for a, b in zip(widths[:-1], widths[1:], strict=True)]
                for j, row in enumerate(block):
                    out_negatives.append(choose_negatives(
                        row["id"], positives[j], positive_scores[j],
                        None if p_sig is None else p_sig[j], indices[j], scores[j], corpus,
                        texts, config, counts, task, None if judged is None else judged[j]))
            offset += len(rows)
            column = pa.array(out_negatives, pa.list_(pa.string()))
            table = table.set_column(table.schema.get_field_index("negatives"), "negatives",
                                     column) if "negatives" in table.schema.names \
                else table.append_column("negatives", column)
            part.write(table)
            done += len(rows)
            bar.update(len(rows))
    finally:
        bar.close()
    return done


def _work_folder(output: str) -> Path:
    """Where the memory-mapped corpus and task markers live: OUTPUT/_work for a local output,
    a folder in the machine's temporary directory (one per output URL) for a remote one."""
    if "://" not in output:
        return Path(output) / "_work"
    digest = hashlib.sha256(output.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"pairmill-negatives-{digest}"


def negatives_command(config) -> int:
    """`pairmill negatives`: near copies of the positive judged by the dedup step's MinHash
    signatures at its default settings, so "near copy" means what it means in `pairmill dedup`."""
    return mine_negatives(config, signatures if config.near_duplicate > 0 else None)


def mine_negatives(config, signer: Signer | None = None) -> int:
    """Run `pairmill negatives`; `signer` gives MinHash signatures for the near-copy check."""
    # nothing here forks, so the tokenizer may use every core (offline() turns that off by default)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    offline()
    started = time.time()
    parse_rank_range(config.rank_range)
    tasks = files_by_task(config.input)
    corpus_tasks = files_by_task(config.corpus) if config.corpus else tasks
    missing = sorted(set(tasks) - set(corpus_tasks))
    if missing:
        raise ValueError(f"--corpus has no documents for task(s) {', '.join(missing)}")
    # a rerun keeps the parts of tasks that finished (their markers say so)
    prepare_output(config.output, config.overwrite, inputs=config.input,
                   clear=("data",) if config.overwrite else ())
    work_root = _work_folder(config.output)
    if config.overwrite and work_root.exists():
        shutil.rmtree(work_root)
    model = config.model or default_model_path()
    device = torch.device(config.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    encoder = Encoder.from_pretrained(model, dropout=False).to(device).eval()
    tokenizer = load_tokenizer(model)
    encode = make_encode(tokenizer, config.max_length, encoder.pooling)
    dataset = DatasetWriter(config.output, config.row_group_size)
    command = redact_argv(["pairmill", *config.argv()])
    counts = Counts()
    for task, paths in tasks.items():
        work = work_root / task
        marker = CompletionMarker(str(work / "task.done"))
        finished = marker.finished(command)
        if finished is not None and dataset.has_task(task):
            counts += Counts.from_json(finished["counts"])
            print(f"pairmill: negatives {task}: finished in an earlier run, kept", file=sys.stderr)
            continue
        task_counts = Counts()
        with dataset.task_part(task) as part:
            rows = _mine_task(task, paths, corpus_tasks[task], work, config, encoder, encode,
                              tokenizer.pad_token_id, device, signer, task_counts, part)
        task_counts.add("total", "rows_in", rows, task)
        task_counts.add("total", "rows_out", rows, task)
        task_counts.add("total", "pairs_kept", rows, task)
        shutil.rmtree(work / "corpus")  # the embeddings are not needed once a task is done
        marker.write(command, {"counts": task_counts.to_json()})
        counts += task_counts
    start, stop = parse_rank_range(config.rank_range)
    dataset.finalize(command, counts, extra={
        "seconds": round(time.time() - started, 1),
        "negatives": {"model": storage.portable_name(model),
                      "per_query": config.per_query, "rank_range": [start, stop],
                      "margin": config.margin, "search": config.search,
                      "teacher": storage.portable_name(config.teacher)
                      if config.teacher else None,
                      "near_duplicate": config.near_duplicate if signer else None}})
    for task in sorted(tasks):
        notes = {r: n for t, r, n in counts.select("note") if t == task}
        skipped = ", ".join(f"{notes.get('negative_' + s, 0):,} {s}" for s in SKIPS)
        print(f"{task:40s} {notes.get('negatives_written', 0):>9,} negatives "
              f"({notes.get('negative_random_fill', 0):,} random); skipped: {skipped}")
    return 0
