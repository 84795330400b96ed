"""Streaming the repeated elements of a big XML dump (Posts.xml rows, wiki pages) safely.

lxml's iterparse reads the file in chunks and each element is cleared once handed out, so memory
stays flat on a 100 GB dump. Documents that declare a DTD are refused before their first
element: the dumps never have one, and a DTD is how entity expansion ("billion laughs") and
external entities get in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

from ..result import Unreadable


def iter_elements(stream: BinaryIO, name: str) -> Iterator[object]:
    """Every element whose local name is `name` (namespace ignored), then an Unreadable if the
    document is refused or breaks. Use each element before asking for the next: it is cleared."""
    from lxml import etree

    parser = etree.iterparse(stream, events=("start", "end"), resolve_entities=False,
                             no_network=True, load_dtd=False, huge_tree=True)
    try:
        for event, element in parser:
            if event == "start":
                if element.getparent() is None and element.getroottree().docinfo.internalDTD is not None:
                    yield Unreadable("dtd_not_allowed", "the document declares a DTD; the dumps never do")
                    return
                continue
            if etree.QName(element).localname != name:
                continue
            yield element
            element.clear()
            parent = element.getparent()
            while parent is not None and element.getprevious() is not None:  # rows already handed out
                del parent[0]
    except etree.XMLSyntaxError as exc:
        if getattr(stream, "error", None) is not None:
            return  # the file itself broke: its reader reports that, once
        yield Unreadable("invalid_xml", str(exc))


def iter_records(stream: BinaryIO, name: str, read: Callable[[object], tuple[str, dict]]
                 ) -> Iterator[tuple[str, dict | Unreadable]]:
    """(locator, record) for each `name` element, `read` turning an element into both; a refused
    or broken document ends with (where, Unreadable)."""
    locator = "start"
    for element in iter_elements(stream, name):
        if isinstance(element, Unreadable):
            yield (locator if element.reason == "dtd_not_allowed" else f"after {locator}"), element
            return
        locator, record = read(element)
        yield locator, record
