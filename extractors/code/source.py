"""`pairmill mine code`: the code source's spec (inputs are trees, not dump files)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping

from ..spec import InputKind, SourceSpec, Task
from .functions import TASK, CodeOptions, extract_code_pairs
from .languages import parse_languages
from .trees import CodeUnit, SourceFile, expand_input, input_kind, read_unit


def _extract(record: SourceFile, origin: str, options: CodeOptions):
    unit = record.unit
    return extract_code_pairs(record.data, record.path, source=unit.source,
                              origin_prefix=unit.origin_prefix, options=options)


def _units(path: str, options: CodeOptions) -> Iterator[CodeUnit]:
    return expand_input(path, options.languages, options.max_files)


def _read(unit: CodeUnit, options: CodeOptions):
    return read_unit(unit, options.max_file_bytes)


def _prepare(options: CodeOptions, inputs: Mapping[str, list[str]]) -> CodeOptions:
    """Languages checked and normalised, every input path checked, before any work starts."""
    for path in inputs.get("input", []):
        input_kind(path)
    return dataclasses.replace(options, languages=tuple(parse_languages(list(options.languages))))


SPEC = SourceSpec(
    name="code",
    help="(docstring, code) pairs from source trees",
    description="Mine (docstring, code) pairs from directories, git checkouts, .tar.gz or .zip "
                "archives.",
    tasks=(Task(TASK, "docstring (first paragraph)", "function with the docstring removed"),),
    options=CodeOptions,
    inputs=(InputKind("input", "directories, git checkouts, .tar.gz or .zip files",
                      lambda options: functools.partial(_extract, options=options),
                      units=_units, read=_read, check=input_kind, metavar="PATH"),),
    prepare=_prepare,
)
