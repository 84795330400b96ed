"""The `pairmill` console script: one parser, commands from the pipeline and trainer groups.

Beam and torch are imported only by the command that needs them, so `pairmill --help` is quick
and a machine without torch can still mine.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import __version__
from .cli_types import non_negative_float, positive_int
from .pipelines import cli as pipeline_cli
from .trainer import cli as trainer_cli


def build_parser(parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser
                 ) -> argparse.ArgumentParser:
    parser = parser_class(
        prog="pairmill",
        description="Mine text and code pairs from public dumps and train embeddings on them.",
        epilog="mine and dedup also accept Beam's flags (--runner, --direct_num_workers, ...).")
    parser.add_argument("--version", action="version", version=f"pairmill {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    pipeline_cli.add_commands(commands)
    trainer_cli.add_commands(commands)
    _add_publish(commands)
    _add_run(commands)
    return parser


def _add_run(commands) -> None:
    run = commands.add_parser(
        "run", help="run a whole recipe (mine, dedup, train, eval, publish, report) from a YAML file",
        description="Runs every stage of a recipe in order. Stages whose outputs are complete and "
                    "were made by the same command from the same inputs are skipped, so running "
                    "it again after a failure continues where it stopped.")
    run.add_argument("recipe", metavar="RECIPE.yaml")
    run.add_argument("--output", default=None, help="run folder (default: the recipe's `output`)")
    run.add_argument("--redo", nargs="+", default=[], metavar="STAGE",
                     help="run these stages again even if complete (and what depends on them)")
    run.add_argument("--plan", action="store_true",
                     help="print the stages and whether each would run, run nothing")

    demo = commands.add_parser(
        "demo", help="the bundled recipe: mine code on this machine, dedup, train, eval, report")
    demo.add_argument("--output", default="demo-output", help="run folder (default demo-output)")
    demo.add_argument("--budget-mb", type=positive_int, default=40,
                      help="MB of Python source to mine from site-packages (default 40)")

    report = commands.add_parser(
        "report", help="an HTML page with charts for a dataset, a training run or a whole run",
        description="Writes OUTPUT/index.html (self-contained: charts are embedded) and the "
                    "charts as PNG files.")
    report.add_argument("source", metavar="DIR",
                        help="a pairs dataset, a `pairmill train` folder or a `pairmill run` folder")
    report.add_argument("--output", default=None, help="folder to write (default: DIR/report)")
    report.add_argument("--datasets", default=None, metavar="ROOT",
                        help="for a run folder: where its mined/ and pairs/ datasets are, when a "
                             "recipe's `datasets:` put them elsewhere (default: DIR)")
    report.add_argument("--alpha", type=non_negative_float, nargs="+", default=[0.0, 0.5, 1.0],
                        help="mixture exponents to show task probabilities for (0 0.5 1)")
    report.add_argument("--sample-rows", type=positive_int, default=100_000,
                        help="rows per task read for the length charts (100000)")


def _add_publish(commands) -> None:
    publish = commands.add_parser(
        "publish", help="upload a pairs dataset (or a trained model) to the Hugging Face Hub",
        description="Builds the repository folder (data files, manifest, card with one config "
                    "per task) and uploads it with huggingface_hub. The token comes from "
                    "HF_TOKEN or `hf auth login`.")
    publish.add_argument("source", metavar="DIR",
                         help="a pairs dataset, or with --repo-type model a `pairmill train` "
                              "output folder")
    publish.add_argument("--repo-id", required=True, metavar="ORG/NAME")
    publish.add_argument("--repo-type", choices=("dataset", "model"), default="dataset")
    publish.add_argument("--private", action="store_true", help="create the repository private")
    publish.add_argument("--license", default="other", dest="license_id",
                         help="license id for the card (default: other; the sources' licenses "
                              "apply to their texts)")
    publish.add_argument("--dry-run", metavar="OUTDIR",
                         help="write the exact folder that would be uploaded, upload nothing")
    publish.add_argument("--eval", metavar="FILE", dest="eval_report",
                         help="with --repo-type model: a `pairmill eval --output` report for the "
                              "card (default: DIR/eval.json when present)")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in pipeline_cli.BEAM_COMMANDS:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.command in trainer_cli.TRAINER_COMMANDS:
            return trainer_cli.run_command(args, argv)
        if args.command in ("run", "demo"):
            from .run import run_command, run_demo

            if args.command == "demo":
                return run_demo(args.output, args.budget_mb)
            return run_command(args.recipe, args.output, args.redo, args.plan)
        if args.command == "report":
            from .report import write_report

            print(write_report(args.source, args.output, args.alpha, args.sample_rows,
                               args.datasets))
            return 0
        if args.command == "publish":
            from .publish import publish

            return publish(args.source, args.repo_id, args.repo_type, args.private,
                           args.dry_run, args.license_id, args.eval_report)
        return pipeline_cli.run_command(args, extra, argv)
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        print(f"pairmill: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pairmill: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a failed pipeline or run: one line, the traceback only on request
        if os.environ.get("PAIRMILL_DEBUG"):
            raise
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        print(f"pairmill: error: {message} (set PAIRMILL_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
