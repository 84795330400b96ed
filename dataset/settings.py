"""Settings of the commands that make pairs datasets (mine, dedup, stats) and of how any
command writes one: Beam-free, so `pairmill --help`, recipes and the trainer's commands load no
pipeline code. A setting shared by several commands is defined here once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..extractors.settings import ReadSettings, RuleSettings
from ..schemas.settings import fraction, non_negative_int, positive_int, render_argv, setting

DEFAULT_ROW_GROUP_SIZE = 1000
# MinHash defaults of `pairmill dedup` (dataset/minhash.py); `pairmill negatives` means the same
# by "near copy". Here, not in minhash.py, so the CLI's settings import no numpy.
NUM_PERM = 128
NGRAM = 5
# shingle size, in characters, of text written mostly in Han or kana (Chinese, Japanese)
UNSPACED_NGRAM = 2
DEFAULT_ROWS_PER_FILE = 100_000
# decontamination by overlap (dataset/contamination.py): a shared run of 13 tokens, as GPT-3,
# NeMo Curator and the Pile use; texts under 8 tokens (GPT-3's smallest n) never match by
# containment
DECONTAMINATION_NGRAM = 13
DECONTAMINATION_MIN_TOKENS = 8
# memory for one benchmark's n-grams in a worker that builds or checks against its index; past
# it the index is merged on disk and looked up through a Bloom filter (dataset/contamination.py)
DECONTAMINATION_MEMORY_MB = 1024


def row_group_size_setting():
    """`--row-group-size`, for every command that writes a dataset."""
    return setting(DEFAULT_ROW_GROUP_SIZE, "rows per Parquet row group", type=positive_int)


@dataclass(kw_only=True)
class WriteSettings:
    """Where and how a command writes its pairs dataset."""

    output: str = setting(help="dataset folder to write (local, gs://, s3://, ...)", metavar="DIR")
    overwrite: bool = setting(False, "replace a dataset already in --output")
    row_group_size: int = row_group_size_setting()
    rows_per_file: int = setting(DEFAULT_ROWS_PER_FILE, "target rows per Parquet file", type=positive_int)
    allow_empty: bool = setting(False, "exit 0 even when no pair is kept (otherwise a run that "
                                       "keeps nothing fails, naming the top drop reasons)")


@dataclass(kw_only=True)
class ShardSettings:
    """A long run split into parts that finish on their own."""

    input_shards: int = setting(
        1, "split the inputs into this many shards that finish on their own (markers in "
           "OUTPUT/_work); after a kill, the same command redoes only unfinished shards",
        type=positive_int)


@dataclass(kw_only=True)
class MineConfig:
    """`pairmill mine SOURCE`: the source, its inputs per kind, its settings, where to write."""

    source: str
    inputs: dict[str, list[str]]
    options: Any  # the source's settings dataclass
    write: WriteSettings
    read: ReadSettings = field(default_factory=ReadSettings)
    shards: ShardSettings = field(default_factory=ShardSettings)
    rules: RuleSettings = field(default_factory=RuleSettings)
    beam_args: list[str] = field(default_factory=list)

    def argv(self) -> list[str]:
        """The command line that gives this config (what manifests and run.json record)."""
        from ..extractors.registry import source

        spec = source(self.source)
        argv = ["mine", spec.name]
        for kind in spec.inputs:
            if self.inputs.get(kind.name):
                argv += [f"--{kind.name}", *self.inputs[kind.name]]
        return [*argv, *render_argv(self.write, skip={"overwrite"}), *render_argv(self.options),
                *render_argv(self.read), *render_argv(self.shards), *render_argv(self.rules),
                *self.beam_args]


@dataclass(kw_only=True)
class DedupConfig:
    """`pairmill dedup`: exact and near-duplicate removal, and decontamination."""

    input: list[str] = setting(help="pairs datasets to merge and dedup", many=True, metavar="DIR")
    threshold: float = setting(0.8, "Jaccard similarity above which two texts are duplicates",
                               type=fraction)
    num_perm: int = setting(NUM_PERM, "MinHash signature length, a power of two", type=positive_int)
    ngram: int = setting(NGRAM, "words per shingle", type=positive_int)
    field: str = setting("pair", "text compared for near duplicates (pair: query + document)",
                         choices=("pair", "query", "document"))
    shuffle_shards: int = setting(
        0, "shards of the bucket and signature shuffles; one worker holds (pairs x bands / "
           "shards) entries of one. 0: sized from the inputs' row count (a million entries a "
           "shard, at least 16), since on Spark and Flink every shard is a task",
        type=non_negative_int)
    decontaminate: list[str] = setting(
        [], "evaluation texts: JSON lines or Parquet files, pairs datasets (their queries and "
            "documents) or BEIR/MTEB folders (their queries and corpus documents, see "
            "--decontamination-documents)", many=True, metavar="FILE")
    decontamination_documents: str = setting(
        "all", "which corpus documents of a BEIR/MTEB folder are benchmark texts: all (the "
               "whole corpus the queries are scored against) or judged (only those in its "
               "qrels, for corpora too big to read)", choices=("all", "judged"))
    decontamination_mode: str = setting(
        "ngram", "how a pair is found in --decontaminate texts: ngram (it shares a run of "
                 "--decontamination-ngram tokens with one, contains one or is contained in one; "
                 "code compared without comments, docstrings and layout) or minhash (the whole "
                 "query or document is a near duplicate of one, at --threshold)",
        choices=("ngram", "minhash"))
    decontamination_ngram: int = setting(
        DECONTAMINATION_NGRAM, "tokens of the shared run that makes a pair contaminated "
                               "(ngram mode; at most 64)", type=positive_int)
    decontamination_min_tokens: int = setting(
        DECONTAMINATION_MIN_TOKENS, "texts shorter than this many tokens never match by "
                                    "containment (ngram mode)", type=positive_int)
    decontamination_memory_mb: int = setting(
        DECONTAMINATION_MEMORY_MB, "memory, in MiB, for one benchmark's n-grams in each worker "
                                   "(ngram mode): a benchmark that needs more is merged on disk "
                                   "and looked up through a Bloom filter, with the same result",
        type=positive_int)
    write: WriteSettings | None = setting(None, cli=False)
    beam_args: list[str] = setting([], cli=False)

    def argv(self) -> list[str]:
        return ["dedup", *render_argv(self), *render_argv(self.write, skip={"overwrite"}),
                *self.beam_args]


@dataclass(kw_only=True)
class StatsConfig:
    dataset: str = setting(help="a pairs dataset", positional=True, metavar="DIR")
    json: bool = setting(False, "print the summary as JSON")


# the settings groups every `pairmill mine` takes beside its source's own: (MineConfig field,
# class); the parser, the command line, recipes and manifests all read this one list
MINE_GROUPS = (("read", ReadSettings), ("shards", ShardSettings), ("rules", RuleSettings),
               ("write", WriteSettings))
