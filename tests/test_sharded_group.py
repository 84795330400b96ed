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


@pytest.mark.parametrize("flush_every", [1, 5, 200_000])
def test_spilled_packs_group_the_same_and_only_references_cross(tmp_path, flush_every):
    """With spill_dir the packs are files and the shuffle carries (path, offset, length); two
    inputs made in different steps are packed separately and grouped together."""
    rng = random.Random(flush_every)
    left = [(rng.randrange(30), f"l{i}") for i in range(200)]
    right = [(rng.randrange(30), f"r{i}") for i in range(100)]
    expected = {}
    for key, value in left + right:
        expected.setdefault(key, []).append(value)
    spill = tmp_path / "spill"
    with beam.Pipeline() as p:
        a = p | "Left" >> beam.Create(left)
        b = p | "Right" >> beam.Create(right) | beam.Map(lambda kv: kv)
        got = ((a, b)
               | ShardedGroupByKey(lambda k: k, 8, flush_every=flush_every, spill_dir=str(spill))
               | beam.MapTuple(lambda k, v: (k, sorted(v))))
        assert_that(got, equal_to([(k, sorted(v)) for k, v in expected.items()]))
    files = list(spill.glob("*.bin"))
    assert files and sum(f.stat().st_size for f in files) > 300 * 3  # every entry went to disk
