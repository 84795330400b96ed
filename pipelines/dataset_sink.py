"""Writing a pairs dataset from Beam: exact dedup, per-task shards, dead letters, counters.

Output must be byte-identical for the same input on any runner, so nothing depends on arrival
order: each pair goes to shard hash(id) mod n (n from the task's row count), a shard's rows are
sorted by id, and files are written with fixed row groups. Workers write into the dataset
layer's staging folder; the driver commits it with `dataset.output.finalize_staged` only after
the pipeline succeeded.

The exact dedup's and the writer's shuffles pass their packs through files in that staging
folder (`_spill`, gone with it): every written pair's bytes cross both, and Beam's local runner
copied each pack's bytes many times between stages (32,000 arXiv pairs: 7.2 -> 6.9 s CPU, with
the collector paused while rows are unpickled), where a file is written and read once.
"""

from __future__ import annotations

import gc
import hashlib
import math
import pickle
import sys
import zlib

import apache_beam as beam
import pyarrow as pa
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from ..dataset.output import (
    finalize_staged,
    part_name,
    staging_dir,
    write_part,
    write_staged_counts,
)
from ..dataset.settings import DEFAULT_ROW_GROUP_SIZE, DEFAULT_ROWS_PER_FILE
from ..schemas import DEAD_LETTER_SCHEMA, PAIR_SCHEMA, storage
from ..schemas.counts import Counts
from ..schemas.settings import redact_argv
from .sharded_group import ShardedGroupByKey, collector_paused

COUNTS = "counts"  # the tag of counts beside a step's main output
SPILL = "_spill"  # the staging folder the writer's shuffles pass their packs through


def exact_key(pair: dict) -> str:
    """Key of the normalised pair: whitespace runs collapsed, so reformatted copies collide."""
    h = hashlib.blake2b(digest_size=16)
    for part in (pair["task"], " ".join(pair["query"].split()), " ".join(pair["document"].split())):
        h.update(part.encode("utf-8", "surrogatepass") + b"\x00")
    return h.hexdigest()


def packed(row) -> bytes:
    """A row (or a batch of rows) as it crosses a shuffle: bytes, which the local runner passes
    through as they are (other values it decodes and encodes again to group them) and the cyclic
    collector never walks while a pack holds them."""
    return pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL)


PAIR_COLUMNS = tuple(PAIR_SCHEMA.names)
DEAD_LETTER_COLUMNS = tuple(DEAD_LETTER_SCHEMA.names)


def row_of(record: dict, columns: tuple[str, ...]) -> tuple:
    """A record as the writer's row: its values in the schema's column order (a missing one is
    null). A tuple, not the dict: every written pair is unpickled and made into Arrow columns,
    and a tuple costs a third less there (5.6 instead of 7.7 us an arXiv pair)."""
    return tuple(record.get(name) for name in columns)


def _exact_entries(pair: dict) -> tuple[tuple[str, tuple[str, str, str, bytes]]]:
    """The exact-dedup shuffle's entry: what picks the survivor, then the packed row."""
    return ((exact_key(pair), (pair["origin"], pair["id"], pair["task"],
                               packed(row_of(pair, PAIR_COLUMNS)))),)


def _hex_shard(key: str) -> int:
    return int(key[:8], 16)


def shard_of(key: str, n_shards: int) -> int:
    return int(hashlib.blake2b(key.encode(), digest_size=8).hexdigest(), 16) % max(n_shards, 1)


def file_shard(key: str, rows: int, rows_per_file: int) -> int:
    """The file a row goes to among its folder's ceil(rows / rows_per_file) files."""
    return shard_of(key, math.ceil(rows / rows_per_file))


class _WriteShard(beam.DoFn):
    """Sort one shard's rows (`row_of` tuples) and write them as a Parquet file with fixed-size
    row groups."""

    def __init__(self, staging: str, schema: pa.Schema, row_group_size: int):
        self._staging = staging
        self._schema = schema
        self._row_group_size = row_group_size

    def process(self, element):
        (folder, shard), entries = element
        with collector_paused():
            rows = [pickle.loads(blob) for _, blob in sorted(entries)]
            columns = zip(*rows, strict=True) if rows else [() for _ in self._schema]
            table = pa.Table.from_arrays(
                [pa.array(column, type=field.type)
                 for column, field in zip(columns, self._schema, strict=True)], schema=self._schema)
            del rows, columns
        path = storage.join(self._staging, folder, part_name(shard))
        write_part(path, table, self._row_group_size)
        yield path


def _write_sharded(batches, label: str, schema, staging, row_group_size, rows_per_file,
                   folder_rows=None):
    """Batches of (folder, sort key, packed row) rows, each batch packed as one bytes value
    (`packed`) -> deterministic shards per folder, each one file whose rows are in sort-key
    order; a row's shard is the hash of its key's last part.

    A row's file needs its folder's row count, a side input: the runner holds every element
    before that step until the count is done, encoding and decoding each. Batches make that one
    element per batch instead of one per row (about a fifth of the writer's time on PubMed pairs).
    `folder_rows` ((folder, n) per bundle), when the step making the rows counted them already,
    saves a pass over the rows."""
    if folder_rows is None:
        folder_rows = batches | f"{label}Folder" >> beam.FlatMap(
            lambda batch: [(row[0], 1) for row in pickle.loads(batch)])
    counts = folder_rows | f"{label}Count" >> beam.CombinePerKey(sum)

    def assign(batch, counts):
        return [((folder, file_shard(key[-1], counts[folder], rows_per_file)), (key, blob))
                for folder, key, blob in pickle.loads(batch)]

    return (batches
            | f"{label}Assign" >> beam.Map(assign, counts=beam.pvalue.AsDict(counts))
            | f"{label}Group" >> ShardedGroupByKey(_file_key_shard, entries_of=list,
                                                   spill_dir=storage.join(staging, SPILL, label))
            | f"{label}Write" >> beam.ParDo(_WriteShard(staging, schema, row_group_size)))


def _file_key_shard(key: tuple[str, int]) -> int:
    folder, shard = key
    return zlib.crc32(folder.encode()) + shard


def _dead_letter_row(letter: dict) -> tuple[str, tuple, bytes]:
    key = (letter["origin"], letter["reason"], letter["detail"],
           f"{letter['origin']}|{letter['reason']}|{letter['detail']}")
    return "errors", key, packed(row_of(letter, DEAD_LETTER_COLUMNS))


def in_global_window(value):
    return WindowedValue(value, GlobalWindow().max_timestamp(), [GlobalWindow()])


class CountsPerBundle(beam.DoFn):
    """A DoFn that adds to `self._counts` and emits them once per bundle, tagged COUNTS: one
    counter element per pair was a third of the runner's per-element work."""

    def start_bundle(self):
        self._counts = Counts()

    def finish_bundle(self):
        if self._counts:
            yield beam.pvalue.TaggedOutput(COUNTS, in_global_window(self._counts))


ROWS = "rows"  # the tag of (folder, rows) per bundle beside the kept pairs


ROWS_PER_BATCH = 2000  # rows packed into one element for the writer (see _write_sharded)


class KeptPairs(CountsPerBundle):
    """The pairs that are written: after exact dedup, (key, group) in, the group's survivor out
    as (folder, sort key, packed pair) rows, in packed batches. Duplicates removed and pairs kept
    per task are counted per bundle, as are the rows per task folder that fix its number of
    files: one step per pair instead of five."""

    def __init__(self, deduplicated: bool = True):
        self._deduplicated = deduplicated

    def start_bundle(self):
        super().start_bundle()
        self._duplicates = 0
        self._kept: dict[str, int] = {}
        self._batch: list[tuple] = []

    def process(self, element):
        if self._deduplicated:  # (key, [(origin, id, task, packed pair)])
            members = element[1]
            _, pair_id, task, blob = min(members)  # the smallest (origin, id) survives
            self._duplicates += len(members) - 1
        else:
            pair_id, task, blob = element["id"], element["task"], packed(row_of(element, PAIR_COLUMNS))
        self._kept[task] = self._kept.get(task, 0) + 1
        self._batch.append((f"data/{task}", (pair_id,), blob))
        if len(self._batch) >= ROWS_PER_BATCH:
            yield packed(self._batch)
            self._batch = []

    def finish_bundle(self):
        if self._batch:
            yield in_global_window(packed(self._batch))
            self._batch = []
        self._counts.add("drop", "exact_duplicate", self._duplicates)
        for task, n in sorted(self._kept.items()):
            self._counts.add("total", "pairs_kept", n, task)
            yield beam.pvalue.TaggedOutput(ROWS, in_global_window((f"data/{task}", n)))
        yield from super().finish_bundle()


class SumCounts(beam.CombineFn):
    """Counts from every step summed into one (combined before the shuffle, per bundle)."""

    def create_accumulator(self):
        return Counts()

    def add_input(self, acc, counts):
        acc += counts
        return acc

    def merge_accumulators(self, accs):
        total = Counts()
        for acc in accs:
            total += acc
        return total

    def extract_output(self, acc):
        return acc


class WritePairsDataset(beam.PTransform):
    """{"pairs", "dead_letters", "counts"} PCollections -> files under `output/_staging`."""

    def __init__(self, output_dir: str, row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
                 rows_per_file: int = DEFAULT_ROWS_PER_FILE, exact_dedup: bool = True):
        super().__init__()
        self._exact_dedup = exact_dedup
        self._staging = staging_dir(output_dir)
        self._row_group_size = row_group_size
        self._rows_per_file = rows_per_file

    def expand(self, pcolls):
        pairs = pcolls["pairs"]  # one PCollection, or several: each is packed where it is made
        if self._exact_dedup:
            pairs = pairs | "ExactDedup" >> ShardedGroupByKey(
                _hex_shard, entries_of=_exact_entries,
                spill_dir=storage.join(self._staging, SPILL, "exact"))
        elif isinstance(pairs, (list, tuple)):
            pairs = pairs | "AllPairs" >> beam.Flatten()
        # (without exact dedup the caller already removed duplicates: pairmill dedup)
        kept = pairs | "Kept" >> beam.ParDo(KeptPairs(self._exact_dedup)).with_outputs(
            COUNTS, ROWS, main="kept")
        _write_sharded(kept.kept, "Pairs", PAIR_SCHEMA, self._staging, self._row_group_size,
                       self._rows_per_file, folder_rows=kept[ROWS])
        letters = pcolls["dead_letters"] | "ErrorRows" >> beam.Map(
            lambda letter: packed([_dead_letter_row(letter)]))  # few: a batch each
        _write_sharded(letters, "Errors", DEAD_LETTER_SCHEMA, self._staging,
                       self._row_group_size, self._rows_per_file)
        return (pcolls["counts"], kept[COUNTS]) | "Counts" >> WriteCounts(self._staging)


class WriteCounts(beam.PTransform):
    """Counts PCollections -> one summed counts file in the staging folder."""

    def __init__(self, staging: str):
        super().__init__()
        self._staging = staging

    def expand(self, counts):
        return (counts
                | "AllCounts" >> beam.Flatten()
                | "SumCounts" >> beam.CombineGlobally(SumCounts())
                | "WriteCounts" >> beam.Map(lambda counts, staging: write_staged_counts(staging, counts),
                                             self._staging))


def run_pipeline(pipeline: beam.Pipeline) -> None:
    """Run and wait; Beam's own errors keep their message, prefixed with what failed.

    What exists before the run (Beam, pyarrow, the models: millions of objects) is frozen out
    of the cyclic collector while it runs: every full collection walked all of it again, and
    the pipeline's many short-lived objects set off many (4% of `mine s2orc`'s CPU).
    """
    gc.collect()
    gc.freeze()
    try:
        result = pipeline.run()
        state = result.wait_until_finish()
    finally:
        gc.unfreeze()  # long-lived callers (tests, notebooks) collect it again afterwards
    if state not in (None, "DONE") and str(state) not in ("DONE", "PipelineState.DONE"):
        print(f"pairmill: pipeline ended in state {state}", file=sys.stderr)
        raise RuntimeError(f"pipeline ended in state {state}")


def finish_command(write, command: list[str], started: float, report=None,
                   history: list[list[str]] | None = None, extra: dict | None = None) -> int:
    """Move the staged files into place, write the manifest, print the summary."""
    import time

    from ..dataset.stats import dataset_summary, format_summary

    extra = {"seconds": round(time.time() - started, 1), **(extra or {})}
    if history:
        extra["history"] = history
    manifest = finalize_staged(write.output, redact_argv(command), write.row_group_size,
                               extra=extra, report=report)
    print(format_summary(dataset_summary(write.output)))
    top = sorted(manifest.counters.get("drops", {}).items(), key=lambda kv: (-kv[1], kv[0]))
    if manifest.total_rows == 0 and not write.allow_empty:
        if not top and not manifest.counters.get("records_read"):  # empty inputs: nothing lost
            print("pairmill: warning: the inputs held no records", file=sys.stderr)
            return 0
        why = ", ".join(f"{reason} {n:,}" for reason, n in top[:5])
        print(f"pairmill: error: every record was dropped ({why}); see "
              f"{storage.join(write.output, 'errors')} for the dead letters, or pass "
              f"--allow-empty if this is intended", file=sys.stderr)
        return 1
    return 0
