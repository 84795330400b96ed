"""ShardedGroupByKey must group exactly like GroupByKey (minus small groups), whatever the
number of shards or how often a bundle flushes."""

import random

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from pairmill.pipelines.sharded_group import ShardedGroupByKey


@pytest.mark.parametrize("num_shards,flush_every", [(1, 1), (7, 3), (1024, 200_000)])
def test_groups_match_group_by_key(num_shards, flush_every):
    rng = random.Random(num_shards)
    entries = [(rng.randrange(50), rng.randrange(1000)) for _ in range(400)]
    expected = {}
    for key, value in entries:
        expected.setdefault(key, []).append(value)
    wanted = [(k, sorted(v)) for k, v in expected.items() if len(v) >= 2]
    with beam.Pipeline() as p:
        got = (p | beam.Create(entries)
               | ShardedGroupByKey(lambda k: k, num_shards, min_size=2, flush_every=flush_every)
               | beam.MapTuple(lambda k, v: (k, sorted(v))))
        assert_that(got, equal_to(wanted))


def test_entries_of_expands_inside_the_packing_step():
    docs = ["a b", "b c", "c"]
    with beam.Pipeline() as p:
        got = (p | beam.Create(docs)
               | ShardedGroupByKey(ord, 4, entries_of=lambda d: [(w, d) for w in d.split()])
               | beam.MapTuple(lambda k, v: (k, sorted(v))))
        assert_that(got, equal_to([("a", ["a b"]), ("b", ["a b", "b c"]),
                                   ("c", ["b c", "c"])]))
