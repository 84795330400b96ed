"""Opening dump files: glob patterns expanded, files decompressed as streams, 7z members.

Each input file is one unit of work: it is opened, decompressed and read in one streaming pass on
a worker, so a multi-GB dump never sits in memory and never crosses a shuffle as raw text. Remote
files (`gs://`, `s3://`, `hdfs://`, `hf://`) are opened through the one storage layer
(`schemas.storage`), so they work on Dataflow/Spark as local paths do here.
"""

from __future__ import annotations

import bz2
import gzip
import io
import os
import shutil
import tempfile
import zlib

from ..schemas import storage

# Pushshift/Arctic Shift .zst frames need a window of up to 2 GiB.
ZSTD_MAX_WINDOW = 2**31
# Exceptions a damaged compressed stream raises while it is read (zstd raises ZstdError, a
# ValueError subclass; a truncated gzip raises EOFError).
STREAM_ERRORS = (OSError, EOFError, zlib.error, ValueError)


def expand_patterns(patterns: list[str]) -> list[str]:
    """Every file the glob patterns (or plain paths) name, sorted; a pattern matching nothing fails."""
    files: set[str] = set()
    for pattern in patterns:
        if os.path.isdir(pattern):
            raise ValueError(f"{pattern} is a directory; give files or a glob such as {pattern}/*.jsonl")
        matched = storage.glob(pattern)
        if not matched:
            raise FileNotFoundError(f"{pattern}: no such file")
        files.update(matched)
    return sorted(files)


def _open_raw(path: str):
    if "://" not in path:
        return open(path, "rb")
    return io.BufferedReader(storage.open_input(path), 1 << 20)


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


