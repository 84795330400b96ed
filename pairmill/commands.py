"""Every `pairmill` command: its settings class and the library function that runs it.

The CLI parser, `pairmill run` recipes and the command lines recorded in manifests all come from
this table and the settings classes, so a command is declared once. A command's function takes
its config and returns an exit code; nothing here imports Beam or torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass

from .configs import DemoConfig, PublishConfig, ReportConfig, RunConfig
from .dataset.settings import (
    MINE_GROUPS,
    DedupConfig,
    MineConfig,
    StatsConfig,
    WriteSettings,
)
from .schemas.settings import add_flags, config_from_args
from .trainer.configs import EvalConfig, FilterConfig, MixConfig, NegativesConfig, TrainConfig


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    description: str
    config: type
    run: str  # "module:function", imported only when the command runs
    beam: bool = False  # takes Beam's own flags (passed through unchanged)
    writes_dataset: bool = False  # also takes the dataset-writing flags

    def function(self) -> Callable[[object], int]:
        module, _, name = self.run.partition(":")
        return getattr(importlib.import_module(module, __package__), name)

    def add_parser(self, commands) -> argparse.ArgumentParser:
        parser = commands.add_parser(self.name, help=self.help, description=self.description)
        add_flags(parser, self.config)
        if self.writes_dataset:
            add_flags(parser, WriteSettings)
        return parser

    def config_from_args(self, args: argparse.Namespace, extra: list[str]):
        overrides = {}
        if self.writes_dataset:
            overrides["write"] = config_from_args(WriteSettings, args)
        if self.beam:
            overrides["beam_args"] = list(extra)
        return config_from_args(self.config, args, **overrides)


class MineCommand(Command):
    """`pairmill mine SOURCE`: one subcommand per registered source (and its aliases), each with
    its inputs, the source's own settings and the settings groups every mine takes."""

    def add_parser(self, commands) -> argparse.ArgumentParser:
        from .extractors.registry import sources

        mine = commands.add_parser(self.name, help=self.help, description=self.description)
        sub = mine.add_subparsers(dest="source", required=True, metavar="SOURCE")
        for spec in sources().values():
            parser = sub.add_parser(spec.name, help=spec.help, description=spec.description,
                                    aliases=list(spec.aliases))
            for kind in spec.inputs:
                parser.add_argument(f"--{kind.name}", dest=f"input_{kind.name}", nargs="+",
                                    required=kind.required, default=[], metavar=kind.metavar,
                                    help=kind.help)
            add_flags(parser, spec.options)
            for _, group in mine_groups(spec):
                add_flags(parser, group)
        return mine

    def config_from_args(self, args: argparse.Namespace, extra: list[str]) -> MineConfig:
        from .extractors.registry import source

        spec = source(args.source)
        if args.source != spec.name:
            print(f"pairmill: warning: `mine {args.source}` is deprecated, use `mine {spec.name}`",
                  file=sys.stderr)
        inputs = {k.name: list(getattr(args, f"input_{k.name}")) for k in spec.inputs}
        return build_mine_config(spec, inputs, lambda cls: config_from_args(cls, args), extra)


def mine_groups(spec) -> list[tuple[str, type]]:
    """The settings groups a source's `mine` takes: reading limits only for file records."""
    reads_records = any(kind.records is not None for kind in spec.inputs)
    return [(name, cls) for name, cls in MINE_GROUPS if name != "read" or reads_records]


def build_mine_config(spec, inputs: dict[str, list[str]], make, beam_args: list[str]
                      ) -> MineConfig:
    """A MineConfig whose settings groups come from `make(settings_class)`: parsed flags for
    the command line, a recipe section for `pairmill run`; one path for both."""
    groups = {name: make(cls) for name, cls in mine_groups(spec)}
    return MineConfig(source=spec.name, inputs=inputs, options=make(spec.options),
                      beam_args=list(beam_args), **groups)


COMMANDS = (
    MineCommand("mine", "extract pairs from a source into a pairs dataset",
                "Extract pairs from a source's dump files into a pairs dataset.", MineConfig,
                ".pipelines.mine:mine", beam=True),
    Command("dedup", "remove exact and near duplicates, and evaluation-set contamination",
            "Merge pairs datasets, remove exact and MinHash-LSH near duplicates and pairs that "
            "collide with evaluation texts, write one pairs dataset.",
            DedupConfig, ".pipelines.dedup:dedup", beam=True, writes_dataset=True),
    Command("stats", "summary of a pairs dataset", "Rows per task and language, counters, dead "
            "letters per reason, and any integrity problem.", StatsConfig,
            ".dataset.stats:stats"),
    Command("mix", "write the training mixture as sequential one-task-per-batch shards",
            "Materialise the trainer's mixture plan: every aligned block of --batch-size rows is "
            "one task, in the order `pairmill train` would use.", MixConfig, ".trainer.mix:mix"),
    Command("train", "contrastive training with GradCache on a task mixture",
            "Train an embedding model on pairs datasets. Reruns with the same --output resume "
            "from the last checkpoint. Multi-GPU: torchrun --nproc_per_node N -m pairmill "
            "train ...", TrainConfig, ".trainer.train:train_command"),
    Command("eval", "retrieval metrics of a model on a dataset's held-out pairs",
            "MRR@10, nDCG@10 and Recall@1/10/100 of each query against the documents.",
            EvalConfig, ".trainer.evaluate:eval_command"),
    Command("filter", "consistency filtering: keep pairs whose document ranks near the top",
            "Embed each task's queries and documents with a first model (the packaged MiniLM by "
            "default) and keep a pair when its own document is within the top --top-k of a pool "
            "of --pool documents of its task for its query (E5's consistency filter).",
            FilterConfig, ".trainer.consistency:consistency_filter"),
    Command("negatives", "hard negatives from a first model for stage-2 training",
            "Embed each task's documents (or a --corpus) with a model, search each query's "
            "nearest documents, and write the dataset with a `negatives` column: --per-query "
            "documents sampled from ranks --rank-range, never the row's own document, one "
            "scoring above the --margin, or a near copy of the positive.",
            NegativesConfig, ".trainer.negatives:negatives_command"),
    Command("publish", "upload a pairs dataset (or a trained model) to the Hugging Face Hub",
            "Builds the repository folder (data files, manifest, card with one config per task) "
            "and uploads it with huggingface_hub. The token comes from HF_TOKEN or `hf auth "
            "login`.", PublishConfig, ".publish:publish"),
    Command("run", "run a whole recipe (mine, dedup, train, eval, publish, report) from a YAML "
            "file", "Runs every stage of a recipe in order. Stages whose outputs are complete and "
            "were made by the same command from the same inputs are skipped, so running it again "
            "after a failure continues where it stopped.", RunConfig, ".run:run_command"),
    Command("demo", "the bundled recipe: mine code on this machine, dedup, train, eval, report",
            "Runs the bundled demo recipe.", DemoConfig, ".run:run_demo"),
    Command("report", "an HTML page with charts for a dataset, a training run or a whole run",
            "Writes OUTPUT/index.html (self-contained: charts are embedded) and the charts as PNG "
            "files.", ReportConfig, ".report:report_command"),
)


def command(name: str) -> Command:
    return next(c for c in COMMANDS if c.name == name)
