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
n-gram held and 32 at the peak of the merge, measured with tracemalloc, against 162 for a
Python set of 13-word strings (`benchmarks/bench_decontamination.py`); a lookup is one
`searchsorted` per batch. It holds the `ngram`-grams of every text, its `min_tokens`-grams (a text shorter
than `ngram` is inside a benchmark text when all of its `min_tokens`-grams are), and the whole
hash of each text shorter than `ngram`. A false match needs a 64-bit collision: about 1e-11
per lookup against 200 million n-grams.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import io
import re
import textwrap
from dataclasses import dataclass

import numpy as np

from ..extractors.code.languages import LANGUAGES
from .settings import DECONTAMINATION_MIN_TOKENS, DECONTAMINATION_NGRAM

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
        at = np.searchsorted(self.grams, hashes)
        found = at < len(self.grams)
        found[found] = self.grams[at[found]] == hashes[found]
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
    return np.unique(np.concatenate(parts)), short


def build_index(batches: list[tuple[np.ndarray, set[int]]], ngram: int = DECONTAMINATION_NGRAM,
                min_tokens: int = DECONTAMINATION_MIN_TOKENS) -> NgramIndex:
    """One index from the `benchmark_grams` of its batches."""
    grams = np.unique(np.concatenate([g for g, _ in batches])) if batches else \
        np.zeros(0, dtype=np.uint64)
    short = sorted(set().union(*(s for _, s in batches))) if batches else []
    return NgramIndex(grams, tuple(short), ngram, min_tokens)


def overlap_words(text: str, match: tuple[int, int]) -> str:
    """The tokens of a match, for a report's example."""
    first, size = match
    return " ".join(words(text)[first: first + size])
