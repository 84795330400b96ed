"""`pairmill mine code`: (docstring, code) pairs from source trees, as a Beam pipeline."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from ..extractors.code import CodeOptions
from .code_sources import ExtractCodeUnit, expand_input
from .dataset_sink import WritePairsDataset


def build_mine_code(pipeline: beam.Pipeline, inputs: list[str], output_dir: str,
                    options: CodeOptions, max_files: int = 0,
                    row_group_size: int = 1000, rows_per_file: int = 100_000) -> None:
    """Attach the mining steps to `pipeline`: list inputs, extract, dedup, write."""
    languages = options.languages
    outputs = (
        pipeline
        | "Inputs" >> beam.Create(sorted(inputs))
        | "ListFiles" >> beam.FlatMap(expand_input, languages, max_files)
        | "Spread" >> beam.Reshuffle()
        | "Extract" >> beam.ParDo(ExtractCodeUnit(options)).with_outputs(
            ExtractCodeUnit.COUNTERS, ExtractCodeUnit.ERRORS, main="pairs")
    )
    _ = {"pairs": outputs.pairs, "errors": outputs[ExtractCodeUnit.ERRORS],
         "counters": outputs[ExtractCodeUnit.COUNTERS]} | "Write" >> WritePairsDataset(
        output_dir, row_group_size=row_group_size, rows_per_file=rows_per_file)


def mine_code(inputs: list[str], output_dir: str, pipeline_options: PipelineOptions,
              options: CodeOptions, max_files: int = 0, row_group_size: int = 1000,
              rows_per_file: int = 100_000) -> None:
    """Run the pipeline to completion (files staged; the caller finalises the dataset)."""
    from .dataset_sink import run_pipeline

    pipeline = beam.Pipeline(options=pipeline_options)
    build_mine_code(pipeline, inputs, output_dir, options, max_files, row_group_size,
                    rows_per_file)
    run_pipeline(pipeline)
