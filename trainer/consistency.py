"""`pairmill filter`: consistency filtering (E5's CCPairs, nomic's contrastors).

A pair is kept when its own document ranks within the top K of a pool of N documents of its
task for its query, under a first embedding model. Rows are streamed a pool at a time (memory
is one pool's embeddings), in each task's stored order (sorted by id, so pools are random
samples); a last pool smaller than half of N is ranked with the previous pool's documents as
extra candidates, so no pair is judged against only a handful.
"""

from __future__ import annotations

import sys
import time

import pyarrow as pa
import torch

from ..dataset.output import DatasetWriter, prepare_output
from ..dataset.read import files_by_task, row_groups
from ..schemas import storage
from ..schemas.counts import Counts
from ..schemas.settings import redact_argv
from .evaluate import embed_texts, ranks_of_positives
from .model import Encoder, default_model_path, load_tokenizer, make_encode, offline


def _pools(paths: list[str], size: int):
    """Tables of `size` rows (the last one smaller) over the files, a row group at a time."""
    held: list[pa.Table] = []
    rows = 0
    for table in row_groups(paths):
        held.append(table)
        rows += table.num_rows
        while rows >= size:
            merged = pa.concat_tables(held)
            yield merged.slice(0, size)
            held, rows = [merged.slice(size)], rows - size
    if rows:
        yield pa.concat_tables(held)


def consistency_filter(config) -> int:
    offline()
    started = time.time()
    if config.top_k >= config.pool:
        raise ValueError("--top-k must be smaller than --pool")
    tasks = files_by_task(config.input)  # refuses damaged inputs before any work
    prepare_output(config.output, config.overwrite, inputs=config.input, clear=("data",))
    model = config.model or default_model_path()
    device = torch.device(config.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    encoder = Encoder.from_pretrained(model).to(device).eval()
    tokenizer = load_tokenizer(model)
    encode = make_encode(tokenizer, config.max_length, encoder.pooling)
    pad = tokenizer.pad_token_id
    dataset = DatasetWriter(config.output, config.row_group_size)
    counts = Counts()
    for task, paths in tasks.items():
        previous, seen = None, 0
        with dataset.task_part(task) as part:
            for pool in _pools(paths, config.pool):
                q = embed_texts(encoder, encode, pool.column("query").to_pylist(), "query", pad,
                                device)
                d = embed_texts(encoder, encode, pool.column("document").to_pylist(),
                                "document", pad, device)
                candidates = d
                if pool.num_rows < config.pool // 2 and previous is not None:
                    candidates = torch.cat([d, previous])
                ranks = ranks_of_positives(q @ candidates.T,
                                           torch.arange(pool.num_rows, device=device))
                keep = [i for i, rank in enumerate(ranks.tolist()) if rank <= config.top_k]
                previous, seen = d, seen + pool.num_rows
                counts.add("total", "rows_in", pool.num_rows, task)
                counts.add("drop", "inconsistent", pool.num_rows - len(keep), task)
                if keep:
                    part.write(pool.take(keep))
                print(f"pairmill: filter {task}: {seen:,} pairs ranked, {part.rows:,} kept",
                      file=sys.stderr)
            kept_rows = part.rows
        counts.add("total", "rows_out", kept_rows, task)
        counts.add("total", "pairs_kept", kept_rows, task)
    dataset.finalize(redact_argv(["pairmill", *config.argv()]), counts, extra={
        "seconds": round(time.time() - started, 1),
        "filter": {"model": storage.portable_name(model), "top_k": config.top_k,
                   "pool": config.pool}})
    for task in sorted(tasks):
        n_in = sum(n for t, r, n in counts.select("total") if t == task and r == "rows_in")
        n_out = sum(n for t, r, n in counts.select("total") if t == task and r == "rows_out")
        print(f"{task:40s} {n_in:>9,} in {n_out:>9,} kept (top {config.top_k} of {config.pool})")
    return 0
