"""The pipeline commands of `pairmill`. Flags pairmill does not know are passed to Beam unchanged."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from ..cli_types import fraction as _fraction
from ..cli_types import non_negative_int as _non_negative_int
from ..cli_types import positive_int as _positive_int
from ..schemas import storage


def _add_dataset_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, help="dataset folder to write")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a dataset already in --output")
    parser.add_argument("--row-group-size", type=_positive_int, default=1000,
                        help="rows per Parquet row group (default 1000)")
    parser.add_argument("--rows-per-file", type=_positive_int, default=100_000,
                        help="target rows per Parquet file (default 100000)")


def add_commands(commands) -> None:
    """The Beam-backed commands: mine, dedup, stats."""
    mine = commands.add_parser("mine", help="extract pairs from a source into a pairs dataset")
    sources = mine.add_subparsers(dest="source", required=True, metavar="SOURCE")
    code = sources.add_parser("code", help="(docstring, code) pairs from source trees",
                              description="Mine (docstring, code) pairs from directories, git "
                                          "checkouts, .tar.gz or .zip archives.")
    code.add_argument("--input", nargs="+", required=True, metavar="PATH",
                      help="directories, git checkouts, .tar.gz or .zip files")
    code.add_argument("--languages", default=None,
                      help="comma-separated subset of python,go,javascript,java,ruby,php")
    code.add_argument("--max-files", type=_non_negative_int, default=0,
                      help="read at most this many source files per input (0: all)")
    code.add_argument("--min-doc-tokens", type=_positive_int, default=3)
    code.add_argument("--min-code-lines", type=_positive_int, default=3)
    code.add_argument("--max-file-bytes", type=_positive_int, default=1 << 20)
    code.add_argument("--full-docstring", action="store_true",
                      help="keep the whole cleaned docstring, not only its first paragraph")
    code.add_argument("--keep-tests", action="store_true", help="do not skip test files/functions")
    _add_dataset_flags(code)

    from .text_sources import add_text_sources

    add_text_sources(sources, _add_dataset_flags)

    dedup = commands.add_parser(
        "dedup", help="remove exact and near duplicates, and evaluation-set contamination",
        description="Merge pairs datasets, remove exact and MinHash-LSH near duplicates and "
                    "pairs that collide with evaluation texts, write one pairs dataset.")
    dedup.add_argument("--input", nargs="+", required=True, metavar="DIR",
                       help="pairs datasets to merge and dedup")
    dedup.add_argument("--threshold", type=_fraction, default=0.8,
                       help="Jaccard similarity above which two texts are duplicates (0.8)")
    dedup.add_argument("--num-perm", type=_positive_int, default=128,
                       help="MinHash signature length, a power of two (128)")
    dedup.add_argument("--ngram", type=_positive_int, default=5, help="words per shingle (5)")
    dedup.add_argument("--field", choices=("pair", "query", "document"), default="pair",
                       help="text compared for near duplicates (default: query + document)")
    dedup.add_argument("--shuffle-shards", type=_positive_int, default=1024,
                       help="shards of the bucket and signature shuffles; one worker holds "
                            "(pairs x bands / shards) entries of one, so raise it for billions "
                            "of pairs (1024)")
    dedup.add_argument("--decontaminate", nargs="+", default=[], metavar="FILE",
                       help="evaluation texts: JSON lines or Parquet files, or pairs datasets "
                            "(their queries and documents)")
    _add_dataset_flags(dedup)

    stats = commands.add_parser("stats", help="summary of a pairs dataset")
    stats.add_argument("dataset", metavar="DIR")
    stats.add_argument("--json", action="store_true", help="print the summary as JSON")


BEAM_COMMANDS = ("mine", "dedup")


class _KnownNoise(logging.Filter):
    """Beam warns on import that GCP client libraries are missing; they matter only on Dataflow."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "apitools not found" not in record.getMessage()


def _quiet_beam_imports() -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setLevel(logging.WARNING)
        handler.addFilter(_KnownNoise())
        root.addHandler(handler)


def run_command(args, extra: list[str], argv: list[str]) -> int:
    _quiet_beam_imports()
    if args.command == "mine":
        return _mine(args, extra, argv)
    if args.command == "dedup":
        return _dedup(args, extra, argv)
    return _stats(args)


def _mine(args, beam_args: list[str], argv: list[str]) -> int:
    if args.source == "code":
        return _mine_code(args, beam_args, argv)
    return _mine_records(args, beam_args, argv)


def _mine_records(args, beam_args: list[str], argv: list[str]) -> int:
    from .dataset_sink import prepare_output
    from .mine_records import mine_text_source
    from .options import beam_options
    from .text_sources import source_for

    options = beam_options(beam_args)
    source, inputs = source_for(args)
    prepare_output(args.output, args.overwrite)
    started = time.time()
    print(f"pairmill: mining {len(inputs)} {args.source} file(s) -> {args.output}", file=sys.stderr)
    mine_text_source(inputs, args.output, options, source, args.row_group_size, args.rows_per_file)
    return _finish(args, argv, started)


def _mine_code(args, beam_args: list[str], argv: list[str]) -> int:
    from ..extractors.code import CodeOptions, parse_languages
    from .code_sources import input_kind
    from .dataset_sink import prepare_output
    from .mine_code import mine_code
    from .options import beam_options

    options = beam_options(beam_args)
    for path in args.input:
        input_kind(path)
    code_options = CodeOptions(
        languages=tuple(parse_languages(args.languages)), min_doc_tokens=args.min_doc_tokens,
        min_code_lines=args.min_code_lines, max_file_bytes=args.max_file_bytes,
        full_docstring=args.full_docstring, skip_tests=not args.keep_tests)
    prepare_output(args.output, args.overwrite)
    started = time.time()
    print(f"pairmill: mining {len(args.input)} input(s) -> {args.output}", file=sys.stderr)
    mine_code(args.input, args.output, options, code_options, args.max_files,
              args.row_group_size, args.rows_per_file)
    return _finish(args, argv, started)


def _dedup(args, beam_args: list[str], argv: list[str]) -> int:
    import apache_beam as beam

    from .dataset_sink import prepare_output, run_pipeline
    from .dedup import build_dedup, dataset_files, dedup_report
    from .minhash import LshBands
    from .options import beam_options

    options = beam_options(beam_args)
    if args.num_perm & (args.num_perm - 1) or not 8 <= args.num_perm <= 1024:
        raise ValueError("--num-perm must be a power of two between 8 and 1024")
    for folder in args.input:
        if not storage.is_dir(folder):
            raise FileNotFoundError(f"{folder}: no such directory")
    dataset_files(args.input)  # refuses damaged datasets before any work starts
    for path in args.decontaminate:
        if storage.is_dir(path):
            dataset_files([path])
        elif not storage.is_file(path):
            raise FileNotFoundError(f"{path}: no such file or dataset")
    if storage.absolute(args.output) in {storage.absolute(d) for d in args.input}:
        raise ValueError("--output must not be one of the --input datasets")
    prepare_output(args.output, args.overwrite)
    started = time.time()
    print(f"pairmill: dedup of {len(args.input)} dataset(s) -> {args.output}", file=sys.stderr)
    pipeline = beam.Pipeline(options=options)
    build_dedup(pipeline, args.input, args.output, args.threshold, args.num_perm, args.ngram,
                args.field, args.decontaminate, args.row_group_size, args.rows_per_file,
                args.shuffle_shards)
    run_pipeline(pipeline)
    bands = LshBands.for_threshold(args.threshold, args.num_perm)
    return _finish(args, argv, started,
                   report=lambda raw: dedup_report(raw, args.threshold, args.num_perm, args.ngram,
                                                   args.field, bands),
                   history=input_history(args.input))


def input_history(inputs: list[str]) -> list[list[str]]:
    """The commands that made the input datasets (theirs first), so a dataset card can show
    every step from the raw dumps."""
    from ..schemas import read_manifest

    history: list[list[str]] = []
    for folder in inputs:
        manifest = read_manifest(folder)
        for command in [*manifest.extra.get("history", []), manifest.command]:
            if command and command not in history:
                history.append(command)
    return history


def _finish(args, argv: list[str], started: float, report=None,
            history: list[list[str]] | None = None) -> int:
    """Move the staged files into place, write the manifest, print the summary."""
    from .dataset_sink import finalize_dataset
    from .stats import dataset_summary, format_summary

    extra = {"seconds": round(time.time() - started, 1)}
    if history:
        extra["history"] = history
    finalize_dataset(args.output, ["pairmill", *argv], args.row_group_size, extra=extra,
                     report=report)
    print(format_summary(dataset_summary(args.output)))
    return 0


def _stats(args) -> int:
    from .stats import dataset_summary, format_summary

    if not storage.is_dir(args.dataset):
        raise FileNotFoundError(f"{args.dataset}: no such directory")
    summary = dataset_summary(args.dataset)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 1 if summary["problems"] else 0

