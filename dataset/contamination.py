"""Benchmark contamination by n-gram overlap: does a text share words with an evaluation set?

Why not MinHash: a near-duplicate test asks whether two whole texts are alike, and a benchmark
function that keeps its docstring is not alike its mined copy without one (Jaccard 0.10-0.57
measured in issue 31) although the code is identical. Contamination, as GPT-3 (appendix C),
NeMo Curator and the Pile define it, is any shared n-gram: a text is contaminated when it
shares a run of `ngram` tokens (13) with a benchmark text, contains a whole benchmark text
shorter than that, or is contained in one. Texts under `min_tokens` tokens (8, GPT-3's
smallest n) never match by containment: "read a file" inside a benchmark says nothing.

Tokens are runs of letters, digits and underscores, lower-cased (`re`'s `\\w+`): punctuation and
layout are not tokens, so `a=b(c)` and `a = b( c )` are the same, and 13 tokens of code span about
two lines; with punctuation as tokens a single boilerplate line (`super().__init__(*args,
**kwargs)` is 16) would match unrelated code. Code is compared as code: `comparable_texts`
splits a function into its code without comments and docstrings and the prose of those, found
with the code extractor's tree-sitter grammars (or a regex for other languages).

A benchmark is held as one sorted array of 64-bit n-gram hashes (`NgramIndex`): 8 bytes per
n-gram held and 25 at the peak of the build, measured with tracemalloc, against 162 for a
Python set of 13-word strings (`benchmarks/bench_decontamination.py`); a lookup is one
`searchsorted` per batch. It holds the `ngram`-grams of every text, its `min_tokens`-grams (a text shorter
than `ngram` is inside a benchmark text when all of its `min_tokens`-grams are), and the whole
hash of each text shorter than `ngram`. A false match needs a 64-bit collision: about 1e-11
per lookup against 200 million n-grams.

Past memory (`--decontamination-memory-mb`, 1 GiB a benchmark in each worker by default): a
benchmark whose merge would pass it (all of BEIR's corpora are billions of n-grams, MS MARCO's
alone about 0.74 billion: 19-24 GB at the merge's peak) is merged on disk (`build_index_on_disk`):
its parts, already sorted, are merged in memory-sized runs on local scratch disk and the runs
merged a fan-in at a time, read in slices, into one sorted file. Its lookups (`DiskNgramIndex`)
hold only a Bloom filter (half the budget, up to 16 bits an n-gram) and fences (every 512th
hash or sparser, at most an eighth of it): the filter rules out most absent hashes, the fences
narrow a present or falsely passed one to a 4 KiB block of the file, and a binary search there
answers exactly. The file is the in-memory array, byte for byte, so removals are identical; the
budget only trades lookup speed. A Bloom filter alone would not do: its false positives are
removals, and a pair has hundreds of n-grams (1e-3 a lookup removes 18% of 200-gram pairs).
Confirming the filter's candidates by a second read of the benchmark would be exact too, but
it needs every pair's candidates gathered before that read, a shuffle of the pairs' hashes that
the sorted file avoids: it answers a candidate at once from one page.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import io
import math
import os
import re
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..extractors.code.languages import LANGUAGES
from ..schemas import storage
from .settings import (
    DECONTAMINATION_MEMORY_MB,
    DECONTAMINATION_MIN_TOKENS,
    DECONTAMINATION_NGRAM,
)

MAX_NGRAM = 64
_WORD = re.compile(r"\w+")
_RNG = np.random.Generator(np.random.PCG64(20261203))
_WEIGHTS = _RNG.integers(1, 2**63, size=MAX_NGRAM, dtype=np.uint64) | np.uint64(1)
_LENGTH_SALTS = _RNG.integers(1, 2**63, size=MAX_NGRAM + 1, dtype=np.uint64)
_TOKEN_IDS: dict[str, int] = {}  # memoised blake2b of each distinct word (a bounded cache)
_TOKEN_CACHE_LIMIT = 2_000_000


def words(text: str) -> list[str]:
    """The tokens of a text: lower-cased runs of letters, digits and underscores."""
    return _WORD.findall(text.lower())


def _token_id(word: str) -> int:
    value = _TOKEN_IDS.get(word)
    if value is None:
        if len(_TOKEN_IDS) >= _TOKEN_CACHE_LIMIT:
            _TOKEN_IDS.clear()
        value = int.from_bytes(hashlib.blake2b(word.encode("utf-8", "surrogatepass"),
                                               digest_size=8).digest(), "little")
        _TOKEN_IDS[word] = value
    return value


def _tokens(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(token hashes of all texts, in order; index of the text of each token)."""
    per_text = [words(t) for t in texts]
    counts = np.fromiter((len(w) for w in per_text), dtype=np.int64, count=len(per_text))
    ids = np.fromiter((_token_id(w) for ws in per_text for w in ws), dtype=np.uint64,
                      count=int(counts.sum()))
    return ids, np.repeat(np.arange(len(texts)), counts)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit reaches every output bit."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique of an array the caller owns, sorting it in place: np.unique was 50-70x slower
    on 64-bit hashes here (numpy 2.4: 0.83 s against 0.013 s for a million), and its copy makes
    the peak 25 bytes a hash against 17."""
    values.sort()
    keep = np.empty(len(values), dtype=bool)
    keep[:1] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def _windows(ids: np.ndarray, doc: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every `size`-token window inside one text, and the index of its first token.
    The length is salted in, so a window never equals one of another length."""
    n = len(ids)
    if n < size or size < 1:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    with np.errstate(over="ignore"):
        grams = np.full(n - size + 1, _LENGTH_SALTS[size], dtype=np.uint64)
        for k in range(size):
            grams += ids[k: n - size + 1 + k] * _WEIGHTS[k]
    valid = np.flatnonzero(doc[: n - size + 1] == doc[size - 1:])
    return _mix(grams[valid]), valid


# --- code as code ------------------------------------------------------------------------------

# what is removed from code: comments, and in Python bare string statements (docstrings)
_STRIP_QUERIES = {"python": "(comment) @strip (expression_statement (string) @strip)",
                  "java": "[(line_comment) (block_comment)] @strip"}
# cheap signs that a text of unknown language is code, tried in this order
_HINTS = {
    "python": re.compile(r"^[ \t]*(async[ \t]+)?(def|class)[ \t]+\w+.*:[ \t]*(#.*)?$", re.M),
    "go": re.compile(r"^[ \t]*func\b.*\{", re.M),
    "java": re.compile(r"^[ \t]*((public|private|protected|static|final|abstract|synchronized)"
                       r"[ \t]+)+[\w<>\[\], ]+[ \t]+\w+[ \t]*\(", re.M),
    "php": re.compile(r"<\?php|^[ \t]*((public|private|protected|static)[ \t]+)*function[ \t]+"
                      r"&?\w+[ \t]*\(.*\$", re.M),
    "ruby": re.compile(r"^[ \t]*def[ \t]+[\w.?!=]+[ \t]*(\([^)\n]*\))?[ \t]*$", re.M),
    "javascript": re.compile(r"\bfunction\b[^(\n]*\(|=>[ \t]*\{", re.M),
    "typescript": re.compile(r"\bfunction\b[^(\n]*\(|=>[ \t]*\{", re.M),
    "c": re.compile(r"^[ \t]*#include\b|^[ \t]*[\w\*][\w\s\*]*\([^;{}]*\)[ \t]*\{", re.M),
}
# the regex fallback, for languages without a grammar here or a text that does not parse
_HASH_COMMENTS = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|#[^\n]*')
_SLASH_COMMENTS = re.compile(r"/\*[\s\S]*?\*/|//[^\n]*")
_HASH_STYLE = {"python", "ruby", "perl", "shell", "bash", "r", "julia", "elixir", "yaml"}


@functools.cache
def _stripper(lang: str):
    """A parser and the query of what to remove, built once per process (not picklable)."""
    from tree_sitter import Language, Parser, Query, QueryCursor

    spec = LANGUAGES[lang]
    language = Language(getattr(importlib.import_module(spec.module), spec.entry)())
    query = Query(language, _STRIP_QUERIES.get(lang, "(comment) @strip"))
    return Parser(language), QueryCursor(query)


def _strip_parsed(code: str, lang: str) -> tuple[str, str] | None:
    """(code without comments and docstrings, their text), or None when it does not parse."""
    prefix = b"<?php\n" if lang == "php" and "<?php" not in code else b""
    data = prefix + code.encode("utf-8", "surrogatepass")
    parser, cursor = _stripper(lang)
    root = parser.parse(data).root_node
    if root.has_error:
        return None
    ranges = sorted({(n.start_byte, n.end_byte) for n in cursor.captures(root).get("strip", [])})
    kept, removed, at = io.BytesIO(), [], len(prefix)
    for start, end in ranges:
        if start < at:  # inside a range already removed
            continue
        kept.write(data[at:start] + b"\n")
        removed.append(data[start:end])
        at = end
    kept.write(data[at:])
    return (kept.getvalue().decode("utf-8", "replace"),
            b"\n".join(removed).decode("utf-8", "replace"))


def _strip_regex(code: str, lang: str) -> tuple[str, str]:
    pattern = _HASH_COMMENTS if lang in _HASH_STYLE else _SLASH_COMMENTS
    return pattern.sub("\n", code), "\n".join(pattern.findall(code))


def split_code(text: str, lang: str | None = None) -> tuple[str, str] | None:
    """A text of code split into (code without comments and docstrings, their prose), or None
    when it is not code. `lang` is the pair's language when known; otherwise the text is code
    when a language's signs show and (for the grammars we have) it parses without error."""
    code = textwrap.dedent(text)
    if lang:
        lang = lang.lower()
        if lang in LANGUAGES:
            return _strip_parsed(code, lang) or _strip_regex(code, lang)
        return _strip_regex(code, lang) if lang in _HINTS or lang in _HASH_STYLE else None
    hinted = [name for name, hint in _HINTS.items() if hint.search(code)]
    for name in hinted:
        if name in LANGUAGES:
            parsed = _strip_parsed(code, name)
            if parsed is not None:
                return parsed
    return _strip_regex(code, hinted[0]) if hinted else None


def comparable_texts(text: str, lang: str | None = None) -> list[str]:
    """What is compared of one text: for code, its code and its comments' prose separately
    (layout does not matter: it is not a token); any other text as it is."""
    split = split_code(text, lang)
    if split is None:
        return [text]
    return [part for part in split if part.strip()]


# --- the index ---------------------------------------------------------------------------------

@dataclass
class NgramIndex:
    """A benchmark's n-grams: sorted unique 64-bit hashes, and the token counts of its texts
    shorter than `ngram` (whose whole hashes are held, to find them inside longer texts)."""

    grams: np.ndarray
    short_lengths: tuple[int, ...] = ()
    ngram: int = DECONTAMINATION_NGRAM
    min_tokens: int = DECONTAMINATION_MIN_TOKENS

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        np.savez(out, grams=self.grams, short=np.array(self.short_lengths, dtype=np.int64),
                 sizes=np.array([self.ngram, self.min_tokens], dtype=np.int64))
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> NgramIndex:
        arrays = np.load(io.BytesIO(data))
        ngram, min_tokens = arrays["sizes"].tolist()
        return cls(arrays["grams"], tuple(arrays["short"].tolist()), ngram, min_tokens)

    def _held(self, hashes: np.ndarray) -> np.ndarray:
        # sorted keys: numpy's binary search starts from the last one's place, and the array is
        # read in order (13x faster for a million keys against 5 million hashes)
        order = np.argsort(hashes)
        keys = hashes[order]
        at = np.searchsorted(self.grams, keys)
        held = at < len(self.grams)
        held[held] = self.grams[at[held]] == keys[held]
        found = np.empty_like(held)
        found[order] = held
        return found

    def matches(self, texts: list[str]) -> list[tuple[int, int] | None]:
        """For each text (already a comparable text): the (first token, token count) of a run
        it shares with the benchmark, or None when it shares nothing."""
        ids, doc = _tokens(texts)
        lengths = np.bincount(doc, minlength=len(texts))
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
        found: dict[int, tuple[int, int]] = {}

        def record(size: int, at: np.ndarray) -> None:
            for first in at.tolist():  # the first match of each text is its example
                found.setdefault(int(doc[first]), (first - int(starts[doc[first]]), size))

        # a shared `ngram`-gram, or a whole short benchmark text inside this one
        for size in [self.ngram, *sorted(set(self.short_lengths) - {self.ngram}, reverse=True)]:
            grams, at = _windows(ids, doc, size)
            record(size, at[self._held(grams)])
        # this text, shorter than `ngram`, inside a benchmark text: all its min-grams held
        short = (lengths >= self.min_tokens) & (lengths < self.ngram)
        if short.any() and self.min_tokens < self.ngram:
            grams, at = _windows(ids, doc, self.min_tokens)
            mine = short[doc[at]]
            held = self._held(grams[mine])
            owners = doc[at[mine]]
            missing = np.bincount(owners[~held], minlength=len(texts))
            for text in np.flatnonzero(short & (missing == 0)).tolist():
                found.setdefault(text, (0, int(lengths[text])))
        return [found.get(i) for i in range(len(texts))]


def benchmark_grams(texts: list[str], ngram: int = DECONTAMINATION_NGRAM,
                    min_tokens: int = DECONTAMINATION_MIN_TOKENS
                    ) -> tuple[np.ndarray, set[int]]:
    """The hashes a batch of benchmark texts adds to its index (unique, sorted) and the token
    counts of its texts shorter than `ngram`; each text is split by `comparable_texts`."""
    views = [v for text in texts for v in comparable_texts(text)]
    ids, doc = _tokens(views)
    lengths = np.bincount(doc, minlength=len(views))
    parts = [_windows(ids, doc, ngram)[0]]
    if min_tokens < ngram:
        parts.append(_windows(ids, doc, min_tokens)[0])
    short = {int(n) for n in np.unique(lengths[(lengths >= min_tokens) & (lengths < ngram)])}
    for size in sorted(short):
        grams, at = _windows(ids, doc, size)
        whole = (lengths[doc[at]] == size) & (at == np.searchsorted(doc, doc[at]))
        parts.append(grams[whole])
    return _sorted_unique(np.concatenate(parts)), short


def build_index(batches: list[tuple[np.ndarray, set[int]]], ngram: int = DECONTAMINATION_NGRAM,
                min_tokens: int = DECONTAMINATION_MIN_TOKENS) -> NgramIndex:
    """One index from the `benchmark_grams` of its batches."""
    grams = _sorted_unique(np.concatenate([g for g, _ in batches])) if batches else \
        np.zeros(0, dtype=np.uint64)
    short = sorted(set().union(*(s for _, s in batches))) if batches else []
    return NgramIndex(grams, tuple(short), ngram, min_tokens)


def overlap_words(text: str, match: tuple[int, int]) -> str:
    """The tokens of a match, for a report's example."""
    first, size = match
    return " ".join(words(text)[first: first + size])


# --- past memory: an index merged on disk ------------------------------------------------------

MEMORY = DECONTAMINATION_MEMORY_MB << 20
# the in-memory build's peak, counted on the parts' n-grams before dedup: 25.2 measured from
# texts with the parts held (benchmarks/bench_decontamination.py), 32 leaves room
BUILD_BYTES_PER_NGRAM = 32
HELD_BYTES_PER_NGRAM = 8
MIN_BUFFER = 1024  # n-grams read from a run at a time, at the least
BLOCK = 512  # n-grams between two fences at the least: one 4 KiB page of the file
MAX_BLOOM_BITS = 16  # bits per n-gram past which a Bloom filter saves hardly any read (0.05%)
MAX_BLOOM_K = 11
_BLOOM_SALT = np.uint64(0x9E3779B97F4A7C15)


def fits_in_memory(ngrams: int, memory: int = MEMORY) -> bool:
    """Whether `ngrams` hashes are merged in memory within `memory` bytes (the peak of the merge
    is `BUILD_BYTES_PER_NGRAM` bytes each); otherwise `build_index_on_disk` merges them."""
    return ngrams * BUILD_BYTES_PER_NGRAM <= memory


@dataclass
class BloomFilter:
    """A Bloom filter over n-gram hashes, in front of the file's exact lookup: it only decides
    which lookups read the file, so its false positives cost reads, never wrong removals. The
    keys are already mixed 64-bit hashes; the k positions are h1 + i*h2 (Kirsch-Mitzenmacher),
    h2 a second mix of the key."""

    bits: np.ndarray  # uint64 words
    k: int

    @classmethod
    def sized(cls, keys: int, nbytes: int) -> BloomFilter | None:
        """A filter for `keys` keys in at most `nbytes` (up to `MAX_BLOOM_BITS` a key), with the
        k that minimises false positives at that size; None when `nbytes` holds nothing useful."""
        words = min(nbytes // 8, -(-keys * MAX_BLOOM_BITS // 64))
        if words < 8 or keys < 1:
            return None
        k = round(words * 64 / keys * math.log(2))
        return cls(np.zeros(words, dtype=np.uint64), min(MAX_BLOOM_K, max(1, k)))

    def _positions(self, keys: np.ndarray) -> Iterator[np.ndarray]:
        m = np.uint64(self.bits.size * 64)
        with np.errstate(over="ignore"):
            step = _mix(keys ^ _BLOOM_SALT) | np.uint64(1)
            at = keys.copy()
            for _ in range(self.k):
                yield at % m
                at += step

    def add(self, keys: np.ndarray) -> None:
        for pos in self._positions(keys):
            np.bitwise_or.at(self.bits, pos >> np.uint64(6),
                             np.left_shift(np.uint64(1), pos & np.uint64(63)))

    def might_hold(self, keys: np.ndarray) -> np.ndarray:
        """False for a key certainly absent; True for one held (or a false positive)."""
        held = np.ones(len(keys), dtype=bool)
        for pos in self._positions(keys):
            held &= ((self.bits[pos >> np.uint64(6)] >> (pos & np.uint64(63))) & np.uint64(1)) \
                .astype(bool)
        return held


@dataclass
class DiskNgramIndex(NgramIndex):
    """A benchmark's sorted hashes in a file (`grams` is a read-only memmap), found through a
    Bloom filter and fences held in memory: the filter rules out most absent hashes without a
    read, `fences` (every `block`-th hash) narrows a lookup to one block of the file, which a
    binary search in the memmap reads from the page cache or the disk. The answer is exactly the
    in-memory array's; only its speed depends on the memory given."""

    fences: np.ndarray | None = None
    block: int = BLOCK
    bloom: BloomFilter | None = None

    def to_bytes(self) -> bytes:
        raise TypeError("an index on disk travels as the location of its head, not its bytes")

    def held_bytes(self) -> int:
        """Bytes this index holds in memory (the file's pages are the OS's page cache)."""
        return self.fences.nbytes + (self.bloom.bits.nbytes if self.bloom else 0)

    def _held(self, hashes: np.ndarray) -> np.ndarray:
        found = np.zeros(len(hashes), dtype=bool)
        n = len(self.grams)
        if not n or not len(hashes):
            return found
        ask = np.flatnonzero(self.bloom.might_hold(hashes)) if self.bloom else \
            np.arange(len(hashes))
        ask = ask[np.argsort(hashes[ask], kind="stable")]  # in file order: pages read once
        keys = hashes[ask]
        block = np.searchsorted(self.fences, keys, side="right") - 1  # -1: below the first
        inside = block >= 0
        ask, keys = ask[inside], keys[inside]
        lo = block[inside] * self.block
        hi = np.minimum(lo + self.block, n)
        for _ in range(self.block.bit_length()):  # lower bound inside the block
            live = np.flatnonzero(lo < hi)
            if not len(live):
                break
            mid = (lo[live] + hi[live]) // 2
            less = np.asarray(self.grams[mid]) < keys[live]
            lo[live] = np.where(less, mid + 1, lo[live])
            hi[live] = np.where(less, hi[live], mid)
        there = lo < n
        found[ask[there]] = np.asarray(self.grams[lo[there]]) == keys[there]
        return found


class _Run:
    """A sorted run of unique hashes (inline bytes, or a file local or remote), read in
    slices so that no run is ever held whole."""

    def __init__(self, source: bytes | str, count: int):
        self.source, self.count = source, count
        self._remote = None

    def read(self, start: int, count: int) -> np.ndarray:
        count = max(0, min(count, self.count - start))
        if isinstance(self.source, bytes):
            return np.frombuffer(self.source, dtype=np.uint64, count=count, offset=start * 8)
        if "://" not in self.source:
            return np.fromfile(self.source, dtype=np.uint64, count=count, offset=start * 8)
        if self._remote is None:
            self._remote = storage.open_input(self.source)
        return np.frombuffer(self._remote.read_at(count * 8, start * 8), dtype=np.uint64)

    def slices(self, size: int) -> Iterator[np.ndarray]:
        for start in range(0, self.count, size):
            yield self.read(start, size)

    def close(self) -> None:
        if self._remote is not None:
            self._remote.close()
            self._remote = None


def _merge(runs: list[_Run], buffer: int) -> Iterator[np.ndarray]:
    """The sorted union of sorted runs, in ascending slices, holding `buffer` hashes of each.
    Every round takes from all runs every hash up to the smallest last hash among the buffers
    of runs with more to read: nothing at or below it is left anywhere, so slices never
    overlap."""
    buffers = [run.read(0, buffer) for run in runs]
    at = [len(b) for b in buffers]
    while any(len(b) for b in buffers):
        more = [b[-1] for i, b in enumerate(buffers) if len(b) and at[i] < runs[i].count]
        cutoff = min(more) if more else None
        taken = []
        for i, b in enumerate(buffers):
            cut = len(b) if cutoff is None else int(np.searchsorted(b, cutoff, side="right"))
            taken.append(b[:cut])
            buffers[i] = b[cut:]
        merged = np.concatenate(taken)
        del taken
        merged = _sorted_unique(merged)
        for i, b in enumerate(buffers):  # after the merge: a spent buffer is freed first
            if not len(b) and at[i] < runs[i].count:
                buffers[i] = runs[i].read(at[i], buffer)
                at[i] += len(buffers[i])
        if len(merged):
            yield merged
    for run in runs:
        run.close()


def _write_run(slices: Iterator[np.ndarray], path: str) -> _Run:
    count = 0
    with open(path, "wb") as out:
        for values in slices:
            values.tofile(out)
            count += len(values)
    return _Run(path, count)


def _runs_within(parts: list[tuple[bytes | str, int]], memory: int, scratch: str) -> list[_Run]:
    """The parts as sorted runs: small parts merged in memory `memory / 32` hashes at a time,
    each part bigger than that a run as it is (each part is sorted and unique already)."""
    capacity = max(MIN_BUFFER, memory // BUILD_BYTES_PER_NGRAM)
    runs: list[_Run] = []
    group: list[_Run] = []
    held = 0

    def flush() -> None:
        nonlocal group, held
        if group:
            values = _sorted_unique(np.concatenate([r.read(0, r.count) for r in group]))
            path = os.path.join(scratch, f"run{len(runs)}.u64")
            values.tofile(path)
            runs.append(_Run(path, len(values)))
        group, held = [], 0

    for source, count in parts:
        if count > capacity:
            runs.append(_Run(source, count))
            continue
        if held + count > capacity:
            flush()
        group.append(_Run(source, count))
        held += count
    flush()
    return runs


def build_index_on_disk(parts: list[tuple[bytes | str, int]], short: set[int], location: str,
                        memory: int = MEMORY, ngram: int = DECONTAMINATION_NGRAM,
                        min_tokens: int = DECONTAMINATION_MIN_TOKENS) -> tuple[str, int]:
    """One index from `benchmark_grams` parts too big to merge in `memory` bytes: (sorted
    unique hashes, their count) per part, inline or in files. An external merge: the parts
    become runs on local scratch disk, runs are merged `fan-in` at a time (each read in
    slices) until one is left, and that one is written to `location`.u64 while its fences and
    Bloom filter are made; the head (`location`.npz, what `load_index` reads) holds those and
    the file's location. Nothing here holds more than about `memory` bytes. Returns (head,
    n-grams held)."""
    with tempfile.TemporaryDirectory(prefix="pairmill-ngrams-") as scratch:
        runs = _runs_within(parts, memory, scratch)
        fan_in = max(2, memory // (BUILD_BYTES_PER_NGRAM * MIN_BUFFER))
        rounds = 0
        while len(runs) > 1:
            merged = []
            for i in range(0, len(runs), fan_in):
                group = runs[i:i + fan_in]
                if len(group) == 1:
                    merged.append(group[0])
                    continue
                buffer = max(MIN_BUFFER, memory // (BUILD_BYTES_PER_NGRAM * len(group)))
                path = os.path.join(scratch, f"merge{rounds}.{i}.u64")
                merged.append(_write_run(_merge(group, buffer), path))
                for run in group:  # so scratch holds about two rounds at most
                    if isinstance(run.source, str) and run.source.startswith(scratch):
                        os.remove(run.source)
            runs, rounds = merged, rounds + 1
        final = runs[0] if runs else _Run(b"", 0)
        head = _publish(final, location, memory)
    arrays = {**head, "short": np.array(sorted(short), dtype=np.int64),
              "sizes": np.array([ngram, min_tokens], dtype=np.int64)}
    out = io.BytesIO()
    np.savez(out, **arrays)
    storage.write_bytes(f"{location}.npz", out.getvalue())
    return f"{location}.npz", final.count


def _publish(run: _Run, location: str, memory: int) -> dict[str, np.ndarray]:
    """Write the merged run to `location`.u64 in slices, making its fences and Bloom filter
    (`location`.bloom) on the way, unless its array fits `memory` whole (then lookups read it
    into memory and need neither)."""
    n = run.count
    on_disk = n * HELD_BYTES_PER_NGRAM > memory
    block = BLOCK
    while on_disk and -(-n // block) * 8 > memory // 8:
        block *= 2
    bloom = BloomFilter.sized(n, memory // 2) if on_disk else None
    size = max(MIN_BUFFER, memory // 256)  # a slice, and the filter's temporaries (48 bytes each)
    fences = np.zeros(-(-n // block) if on_disk else 0, dtype=np.uint64)
    at = 0
    with storage.committed_output(f"{location}.u64") as out:
        for values in run.slices(size):
            out.write(values)
            if on_disk:  # every block-th hash of the whole file
                first = -at % block
                fences[(at + first) // block:][:len(values[first::block])] = values[first::block]
            if bloom is not None:
                bloom.add(values)
            at += len(values)
    run.close()
    if bloom is not None:
        with storage.committed_output(f"{location}.bloom") as out:
            out.write(bloom.bits)
    return {"path": np.array(storage.absolute(location)), "build": np.array(uuid.uuid4().hex),
            "count": np.array(n, dtype=np.int64),
            "memory": np.array(memory, dtype=np.int64), "block": np.array(block, dtype=np.int64),
            "fences": fences,
            "bloom_k": np.array(bloom.k if bloom else 0, dtype=np.int64)}


@functools.cache
def _copies_folder() -> str:
    """This process's folder of local copies, removed when it exits (a worker's disk keeps
    nothing from a run)."""
    folder = tempfile.TemporaryDirectory(prefix="pairmill-ngrams-")
    _COPIES.append(folder)  # held until exit, when its finalizer removes it
    return folder.name


_COPIES: list = []


def _local_copy(location: str, build: str) -> str:
    """A local path of a file of hashes: itself when local, else a copy made once per process
    and build (a memmap needs a local file; `build` tells a rebuilt file at the same location
    from the copy of an older one)."""
    if "://" not in location:
        return location
    name = hashlib.blake2b(f"{location}\n{build}".encode(), digest_size=12).hexdigest()
    path = os.path.join(_copies_folder(), f"{name}.u64")
    if not os.path.exists(path):
        partial = f"{path}.{os.getpid()}.tmp"
        with storage.open_input(location) as source, open(partial, "wb") as out:
            while chunk := source.read(1 << 24):
                out.write(chunk)
        os.replace(partial, path)
    return path


def load_index(location: str) -> NgramIndex:
    """An index from its file: an in-memory `NgramIndex` (`to_bytes`), or the head written by
    `build_index_on_disk`, whose hashes are read into memory when they fit its budget and
    otherwise looked up in place (`DiskNgramIndex`)."""
    data = storage.read_bytes(location)
    arrays = np.load(io.BytesIO(data))
    if "fences" not in arrays:
        return NgramIndex.from_bytes(data)
    ngram, min_tokens = arrays["sizes"].tolist()
    short, path, n = tuple(arrays["short"].tolist()), str(arrays["path"]), int(arrays["count"])
    if n * HELD_BYTES_PER_NGRAM <= int(arrays["memory"]) or not n:
        grams = np.frombuffer(storage.read_bytes(f"{path}.u64"), dtype=np.uint64) if n else \
            np.zeros(0, dtype=np.uint64)
        return NgramIndex(grams, short, ngram, min_tokens)
    k = int(arrays["bloom_k"])
    bloom = BloomFilter(np.frombuffer(storage.read_bytes(f"{path}.bloom"), dtype=np.uint64), k) \
        if k else None
    grams = np.memmap(_local_copy(f"{path}.u64", str(arrays["build"])), dtype=np.uint64,
                      mode="r", shape=(n,))
    return DiskNgramIndex(grams, short, ngram, min_tokens, fences=arrays["fences"],
                          block=int(arrays["block"]), bloom=bloom)
