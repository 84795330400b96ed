"""Streaming the mixture: row groups read on demand, tokenised ahead of the trainer in a thread.

Datasets are read through the storage layer (local folders, `s3://`, `gs://`, `hf://datasets/...`);
only the row groups a batch needs are read, and a small cache keeps the current one per task.
Tokenisation returns unpadded id lists; padding happens per GradCache chunk.
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from ..dataset.read import RowGroup
from ..schemas import ManifestError, storage
from .plan import MixturePlan, RowRef, rank_slice


class RowGroupReader:
    """Reads plan rows, keeping the most recent row groups in memory."""

    def __init__(self, plan: MixturePlan, cache_groups: int = 8, columns: tuple[str, ...] | None = None):
        self.plan = plan
        self.cache_groups = cache_groups
        self.columns = columns  # None: every column
        self._cache: OrderedDict[tuple[str, int], pa.Table] = OrderedDict()
        self._lists: dict[tuple[str, int, str], list] = {}

    def table(self, group: RowGroup) -> pa.Table:
        key = (group.location, group.index)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        with storage.open_input(group.location) as f:
            parquet = pq.ParquetFile(f)
            names = parquet.schema_arrow.names
            columns = names if self.columns is None else [c for c in self.columns if c in names]
            if group.index >= parquet.num_row_groups:
                raise ManifestError(f"{group.location}: has no row group {group.index}")
            table = parquet.read_row_group(group.index, columns=columns)
        if table.num_rows != group.rows:
            raise ManifestError(f"{group.location}: row group {group.index} has {table.num_rows} rows, "
                                f"the manifest implies {group.rows}")
        self._cache[key] = table
        while len(self._cache) > self.cache_groups:
            old, _ = self._cache.popitem(last=False)
            self._lists = {k: v for k, v in self._lists.items() if k[:2] != old}
        return table

    def column(self, group: RowGroup, name: str) -> list | None:
        table = self.table(group)
        if name not in table.column_names:
            return None
        key = (group.location, group.index, name)
        if key not in self._lists:
            self._lists[key] = table.column(name).to_pylist()
        return self._lists[key]

    def texts(self, task: str, refs: list[RowRef], negatives: int = 0):
        """Queries, documents, and up to `negatives` hard negatives per row (flattened)."""
        groups = self.plan.groups[task]
        queries, documents, hard = [], [], []
        for ref in refs:
            group = groups[ref.group]
            queries.append(self.column(group, "query")[ref.row])
            documents.append(self.column(group, "document")[ref.row])
            if negatives:
                listed = self.column(group, "negatives")
                if listed is not None:
                    hard.extend((listed[ref.row] or [])[:negatives])
        return queries, documents, hard

    def rows(self, task: str, refs: list[RowRef]) -> pa.Table:
        """The full rows, in plan order, as one Arrow table."""
        groups = self.plan.groups[task]
        parts = []
        for ref in refs:  # consecutive refs of one row group become one take()
            if parts and parts[-1][0] == ref.group:
                parts[-1][1].append(ref.row)
            else:
                parts.append((ref.group, [ref.row]))
        return pa.concat_tables([self.table(groups[g]).take(pa.array(rows)) for g, rows in parts],
                                promote_options="permissive")


@dataclass
class Batch:
    """One rank's share of a global batch, tokenised without padding."""

    step: int
    task: str
    queries: list[list[int]]
    documents: list[list[int]]
    negatives: list[list[int]]


def stream_batches(plan: MixturePlan, encode: Callable[[list[str], str], list[list[int]]], start: int,
                   stop: int, rank: int = 0, world_size: int = 1, negatives: int = 0,
                   prefetch: int = 4) -> Iterator[Batch]:
    """Batches for steps [start, stop), prepared by a background thread `prefetch` steps ahead.

    `encode(texts, kind)` tokenises a list of texts of one kind ("query" or "document").
    """
    share = rank_slice(plan.batch_size, rank, world_size)
    out: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
    stop_event = threading.Event()

    def produce():
        try:
            reader = RowGroupReader(plan, columns=("query", "document", "negatives"))
            cursors = plan.cursors(start)
            for step in range(start, stop):
                if stop_event.is_set():
                    return
                task, refs = plan.batch(step, cursors)
                cursors[task] += plan.batch_size
                q, d, n = reader.texts(task, refs[share], negatives)
                out.put(Batch(step, task, encode(q, "query"), encode(d, "document"),
                              encode(n, "document") if n else []))
            out.put(None)
        except BaseException as exc:  # handed to the consumer, raised in the training loop
            out.put(exc)

    worker = threading.Thread(target=produce, name="pairmill-loader", daemon=True)
    worker.start()
    try:
        while True:
            item = out.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop_event.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                out.get_nowait()
            except queue.Empty:
                worker.join(0.05)
