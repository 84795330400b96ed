"""Reading dumps for the text sources: files in, records out, extraction per record.

Each input file is one unit of work: it is opened, decompressed and read in one streaming pass on
a worker, so a multi-GB dump never sits in memory and never crosses a shuffle as raw text; Beam
parallelises over files. Files are opened through Beam's FileSystems, so `gs://` and `s3://`
inputs work on Dataflow/Spark as local paths do here. A truncated or corrupt file yields every
complete record before the break, then one dead letter.

What a record is (a line, a WARC response, an XML row, a wiki page) is the source's business:
each source names, per kind of input file, a pure record reader and a pure extractor from
`extractors/`.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import io
import os
import shutil
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import apache_beam as beam

from ..extractors.result import Extraction, Unreadable
from ..schemas import make_dead_letter

# Pushshift/Arctic Shift .zst frames need a window of up to 2 GiB.
ZSTD_MAX_WINDOW = 2**31
# Exceptions a damaged compressed stream raises while it is read (zstd raises ZstdError, a
# ValueError subclass; a truncated gzip raises EOFError).
STREAM_ERRORS = (OSError, EOFError, zlib.error, ValueError)


@dataclass(frozen=True)
class InputKind:
    """One kind of input file of a source: how to split it into records, how to extract one.

    `records(stream)` yields (locator, record or Unreadable); the locator (line number, byte
    offset, row id) is appended to the path to make the record's origin.
    `archive_member` names the file to read inside a `.7z` archive (StackExchange's Posts.xml).
    """

    records: Callable[[BinaryIO], Iterator[tuple[str, Any]]]
    extract: Callable[[Any, str], Extraction]
    archive_member: str | None = None


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
class TextSource:
    name: str
    kinds: Mapping[str, InputKind]
    joins: tuple[JoinStage, ...] = ()


def expand_patterns(patterns: list[str]) -> list[str]:
    """Every file the glob patterns (or plain paths) name, sorted; a pattern matching nothing fails."""
    files: set[str] = set()
    for pattern in patterns:
        if os.path.isdir(pattern):
            raise ValueError(f"{pattern} is a directory; give files or a glob such as {pattern}/*.jsonl")
        matched = _match(pattern)
        if not matched:
            raise FileNotFoundError(f"{pattern}: no such file")
        files.update(matched)
    return sorted(files)


def _is_remote(path: str) -> bool:
    return "://" in path


def _match(pattern: str) -> list[str]:
    # Local paths skip Beam's FileSystems: loading it logs warnings about GCP libraries.
    if not _is_remote(pattern):
        return [os.path.abspath(p) for p in glob.glob(pattern) if os.path.isfile(p)]
    from apache_beam.io.filesystems import FileSystems

    return [m.path for r in FileSystems.match([pattern]) for m in r.metadata_list]


def _open_raw(path: str):
    if not _is_remote(path):
        return open(path, "rb")
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def _decompressed(raw, path: str):
    name = path.lower()
    if name.endswith(".gz"):  # also per-record gzip WARC: GzipFile reads member after member
        return gzip.GzipFile(fileobj=raw)
    if name.endswith(".bz2"):
        return bz2.BZ2File(raw)
    if name.endswith(".zst"):
        return io.BufferedReader(_ZstdFrames(raw), 1 << 20)
    return raw


class _ZstdFrames(io.RawIOBase):
    """zstd frames, one after another, decompressed; a frame cut short raises EOFError.

    zstandard's own `stream_reader` ends quietly at a truncated frame, which would lose the
    fact that the file is damaged; its `decompressobj` tells (`eof`), so reading goes through it.
    """

    def __init__(self, raw):
        import zstandard

        self._raw = raw
        self._new = lambda: zstandard.ZstdDecompressor(
            max_window_size=ZSTD_MAX_WINDOW).decompressobj()
        self._frame = self._new()
        self._pending = memoryview(b"")
        self._started = False  # bytes of the current frame seen

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = self._raw.read(1 << 20)
            if not chunk:
                if self._started and not self._frame.eof:
                    raise EOFError("zstd frame cut short: the file is truncated")
                return 0
            while chunk:
                if self._frame.eof:
                    self._frame = self._new()
                self._started = True
                self._pending = memoryview(bytes(self._pending) + self._frame.decompress(chunk))
                chunk = self._frame.unused_data if self._frame.eof else b""
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]  # a view: no copy of what is left
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


class _Extracted7z:
    """One member of a .7z archive, extracted to local scratch space and streamed from there.

    7z has no streaming reader for solid archives; the member goes to a temporary folder on the
    worker's disk (not memory) and is removed when the stream closes.
    """

    def __init__(self, raw, member: str):
        import py7zr

        self._dir = tempfile.mkdtemp(prefix="pairmill-7z-")
        try:
            with py7zr.SevenZipFile(raw, mode="r") as archive:
                names = [n for n in archive.getnames() if os.path.basename(n) == member]
                if not names:
                    raise OSError(f"no {member} in the archive")
                archive.extract(path=self._dir, targets=names[:1])
            self.stream = open(os.path.join(self._dir, names[0]), "rb")
        except BaseException:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise

    def __enter__(self):
        return self.stream

    def __exit__(self, *exc):
        self.stream.close()
        shutil.rmtree(self._dir, ignore_errors=True)


def open_input(path: str, archive_member: str | None = None):
    """A context manager giving the decompressed byte stream of `path`."""
    raw = _open_raw(path)
    if path.lower().endswith(".7z"):
        if archive_member is None:
            raw.close()
            raise OSError(".7z input is not supported for this source")
        try:
            return _Extracted7z(raw, archive_member)
        except Exception:
            raw.close()
            raise
    return _decompressed(raw, path)


def read_lines(stream: BinaryIO) -> Iterator[tuple[str, bytes]]:
    """(line number, line) of every non-blank line: the record reader of JSON-lines dumps."""
    for number, line in enumerate(stream, 1):
        if line.strip():
            yield str(number), line


def _bytes_consumed(stream) -> int:
    try:
        return stream.tell()
    except (OSError, ValueError, AttributeError):
        return 0


class MineSourceFiles(beam.DoFn):
    """(kind, path) in; pairs on the main output; counters, dead letters, join parts tagged."""

    COUNTERS = "counters"
    ERRORS = "errors"
    PARTS = "parts"

    def __init__(self, source: TextSource, progress_every: int = 100_000):
        self._source = source
        self._progress_every = progress_every

    def process(self, element: tuple[str, str]):
        kind_name, path = element
        kind = self._source.kinds[kind_name]
        records = pairs = consumed = 0
        locator = "0"
        try:
            with open_input(path, kind.archive_member) as stream:
                reader = kind.records(stream)
                while True:
                    try:
                        locator, record = next(reader)
                    except StopIteration:
                        break
                    origin = f"{path}:{locator}"
                    if isinstance(record, Unreadable):
                        yield from self._dead_letter(origin, record.reason, record.detail)
                        continue
                    records += 1
                    try:
                        result = kind.extract(record, origin)
                    except Exception as exc:  # a bug on one odd record must not lose the dump
                        yield from self._dead_letter(origin, "extractor_error",
                                                     f"{type(exc).__name__}: {exc}")
                        continue
                    yield from emit(result, self._source.name)
                    pairs += len(result.pairs)
                    if self._progress_every and records % self._progress_every == 0:
                        print(f"pairmill: {os.path.basename(path)}: {records:,} records, "
                              f"{pairs:,} pairs so far", file=sys.stderr, flush=True)
                consumed = _bytes_consumed(stream)
        except Exception as exc:  # the file ends here: what was read before is kept
            reason = "truncated_file" if isinstance(exc, STREAM_ERRORS) else "unreadable_file"
            yield from self._dead_letter(f"{path}:after {locator}", reason,
                                         f"{type(exc).__name__}: {exc}")
        yield beam.pvalue.TaggedOutput(self.COUNTERS, ("records_read", records))
        yield beam.pvalue.TaggedOutput(self.COUNTERS, ("bytes_read", consumed))

    def _dead_letter(self, origin: str, reason: str, detail: str):
        yield beam.pvalue.TaggedOutput(self.COUNTERS, (f"drop:{reason}", 1))
        yield beam.pvalue.TaggedOutput(self.ERRORS, make_dead_letter(origin, self._source.name,
                                                                     reason, detail))


def emit(result: Extraction, source: str):
    """An Extraction as Beam outputs: pairs on the main output, the rest tagged."""
    for reason, n in result.drops.items():
        yield beam.pvalue.TaggedOutput(MineSourceFiles.COUNTERS, (f"drop:{reason}", n))
    for letter in result.dead_letters:
        yield beam.pvalue.TaggedOutput(MineSourceFiles.ERRORS, letter)
    for part in result.parts:
        yield beam.pvalue.TaggedOutput(MineSourceFiles.PARTS, part)
    yield from result.pairs


class JoinGroups(beam.DoFn):
    """(key, {side: values}) from CoGroupByKey -> the stage's pure join function."""

    def __init__(self, stage: JoinStage, source: str):
        self._stage = stage
        self._source = source

    def process(self, element):
        key, grouped = element
        yield from emit(self._stage.join(key, {side: list(v) for side, v in grouped.items()}),
                        self._source)
