"""Batched MinHash signatures and LSH band keys, in numpy (no Beam; callable from a REPL).

Why not datasketch per document: its `update_batch` runs ~3k docs/s on one core because
shingling and hashing happen per token in Python. Here a whole batch of texts becomes one byte
array; tokens, word n-grams and their hashes are computed with array operations, and the
signature is one-permutation MinHash with rotation densification (Li et al. 2012; Shrivastava &
Li 2014): each shingle is hashed once, not once per permutation, and two signatures agree in a
position with probability equal to the texts' Jaccard similarity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import regex

from ..extractors.text.words import ABUGIDA, HAN_KANA
from .settings import NGRAM, NUM_PERM, UNSPACED_NGRAM

_RNG = np.random.Generator(np.random.PCG64(20230807))
# bytes that belong to a word: ASCII letters, digits, underscore, and all non-ASCII bytes
_WORD_BYTE = np.zeros(256, dtype=bool)
for _c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_":
    _WORD_BYTE[_c] = True
_WORD_BYTE[128:] = True
# (previous byte, byte) -> random 64-bit value; a token's hash is the sum over its byte bigrams,
# the first one starting from byte 0. Bigrams ending in a non-word byte (mapped to 0) add 0, so
# one reduceat over token starts sums exactly the token's own bytes.
_BIGRAM_VALUES = _RNG.integers(1, 2**63, size=(256, 256), dtype=np.uint64) * np.uint64(2) + \
    np.uint64(1)
_BIGRAM_VALUES[:, 0] = 0
_BIGRAM_VALUES = _BIGRAM_VALUES.reshape(-1)
_NGRAM_WEIGHTS = _RNG.integers(1, 2**63, size=64, dtype=np.uint64) | np.uint64(1)
_BAND_WEIGHTS = _RNG.integers(1, 2**63, size=1024, dtype=np.uint64) | np.uint64(1)
_BAND_SALTS = _RNG.integers(1, 2**63, size=1024, dtype=np.uint64)
_SHORT_TEXT_SALT = np.uint64(0xD6E8FEB86659FD93)
_WORD_OR_ZERO = np.where(_WORD_BYTE, np.arange(256), 0).astype(np.uint16)
EMPTY = np.uint32(0xFFFFFFFF)
# Scripts written without spaces between words: each character is a token, so a word n-gram is
# a character n-gram there, and one edit changes as many shingles as one edited English word.
_UNSPACED = regex.compile(f"[{HAN_KANA}{ABUGIDA}]")
# Han and kana: alphabets of thousands of characters, where a character carries about what a
# short word does (see `shingle_hashes`)
_HAN_KANA = regex.compile(f"[{HAN_KANA}]")
# Unicode punctuation, symbols, spaces and controls separate words as ASCII ones do ("_" stays
# a word character, as in the byte tokenizer)
_SEPARATORS = regex.compile(r"(?:(?!_)[\p{P}\p{S}\p{Z}\p{C}])+")


def word_text(text: str) -> str:
    """The text as the byte tokenizer should see it: ASCII text as it is (its non-word bytes
    already separate words); otherwise Unicode separators become spaces and characters of
    unspaced scripts are spaced apart."""
    return _word_text(text)[0]


def _word_text(text: str) -> tuple[str, int]:
    """`word_text`, and how many Han and kana characters the text holds."""
    if text.isascii():
        return text, 0
    spaced, unspaced = _UNSPACED.subn(r" \g<0> ", text)
    han_kana = len(_HAN_KANA.findall(text)) if unspaced else 0
    return _SEPARATORS.sub(" ", spaced), han_kana


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


def _ngram_per_text(han_kana: np.ndarray, counts: np.ndarray, ngram: int, unspaced_ngram: int
                    ) -> np.ndarray:
    """The shingle size of each text: `unspaced_ngram` (never above `ngram`) when at least half
    its tokens are Han or kana characters, else `ngram`."""
    mostly_han_kana = (2 * han_kana >= counts) & (han_kana > 0)
    return np.where(mostly_han_kana, min(ngram, unspaced_ngram), ngram).astype(np.int64)


def _windows(tokens: np.ndarray, token_doc: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every `size`-token window that lies inside one text, and that text."""
    n = len(tokens)
    if n < size:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    with np.errstate(over="ignore"):
        grams = np.zeros(n - size + 1, dtype=np.uint64)
        for k in range(size):
            grams += tokens[k: n - size + 1 + k] * _NGRAM_WEIGHTS[k]
    valid = token_doc[: n - size + 1] == token_doc[size - 1:]
    return grams[valid], token_doc[: n - size + 1][valid]


def shingle_hashes(texts: list[str], ngram: int = NGRAM, unspaced_ngram: int = UNSPACED_NGRAM
                   ) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of the word n-grams of each (lower-cased) text (character n-grams in
    scripts without spaces, see `word_text`).

    A text written mostly in Han or kana (Chinese, Japanese) is shingled by `unspaced_ngram`
    characters, not `ngram`: such a character carries about what a short word does, and with
    5-character shingles one edited character in a short text moved its Jaccard estimate under
    the threshold. On real Chinese and Japanese text with 1% of characters edited, recall went
    from 0.65 / 0.94 / 0.985 (60 / 150 / 300 characters) to 0.993 / 1.0 / 1.0 with 2-character
    shingles, and distinct texts, even ones sharing three quarters of their characters, were
    still never merged (benchmarks/bench_dedup_scripts.py). Other unspaced scripts (Thai, ...),
    whose alphabets are small enough for character pairs to repeat across unrelated texts, keep
    `ngram`.

    Returns (hashes, doc) with doc[i] the text of hashes[i]. A text with fewer words than its
    shingle size gets one shingle: the hash of its whole word sequence, so short texts collide
    only with the same words, never all with each other. A text without words gets none.
    """
    spaced = [_word_text(t) for t in texts]
    encoded = [w.lower().encode("utf-8", "surrogatepass") for w, _ in spaced]
    # Token hash = sum of random values of the token's byte bigrams, from one gather and one
    # reduceat. A positional polynomial needed each byte's offset inside its token and took
    # 2.6x as long (0.62 s vs 0.23 s per 20k 1.5 KB documents).
    buf = _WORD_OR_ZERO[np.frombuffer(b"\x00" + b"\x00".join(encoded) + b"\x00",
                                      dtype=np.uint8)]
    lengths = np.fromiter((len(e) + 1 for e in encoded), dtype=np.int64, count=len(encoded))
    doc_starts = np.concatenate(([1], 1 + np.cumsum(lengths)[:-1]))
    bigrams = (buf[:-1] << np.uint16(8)) | buf[1:]  # bigram i ends at byte i + 1
    starts = np.flatnonzero((buf[:-1] == 0) & (buf[1:] != 0))  # bigram index of a token start
    tokens = np.add.reduceat(_BIGRAM_VALUES[bigrams], starts, dtype=np.uint64) if len(starts) \
        else np.zeros(0, dtype=np.uint64)
    token_doc = np.searchsorted(doc_starts, starts + 1, side="right") - 1
    counts = np.bincount(token_doc, minlength=len(texts))
    sizes = _ngram_per_text(np.fromiter((u for _, u in spaced), dtype=np.int64, count=len(texts)),
                            counts, ngram, unspaced_ngram)

    parts, docs = [], []
    for size in np.unique(sizes).tolist():
        grams, gram_doc = _windows(tokens, token_doc, size)
        mine = sizes[gram_doc] == size
        parts.append(grams[mine])
        docs.append(gram_doc[mine])
    short = np.flatnonzero((counts > 0) & (counts < sizes))
    if len(short):
        first = np.searchsorted(token_doc, short)
        n = len(tokens)
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


def signatures(texts: list[str], num_perm: int = NUM_PERM, ngram: int = NGRAM,
               unspaced_ngram: int = UNSPACED_NGRAM) -> np.ndarray:
    """(len(texts), num_perm) uint32 one-permutation MinHash signatures; EMPTY rows for no words.

    The top bits of a shingle hash choose its bin, the next 32 bits are its value; each bin keeps
    its minimum. Empty bins copy the nearest non-empty bin to their right (circularly), offset by
    the distance, so that equal signatures still mean equal sampled shingles.
    """
    if num_perm & (num_perm - 1) or not 8 <= num_perm <= 1024:
        raise ValueError("num_perm must be a power of two between 8 and 1024")
    hashes, doc = shingle_hashes(texts, ngram, unspaced_ngram)
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

    def keys(self, sigs: np.ndarray) -> list[list[int]]:
        """One 60-bit bucket key per band for each signature row (none for an EMPTY row).

        A band's rows are mixed with per-position random weights, then by splitmix64 with the
        band index salted in; as numpy on a batch this is 30x faster than blake2b per band
        (3.7 s per 200k signatures). 60 bits keep the keys inside Beam's signed 64-bit
        integer coder with room to xor in a task salt.
        """
        sigs = np.atleast_2d(sigs)
        used = sigs[:, : self.bands * self.rows].astype(np.uint64)
        with np.errstate(over="ignore"):
            weighted = used.reshape(len(sigs), self.bands, self.rows) * \
                _BAND_WEIGHTS[: self.rows]
            keys = _mix(weighted.sum(axis=2, dtype=np.uint64) + _BAND_SALTS[: self.bands])
        keys = (keys >> np.uint64(4)).astype(np.int64)
        empty = sigs[:, 0] == EMPTY
        return [[] if e else row for e, row in zip(empty.tolist(), keys.tolist(), strict=True)]
