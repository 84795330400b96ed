"""Resumable mining: a long `pairmill mine` split into input shards that finish on their own.

With `--input-shards N`, the inputs are split into N shards. Each shard is one pipeline that
extracts its inputs and writes what came out (pairs, join parts, dead letters, counts) as JSON
lines under `OUTPUT/_work/shard-NNNNN/`, then a completion marker holding the shard's
fingerprint (its command and inputs), as datatrove does per task. A killed run, run again,
redoes only the shards without a matching marker; the merge then joins every shard's parts
and writes the dataset. The writer sorts and shards by id, so the merged dataset is identical to
one uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import sys

import apache_beam as beam

from ..dataset.markers import CompletionMarker
from ..extractors.result import JoinPart
from ..schemas import storage
from ..schemas.counts import Counts
from .dataset_sink import SumCounts, run_pipeline

WORK = "_work"
MARKER = "_SUCCESS"
OUTPUTS = ("pairs", "parts", "dead_letters", "counts")


def shard_inputs(inputs: list[tuple[str, object]], shards: int) -> list[list[tuple[str, object]]]:
    """Inputs dealt round-robin in their sorted order: the same split on every run."""
    shards = max(1, min(shards, len(inputs)))
    return [inputs[i::shards] for i in range(shards)]


def fingerprint(argv: list[str], group: list[tuple[str, object]]) -> str:
    return hashlib.sha256(json.dumps([argv, [[k, repr(u)] for k, u in group]]).encode()).hexdigest()


def _shard_dir(output: str, index: int) -> str:
    return storage.join(storage.absolute(output), WORK, f"shard-{index:05d}")


def _as_json(value) -> str:
    if isinstance(value, JoinPart):
        value = [value.side, value.key, value.value]
    elif isinstance(value, Counts):
        value = value.to_json()
    return json.dumps(value, sort_keys=True)


def run_shards(groups: list[list[tuple[str, object]]], output: str, argv: list[str],
               pipeline_options, extract_shard) -> None:
    """Extract every shard that has no matching completion marker.

    `extract_shard(pipeline, inputs)` attaches the extraction and returns its collections by
    name: pairs, parts, dead_letters and counts (summed here).
    """
    for index, group in enumerate(groups):
        folder = _shard_dir(output, index)
        expected = fingerprint(argv, group)
        marker = CompletionMarker(storage.join(folder, MARKER))
        if marker.finished(expected) is not None:
            print(f"pairmill: input shard {index + 1}/{len(groups)} finished earlier, kept",
                  file=sys.stderr)
            continue
        storage.delete_dir(folder)
        print(f"pairmill: input shard {index + 1}/{len(groups)}: {len(group)} input(s)",
              file=sys.stderr, flush=True)
        pipeline = beam.Pipeline(options=pipeline_options)
        collections = extract_shard(pipeline, group)
        collections["counts"] = collections["counts"] | "SumCounts" >> beam.CombineGlobally(SumCounts())
        for name, pcoll in collections.items():
            _ = (pcoll
                 | f"{name}Json" >> beam.Map(_as_json)
                 | f"{name}Write" >> beam.io.WriteToText(storage.join(folder, name),
                                                         file_name_suffix=".jsonl"))
        run_pipeline(pipeline)
        marker.write(expected)


def read_shards(pipeline: beam.Pipeline, output: str, count: int):
    """The four collections of every finished shard, read back."""
    patterns = [storage.join(_shard_dir(output, i), "{name}*.jsonl") for i in range(count)]

    def read(name: str, convert):
        return (pipeline
                | f"{name}Files" >> beam.Create([p.format(name=name) for p in patterns])
                | f"{name}Read" >> beam.io.ReadAllFromText()
                | f"{name}Parse" >> beam.Map(lambda line: convert(json.loads(line))))

    return (read("pairs", lambda v: v), read("dead_letters", lambda v: v),
            read("counts", Counts.from_json), read("parts", lambda v: JoinPart(*v)))


def clear_work(output: str) -> None:
    storage.delete_dir(storage.join(storage.absolute(output), WORK))
