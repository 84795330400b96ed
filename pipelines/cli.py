"""The `pairmill` command line. Flags pairmill does not know are passed to Beam unchanged."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from .. import __version__


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1")
    return value


def _non_negative_int(text: str) -> int:
    return 0 if text.strip() == "0" else _positive_int(text)


def _add_dataset_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, help="dataset folder to write")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a dataset already in --output")
    parser.add_argument("--row-group-size", type=_positive_int, default=1000,
                        help="rows per Parquet row group (default 1000)")
    parser.add_argument("--rows-per-file", type=_positive_int, default=100_000,
                        help="target rows per Parquet file (default 100000)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pairmill",
        description="Mine text and code pairs from public dumps and train embeddings on them.",
        epilog="mine commands also accept Beam's flags (--runner, --direct_num_workers, ...).")
    parser.add_argument("--version", action="version", version=f"pairmill {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    dedup.add_argument("--decontaminate", nargs="+", default=[], metavar="FILE",
                       help="JSON lines or Parquet files of evaluation texts")
    _add_dataset_flags(dedup)

    stats = commands.add_parser("stats", help="summary of a pairs dataset")
    stats.add_argument("dataset", metavar="DIR")
    stats.add_argument("--json", action="store_true", help="print the summary as JSON")

    demo = commands.add_parser("demo", help="mine code pairs from this machine, end to end")
    demo.add_argument("--output", default="demo-output/pairs")
    demo.add_argument("--budget-mb", type=_positive_int, default=40,
                      help="MB of Python source to mine from site-packages (default 40)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    try:
        if args.command == "mine":
            return _mine(args, extra, argv)
        if args.command == "dedup":
            return _dedup(args, extra, argv)
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        if args.command == "stats":
            return _stats(args)
        if args.command == "demo":
            from .demo import run_demo

            return run_demo(args.output, args.budget_mb)
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        print(f"pairmill: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a failed pipeline: one line, the traceback only on request
        if os.environ.get("PAIRMILL_DEBUG"):
            raise
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        print(f"pairmill: error: {message} (set PAIRMILL_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pairmill: interrupted", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command}")
    return 2


def _mine(args, beam_args: list[str], argv: list[str]) -> int:
    from ..extractors.code import CodeOptions, parse_languages
    from .code_sources import input_kind
    from .dataset_sink import finalize_dataset, prepare_output
    from .mine_code import mine_code
    from .options import beam_options
    from .stats import dataset_summary, format_summary

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
    finalize_dataset(args.output, ["pairmill", *argv], args.row_group_size,
                     extra={"seconds": round(time.time() - started, 1)})
    print(format_summary(dataset_summary(args.output)))
    return 0


def _dedup(args, beam_args: list[str], argv: list[str]) -> int:
    import apache_beam as beam

    from .dataset_sink import finalize_dataset, prepare_output, run_pipeline
    from .dedup import build_dedup, dataset_files, dedup_report
    from .minhash import LshBands
    from .options import beam_options
    from .stats import dataset_summary, format_summary

    options = beam_options(beam_args)
    if args.num_perm & (args.num_perm - 1) or not 8 <= args.num_perm <= 1024:
        raise ValueError("--num-perm must be a power of two between 8 and 1024")
    for folder in args.input:
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{folder}: no such directory")
    dataset_files(args.input)  # refuses damaged datasets before any work starts
    for path in args.decontaminate:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such file")
    if os.path.abspath(args.output) in {os.path.abspath(d) for d in args.input}:
        raise ValueError("--output must not be one of the --input datasets")
    prepare_output(args.output, args.overwrite)
    started = time.time()
    print(f"pairmill: dedup of {len(args.input)} dataset(s) -> {args.output}", file=sys.stderr)
    pipeline = beam.Pipeline(options=options)
    build_dedup(pipeline, args.input, args.output, args.threshold, args.num_perm, args.ngram,
                args.field, args.decontaminate, args.row_group_size, args.rows_per_file)
    run_pipeline(pipeline)
    bands = LshBands.for_threshold(args.threshold, args.num_perm)
    finalize_dataset(args.output, ["pairmill", *argv], args.row_group_size,
                     extra={"seconds": round(time.time() - started, 1)},
                     report=lambda raw: dedup_report(raw, args.threshold, args.num_perm,
                                                     args.ngram, args.field, bands))
    print(format_summary(dataset_summary(args.output)))
    return 0


def _stats(args) -> int:
    from .stats import dataset_summary, format_summary

    if not os.path.isdir(args.dataset):
        raise FileNotFoundError(f"{args.dataset}: no such directory")
    summary = dataset_summary(args.dataset)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 1 if summary["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
