"""Batched MinHash signatures and LSH band keys, in numpy (no Beam; callable from a REPL).

Why not datasketch per document: its `update_batch` runs ~3k docs/s on one core because
shingling and hashing happen per token in Python. Here a whole batch of texts becomes one byte
array; tokens, word n-grams and their hashes are computed with array operations, and the
signature is one-permutation MinHash with rotation densification (Li et al. 2012; Shrivastava &
Li 2014): each shingle is hashed once, not once per permutation, and two signatures agree in a
position with probability equal to the texts' Jaccard similarity.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

_MASK64 = (1 << 64) - 1
_RNG = np.random.Generator(np.random.PCG64(20230807))
# byte -> random 64-bit value, the alphabet of the polynomial token hash
_BYTE_VALUES = _RNG.integers(1, 2**63, size=256, dtype=np.uint64) | np.uint64(1)
_POLY = 0x9E3779B97F4A7C15
# P**k mod 2**64 for a byte's offset k inside its token (longer tokens reuse the last power)
_OFFSET_POWERS = np.array([pow(_POLY, k, 1 << 64) for k in range(256)], dtype=np.uint64)
_NGRAM_WEIGHTS = _RNG.integers(1, 2**63, size=64, dtype=np.uint64) | np.uint64(1)
_SHORT_TEXT_SALT = np.uint64(0xD6E8FEB86659FD93)
# bytes that belong to a word: ASCII letters, digits, underscore, and all non-ASCII bytes
_WORD_BYTE = np.zeros(256, dtype=bool)
for _c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_":
    _WORD_BYTE[_c] = True
_WORD_BYTE[128:] = True
EMPTY = np.uint32(0xFFFFFFFF)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads every input bit over the output (in place on a copy)."""
    x = x.copy()
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def shingle_hashes(texts: list[str], ngram: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of the word n-grams of each (lower-cased) text.

    Returns (hashes, doc) with doc[i] the text of hashes[i]. A text with fewer than `ngram`
    words gets one shingle: the hash of its whole word sequence, so short texts collide only
    with the same words, never all with each other. A text without words gets none.
    """
    encoded = [t.lower().encode("utf-8", "surrogatepass") for t in texts]
    buf = np.frombuffer(b"\x00".join(encoded) + b"\x00", dtype=np.uint8)
    lengths = np.fromiter((len(e) + 1 for e in encoded), dtype=np.int64, count=len(encoded))
    doc_starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    word = _WORD_BYTE[buf]
    prev = np.concatenate(([False], word[:-1]))
    starts = np.flatnonzero(word & ~prev)
    ends = np.flatnonzero(word & ~np.concatenate((word[1:], [False]))) + 1
    # Token hash: sum of v[byte] * P**(offset in token), one reduceat over token spans. (A
    # polynomial over whole-batch prefix sums needed power tables as long as the batch and
    # cost two thirds of the run time.)
    positions = np.arange(len(buf))
    last_start = np.maximum.accumulate(np.where(word & ~prev, positions, 0))
    offsets = np.minimum(positions - last_start, len(_OFFSET_POWERS) - 1)
    with np.errstate(over="ignore"):
        weighted = _BYTE_VALUES[buf] * _OFFSET_POWERS[offsets]
    spans = np.empty(2 * len(starts), dtype=np.int64)
    spans[0::2], spans[1::2] = starts, ends
    tokens = np.add.reduceat(weighted, spans, dtype=np.uint64)[0::2] if len(starts) else \
        np.zeros(0, dtype=np.uint64)
    token_doc = np.searchsorted(doc_starts, starts, side="right") - 1
    counts = np.bincount(token_doc, minlength=len(texts))

    parts, docs = [], []
    n = len(tokens)
    if n >= ngram:
        with np.errstate(over="ignore"):
            grams = np.zeros(n - ngram + 1, dtype=np.uint64)
            for k in range(ngram):
                grams += tokens[k: n - ngram + 1 + k] * _NGRAM_WEIGHTS[k]
        valid = token_doc[: n - ngram + 1] == token_doc[ngram - 1:]
        parts.append(grams[valid])
        docs.append(token_doc[: n - ngram + 1][valid])
    short = np.flatnonzero((counts > 0) & (counts < ngram))
    if len(short):
        first = np.searchsorted(token_doc, short)
        with np.errstate(over="ignore"):
            acc = np.full(len(short), _SHORT_TEXT_SALT, dtype=np.uint64)
            for k in range(ngram - 1):
                has = counts[short] > k
                idx = np.minimum(first + k, n - 1)
                acc = np.where(has, acc + tokens[idx] * _NGRAM_WEIGHTS[k], acc)
        parts.append(acc)
        docs.append(short)
    if not parts:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    return _mix(np.concatenate(parts)), np.concatenate(docs)


def signatures(texts: list[str], num_perm: int = 128, ngram: int = 5) -> np.ndarray:
    """(len(texts), num_perm) uint32 one-permutation MinHash signatures; EMPTY rows for no words.

    The top bits of a shingle hash choose its bin, the next 32 bits are its value; each bin keeps
    its minimum. Empty bins copy the nearest non-empty bin to their right (circularly), offset by
    the distance, so that equal signatures still mean equal sampled shingles.
    """
    if num_perm & (num_perm - 1) or not 8 <= num_perm <= 1024:
        raise ValueError("num_perm must be a power of two between 8 and 1024")
    hashes, doc = shingle_hashes(texts, ngram)
    bits = num_perm.bit_length() - 1
    bins = (hashes >> np.uint64(64 - bits)).astype(np.int64)
    values = ((hashes >> np.uint64(64 - bits - 32)) & np.uint64(0xFFFFFFFE)).astype(np.uint32)
    sig = np.full(len(texts) * num_perm, EMPTY, dtype=np.uint32)
    np.minimum.at(sig, doc * num_perm + bins, values)
    sig = sig.reshape(len(texts), num_perm)
    return _densify(sig)


def _densify(sig: np.ndarray) -> np.ndarray:
    rows, k = sig.shape
    empty = sig == EMPTY
    if not empty.any():
        return sig
    doubled = np.concatenate((sig, sig), axis=1)
    filled = ~np.concatenate((empty, empty), axis=1)
    idx = np.where(filled, np.arange(2 * k), 2 * k)
    nxt = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1][:, :k]  # next filled position
    has_any = nxt[:, 0] < 2 * k
    safe = np.minimum(nxt, 2 * k - 1)
    borrowed = np.take_along_axis(doubled, safe, axis=1)
    distance = (safe - np.arange(k)).astype(np.uint32)
    with np.errstate(over="ignore"):
        dense = np.where(empty, (borrowed + distance * np.uint32(0x9E3779B1)) | np.uint32(1), sig)
    dense[~has_any] = EMPTY
    return dense


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Share of equal positions of two signatures: an unbiased estimate of Jaccard similarity."""
    if a[0] == EMPTY or b[0] == EMPTY:
        return 0.0
    return float(np.count_nonzero(a == b)) / len(a)


@dataclass(frozen=True)
class LshBands:
    """How a signature is cut into bands: `bands` × `rows` positions."""

    bands: int
    rows: int

    @classmethod
    def for_threshold(cls, threshold: float, num_perm: int) -> LshBands:
        """Bands tuned (by datasketch's optimiser) for a candidate threshold 0.1 below the
        dedup threshold: candidates are then verified on the signatures, so missing a true
        duplicate costs more than an extra candidate."""
        from datasketch.lsh import _optimal_param

        bands, rows = _optimal_param(max(threshold - 0.1, 0.05), num_perm, 0.5, 0.5)
        return cls(bands, rows)

    def keys(self, sig: np.ndarray) -> list[int]:
        """One 63-bit bucket key per band (band index mixed in), for one signature."""
        if sig[0] == EMPTY:
            return []
        out = []
        for band in range(self.bands):
            chunk = sig[band * self.rows: (band + 1) * self.rows].tobytes()
            digest = hashlib.blake2b(chunk, digest_size=8, salt=band.to_bytes(16, "little"))
            out.append(int.from_bytes(digest.digest(), "little") >> 1)
        return out
