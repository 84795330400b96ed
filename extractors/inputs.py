"""Opening dump files: glob patterns expanded, files decompressed as streams, 7z members.

Each input file is one unit of work: it is opened, decompressed and read in one streaming pass on
a worker, so a multi-GB dump never sits in memory and never crosses a shuffle as raw text. Remote
files (`gs://`, `s3://`, `hdfs://`, `hf://`) are opened through the one storage layer
(`schemas.storage`), so they work on Dataflow/Spark as local paths do here.
"""

from __future__ import annotations

import bz2
import io
import os
import shutil
import tempfile
import zlib

from ..schemas import storage
from .result import Oversized

# Pushshift/Arctic Shift .zst frames need a window of up to 2 GiB.
ZSTD_MAX_WINDOW = 2**31
# Exceptions a damaged compressed stream raises while it is read (zstd raises ZstdError, a
# ValueError subclass; a truncated gzip raises EOFError).
STREAM_ERRORS = (OSError, EOFError, zlib.error, ValueError)


def input_label(path: str, pattern: str) -> str:
    """How origins name a matched file: relative to the fixed folder of the pattern the user
    gave (a plain file: its name), never the machine's absolute path."""
    glob_at = min((pattern.find(c) for c in "*?[" if c in pattern), default=len(pattern))
    base = pattern[:glob_at].rsplit("/", 1)[0] if "/" in pattern[:glob_at] else ""
    if "://" in path:
        return path[len(base) + 1:] if base and path.startswith(base + "/") else path.rsplit("/", 1)[-1]
    if glob_at == len(pattern) or not base:
        base = os.path.dirname(os.path.abspath(pattern)) if glob_at == len(pattern) else "."
    return os.path.relpath(path, os.path.abspath(base)).replace(os.sep, "/")


def labelled_inputs(patterns: list[str]) -> list[tuple[str, str]]:
    """(file, label) for every file the patterns name, sorted by file (see `input_label`)."""
    labels: dict[str, str] = {}
    for pattern in patterns:
        for path in expand_patterns([pattern]):
            labels.setdefault(path, input_label(path, pattern))
    return sorted(labels.items())


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
    if name.endswith(".gz"):  # also per-record gzip WARC: member after member
        return io.BufferedReader(_Members(raw, lambda: zlib.decompressobj(wbits=47)), 1 << 20)
    if name.endswith(".bz2"):  # also multi-stream bz2 (pbzip2)
        return io.BufferedReader(_Members(raw, bz2.BZ2Decompressor), 1 << 20)
    if name.endswith(".zst"):
        return io.BufferedReader(_ZstdFrames(raw), 1 << 20)
    return raw


class _Members(io.RawIOBase):
    """gzip members or bz2 streams, one after another, decompressed with bounded output.

    Unlike GzipFile and BZ2File, what was decompressed before a truncation is handed out first;
    the EOFError comes on the read after it, so every complete record before a break is kept.
    Output per call is capped (`max_length`), so a decompression bomb costs no memory.

    `_input` always holds exactly the compressed bytes the decompressor has not taken: at the end
    of a member that is `unused_data` alone. (CPython's zlib leaves the same leftover in
    `unconsumed_tail` too when the member ends on a capped call; feeding both on duplicated or
    lost whole members of per-record gzip WARCs.)
    """

    OUTPUT = 1 << 20
    RAW_READ = 1 << 20

    def __init__(self, raw, new):
        self._raw = raw
        self._new = new
        self._dec = new()
        self._started = False  # the current member has been given bytes
        self._input = b""  # compressed bytes read but not taken by the decompressor
        self._pending = memoryview(b"")
        self._pos = 0
        self._reported = False

    def readable(self) -> bool:
        return True

    def _next_member(self) -> bool:
        """Start a new decompressor on what follows a finished member; False at the clean end.
        Zero bytes between or after members are padding (as `gzip` reads them)."""
        rest = self._input.lstrip(b"\x00")
        while not rest:
            rest = self._raw.read(self.RAW_READ)
            if not rest:
                return False
            rest = rest.lstrip(b"\x00")
        self._input = rest
        self._dec, self._started = self._new(), False
        return True

    def _more(self) -> bytes:
        """The next piece of output; b"" at the clean end of the input."""
        while True:
            if self._dec.eof and not self._next_member():
                return b""
            if self._input:
                data, self._input = self._input, b""
            elif self._started and getattr(self._dec, "needs_input", True) is False:
                data = b""  # bz2 holds output back until asked again
            else:
                data = self._raw.read(self.RAW_READ)
                if not data:
                    if not self._started:
                        return b""
                    # zlib may still hold output for input it has taken; ask once more
                    out = self._dec.decompress(b"", self.OUTPUT)
                    self._input = b"" if not self._dec.eof else self._dec.unused_data
                    if out or self._dec.eof:
                        if out:
                            return out
                        continue
                    return self._cut_short()
            self._started = True
            out = self._dec.decompress(data, self.OUTPUT)
            if self._dec.eof:
                self._input = self._dec.unused_data
            else:
                self._input = getattr(self._dec, "unconsumed_tail", b"")  # zlib: input left by the cap
            if out:
                return out

    def readinto(self, buffer) -> int:
        if not self._pending:
            self._pending = memoryview(self._more())
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self._pos += n
        return n

    def _cut_short(self) -> bytes:
        """End of data first (the buffered reader above hands out what it holds), then the
        error on the next read."""
        if self._reported:
            raise EOFError("compressed stream cut short: the file is truncated")
        self._reported = True
        return b""

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._raw.close()
        super().close()


class _ZstdFrames(io.RawIOBase):
    """zstd frames, one after another, decompressed; a frame cut short raises EOFError.

    zstandard's own `stream_reader` ends quietly at a truncated frame, which would lose the
    fact that the file is damaged; its `decompressobj` tells (`eof`), so reading goes through it.
    `decompress` has no output limit, so compressed input is fed `FEED` bytes at a time: a zstd
    block yields at most 128 KiB from a few bytes, so one feed gives at most a few MB however
    extreme the compression ratio (a 270 KB file of 4 GiB of blanks).
    """

    FEED = 1024
    RAW_READ = 1 << 20

    def __init__(self, raw):
        import zstandard

        self._raw = raw
        self._new = lambda: zstandard.ZstdDecompressor(
            max_window_size=ZSTD_MAX_WINDOW).decompressobj()
        self._frame = self._new()
        self._pending = memoryview(b"")
        self._input = memoryview(b"")  # compressed bytes read but not yet fed
        self._started = False  # bytes of the current frame seen

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            if not self._input:
                self._input = memoryview(self._raw.read(self.RAW_READ))
                if not self._input:
                    if self._started and not self._frame.eof:
                        if getattr(self, "_reported", False):
                            raise EOFError("zstd frame cut short: the file is truncated")
                        self._reported = True  # end of data first, the error on the next read
                    return 0
            if self._frame.eof:
                self._frame = self._new()
            feed, self._input = self._input[:self.FEED], self._input[self.FEED:]
            self._started = True
            self._pending = memoryview(self._frame.decompress(feed))
            if self._frame.eof and self._frame.unused_data:  # the next frame starts in this feed
                self._input = memoryview(self._frame.unused_data + bytes(self._input))
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]  # a view: no copy of what is left
        self._pos = getattr(self, "_pos", 0) + n
        return n

    def tell(self) -> int:
        return getattr(self, "_pos", 0)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _Extracted7z:
    """One member of a .7z archive, extracted to local scratch space and streamed from there.

    7z has no streaming reader for solid archives; the member goes to a temporary folder on the
    worker's disk (not memory) and is removed when the stream closes. Members named in `also`
    (another kind of input kept in the same site archive) are extracted in the same pass when
    the archive has them, so a solid archive is decompressed once; `member(name)` opens one.
    """

    def __init__(self, raw, member: str, also: tuple[str, ...] = ()):
        import py7zr

        self._dir = tempfile.mkdtemp(prefix="pairmill-7z-")
        try:
            with py7zr.SevenZipFile(raw, mode="r") as archive:
                names = archive.getnames()
                found = {want: next((n for n in names if os.path.basename(n) == want), None)
                         for want in (member, *also)}
                if found[member] is None:
                    raise OSError(f"no {member} in the archive")
                self._found = {want: name for want, name in found.items() if name is not None}
                archive.extract(path=self._dir, targets=sorted(set(self._found.values())))
            self.stream = open(os.path.join(self._dir, found[member]), "rb")
        except BaseException:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise

    def member(self, name: str):
        """A member asked for in `also`, opened; None when the archive has none."""
        found = self._found.get(name)
        return None if found is None else open(os.path.join(self._dir, found), "rb")

    def __enter__(self):
        return self.stream

    def __exit__(self, *exc):
        self.stream.close()
        shutil.rmtree(self._dir, ignore_errors=True)


class RecordLimit:
    """A decompressed stream whose lines and whole-file reads stop at `max_bytes`, and whose
    damage ends it quietly.

    A longer line (or document) is skipped up to its end in bounded steps and returned as
    Oversized, so one line of gigabytes without a newline never sits in memory; reads of a given
    size (WARC and XML parsers) pass through. A read that fails (a truncated gzip, bz2 or zstd
    stream) reads as the end of the file and is kept in `error`: a parser that buffers (lxml)
    then still hands out every complete record before the break, and the caller reports the
    damage once the records are out.
    """

    STEP = 1 << 20

    def __init__(self, stream, max_bytes: int):
        self._stream = stream
        self._max = max_bytes
        self.error: BaseException | None = None

    def _guarded(self, read, *args):
        if self.error is not None:
            return b""
        try:
            return read(*args)
        except STREAM_ERRORS as exc:
            self.error = exc
            return b""

    def readline(self, size: int = -1) -> bytes:
        return self._guarded(self._readline, size)

    def _readline(self, size: int = -1) -> bytes:
        limit = self._max if size is None or size < 0 else min(size, self._max)
        return self._completed(self._stream.readline(limit + 1), limit)

    def _completed(self, line: bytes, limit: int):
        """A line read with `readline(limit + 1)`, as `readline` returns it."""
        if line and not line.endswith(b"\n") and len(line) <= limit:
            # the last line: complete only when the file really ends here (a truncated stream
            # raises on this read, and half a record is not a record)
            try:
                self._stream.read(1)
            except STREAM_ERRORS as exc:
                self.error = exc
                return b""
            return line
        if len(line) <= limit or line.endswith(b"\n"):
            return line
        seen = len(line)
        while not line.endswith(b"\n"):
            line = self._stream.readline(self.STEP)
            if not line:
                break
            seen += len(line)
        return Oversized(seen)

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        # a whole line, the common case, without readline's calls: every record of a JSON-lines
        # dump comes through here (0.7 of 1.2 us a line)
        if self.error is not None:
            raise StopIteration
        try:
            line = self._stream.readline(self._max + 1)
        except STREAM_ERRORS as exc:
            self.error = exc
            raise StopIteration from None
        if not line.endswith(b"\n"):  # the last line, a longer one, or the end
            line = self._guarded(self._completed, line, self._max)
        if not line:
            raise StopIteration
        return line

    def read(self, size: int = -1) -> bytes:
        return self._guarded(self._read, size)

    def _read(self, size: int = -1) -> bytes:
        if size is not None and size >= 0:
            return self._stream.read(size)
        data = self._stream.read(self._max + 1)
        if len(data) <= self._max:
            return data
        seen = len(data)
        while chunk := self._stream.read(self.STEP):
            seen += len(chunk)
        return Oversized(seen)

    def readinto(self, buffer) -> int:
        return self._guarded(self._stream.readinto, buffer) or 0

    def tell(self) -> int:
        return self._stream.tell()

    def close(self) -> None:
        self._stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __getattr__(self, name):  # seek, peek, ... of the stream underneath
        return getattr(self._stream, name)


def is_7z(path: str) -> bool:
    return path.lower().endswith(".7z")


def open_input(path: str, archive_member: str | None = None, also: tuple[str, ...] = ()):
    """A context manager giving the decompressed byte stream of `path`; of a .7z, the stream of
    `archive_member`, with the members in `also` extracted in the same pass (`.member(name)`)."""
    raw = _open_raw(path)
    if is_7z(path):
        if archive_member is None:
            raw.close()
            raise OSError(".7z input is not supported for this source")
        try:
            return _Extracted7z(raw, archive_member, also)
        except Exception:
            raw.close()
            raise
    return _decompressed(raw, path)




def is_parquet(path: str) -> bool:
    return path.lower().endswith(".parquet")


def parquet_json_rows(stream, columns: dict[str, str]):
    """(row group:row, record as a JSON line) of a Parquet export, a row group at a time, fields
    renamed per `columns` (FIELD -> COLUMN): what a JSON-lines reader would have handed over."""
    import json

    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(stream)
    for group in range(parquet.num_row_groups):
        for number, row in enumerate(parquet.read_row_group(group).to_pylist()):
            yield f"{group}:{number}", json.dumps(_renamed(row, columns), default=str).encode()


def renamed_json_fields(records, columns: dict[str, str]):
    """JSON-line records with fields renamed per `columns`; a line that is not a JSON object
    passes unchanged (its extractor dead-letters it)."""
    import json

    for locator, record in records:
        if isinstance(record, (bytes, str)):
            try:
                obj = json.loads(record)
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                record = json.dumps(_renamed(obj, columns)).encode()
        yield locator, record


def _renamed(row: dict, columns: dict[str, str]) -> dict:
    out = dict(row)
    for field_name, column in columns.items():
        if column in row:
            out[field_name] = row[column]
    return out
