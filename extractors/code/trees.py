"""Reading source trees for `pairmill mine code`: directories, git checkouts, .tar.gz and .zip.

Pure Python (no Beam): the mining pipeline calls `expand_input` and `read_unit` on its workers.

An input is expanded into work units on the workers (so listing a big tree is parallel work, not
a driver step). A directory yields one unit per file, a zip one per member (random access), a
tarball one unit for the whole archive (tar has no index; reading members out of order would
decompress it again and again).
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from ..result import Skipped, Unreadable
from .languages import language_for_path

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
    languages: tuple[str, ...] = ()  # tarballs only: the languages to read
    skip_reason: str = "vendored_dir"  # "skipped" units only


def input_kind(path: str) -> str:
    """"dir", "zip", "tar" or "parquet"; raises ValueError for anything else (the CLI reports it)."""
    from .stack import is_parquet_input

    if is_parquet_input(path):
        from ...schemas import storage

        if not storage.glob(path):
            raise ValueError(f"{path}: no such Parquet file")
        return "parquet"
    if os.path.isdir(path):
        return "dir"
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file or directory")
    if path.endswith(TAR_SUFFIXES):
        return "tar"
    if path.endswith(".zip"):
        return "zip"
    raise ValueError(f"{path}: not a directory, .tar.gz, .zip or The Stack-style .parquet")


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
        yield CodeUnit("tar", path, "", name, "", max_files, tuple(languages))
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
    root = os.path.realpath(path)
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
            if os.path.islink(full) and not _inside(os.path.realpath(full), root):
                # a link out of the tree the user named is never read
                yield CodeUnit("skipped", full, rel, name, prefix, skip_reason="link_outside_input")
                continue
            if max_files and count >= max_files:
                return
            count += 1
            yield CodeUnit("file", full, rel, name, prefix)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _wanted(path: str, languages: tuple[str, ...]) -> bool:
    spec = language_for_path(path)
    return spec is not None and spec.name in languages


class SourceFile(NamedTuple):
    """One source file read from a unit: what the code extractor takes."""

    source: str  # the repository
    origin_prefix: str  # "repo@commit:" or "repo:" before "path:line"
    path: str  # inside the repository
    data: bytes
    meta: dict | None = None  # carried into every pair (licences of a Stack row)


def read_unit(unit: CodeUnit, max_file_bytes: int) -> Iterator[tuple[str, object, int]]:
    """(locator, SourceFile | Unreadable | Skipped, bytes read) per source file of a unit.

    I/O errors become Unreadable records; a truncated archive yields every complete member
    before the break, then one `truncated_archive`.
    """
    if unit.kind == "skipped":
        yield unit.member, Skipped(unit.skip_reason), 0
    elif unit.kind == "file":
        try:
            with open(unit.location, "rb") as f:
                data = f.read(max_file_bytes + 1)
        except OSError as exc:
            yield _where(unit, unit.member), _unreadable("read_error", exc), 0
            return
        yield (_where(unit, unit.member),
               SourceFile(unit.source, unit.origin_prefix, unit.member, data), len(data))
    elif unit.kind == "zip":
        where = _where(unit, unit.member)
        try:
            with zipfile.ZipFile(unit.location) as archive, archive.open(unit.member) as f:
                data = f.read(max_file_bytes + 1)
        except (OSError, zipfile.BadZipFile, EOFError, RuntimeError) as exc:
            yield where, _unreadable("read_error", exc), 0
            return
        yield where, SourceFile(unit.source, unit.origin_prefix, unit.member, data), len(data)
    else:
        yield from _read_tar(unit, max_file_bytes)


def _read_tar(unit: CodeUnit, max_file_bytes: int) -> Iterator[tuple[str, object, int]]:
    count = 0
    member_name = ""
    try:
        with tarfile.open(unit.location, "r:*") as archive:
            for member in archive:
                member_name = member.name
                rel = _strip_top_dir(member.name)
                if not member.isfile() or not _wanted(rel, unit.languages):
                    continue
                if unit.max_files and count >= unit.max_files:
                    return
                count += 1
                f = archive.extractfile(member)
                data = f.read(max_file_bytes + 1) if f is not None else b""
                yield _where(unit, rel), SourceFile(unit.source, unit.origin_prefix, rel, data), len(data)
    except (OSError, tarfile.TarError, EOFError, zlib.error) as exc:
        yield _where(unit, member_name or "<archive>"), _unreadable("truncated_archive", exc), 0


def _where(unit: CodeUnit, member: str) -> str:
    """A file's place as origins give it: `repo@commit:path` or `input-name:path`."""
    return f"{unit.origin_prefix or unit.source + ':'}{member}"


def _strip_top_dir(name: str) -> str:
    """Paths inside `repo-1.2/…` tarballs are taken relative to that top folder."""
    name = name.lstrip("./")
    head, sep, rest = name.partition("/")
    return rest if sep and rest else name


def _unreadable(reason: str, exc: BaseException) -> Unreadable:
    return Unreadable(reason, f"{type(exc).__name__}: {exc}")
