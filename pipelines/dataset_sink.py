"""Writing a pairs dataset from Beam: exact dedup, per-task shards, dead letters, counters.

Output must be byte-identical for the same input on any runner, so nothing depends on arrival
order: each pair goes to shard hash(id) mod n (n from the task's row count), a shard's rows are
sorted by id, and files are written with fixed row groups. Workers write into the dataset
layer's staging folder; the driver commits it with `dataset.output.finalize_staged` only after
the pipeline succeeded.
"""

from __future__ import annotations

import hashlib
import math
import sys

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

COUNTS = "counts"  # the tag of counts beside a step's main output


def exact_key(pair: dict) -> str:
    """Key of the normalised pair: whitespace runs collapsed, so reformatted copies collide."""
    h = hashlib.blake2b(digest_size=16)
    for part in (pair["task"], " ".join(pair["query"].split()), " ".join(pair["document"].split())):
        h.update(part.encode("utf-8", "surrogatepass") + b"\x00")
    return h.hexdigest()


class KeepFirstByOrigin(beam.CombineFn):
    """Survivor of an exact-duplicate group: the smallest (origin, id), plus the group size.

    A combiner, so duplicates are merged before the shuffle and only survivors travel.
    """

    def create_accumulator(self):
        return (None, 0)

    def add_input(self, acc, pair):
        best, n = acc
        if best is None or (pair["origin"], pair["id"]) < (best["origin"], best["id"]):
            best = pair
        return best, n + 1

    def merge_accumulators(self, accs):
        best, total = None, 0
        for cand, n in accs:
            total += n
            if cand is not None and (best is None or
                                     (cand["origin"], cand["id"]) < (best["origin"], best["id"])):
                best = cand
        return best, total

    def extract_output(self, acc):
        return acc


def shard_of(key: str, n_shards: int) -> int:
    return int(hashlib.blake2b(key.encode(), digest_size=8).hexdigest(), 16) % max(n_shards, 1)


def file_shard(key: str, rows: int, rows_per_file: int) -> int:
    """The file a row goes to among its folder's ceil(rows / rows_per_file) files."""
    return shard_of(key, math.ceil(rows / rows_per_file))


class _WriteShard(beam.DoFn):
    """Sort one shard's rows and write them as a Parquet file with fixed-size row groups."""

    def __init__(self, staging: str, schema: pa.Schema, sort_key, row_group_size: int):
        self._staging = staging
        self._schema = schema
        self._sort_key = sort_key
        self._row_group_size = row_group_size

    def process(self, element):
        (folder, shard), rows = element
        rows = sorted(rows, key=self._sort_key)
        path = storage.join(self._staging, folder, part_name(shard))
        write_part(path, pa.Table.from_pylist(rows, schema=self._schema), self._row_group_size)
        yield path


def _write_sharded(pcoll, label: str, folder_of, sort_key, schema, staging, row_group_size,
                   rows_per_file, folder_rows=None):
    """Group rows into deterministic shards per folder and write each shard as one file.

    `folder_rows` ((folder, n) per bundle), when the step making the rows counted them already,
    saves one step per row."""
    if folder_rows is None:
        folder_rows = pcoll | f"{label}Folder" >> beam.Map(lambda r: (folder_of(r), 1))
    counts = folder_rows | f"{label}Count" >> beam.CombinePerKey(sum)

    def assign(row, counts):
        folder = folder_of(row)
        return (folder, file_shard(sort_key(row)[-1], counts[folder], rows_per_file)), row

    return (pcoll
            | f"{label}Assign" >> beam.Map(assign, counts=beam.pvalue.AsDict(counts))
            | f"{label}Group" >> beam.GroupByKey()
            | f"{label}Write" >> beam.ParDo(
                _WriteShard(staging, schema, sort_key, row_group_size)))


def _in_global_window(value):
    return WindowedValue(value, GlobalWindow().max_timestamp(), [GlobalWindow()])


class CountsPerBundle(beam.DoFn):
    """A DoFn that adds to `self._counts` and emits them once per bundle, tagged COUNTS: one
    counter element per pair was a third of the runner's per-element work."""

    def start_bundle(self):
        self._counts = Counts()

    def finish_bundle(self):
        if self._counts:
            yield beam.pvalue.TaggedOutput(COUNTS, _in_global_window(self._counts))


ROWS = "rows"  # the tag of (folder, rows) per bundle beside the kept pairs


class KeptPairs(CountsPerBundle):
    """The pairs that are written: after exact dedup, (key, (survivor, group size)) in, the
    survivor out. Duplicates removed and pairs kept per task are counted per bundle, as are the
    rows per task folder that fix its number of files: one step per pair instead of five."""

    def __init__(self, deduplicated: bool = True):
        self._deduplicated = deduplicated

    def start_bundle(self):
        super().start_bundle()
        self._duplicates = 0
        self._kept: dict[str, int] = {}

    def process(self, element):
        if self._deduplicated:
            pair, group = element[1]
            self._duplicates += group - 1
        else:
            pair = element
        task = pair["task"]
        self._kept[task] = self._kept.get(task, 0) + 1
        yield pair

    def finish_bundle(self):
        self._counts.add("drop", "exact_duplicate", self._duplicates)
        for task, n in sorted(self._kept.items()):
            self._counts.add("total", "pairs_kept", n, task)
            yield beam.pvalue.TaggedOutput(ROWS, _in_global_window((f"data/{task}", n)))
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
        pairs = pcolls["pairs"]
        if self._exact_dedup:
            pairs = (pairs
                     | "ExactKey" >> beam.Map(lambda p: (exact_key(p), p))
                     | "ExactDedup" >> beam.CombinePerKey(KeepFirstByOrigin()))
        # (without exact dedup the caller already removed duplicates: pairmill dedup)
        kept = pairs | "Kept" >> beam.ParDo(KeptPairs(self._exact_dedup)).with_outputs(
            COUNTS, ROWS, main="pairs")
        _write_sharded(kept.pairs, "Pairs", lambda p: f"data/{p['task']}", lambda p: (p["id"],),
                       PAIR_SCHEMA, self._staging, self._row_group_size, self._rows_per_file,
                       folder_rows=kept[ROWS])
        _write_sharded(pcolls["dead_letters"], "Errors", lambda e: "errors",
                       lambda e: (e["origin"], e["reason"], e["detail"],
                                  f"{e['origin']}|{e['reason']}|{e['detail']}"),
                       DEAD_LETTER_SCHEMA, self._staging, self._row_group_size,
                       self._rows_per_file)
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
    """Run and wait; Beam's own errors keep their message, prefixed with what failed."""
    result = pipeline.run()
    state = result.wait_until_finish()
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
