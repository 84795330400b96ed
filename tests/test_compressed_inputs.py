"""Multi-member gzip, multi-stream bz2 and multi-frame zstd files read byte for byte as the
standard readers read them, wherever member ends fall against the output cap and the read size.

Per-record gzip WARCs (Common Crawl) and concatenated dumps are many members; a member whose
output crosses the cap used to have its leftover input fed on twice.
"""

from __future__ import annotations

import bz2
import gzip
import io
import random

import pytest
import zstandard

from pairmill.extractors import inputs
from pairmill.extractors.inputs import open_input

COMPRESS = {".gz": lambda d: gzip.compress(d, compresslevel=6), ".bz2": bz2.compress,
            ".zst": lambda d: zstandard.ZstdCompressor().compress(d)}


def _reference(blob: bytes, suffix: str) -> bytes:
    if suffix == ".gz":
        return gzip.decompress(blob)
    if suffix == ".bz2":
        return bz2.decompress(blob)
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob), read_across_frames=True)
    return reader.read()


def _payload(rng: random.Random, size: int) -> bytes:
    """Text that compresses like a dump (words and numbers), exactly `size` bytes."""
    words = [b"espresso", b"grind", b"crema", b"%d" % rng.randrange(10**6), b"\n"]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b" "
    return bytes(out[:size])


def _read_all(path, chunk: int) -> bytes:
    with open_input(str(path)) as stream:
        parts = []
        while piece := stream.read(chunk):
            parts.append(piece)
    return b"".join(parts)


CAP = 4096  # the output cap and read size are shrunk so every straddle is cheap to build

# (member sizes in multiples/offsets of the cap): large first, last, between small ones,
# members exactly at the cap, one byte over, and empty members
LAYOUTS = {
    "large_first": [10 * CAP + 7, 100, 200],
    "large_last": [100, 200, 10 * CAP + 7],
    "large_between_small": [100, 10 * CAP + 7, 100, 10 * CAP + 1, 50],
    "exactly_at_cap": [CAP, CAP, CAP],
    "one_over_cap": [CAP + 1, 10, CAP + 1, 10],
    "empty_members": [0, 3 * CAP, 0, 0, 5],
    "single": [20 * CAP],
}


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".zst"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("raw_read", [97, CAP, 3 * CAP + 1])
def test_members_read_as_the_standard_library_reads_them(tmp_path, monkeypatch, suffix, layout,
                                                         raw_read):
    monkeypatch.setattr(inputs._Members, "OUTPUT", CAP)
    monkeypatch.setattr(inputs._Members, "RAW_READ", raw_read)
    monkeypatch.setattr(inputs._ZstdFrames, "RAW_READ", raw_read)
    monkeypatch.setattr(inputs._ZstdFrames, "FEED", 512)
    rng = random.Random(layout)
    blob = b"".join(COMPRESS[suffix](_payload(rng, n)) for n in LAYOUTS[layout])
    path = tmp_path / f"members{suffix}"
    path.write_bytes(blob)
    expected = _reference(blob, suffix)
    assert _read_all(path, 1 << 20) == expected
    assert _read_all(path, 333) == expected


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".zst"])
def test_member_boundary_on_a_read_boundary(tmp_path, monkeypatch, suffix):
    """The raw read ends exactly where a member ends (and where the next one's header starts)."""
    rng = random.Random(1)
    members = [COMPRESS[suffix](_payload(rng, n)) for n in (5 * CAP, 300, 7 * CAP)]
    monkeypatch.setattr(inputs._Members, "OUTPUT", CAP)
    monkeypatch.setattr(inputs._Members, "RAW_READ", len(members[0]))
    monkeypatch.setattr(inputs._ZstdFrames, "RAW_READ", len(members[0]))
    path = tmp_path / f"aligned{suffix}"
    path.write_bytes(b"".join(members))
    assert _read_all(path, 1 << 20) == _reference(path.read_bytes(), suffix)


@pytest.mark.parametrize("suffix", [".gz", ".bz2"])
def test_default_sizes_large_member_first_then_small_ones(tmp_path, suffix):
    """The defect as Common Crawl shows it, at the real 1 MiB cap: a member of more than 1 MiB,
    then small members; nothing lost, nothing repeated."""
    rng = random.Random(2)
    lines = [b"record %d " % i + _payload(rng, 60).replace(b"\n", b" ") + b"\n" for i in range(60_000)]
    big = b"".join(lines[:50_000])
    assert len(big) > 3 * (1 << 20)
    blob = COMPRESS[suffix](big) + b"".join(COMPRESS[suffix](line) for line in lines[50_000:])
    path = tmp_path / f"month{suffix}"
    path.write_bytes(blob)
    with open_input(str(path)) as stream:
        got = stream.readlines()
    assert got == lines


def test_zero_padding_between_and_after_members_is_skipped(tmp_path):
    blob = gzip.compress(b"a\n") + b"\x00" * 10 + gzip.compress(b"b\n") + b"\x00" * 512
    path = tmp_path / "padded.gz"
    path.write_bytes(blob)
    assert _read_all(path, 1 << 20) == gzip.decompress(blob) == b"a\nb\n"


@pytest.mark.parametrize("suffix", [".gz", ".bz2"])
@pytest.mark.parametrize("cut_in", ["first_member", "next_header", "last_member"])
def test_truncation_hands_out_what_came_before_then_raises(tmp_path, monkeypatch, suffix, cut_in):
    monkeypatch.setattr(inputs._Members, "OUTPUT", CAP)
    monkeypatch.setattr(inputs._Members, "RAW_READ", 1000)
    rng = random.Random(3)
    members = [COMPRESS[suffix](_payload(rng, n)) for n in (6 * CAP, 8 * CAP)]
    whole = b"".join(members)
    cut = {"first_member": len(members[0]) // 2, "next_header": len(members[0]) + 5,
           "last_member": len(whole) - 20}[cut_in]
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(whole[:cut])
    stream = open_input(str(path))
    got = stream.read()
    first = _reference(members[0], suffix)
    if cut_in == "first_member":
        assert first.startswith(got)
        assert got or suffix == ".bz2"  # bz2 gives nothing of a block cut in half
    else:
        assert got.startswith(first)
        assert (first + _reference(members[1], suffix)).startswith(got)
    with pytest.raises(EOFError):
        stream.read()
    stream.close()


class _BreaksAfter(io.BytesIO):
    """A stream that raises like a truncated gzip once `good` bytes are read."""

    def __init__(self, data: bytes, good: int):
        super().__init__(data)
        self._good = good

    def readline(self, size: int = -1) -> bytes:
        if self.tell() >= self._good:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        return super().readline(size)


def test_a_limited_stream_iterates_whole_long_last_and_broken_lines_as_readline_does():
    from pairmill.extractors.result import Oversized

    data = b"short\n" + b"x" * 50 + b"\n" + b"exactly10\n" + b"tail"  # no newline at the end
    lines = list(inputs.RecordLimit(io.BytesIO(data), 10))
    assert lines[0] == b"short\n" and lines[2] == b"exactly10\n" and lines[3] == b"tail"
    assert isinstance(lines[1], Oversized) and lines[1].size == 51
    assert len(lines) == 4
    by_readline = inputs.RecordLimit(io.BytesIO(data), 10)
    assert [by_readline.readline() for _ in range(4)] == lines
    broken = inputs.RecordLimit(_BreaksAfter(b"one\ntwo\nthree\n", 8), 10)
    assert list(broken) == [b"one\n", b"two\n"]  # what came before the break, then the end
    assert isinstance(broken.error, EOFError)
