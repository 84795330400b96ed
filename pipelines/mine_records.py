"""`pairmill mine arxiv` (and the other line-delimited text sources) as a Beam pipeline."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from .dataset_sink import WritePairsDataset, run_pipeline
from .record_sources import MineRecordFiles


def mine_record_files(files: list[str], output_dir: str, pipeline_options: PipelineOptions,
                      miner: MineRecordFiles, row_group_size: int = 1000,
                      rows_per_file: int = 100_000) -> None:
    """Files -> one streaming extract per file -> the pairs dataset (staged; caller finalises)."""
    pipeline = beam.Pipeline(options=pipeline_options)
    outputs = (
        pipeline
        | "Files" >> beam.Create(files)
        | "Spread" >> beam.Reshuffle()  # file names only: lets runners spread files over workers
        | "Extract" >> beam.ParDo(miner).with_outputs(miner.COUNTERS, miner.ERRORS, main="pairs")
    )
    _ = {"pairs": outputs.pairs, "errors": outputs[miner.ERRORS],
         "counters": outputs[miner.COUNTERS]} | "Write" >> WritePairsDataset(
        output_dir, row_group_size=row_group_size, rows_per_file=rows_per_file)
    run_pipeline(pipeline)
