"""Reading line-delimited dumps (JSON lines; plain, .gz, .bz2, .zst) for the text sources.

Each input file is one unit of work: it is read and extracted in one streaming pass on a worker,
so a multi-GB dump never sits in memory and never crosses a shuffle as raw text; Beam
parallelises over files. Files are opened through Beam's FileSystems, so `gs://` and `s3://`
inputs work on Dataflow/Spark as local paths do here. A truncated or corrupt compressed file
yields every complete line before the break, then one dead letter.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import io
import os
import sys
import zlib
from collections.abc import Callable, Iterator

import apache_beam as beam

from ..extractors.result import Extraction
from ..schemas import make_dead_letter

# Pushshift/Arctic Shift .zst frames need a window of up to 2 GiB.
ZSTD_MAX_WINDOW = 2**31


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
    if name.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw)
    if name.endswith(".bz2"):
        return bz2.BZ2File(raw)
    if name.endswith(".zst"):
        import zstandard

        reader = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW).stream_reader(raw)
        return io.BufferedReader(reader, 1 << 20)  # the zstd reader has no readline
    return raw


def iter_lines(path: str) -> Iterator[tuple[int, bytes | None, str]]:
    """(line number, line, error): lines of a file, then (n, None, why) if it breaks early."""
    number = 0
    try:
        raw = _open_raw(path)
        with _decompressed(raw, path) as stream:
            for line in stream:
                number += 1
                if line.strip():
                    yield number, line, ""
    except (OSError, EOFError, zlib.error, ValueError) as exc:  # zstd raises ZstdError (ValueError)
        yield number, None, f"{type(exc).__name__}: {exc}"


class MineRecordFiles(beam.DoFn):
    """One file in; pairs on the main output, counters and dead letters on tagged outputs.

    `extract(line, origin)` is a pure extractor returning an `Extraction`.
    """

    COUNTERS = "counters"
    ERRORS = "errors"

    def __init__(self, extract: Callable[[bytes, str], Extraction], source: str,
                 progress_every: int = 100_000):
        self._extract = extract
        self._source = source
        self._progress_every = progress_every

    def process(self, path: str):
        counts = {"records_read": 0, "bytes_read": 0}
        pairs = 0
        for number, line, error in iter_lines(path):
            origin = f"{path}:{number}"
            if line is None:
                yield beam.pvalue.TaggedOutput(self.COUNTERS, ("drop:truncated_file", 1))
                yield beam.pvalue.TaggedOutput(self.ERRORS, make_dead_letter(
                    f"{path}:{number + 1}", self._source, "truncated_file", error))
                break
            counts["records_read"] += 1
            counts["bytes_read"] += len(line)
            result = self._extract(line, origin)
            for reason, n in result.drops.items():
                yield beam.pvalue.TaggedOutput(self.COUNTERS, (f"drop:{reason}", n))
            for letter in result.dead_letters:
                yield beam.pvalue.TaggedOutput(self.ERRORS, letter)
            pairs += len(result.pairs)
            yield from result.pairs
            if self._progress_every and counts["records_read"] % self._progress_every == 0:
                print(f"pairmill: {os.path.basename(path)}: {counts['records_read']:,} records, "
                      f"{pairs:,} pairs so far", file=sys.stderr, flush=True)
        for name, n in counts.items():
            yield beam.pvalue.TaggedOutput(self.COUNTERS, (name, n))
