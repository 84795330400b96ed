"""`pairmill mine <text source>` as a Beam pipeline: read files, extract, join, write.

Pairs that need two records (a submission and its comment, a link and its target page) leave the
extraction as join parts keyed by what joins them, and meet in a CoGroupByKey: a join over the
whole input that no single worker has to hold, which is what lets the same pipeline run on
Dataflow or Spark over a full dump.
"""

from __future__ import annotations

import functools

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from .dataset_sink import WritePairsDataset, run_pipeline
from .record_sources import JoinGroups, MineSourceFiles, TextSource


def _outputs(pcoll, fn, label: str):
    return pcoll | label >> beam.ParDo(fn).with_outputs(
        MineSourceFiles.COUNTERS, MineSourceFiles.ERRORS, MineSourceFiles.PARTS, main="pairs")


def build_mine_text(pipeline: beam.Pipeline, inputs: list[tuple[str, str]], output_dir: str,
                    source: TextSource, row_group_size: int = 1000,
                    rows_per_file: int = 100_000) -> None:
    """(kind, path) inputs -> one streaming extract per file -> joins -> the pairs dataset."""
    extracted = _outputs(
        pipeline
        | "Files" >> beam.Create(inputs)
        | "Spread" >> beam.Reshuffle(),  # file names only: lets runners spread files over workers
        MineSourceFiles(source), "Extract")
    pairs, errors, counters = [extracted.pairs], [extracted.errors], [extracted.counters]
    parts = extracted.parts
    for number, stage in enumerate(source.joins):
        sides = {}
        for side in stage.sides:
            keyed = (parts
                     | f"Join{number}Pick{side}" >> beam.Filter(lambda p, s=side: p.side == s)
                     | f"Join{number}Key{side}" >> beam.Map(lambda p: (p.key, p.value)))
            if side in stage.reducers:
                better = stage.reducers[side]
                keyed = keyed | f"Join{number}Best{side}" >> beam.CombinePerKey(
                    lambda values, better=better: functools.reduce(better, values))
            sides[side] = keyed
        joined = _outputs(sides | f"Join{number}Group" >> beam.CoGroupByKey(),
                          JoinGroups(stage, source.name), f"Join{number}")
        pairs.append(joined.pairs)
        errors.append(joined.errors)
        counters.append(joined.counters)
        parts = (parts, joined.parts) | f"Join{number}Parts" >> beam.Flatten()
    _ = {"pairs": pairs | "AllPairs" >> beam.Flatten(),
         "errors": errors | "AllErrors" >> beam.Flatten(),
         "counters": counters | "AllCounters" >> beam.Flatten()} | "Write" >> WritePairsDataset(
        output_dir, row_group_size=row_group_size, rows_per_file=rows_per_file)


def mine_text_source(inputs: list[tuple[str, str]], output_dir: str,
                     pipeline_options: PipelineOptions, source: TextSource,
                     row_group_size: int = 1000, rows_per_file: int = 100_000) -> None:
    """Run the pipeline; files land staged in `output_dir` (the caller finalises)."""
    pipeline = beam.Pipeline(options=pipeline_options)
    build_mine_text(pipeline, inputs, output_dir, source, row_group_size, rows_per_file)
    run_pipeline(pipeline)
