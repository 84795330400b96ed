"""`pairmill mine SOURCE` as one Beam pipeline for every source: list, read, extract, join, write.

A source (extractors/spec.py) says which kinds of input it reads and how; this module does the
rest the same way for all of them. Each input file or tree unit is read in one streaming pass
on a worker; a record that fails becomes a dead letter, never the end of the run. Pairs that
need two records (a submission and its comment, a link and its target page) leave the
extraction as join parts keyed by what joins them, and meet in a CoGroupByKey: a join over the
whole input that no single worker has to hold, which is what lets the same pipeline run on
Dataflow or Spark over a full dump.
"""

from __future__ import annotations

import functools
import os
import sys
import time

import apache_beam as beam

from ..dataset.output import prepare_output
from ..dataset.settings import MineConfig
from ..extractors.inputs import (
    STREAM_ERRORS,
    RecordLimit,
    is_7z,
    is_parquet,
    labelled_inputs,
    open_input,
    parquet_json_rows,
    renamed_json_fields,
)
from ..extractors.registry import source as source_spec
from ..extractors.result import Extraction, Skipped, Unreadable
from ..extractors.rules import apply_rules, mined_pair_rules
from ..extractors.settings import ReadSettings, RuleSettings
from ..extractors.spec import JoinStage, SourceSpec
from ..schemas import make_dead_letter
from ..schemas.counts import Counts
from ..schemas.pairs import repair_pair, repair_record
from .dataset_sink import COUNTS, CountsPerBundle, WritePairsDataset, finish_command, run_pipeline
from .options import beam_options

DEAD_LETTERS = "dead_letters"
PARTS = "parts"


def spec_ref(spec: SourceSpec | str) -> SourceSpec | str:
    """What a DoFn carries to the workers: a registered source's name (workers look it up in
    their own registry, nothing to pickle), or an unregistered spec itself (tests, REPL)."""
    if isinstance(spec, str):
        return spec
    try:
        return spec.name if source_spec(spec.name) is spec else spec
    except ValueError:
        return spec


def resolve_spec(ref: SourceSpec | str) -> SourceSpec:
    return source_spec(ref) if isinstance(ref, str) else ref


def _encodable(record, counts: Counts):
    """Text Beam's coders and Parquet can encode; what was repaired is counted."""
    fixed, repaired = repair_record(record)
    counts.add("total", "texts_repaired", repaired)
    return fixed


def emit(result: Extraction, spec: SourceSpec, counts: Counts):
    """An Extraction as Beam outputs: pairs on the main output, dead letters and join parts
    tagged; its drops are added to `counts` (the caller emits them once per unit)."""
    result.counts(into=counts)
    for letter in result.dead_letters:
        yield beam.pvalue.TaggedOutput(DEAD_LETTERS, _encodable(letter, counts))
    for part in result.parts:
        yield beam.pvalue.TaggedOutput(PARTS, _encodable(part, counts))
    declared = spec.task_names
    for pair in result.pairs:
        pair, repaired = repair_pair(pair)
        counts.add("total", "texts_repaired", repaired)
        if pair["task"] not in declared:  # a source emits only the tasks it declares
            counts.add("dead_letter", "undeclared_task")
            yield beam.pvalue.TaggedOutput(DEAD_LETTERS, make_dead_letter(
                pair["origin"], spec.name, "undeclared_task",
                f"task {pair['task']!r} is not one of {sorted(declared)}"))
            continue
        yield pair


class MineInputs(beam.DoFn):
    """(kind, file or tree unit) in; pairs out, with dead letters, join parts and counts tagged."""

    def __init__(self, spec: SourceSpec | str, options, progress_every: int = 100_000,
                 max_record_bytes: int = ReadSettings().max_record_bytes,
                 columns: dict[str, str] | None = None):
        self._spec_ref = spec_ref(spec)
        self._options = options
        self._progress_every = progress_every
        self._max_record_bytes = max_record_bytes
        self._columns = dict(columns or {})

    def setup(self):
        self._spec = resolve_spec(self._spec_ref)
        self._spec_name = self._spec.name
        self._extractors = {k.name: k.extract(self._options) for k in self._spec.inputs}

    def process(self, element):
        kind_name, unit = element
        kind = self._spec.kind(kind_name)
        counts = Counts()
        if kind.records is not None:
            yield from self._read_file(kind, unit, counts)
        else:
            yield from self._read_tree(kind, unit, counts)
        yield beam.pvalue.TaggedOutput(COUNTS, counts)

    def _records(self, kind, label: str, items, counts: Counts, origin_of):
        """The loop every source shares: extract each record, dead-letter what fails."""
        extract = self._extractors[kind.name]
        records = pairs = 0
        for locator, record in items:
            origin = origin_of(locator)
            if isinstance(record, Skipped):
                counts.add("drop", record.reason)
                continue
            if isinstance(record, Unreadable):
                yield from self._dead_letter(origin, record.reason, record.detail, counts)
                continue
            records += 1
            counts.add("total", "records_read")
            try:
                result = extract(record, origin)
            except Exception as exc:  # a bug on one odd record must not lose the dump
                yield from self._dead_letter(origin, "extractor_error",
                                             f"{type(exc).__name__}: {exc}", counts)
                continue
            yield from emit(result, self._spec, counts)
            pairs += len(result.pairs)
            if self._progress_every and records % self._progress_every == 0:
                print(f"pairmill: {label}: {records:,} records, {pairs:,} pairs so far",
                      file=sys.stderr, flush=True)

    def _read_file(self, kind, unit: tuple[str, str], counts: Counts):
        path, label = unit
        # kinds whose member this .7z also holds (a site archive): read in the same pass,
        # labelled ARCHIVE/MEMBER
        fed = [k for k in self._spec.inputs if k.from_archives_of == kind.name] if is_7z(path) else []
        state = {"label": label, "locator": "0", "consumed": 0}
        try:
            source = open_input(path, kind.archive_member, tuple(k.archive_member for k in fed))
            with source as opened:
                yield from self._read_stream(kind, path, label, opened, counts, state)
                for other in fed:
                    member = source.member(other.archive_member)
                    if member is None:
                        counts.add("drop", f"archive_without_{other.name.replace('-', '_')}")
                        continue
                    state.update(label=f"{label}/{other.archive_member}", locator="0")
                    with member:
                        yield from self._read_stream(other, path, state["label"], member, counts, state)
        except Exception as exc:  # the file ends here: what was read before is kept
            reason = "truncated_file" if isinstance(exc, STREAM_ERRORS) else "unreadable_file"
            yield from self._dead_letter(f"{state['label']}:after {state['locator']}", reason,
                                         f"{type(exc).__name__}: {exc}", counts)
        counts.add("total", "bytes_read", state["consumed"])

    def _read_stream(self, kind, path: str, label: str, opened, counts: Counts, state: dict):
        """One decompressed stream's records, extracted; a stream that breaks raises once every
        complete record before the break is out."""
        def located(stream):
            if kind.json_rows and is_parquet(path):
                records = parquet_json_rows(stream, self._columns)
            else:
                records = kind.records(stream)
                if kind.json_rows and self._columns:
                    records = renamed_json_fields(records, self._columns)
            for locator, record in records:
                state["locator"] = locator
                yield locator, record

        stream = RecordLimit(opened, self._max_record_bytes)
        yield from self._records(kind, label, located(stream), counts,
                                 lambda locator: f"{label}:{locator}")
        state["consumed"] += _bytes_consumed(stream)
        if stream.error is not None:  # every complete record before the break is out
            raise stream.error

    def _read_tree(self, kind, unit, counts: Counts):
        def located():
            for locator, record, nbytes in kind.read(unit, self._options):
                counts.add("total", "bytes_read", nbytes)
                yield locator, record

        yield from self._records(kind, f"worker {os.getpid()}", located(), counts,
                                 lambda locator: locator)

    def _dead_letter(self, origin: str, reason: str, detail: str, counts: Counts):
        counts.add("dead_letter", reason)
        yield beam.pvalue.TaggedOutput(DEAD_LETTERS, _encodable(
            make_dead_letter(origin, self._spec_name, reason, detail), counts))


def _bytes_consumed(stream) -> int:
    try:
        return stream.tell()
    except (OSError, ValueError, AttributeError):
        return 0


class ApplyRules(CountsPerBundle):
    """The rules every mined pair passes (extractors/rules.py), after the joins so that pairs
    made by joins pass them too; their drops and notes leave once per bundle."""

    def __init__(self, settings: RuleSettings, language_of: str = "pair"):
        self._settings, self._language_of = settings, language_of

    def setup(self):
        self._rules = mined_pair_rules(self._settings, self._language_of)

    def process(self, pair: dict):
        kept = apply_rules(pair, self._rules, self._counts)
        if kept is not None:
            yield kept


class JoinGroups(beam.DoFn):
    """(key, {side: values}) from CoGroupByKey -> the stage's pure join function."""

    def __init__(self, stage: JoinStage, spec: SourceSpec | str):
        self._stage = stage
        self._spec_ref = spec_ref(spec)

    def setup(self):
        self._spec = resolve_spec(self._spec_ref)

    def process(self, element):
        key, grouped = element
        counts = Counts()
        yield from emit(self._stage.join(key, {side: list(v) for side, v in grouped.items()}),
                        self._spec, counts)
        if counts:
            yield beam.pvalue.TaggedOutput(COUNTS, counts)


class _TreeUnits(beam.DoFn):
    """A tree input (a directory, an archive) listed into work units, on the workers."""

    def __init__(self, spec: SourceSpec | str, options):
        self._spec_ref, self._options = spec_ref(spec), options

    def process(self, element):
        kind_name, path = element
        kind = resolve_spec(self._spec_ref).kind(kind_name)
        if kind.units is None:
            yield kind_name, path
            return
        for unit in kind.units(path, self._options):
            yield kind_name, unit


def _outputs(pcoll, fn, label: str):
    return pcoll | label >> beam.ParDo(fn).with_outputs(COUNTS, DEAD_LETTERS, PARTS, main="pairs")


def extract(pipeline: beam.Pipeline, spec: SourceSpec, options, inputs: list[tuple[str, object]],
            max_record_bytes: int = ReadSettings().max_record_bytes,
            columns: dict[str, str] | None = None):
    """(kind, input) -> units -> one streaming extract per unit: the tagged outputs."""
    return _outputs(
        pipeline
        | "Inputs" >> beam.Create(inputs)
        | "Units" >> beam.ParDo(_TreeUnits(spec, options))
        | "Spread" >> beam.Reshuffle(),  # names only: lets runners spread units over workers
        MineInputs(spec, options, max_record_bytes=max_record_bytes, columns=columns), "Extract")


def build_mine(pipeline: beam.Pipeline, spec: SourceSpec, options,
               inputs: list[tuple[str, object]], output_dir: str, row_group_size: int = 1000,
               rows_per_file: int = 100_000, max_record_bytes: int = ReadSettings().max_record_bytes,
               columns: dict[str, str] | None = None,
               rules: RuleSettings | None = None) -> None:
    """(kind, input) inputs -> extract -> joins -> the dataset, in one pipeline."""
    extracted = extract(pipeline, spec, options, inputs, max_record_bytes, columns)
    join_and_write(spec, options, extracted.pairs, extracted[DEAD_LETTERS], extracted[COUNTS],
                   extracted[PARTS], output_dir, row_group_size, rows_per_file, rules)


def join_and_write(spec: SourceSpec, options, pairs, letters, counts, parts, output_dir: str,
                   row_group_size: int, rows_per_file: int,
                   rules: RuleSettings | None = None) -> None:
    """Join stages over all join parts, the rules every pair passes, then the writer."""
    rules = rules or RuleSettings()
    pairs, letters, counts = [pairs], [letters], [counts]
    for number, stage in enumerate(spec.joins(options)):
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
                          JoinGroups(stage, spec), f"Join{number}")
        pairs.append(joined.pairs)
        letters.append(joined[DEAD_LETTERS])
        counts.append(joined[COUNTS])
        parts = (parts, joined[PARTS]) | f"Join{number}Parts" >> beam.Flatten()
    kept = (pairs
            | "AllPairs" >> beam.Flatten()
            | "Rules" >> beam.ParDo(ApplyRules(rules, spec.language_of))
            .with_outputs(COUNTS, main="pairs"))
    counts.append(kept[COUNTS])
    _ = {"pairs": kept.pairs,
         "dead_letters": letters | "AllDeadLetters" >> beam.Flatten(),
         "counts": counts | "AllCounts" >> beam.Flatten()} | "Write" >> WritePairsDataset(
        output_dir, row_group_size=row_group_size, rows_per_file=rows_per_file)


def resolve_inputs(spec: SourceSpec, inputs: dict[str, list[str]]) -> list[tuple[str, object]]:
    """(kind, unit) for every input: file kinds' globs expanded into (path, label) units, tree
    kinds' paths checked."""
    resolved: list[tuple[str, object]] = []
    for kind in spec.inputs:
        patterns = inputs.get(kind.name) or []
        if kind.required and not patterns:
            raise ValueError(f"mine {spec.name}: --{kind.name} is required")
        if kind.units is not None:
            for path in patterns:
                if kind.check is not None:
                    kind.check(path)
                resolved.append((kind.name, os.path.abspath(path) if "://" not in path else path))
        elif patterns:
            units = labelled_inputs(patterns)
            if kind.from_archives_of is not None:  # read with that kind's archives already
                fed = {u[0] for k, u in resolved if k == kind.from_archives_of and is_7z(u[0])}
                units = [u for u in units if u[0] not in fed]
            resolved += [(kind.name, unit) for unit in units]
    return resolved


def mine(config: MineConfig) -> int:
    """Run `pairmill mine` from its config: checks first, then the pipeline, then the manifest."""
    spec = source_spec(config.source)
    missing = spec.missing_requirements()
    if missing:  # before any work: a run that would dead-letter every record is refused
        raise ValueError("; ".join(missing))
    config.read.column_map()  # a malformed --column is refused before any work
    pipeline_options = beam_options(config.beam_args)
    options = spec.prepare(config.options, config.inputs)
    inputs = resolve_inputs(spec, config.inputs)
    write = config.write
    prepare_output(write.output, write.overwrite)
    started = time.time()
    print(f"pairmill: mining {len(inputs)} {spec.name} input(s) -> {write.output}", file=sys.stderr)
    if config.shards.input_shards > 1 and len(inputs) > 1:
        _mine_in_shards(config, spec, options, inputs, pipeline_options)
    else:
        pipeline = beam.Pipeline(options=pipeline_options)
        build_mine(pipeline, spec, options, inputs, write.output, write.row_group_size,
                   write.rows_per_file, config.read.max_record_bytes, config.read.column_map(),
                   config.rules)
        run_pipeline(pipeline)
    return finish_command(write, ["pairmill", *config.argv()], started)


def _mine_in_shards(config: MineConfig, spec: SourceSpec, options, inputs, pipeline_options) -> None:
    """Each input shard extracted on its own (kept when finished), then one merge: joins over
    every shard's parts and the writer. See pipelines/resumable.py."""
    from . import resumable

    write = config.write
    if write.overwrite:
        resumable.clear_work(write.output)
    argv = config.argv()
    argv = argv[:len(argv) - len(config.beam_args)]  # runner flags do not change what is mined
    groups = resumable.shard_inputs(inputs, config.shards.input_shards)

    def extract_shard(pipeline, group):
        out = extract(pipeline, spec, options, group, config.read.max_record_bytes,
                      config.read.column_map())
        return {"pairs": out.pairs, "parts": out[PARTS], "dead_letters": out[DEAD_LETTERS],
                "counts": out[COUNTS]}

    resumable.run_shards(groups, write.output, argv, pipeline_options, extract_shard)
    print(f"pairmill: merging {len(groups)} input shards", file=sys.stderr)
    pipeline = beam.Pipeline(options=pipeline_options)
    pairs, letters, counts, parts = resumable.read_shards(pipeline, write.output, len(groups))
    join_and_write(spec, options, pairs, letters, counts, parts, write.output,
                   write.row_group_size, write.rows_per_file, config.rules)
    run_pipeline(pipeline)
    resumable.clear_work(write.output)

