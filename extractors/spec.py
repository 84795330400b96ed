"""What a source is: its name, its tasks, its settings, its kinds of input, its joins.

A source is declared, not programmed. One module per source exports `SPEC = SourceSpec(...)`;
the CLI flags (`pairmill mine NAME --help`), the recipe keys, the task list and the pipeline are
all derived from it, and one Beam pipeline (`pipelines/mine.py`) runs every source. A package of
the user's own adds a source through the `pairmill.sources` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from ..schemas import register_task
from .result import Extraction

# An extractor made for one run's settings: (record, origin) -> Extraction.
Extract = Callable[[Any, str], Extraction]


@dataclass(frozen=True)
class InputKind:
    """One kind of input of a source, named by its flag (`input`, `submissions`, `comments`).

    A file kind gives `records(stream)`: the decompressed file in, (locator, record or
    Unreadable) out; the locator (line number, byte offset, row id) is appended to the path to
    make a record's origin. A tree kind (code) gives `units(path, options)`, which lists an input
    into work units on the workers, and `read(unit, options)`, which yields (locator, record,
    bytes) from one unit (or Unreadable/Skipped in place of the record).
    `extract(options)` makes the pure extractor for a run's settings.
    """

    name: str
    help: str
    extract: Callable[[Any], Extract]
    records: Callable[[BinaryIO], Iterator[tuple[str, Any]]] | None = None
    units: Callable[[str, Any], Iterator[Any]] | None = None
    read: Callable[[Any, Any], Iterator[tuple[str, Any, int]]] | None = None
    check: Callable[[str], None] | None = None  # refuses an input path before any work
    archive_member: str | None = None  # the file to read inside a .7z archive
    # the kind whose .7z inputs also hold this kind's `archive_member` (a site archive holds
    # Posts.xml and PostLinks.xml): that member is extracted in the same pass and read as this
    # kind; an archive without it is counted, not an error
    from_archives_of: str | None = None
    required: bool = True
    metavar: str = "GLOB"
    # records are JSON objects: tabular exports (Parquet on the Hub) read as rows, and fields
    # renamed with --column, work as the dump does
    json_rows: bool = False

    def __post_init__(self):
        if (self.records is None) == (self.read is None):
            raise ValueError(f"input {self.name}: give `records` (files) or `units` + `read` (trees)")
        if self.from_archives_of is not None and (self.archive_member is None or self.records is None):
            raise ValueError(f"input {self.name}: `from_archives_of` needs a file kind with "
                             "an `archive_member`")


@dataclass(frozen=True)
class JoinStage:
    """Pairs whose halves come from different records: parts of `sides` grouped by key.

    `reducers[side]` (optional) picks the better of two values; parts of that side are combined
    per key before the shuffle, so only the best one travels (a submission's best comment).
    `join(key, {side: [values]})` is pure and returns pairs, drops and perhaps new parts for a
    later stage.
    """

    sides: tuple[str, ...]
    join: Callable[[str, dict[str, list[dict]]], Extraction]
    reducers: Mapping[str, Callable[[dict, dict], dict]] = field(default_factory=dict)


@dataclass(frozen=True)
class Task:
    name: str
    query: str
    document: str


@dataclass(frozen=True)
class SourceSpec:
    """A source: everything `pairmill mine NAME` needs to know about it.

    `options` is the source's settings dataclass (fields made with `schemas.settings.setting`
    become flags and recipe keys); `joins(options)` gives the join stages of a run;
    `prepare(options, inputs)` may adjust the settings from the inputs given (Reddit pairs
    comments only when comment dumps are named).
    """

    name: str
    help: str
    description: str
    tasks: tuple[Task, ...]
    options: type
    inputs: tuple[InputKind, ...]
    joins: Callable[[Any], tuple[JoinStage, ...]] = lambda options: ()
    prepare: Callable[[Any, Mapping[str, list[str]]], Any] = lambda options, inputs: options
    aliases: tuple[str, ...] = ()  # deprecated command names, kept for one release
    # (module, extra): what must be importable, and the pairmill extra that installs it
    requires: tuple[tuple[str, str], ...] = ()
    # the field whose natural language `--languages` checks: "pair" (query and document; the
    # language goes into `lang` when the source left it empty) or "query" (code: `lang` holds
    # the programming language, the docstring's language is checked)
    language_of: str = "pair"

    def __post_init__(self):
        for kind in self.inputs:
            if kind.from_archives_of not in (None, *(k.name for k in self.inputs if k is not kind)):
                raise ValueError(f"source {self.name}: input {kind.name} reads the archives of "
                                 f"{kind.from_archives_of!r}, which is not one of its inputs")
        for task in self.tasks:
            register_task(task.name, self.name)

    @property
    def task_names(self) -> frozenset[str]:
        return frozenset(task.name for task in self.tasks)

    def kind(self, name: str) -> InputKind:
        return next(k for k in self.inputs if k.name == name)

    def missing_requirements(self) -> list[str]:
        """One line per package this source needs that is not installed."""
        import importlib.util

        missing = []
        for module, extra in self.requires:
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                missing.append(f"mine {self.name} needs the Python package {module!r}: "
                               f"pip install 'pairmill[{extra}]'")
        return missing
