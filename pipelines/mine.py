"""`pairmill mine SOURCE` as one Beam pipeline for every source: list, read, extract, join, write.

A source (extractors/spec.py) says which kinds of input it reads and how; this module does the
rest the same way for all of them. Each input file or tree unit is read in one streaming pass
on a worker; a record that fails becomes a dead letter, never the end of the run. Pairs that
need two records (a submission and its comment, a link and its target page) leave the
extraction as join parts keyed by what joins them, and meet in a shuffle: a join over the
whole input that no single worker has to hold, which is what lets the same pipeline run on
Dataflow or Spark over a full dump.

Every shuffle here (a join, the exact dedup, the writer's) is a `ShardedGroupByKey` whose values
are pickled once where they are made: Beam's local runner decodes and encodes again every value
it groups, so a part or pair crossing a plain `GroupByKey` was encoded or decoded four times, and
the rules run where the pairs are made, so no Flatten holds every pair before them.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
import zlib

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
from .dataset_sink import (
    COUNTS,
    CountsPerBundle,
    WritePairsDataset,
    finish_command,
    in_global_window,
    packed,
    run_pipeline,
)
from .options import beam_options
from .sharded_group import ShardedGroupByKey

DEAD_LETTERS = "dead_letters"
PARTS = "parts"
COUNT_EVERY = 4096  # records whose drops are summed before they go into a unit's Counts


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


def _add_to_tally(tally: Extraction, result: Extraction) -> None:
    """`result`'s drops and notes added to `tally`, counted later in one go (Counter.update
    would make an ABC check per record)."""
    for reason, n in result.drops.items():
        tally.drops[reason] += n
    for reason, n in result.notes.items():
        tally.notes[reason] += n


def emit(result: Extraction, spec: SourceSpec, counts: Counts,
         declared: frozenset[str] | None = None):
    """An Extraction as Beam outputs: pairs on the main output, dead letters and join parts
    tagged; its drops are added to `counts` (the caller emits them once per unit)."""
    result.counts(into=counts)
    yield from _outputs_of(result, spec, counts, spec.task_names if declared is None else declared)


def _outputs_of(result: Extraction, spec: SourceSpec, counts: Counts, declared: frozenset[str]):
    """`emit` without the counting: the extraction loop counts a batch of records at once."""
    for letter in result.dead_letters:
        yield beam.pvalue.TaggedOutput(DEAD_LETTERS, _encodable(letter, counts))
    for part in result.parts:
        yield beam.pvalue.TaggedOutput(PARTS, _encodable(part, counts))
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
        self._declared = self._spec.task_names

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
        """The loop every source shares: extract each record, dead-letter what fails.

        Most records give nothing but a drop; their drops and notes are summed in `tally` and
        counted once per `COUNT_EVERY` records (and when the unit ends, however it ends), so the
        per-record cost outside the extractor is a few attribute reads.
        """
        extract = self._extractors[kind.name]
        spec, declared, progress_every = self._spec, self._declared, self._progress_every
        tally, records, pairs = Extraction(), 0, 0
        try:
            for locator, record in items:
                if isinstance(record, tuple):  # Skipped and Unreadable are named tuples
                    if isinstance(record, Skipped):
                        counts.add("drop", record.reason)
                        continue
                    if isinstance(record, Unreadable):
                        yield from self._dead_letter(origin_of(locator), record.reason,
                                                     record.detail, counts)
                        continue
                origin = origin_of(locator)
                records += 1
                try:
                    result = extract(record, origin)
                except Exception as exc:  # a bug on one odd record must not lose the dump
                    yield from self._dead_letter(origin, "extractor_error",
                                                 f"{type(exc).__name__}: {exc}", counts)
                    continue
                if result.dead_letters:  # counted with its own letters (Extraction.counts)
                    yield from emit(result, spec, counts, declared)
                else:
                    _add_to_tally(tally, result)
                    if result.pairs or result.parts:
                        yield from _outputs_of(result, spec, counts, declared)
                pairs += len(result.pairs)
                if records % COUNT_EVERY == 0:
                    tally.counts(into=counts)
                    tally.drops.clear()
                    tally.notes.clear()
                if progress_every and records % progress_every == 0:
                    print(f"pairmill: {label}: {records:,} records, {pairs:,} pairs so far",
                          file=sys.stderr, flush=True)
        finally:
            tally.counts(into=counts)
            counts.add("total", "records_read", records)

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


class JoinGroups(CountsPerBundle):
    """(key, [(side, packed value)]) -> {side: values} -> the stage's pure join function; a side
    with a reducer keeps only its best value. Its drops leave once per bundle (most keys end in
    a drop: a submission nobody answered)."""

    def __init__(self, stage: JoinStage, spec: SourceSpec | str):
        self._stage = stage
        self._spec_ref = spec_ref(spec)

    def setup(self):
        self._spec = resolve_spec(self._spec_ref)
        self._declared = self._spec.task_names

    def start_bundle(self):
        super().start_bundle()
        self._tally = Extraction()  # drops and notes of the bundle's joins, counted once

    def process(self, element):
        key, parts = element
        reducers = self._stage.reducers
        grouped: dict[str, list] = {side: [] for side in self._stage.sides}
        for side, blob in parts:
            value, values = pickle.loads(blob), grouped[side]
            if values and side in reducers:
                values[0] = reducers[side](values[0], value)
            else:
                values.append(value)
        result = self._stage.join(key, grouped)
        if result.dead_letters:  # counted with its own letters (Extraction.counts)
            yield from emit(result, self._spec, self._counts, self._declared)
            return
        _add_to_tally(self._tally, result)
        if result.pairs or result.parts:
            yield from _outputs_of(result, self._spec, self._counts, self._declared)

    def finish_bundle(self):
        self._tally.counts(into=self._counts)
        yield from super().finish_bundle()


class CombineParts(beam.DoFn):
    """Join parts of a side with a reducer, reduced per key before the shuffle (a combiner):
    a Reddit thread's top-level comments leave a worker as one part, not one each. Parts of
    other sides pass as they come. A reducer already had to be associative and commutative (a
    shuffle delivers values in any order), so the join sees the same values. At most
    `max_held` keys are held; then they are sent on and reduction starts again."""

    def __init__(self, reducers, max_held: int = 20_000):
        self._reducers, self._max_held = dict(reducers), max_held

    def start_bundle(self):
        self._held: dict[tuple, object] = {}

    def process(self, part):
        side, key, value = part  # a JoinPart, or the plain tuple it travels on as
        reduce = self._reducers.get(side)
        if reduce is None:
            yield part
            return
        held, slot = self._held, (side, key)
        if slot in held:
            held[slot] = reduce(held[slot], value)
            return
        held[slot] = value
        if len(held) >= self._max_held:
            self._held = {}
            for (side, key), value in held.items():
                yield side, key, value

    def finish_bundle(self):
        held, self._held = self._held, {}
        for (side, key), value in held.items():
            yield in_global_window((side, key, value))


class JoinEntries:
    """A join part -> its entry in the stage's shuffle, (key, (side, packed value)); none for
    a part of another stage's side."""

    def __init__(self, sides: tuple[str, ...]):
        self._sides = frozenset(sides)

    def __call__(self, part) -> tuple:
        side, key, value = part
        return ((key, (side, packed(value))),) if side in self._sides else ()


def _join_shard(key) -> int:
    return zlib.crc32(repr(key).encode())


_GROUPED = "_grouped"  # the tag of (key, (side, value)) of the sides of this stage
_LATER = "_later"  # the tag of join parts kept for a later stage


class _BySide(beam.DoFn):
    """Join parts -> those of this stage's sides on `_GROUPED`, those a later stage reads on
    `_LATER` (as plain tuples: Beam's coders pickle named tuples)."""

    def __init__(self, sides: tuple[str, ...], later: frozenset[str] = frozenset()):
        self._sides, self._later = frozenset(sides), later

    def process(self, part):
        side, key, value = part  # a JoinPart, or the plain tuple it travels on as
        if side in self._sides:
            yield beam.pvalue.TaggedOutput(_GROUPED, (side, key, value))
        if side in self._later:
            yield beam.pvalue.TaggedOutput(_LATER, (side, key, value))


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
    letters, counts = [letters], [counts]

    def ruled(pcoll, label: str):  # the rules run where the pairs are made: no Flatten before
        out = pcoll | label >> beam.ParDo(ApplyRules(rules, spec.language_of)).with_outputs(
            COUNTS, main="pairs")
        counts.append(out[COUNTS])
        return out.pairs

    pairs = [ruled(pairs, "Rules")]
    stages = tuple(spec.joins(options))
    for number, stage in enumerate(stages):
        # parts a later stage reads travel on; the others end here, never encoded again
        later = frozenset(side for after in stages[number + 1:] for side in after.sides)
        grouped = parts
        if later:
            split = parts | f"Join{number}Sides" >> beam.ParDo(
                _BySide(stage.sides, later)).with_outputs(_GROUPED, _LATER)
            grouped = split[_GROUPED]
        if stage.reducers:  # only the best part of a reduced side per key and worker travels
            grouped = grouped | f"Join{number}Combine" >> beam.ParDo(CombineParts(stage.reducers))
        grouped = grouped | f"Join{number}Group" >> ShardedGroupByKey(
            _join_shard, entries_of=JoinEntries(stage.sides))
        joined = _outputs(grouped, JoinGroups(stage, spec), f"Join{number}")
        pairs.append(ruled(joined.pairs, f"Join{number}Rules"))
        letters.append(joined[DEAD_LETTERS])
        counts.append(joined[COUNTS])
        if later:
            parts = (split[_LATER], joined[PARTS]) | f"Join{number}Parts" >> beam.Flatten()
    _ = {"pairs": tuple(pairs),
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

