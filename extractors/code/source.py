"""`pairmill mine code`: the code source's spec (inputs are trees, not dump files)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping

from ...schemas import storage
from ...schemas.pairs import meta_dict, meta_rows
from ..result import Unreadable
from ..spec import InputKind, SourceSpec, Task
from .functions import TASK, CodeOptions, extract_code_pairs
from .languages import language_for_path, parse_languages
from .stack import (
    ParquetUnit,
    detect_columns,
    is_parquet_input,
    parquet_columns,
    parquet_units,
    read_row_group,
)
from .trees import CodeUnit, SourceFile, expand_input, input_kind, read_unit


def _extract(record: SourceFile, origin: str, options: CodeOptions):
    out = extract_code_pairs(record.data, record.path, source=record.source,
                             origin_prefix=record.origin_prefix, options=options)
    if record.meta:
        for pair in out.pairs:
            pair["meta"] = meta_rows({**meta_dict(pair["meta"]), **record.meta})
    return out


def _units(path: str, options: CodeOptions) -> Iterator[CodeUnit | ParquetUnit]:
    if is_parquet_input(path):
        return parquet_units(path)
    return expand_input(path, options.programming_languages, options.max_files)


def _read(unit: CodeUnit | ParquetUnit, options: CodeOptions):
    if isinstance(unit, ParquetUnit):
        return _read_rows(unit, options)
    return read_unit(unit, options.max_file_bytes)


def _given_columns(options: CodeOptions) -> dict[str, str | None]:
    return {"content": options.content_column, "path": options.path_column,
            "repo": options.repo_column, "language": options.language_column}


def _read_rows(unit: ParquetUnit, options: CodeOptions):
    """(locator, SourceFile, bytes) per row of the wanted languages: origin `repo:path:line`."""
    where = f"{unit.name}#{unit.row_group}"
    if unit.row_group < 0:
        yield unit.name, Unreadable("unreadable_file", unit.error), 0
        return
    try:
        rows = list(read_row_group(unit, _given_columns(options)))  # one row group: bounded
    except Exception as exc:  # a damaged row group costs itself, not the run
        yield where, Unreadable("unreadable_row_group", f"{type(exc).__name__}: {exc}"), 0
        return
    for row in rows:
        spec = language_for_path(row["path"])
        if spec is None or spec.name not in options.programming_languages:
            continue
        repo = row["repo"] or unit.name
        data = row["content"][:options.max_file_bytes + 1]
        yield (f"{unit.name}#{unit.row_group}:{row['row']}",
               SourceFile(repo, f"{repo}:", row["path"], data, row["meta"]), len(data))


def _prepare(options: CodeOptions, inputs: Mapping[str, list[str]]) -> CodeOptions:
    """Languages checked and normalised, every input path checked, before any work starts."""
    for path in inputs.get("input", []):
        if input_kind(path) == "parquet":  # columns checked on every file before any work
            for file in storage.glob(path):
                try:
                    names = parquet_columns(file)
                except Exception:  # a damaged file is a dead letter when it is read
                    continue
                detect_columns(names, _given_columns(options))
    return dataclasses.replace(options, programming_languages=tuple(
        parse_languages(list(options.programming_languages))))


SPEC = SourceSpec(
    name="code",
    help="(docstring, code) pairs from source trees",
    description="Mine (docstring, code) pairs from directories, git checkouts, .tar.gz or .zip "
                "archives, and The Stack-style Parquet (file contents as rows; local, globs, "
                "gs://, s3://, hf://).",
    tasks=(Task(TASK, "docstring (first paragraph)", "function with the docstring removed"),),
    options=CodeOptions,
    inputs=(InputKind("input", "directories, git checkouts, .tar.gz or .zip files, or The "
                               "Stack-style .parquet files and globs (local, gs://, s3://, hf://)",
                      lambda options: functools.partial(_extract, options=options),
                      units=_units, read=_read, check=input_kind, metavar="PATH"),),
    prepare=_prepare,
    language_of="query",
)
