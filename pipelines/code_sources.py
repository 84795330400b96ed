"""Reading source trees for `pairmill mine code`: directories, git checkouts, .tar.gz and .zip.

An input is expanded into work units on the workers (so listing a big tree is parallel work, not
a driver step). A directory yields one unit per file, a zip one per member (random access), a
tarball one unit for the whole archive (tar has no index; reading members out of order would
decompress it again and again).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import apache_beam as beam

from ..extractors.code import CodeOptions, extract_code_pairs, language_for_path
from ..extractors.result import Extraction
from ..schemas import make_dead_letter

TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")
_SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".tox", ".mypy_cache", ".pytest_cache"}
# Vendored trees are pruned while listing (a node_modules folder can hold 100k files) and
# reported as one `vendored_dir` drop each.
_VENDORED_DIRS = {"vendor", "vendored", "_vendor", "third_party", "thirdparty", "node_modules",
                  "bower_components"}


@dataclass(frozen=True)
class CodeUnit:
    """One piece of work: a file in a tree, a zip member, or a whole tarball."""

    kind: str  # "file" | "zip" | "tar" | "skipped" (a pruned vendored folder)
    location: str  # absolute path of the file or archive
    member: str  # path inside the repository (file/zip), "" for a tarball
    source: str  # repository or input name
    origin_prefix: str  # "name@commit:" for git checkouts, else ""
    max_files: int = 0  # tarballs only: stop after this many source files (0: all)


def input_kind(path: str) -> str:
    """"dir", "zip" or "tar"; raises ValueError for anything else (the CLI reports it)."""
    if os.path.isdir(path):
        return "dir"
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file or directory")
    if path.endswith(TAR_SUFFIXES):
        return "tar"
    if path.endswith(".zip"):
        return "zip"
    raise ValueError(f"{path}: not a directory, .tar.gz or .zip")


def git_origin_prefix(path: str) -> str:
    """"name@commit:" when `path` is the top of a git checkout, else ""."""
    if not os.path.exists(os.path.join(path, ".git")):
        return ""
    try:
        commit = subprocess.run(
            ["git", "-C", path, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return f"{source_name(path)}@{commit}:" if commit else ""


def source_name(path: str) -> str:
    name = os.path.basename(os.path.normpath(path))
    for suffix in TAR_SUFFIXES + (".zip",):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def expand_input(path: str, languages: tuple[str, ...], max_files: int = 0) -> Iterator[CodeUnit]:
    """Work units of one input, in sorted order (so `max_files` picks the same files every run)."""
    path = os.path.abspath(path)
    kind = input_kind(path)
    name = source_name(path)
    if kind == "tar":
        yield CodeUnit("tar", path, "", name, "", max_files)
        return
    if kind == "zip":
        with zipfile.ZipFile(path) as archive:
            members = sorted(i.filename for i in archive.infolist() if not i.is_dir())
        wanted = (m for m in members if _wanted(m, languages))
        prefix = ""
        for count, member in enumerate(wanted):
            if max_files and count >= max_files:
                return
            yield CodeUnit("zip", path, member, name, prefix)
        return
    prefix = git_origin_prefix(path)
    count = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for vendored in sorted(d for d in dirnames if d in _VENDORED_DIRS):
            rel_dir = os.path.relpath(os.path.join(dirpath, vendored), path).replace(os.sep, "/")
            yield CodeUnit("skipped", os.path.join(dirpath, vendored), rel_dir, name, prefix)
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS | _VENDORED_DIRS)
        for filename in sorted(filenames):
            full = os.path.join(dirpath, filename)
            rel = os.path.relpath(full, path).replace(os.sep, "/")
            if not _wanted(rel, languages) or not os.path.isfile(full):
                continue
            if max_files and count >= max_files:
                return
            count += 1
            yield CodeUnit("file", full, rel, name, prefix)


def _wanted(path: str, languages: tuple[str, ...]) -> bool:
    spec = language_for_path(path)
    return spec is not None and spec.name in languages


def extract_unit(unit: CodeUnit, options: CodeOptions) -> Iterator[tuple[str, int, Extraction]]:
    """(member path, bytes read, extraction) per source file of a unit; I/O errors become dead
    letters. A truncated archive yields every complete member before the break."""
    if unit.kind == "skipped":
        skipped = Extraction()
        skipped.drop("vendored_dir")
        yield unit.member, 0, skipped
    elif unit.kind == "file":
        try:
            with open(unit.location, "rb") as f:
                data = f.read(options.max_file_bytes + 1)
        except OSError as exc:
            yield unit.member, 0, _io_error(unit, unit.member, exc)
            return
        yield unit.member, len(data), _extract(data, unit.member, unit, options)
    elif unit.kind == "zip":
        try:
            with zipfile.ZipFile(unit.location) as archive, archive.open(unit.member) as f:
                data = f.read(options.max_file_bytes + 1)
        except (OSError, zipfile.BadZipFile, EOFError, RuntimeError) as exc:
            yield unit.member, 0, _io_error(unit, unit.member, exc)
            return
        yield unit.member, len(data), _extract(data, unit.member, unit, options)
    else:
        yield from _extract_tar(unit, options)


def _extract_tar(unit: CodeUnit, options: CodeOptions) -> Iterator[tuple[str, int, Extraction]]:
    count = 0
    member_name = ""
    try:
        with tarfile.open(unit.location, "r:*") as archive:
            for member in archive:
                member_name = member.name
                rel = _strip_top_dir(member.name)
                if not member.isfile() or not _wanted(rel, options.languages):
                    continue
                if unit.max_files and count >= unit.max_files:
                    return
                count += 1
                f = archive.extractfile(member)
                data = f.read(options.max_file_bytes + 1) if f is not None else b""
                yield rel, len(data), _extract(data, rel, unit, options)
    except (OSError, tarfile.TarError, EOFError, zlib.error) as exc:
        yield member_name, 0, _io_error(unit, member_name or "<archive>", exc, "truncated_archive")


def _strip_top_dir(name: str) -> str:
    """Paths inside `repo-1.2/…` tarballs are taken relative to that top folder."""
    name = name.lstrip("./")
    head, sep, rest = name.partition("/")
    return rest if sep and rest else name


def _extract(data: bytes, rel: str, unit: CodeUnit, options: CodeOptions) -> Extraction:
    try:
        return extract_code_pairs(data, rel, source=unit.source, origin_prefix=unit.origin_prefix,
                                  options=options)
    except RecursionError as exc:  # pathological nesting: one file, never the whole run
        return _io_error(unit, rel, exc, "extractor_error")


def _io_error(unit: CodeUnit, member: str, exc: BaseException, reason: str = "read_error"):
    out = Extraction()
    where = f"{unit.location}!{member}" if unit.kind != "file" else unit.location
    out.dead_letters.append(make_dead_letter(where, unit.source, reason,
                                             f"{type(exc).__name__}: {exc}"))
    out.drop(reason)
    return out


class ExtractCodeUnit(beam.DoFn):
    """Beam wrapper: pairs on the main output, counters and dead letters on tagged outputs."""

    COUNTERS = "counters"
    ERRORS = "errors"

    def __init__(self, options: CodeOptions, progress_every: int = 2000):
        self._options = options
        self._progress_every = progress_every
        self._files = 0
        self._pairs = 0

    def process(self, unit: CodeUnit):
        for _member, nbytes, result in extract_unit(unit, self._options):
            if unit.kind != "skipped":
                self._files += 1
                self._pairs += len(result.pairs)
                if self._progress_every and self._files % self._progress_every == 0:
                    print(f"pairmill: {self._files} files read, {self._pairs} pairs so far "
                          f"(worker {os.getpid()})", file=sys.stderr, flush=True)
                yield beam.pvalue.TaggedOutput(self.COUNTERS, ("records_read", 1))
                yield beam.pvalue.TaggedOutput(self.COUNTERS, ("bytes_read", nbytes))
            for reason, n in result.drops.items():
                yield beam.pvalue.TaggedOutput(self.COUNTERS, (f"drop:{reason}", n))
            for letter in result.dead_letters:
                yield beam.pvalue.TaggedOutput(self.ERRORS, letter)
            yield from result.pairs
