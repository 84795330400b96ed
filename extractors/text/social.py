"""Rules for bodies written by people on forums (Reddit, StackExchange): signatures are cut,
and a body that is only links is not a document."""

from __future__ import annotations

import re

from .words import word_count

_LINK = re.compile(r"\[([^\]]*)\]\((?:https?://|www\.)[^)\s]*\)|<?(?:https?://|www\.)\S+>?")
# an e-mail-style signature delimiter ("-- " on its own line) or a mobile client's footer ends
# the body
_SIGNATURE = re.compile(r"\n[ \t]*--[ \t]*\n[\s\S]*$|\n+[ \t]*Sent from my [^\n]{1,40}\s*$")


def strip_signature(body: str) -> str:
    return _SIGNATURE.sub("", body).rstrip()


def is_link_only(body: str, min_words: int = 3) -> bool:
    """True when the body holds links and, besides them (and their anchor texts), fewer than
    `min_words` words."""
    if not _LINK.search(body):
        return False
    return word_count(_LINK.sub(" ", body)) < min_words
