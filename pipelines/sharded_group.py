"""Group by key with few, large shuffle elements: every shuffle of `mine` and `dedup`.

LSH buckets are ~14 keys per pair and almost all hold one member; a join or the exact dedup has
one key per record, most with one or two values. A plain `GroupByKey` moves
one element per member through the runner, and on FnApiRunner the per-element cost dominated
`pairmill dedup` (5.6M data-plane elements, 57 of 74 s for 200k pairs). Here each bundle packs
its (key, value) pairs into one list per shard, the shuffle groups the lists by shard, and the
keys are regrouped in memory on the other side. A shard holds (elements / num_shards) values,
so num_shards bounds what one worker must hold; no worker ever sees all keys.

A pack is encoded as one bytes value (`PackCodec`). With `spill_dir`, packs go to files there
and only (path, offset, length) references cross the runner: Beam's local runner holds a whole
shuffle in memory and copies it twice more when the next stage reads it (1M pairs of dedup
buckets: +3.2 GB), so a shuffle of any size then costs the memory of its references.
"""

from __future__ import annotations

import gc
import pickle
import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from ..schemas import storage

DEFAULT_NUM_SHARDS = 1024


class _PackByShard(beam.DoFn):
    """element -> its (key, value) entries, packed as (shard, [(key, value), ...]) and flushed
    every `flush_every` entries."""

    def __init__(self, shard_of: Callable[[Hashable], int], num_shards: int, flush_every: int,
                 entries_of: Callable[[Any], Iterable[tuple]], codec: PackCodec,
                 spill_dir: str | None):
        self._shard_of, self._num_shards, self._flush_every = shard_of, num_shards, flush_every
        self._entries_of, self._codec, self._spill_dir = entries_of, codec, spill_dir

    def start_bundle(self):
        self._packs: dict[int, list] = defaultdict(list)
        self._held = 0

    def process(self, element):
        packs, shard_of, num_shards = self._packs, self._shard_of, self._num_shards
        entries = list(self._entries_of(element))
        for entry in entries:
            packs[shard_of(entry[0]) % num_shards].append(entry)
        self._held += len(entries)
        if self._held >= self._flush_every:
            yield from self._flush()

    def finish_bundle(self):
        for shard, pack in self._flush():
            yield WindowedValue((shard, pack), GlobalWindow().max_timestamp(),
                                [GlobalWindow()])

    def _flush(self):
        packs, self._packs, self._held = self._packs, defaultdict(list), 0
        if not packs:
            return
        if self._spill_dir is None:
            for shard, pack in packs.items():
                yield shard, self._codec.encode(pack)
            return
        # one file per flush (not per shard): a few large files, written once, read by range
        path, refs, offset = storage.join(self._spill_dir, f"{uuid.uuid4().hex}.bin"), [], 0
        with storage.open_output(path) as out:
            for shard, pack in packs.items():
                blob = self._codec.encode(pack)
                out.write(blob)
                refs.append((shard, (path, offset, len(blob))))
                offset += len(blob)
        yield from refs


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic collector off while a step unpickles many objects that hold no cycle
    (a shard's groups, a file's rows): its passes over that growing heap found nothing (about
    0.2 of 7 s CPU for `mine arxiv` writing 32,000 pairs, 3 of 3 interleaved runs)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class PackCodec:
    """How a pack of (key, value) entries becomes bytes, and how a shard's packs are regrouped.
    The default pickles; a codec for fixed-size entries can be far more compact."""

    def encode(self, pack: list[tuple]) -> bytes:
        return pickle.dumps(pack, protocol=pickle.HIGHEST_PROTOCOL)

    def regroup(self, blobs: Iterable[bytes], min_size: int) -> Iterable[tuple]:
        groups: dict = defaultdict(list)
        with collector_paused():
            for blob in blobs:
                for key, value in pickle.loads(blob):
                    groups[key].append(value)
        for key, values in groups.items():
            if len(values) >= min_size:
                yield key, values


def _read_spilled(refs: Iterable[tuple[str, int, int]]) -> Iterable[bytes]:
    by_path: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for path, offset, length in refs:
        by_path[path].append((offset, length))
    for path, ranges in sorted(by_path.items()):
        with storage.open_input(path) as f:
            for offset, length in sorted(ranges):
                f.seek(offset)
                yield f.read(length)


def _regroup(element, min_size: int, codec: PackCodec, spilled: bool):
    _, packs = element
    yield from codec.regroup(_read_spilled(packs) if spilled else packs, min_size)


class ShardedGroupByKey(beam.PTransform):
    """Like `GroupByKey`, but keys with fewer than `min_size` values are dropped, and the
    shuffle carries one list per (bundle, shard) instead of one element per value.

    `shard_of` must be deterministic across processes (no `hash()` of strings). `entries_of`
    turns one input element into its (key, value) entries inside the packing step, so the
    many small entries never pass through the runner one by one (default: the element is one).
    `spill_dir`, a folder every worker can reach, moves the packs through files.
    """

    def __init__(self, shard_of: Callable[[Hashable], int],
                 num_shards: int = DEFAULT_NUM_SHARDS, min_size: int = 1,
                 flush_every: int = 200_000,
                 entries_of: Callable[[Any], Iterable[tuple]] = lambda kv: (kv,),
                 codec: PackCodec | None = None, spill_dir: str | None = None):
        super().__init__()
        self._shard_of, self._num_shards = shard_of, num_shards
        self._min_size, self._flush_every = min_size, flush_every
        self._entries_of, self._codec = entries_of, codec or PackCodec()
        self._spill_dir = spill_dir

    def expand(self, pcoll):
        # Several inputs are packed each where it is made and only the packs are flattened: a
        # Flatten of inputs from different stages is held whole in memory by the local runner.
        inputs = pcoll if isinstance(pcoll, (tuple, list)) else (pcoll,)
        packer = _PackByShard(self._shard_of, self._num_shards, self._flush_every,
                              self._entries_of, self._codec, self._spill_dir)
        packs = [p | (f"Pack{i}" if i else "Pack") >> beam.ParDo(packer)
                 for i, p in enumerate(inputs)]
        if len(packs) > 1:
            packs = [packs | "Packs" >> beam.Flatten()]
        return (packs[0]
                | "GroupShards" >> beam.GroupByKey()
                | "Regroup" >> beam.FlatMap(_regroup, self._min_size, self._codec,
                                            self._spill_dir is not None))
