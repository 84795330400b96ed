"""URL rules for web pages, as FineWeb and RefinedWeb apply them (datatrove's `URLFilter`).

A page is dropped before it is parsed when its host or one of the host's parent domains is on a
block list (`url_blocklisted`), or its URL holds a listed word (`url_banned_word`: one hard
word, two soft words, or a banned sub-word anywhere in the letters of the URL). An allow list
(domains or whole URLs) exempts false positives from every URL rule. The shipped lists
(`lists/`: UT1's domains and datatrove's words, as datatrove 0.10.1 ships them) are read from
the package, never downloaded; users add their own with `--url-blocklist FILE...`.

The 4.5 million shipped domains are held as a sorted array of their 64-bit hashes (36 MB),
not as Python strings (about 450 MB), and read once per process.
"""

from __future__ import annotations

import functools
import gzip
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import numpy as np

_LISTS = resources.files(__package__) / "lists"
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def _lines(text: str) -> list[str]:
    """Entries of a list file: one per line, `#` comments and blanks skipped, lower-cased."""
    return [line.strip().lower() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _hashes(entries: Iterable[str]) -> np.ndarray:
    # Python's string hash: stable within a process, which is all a lookup needs.
    array = np.fromiter((hash(e) for e in entries), dtype=np.int64)
    array.sort()
    return array


# UT1's adult category as datatrove ships it, and UT1's gambling category (its GitHub mirror)
SHIPPED_LISTS = ("ut1_domains.txt.gz", "ut1_gambling_domains.txt.gz")


def _shipped_lines(name: str) -> Iterable[str]:
    with gzip.open(_LISTS.joinpath(name).open("rb"), "rt", encoding="utf-8") as f:
        yield from (line.strip() for line in f if line.strip())


@functools.cache
def shipped_domains() -> np.ndarray:
    """Hashes of the shipped block lists' domains, read once per process."""
    return _hashes(domain for name in SHIPPED_LISTS for domain in _shipped_lines(name))


@functools.cache
def _shipped_words(name: str) -> frozenset[str]:
    return frozenset(_NON_ALNUM.sub("", w) for w in
                     _lines(_LISTS.joinpath(f"url_{name}.txt").read_text(encoding="utf-8")))


@functools.cache
def read_list_files(paths: tuple[str, ...]) -> frozenset[str]:
    """Domains or URLs from user list files (one a line; a hosts-file `0.0.0.0 host` line and a
    leading `*.` or `.` are accepted)."""
    out = set()
    for path in paths:
        for entry in _lines(Path(path).read_text(encoding="utf-8", errors="replace")):
            entry = entry.split()[-1]
            out.add(entry.lstrip("*").lstrip(".") if "/" not in entry else entry)
    return frozenset(out)


def _host_and_parents(host: str) -> list[str]:
    labels = host.lower().rstrip(".").split(".")
    if labels and labels[0] == "www":
        labels = labels[1:]
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]  # never the bare TLD


def _url_key(url: str) -> str:
    return url.lower().split("://", 1)[-1].removeprefix("www.").rstrip("/")


class URLFilter:
    """The URL rules with their lists: `issue(url)` is a drop reason or None."""

    def __init__(self, blocklists: Iterable[str] = (), allowlists: Iterable[str] = (),
                 shipped: bool = True, soft_words: int = 2):
        self.shipped = shipped
        self.soft_words = soft_words
        blocked = read_list_files(tuple(blocklists))
        self.blocked_domains = frozenset(e for e in blocked if "/" not in e)
        self.blocked_urls = frozenset(_url_key(e) for e in blocked if "/" in e)
        allowed = read_list_files(tuple(allowlists))
        self.allowed_domains = frozenset(e for e in allowed if "/" not in e)
        self.allowed_urls = frozenset(_url_key(e) for e in allowed if "/" in e)

    def _on_shipped_list(self, domains: list[str]) -> bool:
        table = shipped_domains()
        keys = np.array([hash(d) for d in domains], dtype=np.int64)
        at = np.searchsorted(table, keys).clip(max=len(table) - 1)
        return bool((table[at] == keys).any())

    def issue(self, url: str) -> str | None:
        from urllib.parse import urlsplit

        host = urlsplit(url).hostname or ""
        domains = _host_and_parents(host)
        if self.allowed_urls and _url_key(url) in self.allowed_urls or \
                any(d in self.allowed_domains for d in domains):
            return None
        if any(d in self.blocked_domains for d in domains) or _url_key(url) in self.blocked_urls:
            return "url_blocklisted"
        if self.shipped:
            if domains and self._on_shipped_list(domains):
                return "url_blocklisted"
            lowered = url.lower()
            words = set(_NON_ALNUM.split(lowered))
            if words & _shipped_words("banned_words"):
                return "url_banned_word"
            if self.soft_words and len(words & _shipped_words("soft_banned_words")) >= \
                    self.soft_words:
                return "url_banned_word"
            letters = _NON_ALNUM.sub("", lowered)
            if any(w in letters for w in _shipped_words("banned_subwords")):
                return "url_banned_word"
        return None
