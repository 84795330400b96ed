"""Settings of the Beam commands (mine, dedup, stats): Beam-free, so `pairmill --help` and a
recipe check load no pipeline code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..schemas.settings import fraction, language_codes, positive_int, render_argv, setting


@dataclass(kw_only=True)
class WriteSettings:
    """Where and how a command writes its pairs dataset."""

    output: str = setting(help="dataset folder to write (local, gs://, s3://, ...)", metavar="DIR")
    overwrite: bool = setting(False, "replace a dataset already in --output")
    row_group_size: int = setting(1000, "rows per Parquet row group", type=positive_int)
    rows_per_file: int = setting(100_000, "target rows per Parquet file", type=positive_int)
    allow_empty: bool = setting(False, "exit 0 even when no pair is kept (otherwise a run that "
                                       "keeps nothing fails, naming the top drop reasons)")


@dataclass(kw_only=True)
class ReadSettings:
    """Limits on what one record may hold, whatever the source: memory stays bounded."""

    max_record_bytes: int = setting(
        32 << 20, "a line or document longer than this is a `record_too_large` dead letter",
        type=positive_int)
    column: list[str] = setting(
        [], "FIELD=COLUMN: take the record field FIELD from COLUMN, for exports (Parquet or "
            "JSON lines, as on the Hub) that name fields otherwise", many=True,
        metavar="FIELD=COLUMN")

    def column_map(self) -> dict[str, str]:
        """FIELD -> COLUMN; a malformed entry is a clear error before any work."""
        out = {}
        for item in self.column:
            field_name, eq, column = str(item).partition("=")
            if not eq or not field_name.strip() or not column.strip():
                raise ValueError(f"--column {item!r}: expected FIELD=COLUMN, such as title=post_title")
            out[field_name.strip()] = column.strip()
        return out


@dataclass(kw_only=True)
class FilterSettings:
    """What every mined pair must pass, whatever the source."""

    languages: tuple[str, ...] = setting(
        (), "keep only pairs in these languages (ISO 639-1 codes, comma-separated: en,de); "
            "text pairs are identified offline with py3langid, code pairs by their docstring",
        type=language_codes, metavar="CODES")
    pii: str = setting(
        "redact", "personal data (e-mail addresses, phone numbers, public IP addresses, card "
                  "numbers, keys and tokens) in queries and documents: replace it with "
                  "<EMAIL>, <PHONE>, ... (redact), drop the pair (drop), or keep it (keep)",
        choices=("redact", "drop", "keep"))


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
    filters: FilterSettings = field(default_factory=FilterSettings)
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
                *render_argv(self.read), *render_argv(self.shards), *render_argv(self.filters),
                *self.beam_args]


@dataclass(kw_only=True)
class DedupConfig:
    """`pairmill dedup`: exact and near-duplicate removal, and decontamination."""

    input: list[str] = setting(help="pairs datasets to merge and dedup", many=True, metavar="DIR")
    threshold: float = setting(0.8, "Jaccard similarity above which two texts are duplicates",
                               type=fraction)
    num_perm: int = setting(128, "MinHash signature length, a power of two", type=positive_int)
    ngram: int = setting(5, "words per shingle", type=positive_int)
    field: str = setting("pair", "text compared for near duplicates (pair: query + document)",
                         choices=("pair", "query", "document"))
    shuffle_shards: int = setting(
        1024, "shards of the bucket and signature shuffles; one worker holds (pairs x bands / "
              "shards) entries of one, so raise it for billions of pairs", type=positive_int)
    decontaminate: list[str] = setting(
        [], "evaluation texts: JSON lines or Parquet files, pairs datasets (their queries and "
            "documents) or BEIR/MTEB folders (their queries and judged documents)", many=True,
        metavar="FILE")
    write: WriteSettings | None = setting(None, cli=False)
    beam_args: list[str] = setting([], cli=False)

    def argv(self) -> list[str]:
        return ["dedup", *render_argv(self), *render_argv(self.write, skip={"overwrite"}),
                *self.beam_args]


@dataclass(kw_only=True)
class StatsConfig:
    dataset: str = setting(help="a pairs dataset", positional=True, metavar="DIR")
    json: bool = setting(False, "print the summary as JSON")
