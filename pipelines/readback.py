"""Write a selection of input rows as a pairs dataset without moving texts through a shuffle.

Beam's local runner holds every shuffle in memory, so a step that groups texts costs memory
in proportion to the dataset. Here only fixed-size records cross the runner: a kept row is
(location, id, meta update), and texts travel through files instead:
  1. the kept rows of one input file are read back from its row groups, a row group at a time,
     and appended to one spill file per output file they belong to;
  2. each output file concatenates its spill files, sorts by id and is written as any other
     dataset file (`dataset.output.write_part`), so the bytes equal what a shuffle would give.
Peak memory is one output file's rows, whatever the dataset's size.
"""

from __future__ import annotations

import bisect
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import NamedTuple

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..dataset.output import task_part, write_part
from ..dataset.read import ROW_BITS
from ..schemas import PAIR_SCHEMA, storage
from ..schemas.pairs import meta_dict, meta_rows
from .dataset_sink import file_shard
from .sharded_group import ShardedGroupByKey

SPILL = "_spill"


class Kept(NamedTuple):
    """A row to write: where it is, its id and task, and the meta entries to set on it."""

    location: int
    id: str
    task: str
    meta: tuple[tuple[str, str], ...] = ()


class _SpillFileRows(beam.DoFn):
    """(file index, kept rows of that file) -> ((task, output file), spill path) per spill."""

    def __init__(self, files: list[str], spill_dir: str, rows_per_file: int):
        self._files, self._spill_dir, self._rows_per_file = files, spill_dir, rows_per_file

    def process(self, element, task_rows: dict):
        file_index, kept = element
        kept = sorted(kept)
        rows = [k.location & ((1 << ROW_BITS) - 1) for k in kept]
        writers: dict[tuple[str, int], tuple[str, pq.ParquetWriter]] = {}
        with storage.open_input(self._files[file_index]) as f:
            parquet = pq.ParquetFile(f)
            start = 0
            for group in range(parquet.num_row_groups):
                end = start + parquet.metadata.row_group(group).num_rows
                lo, hi = bisect.bisect_left(rows, start), bisect.bisect_left(rows, end)
                if lo < hi:
                    table = parquet.read_row_group(group).take([r - start for r in rows[lo:hi]])
                    self._spill(table.to_pylist(), kept[lo:hi], task_rows, writers, file_index)
                start = end
        for key, (path, writer) in writers.items():
            writer.close()
            yield key, path

    def _spill(self, values: list[dict], kept: list[Kept], task_rows: dict, writers: dict,
               file_index: int) -> None:
        by_file: dict[tuple[str, int], list[dict]] = defaultdict(list)
        for row, k in zip(values, kept, strict=True):
            if row["id"] != k.id:
                raise RuntimeError(f"{self._files[file_index]} changed while being read "
                                   f"(row {k.location & ((1 << ROW_BITS) - 1)})")
            if k.meta:
                meta = meta_dict(row.get("meta"))
                meta.update(k.meta)
                row["meta"] = meta_rows(meta)
            by_file[k.task, file_shard(k.id, task_rows[k.task], self._rows_per_file)].append(row)
        for key, batch in by_file.items():
            if key not in writers:
                task, shard = key
                # a name of this attempt's own: a retried bundle never writes into it
                path = storage.join(self._spill_dir, task, str(shard),
                                    f"{file_index:06d}-{uuid.uuid4().hex}.arrow")
                sink = storage.open_output(path)
                writers[key] = (path, _ClosingWriter(sink))
            writers[key][1].write(pa.Table.from_pylist(batch, schema=PAIR_SCHEMA))


class _ClosingWriter:
    """An Arrow IPC file writer that closes its stream too (spills are read once: lz4, the
    cheapest compression Arrow offers)."""

    def __init__(self, sink):
        self._sink = sink
        self._writer = pa.ipc.new_file(sink, PAIR_SCHEMA,
                                       options=pa.ipc.IpcWriteOptions(compression="lz4"))

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()
        self._sink.close()


def _write_output_file(element, staging: str, row_group_size: int) -> Iterator[str]:
    (task, shard), spills = element
    tables = []
    for path in sorted(spills):
        with storage.open_input(path) as f:
            tables.append(pa.ipc.open_file(f).read_all())
    table = pa.concat_tables(tables).combine_chunks()
    table = table.take(pc.sort_indices(table, sort_keys=[("id", "ascending")]))
    path = storage.join(staging, task_part(task, shard))
    write_part(path, table, row_group_size)
    yield path


class WriteKeptRows(beam.PTransform):
    """PCollection of `Kept` -> the dataset's pair files under `staging/data/`; returns the
    per-task kept counts as (task, rows)."""

    def __init__(self, files: list[str], staging: str, row_group_size: int, rows_per_file: int):
        super().__init__()
        self._files, self._staging = files, staging
        self._row_group_size, self._rows_per_file = row_group_size, rows_per_file

    def expand(self, kept):
        task_rows = (kept
                     | "Task" >> beam.Map(lambda k: k.task)
                     | "RowsPerTask" >> beam.combiners.Count.PerElement())
        spills = (kept
                  | "ByFile" >> ShardedGroupByKey(
                      lambda file_index: file_index, max(len(self._files), 1),
                      entries_of=lambda k: ((k.location >> ROW_BITS, k),),
                      spill_dir=storage.join(self._staging, SPILL, "kept"))
                  | "Spill" >> beam.ParDo(
                      _SpillFileRows(self._files, storage.join(self._staging, SPILL, "rows"),
                                     self._rows_per_file),
                      task_rows=beam.pvalue.AsDict(task_rows)))
        _ = (spills
             | "ByOutputFile" >> beam.GroupByKey()
             | "WriteFiles" >> beam.FlatMap(_write_output_file, self._staging,
                                            self._row_group_size))
        return task_rows
