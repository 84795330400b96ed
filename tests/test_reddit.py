"""`pairmill mine reddit`: extractors on hand-made records, the link_id join, broken files, real dumps."""

from __future__ import annotations

import gzip
import io
import json

import pyarrow.parquet as pq
import pytest
import zstandard

from pairmill.cli import main
from pairmill.extractors.text import (
    RedditOptions,
    better_comment,
    extract_reddit_comment,
    extract_reddit_submission,
    join_reddit_post,
)
from pairmill.schemas import read_manifest, validate_dataset
from pairmill.schemas.pairs import meta_dict

from .conftest import REALDATA

SELF_TEXT = "I keep my grinder next to the kettle &amp; it works fine.\n\nAny &gt; better setups?"


def submission(**fields) -> bytes:
    base = {"id": "abc1", "title": "Where do you keep your grinder?", "selftext": SELF_TEXT,
            "author": "someone", "score": 12, "subreddit": "Coffee", "over_18": False}
    base.update(fields)
    return json.dumps(base).encode()


def comment(**fields) -> bytes:
    base = {"id": "c1", "link_id": "t3_abc1", "parent_id": "t3_abc1", "author": "helper",
            "body": "On the counter, away from the steam of the kettle.", "score": 5}
    base.update(fields)
    return json.dumps(base).encode()


WITH_COMMENTS = RedditOptions(with_comments=True)


def test_submission_with_self_text_is_a_title_body_pair_and_a_join_part():
    out = extract_reddit_submission(submission(), "RS.zst:1", WITH_COMMENTS)
    (pair,) = out.pairs
    assert pair["task"] == "reddit_title_body"
    assert pair["document"] == ("I keep my grinder next to the kettle & it works fine.\n\n"
                                "Any > better setups?")
    assert pair["origin"] == "reddit:t3_abc1" and pair["score"] == 12.0
    (part,) = out.parts
    assert part.side == "submission" and part.key == "t3_abc1"
    assert not extract_reddit_submission(submission(), "RS.zst:1").parts  # no comments: no shuffle


@pytest.mark.parametrize("fields, reason, joinable", [
    ({"selftext": "[removed]"}, "removed_or_deleted", True),
    ({"selftext": "body", "removed_by_category": "moderator"}, "removed_or_deleted", True),
    ({"selftext": ""}, "no_selftext", True),
    ({"selftext": "too short"}, "body_too_short", True),
    ({"score": 0}, "low_score", False),
    ({"author": "AutoModerator"}, "bot", False),
    ({"author": "RemindMeBot"}, "bot", False),
    ({"over_18": True}, "over_18", False),
    ({"title": "   "}, "missing_title", False),
    ({"id": None}, "missing_id", False),
])
def test_submission_drops_are_counted(fields, reason, joinable):
    out = extract_reddit_submission(submission(**fields), "RS.zst:1", WITH_COMMENTS)
    assert not out.pairs and out.drops == {reason: 1} and not out.dead_letters
    assert bool(out.parts) is joinable  # a link post still pairs with its top comment


def test_thresholds_are_options():
    assert not extract_reddit_submission(submission(score=3), "f:1", RedditOptions(min_score=5)).pairs
    assert extract_reddit_submission(submission(score=-3), "f:1", RedditOptions(min_score=-5)).pairs
    custom = RedditOptions(bot_authors=frozenset({"someone"}))
    assert extract_reddit_submission(submission(), "f:1", custom).drops == {"bot": 1}


@pytest.mark.parametrize("fields, reason", [
    ({"parent_id": "t1_zzz"}, "not_top_level"),
    ({"link_id": None}, "missing_link_id"),
    ({"body": "[deleted]"}, "removed_or_deleted"),
    ({"author": "AutoModerator"}, "bot"),
    ({"score": -2}, "low_score"),
    ({"body": "same"}, "body_too_short"),
])
def test_comment_drops_are_counted(fields, reason):
    out = extract_reddit_comment(comment(**fields), "RC.zst:9")
    assert not out.parts and out.drops == {reason: 1}


@pytest.mark.parametrize("line, reason", [
    (b'{"id": "x", "title": ', "invalid_json"),
    (b'"just a string"', "not_an_object"),
    ('{"title": "caf\u00e9"}'.encode("utf-16"), "decode_error"),
])
def test_unreadable_lines_are_dead_letters(line, reason):
    for extract in (extract_reddit_submission, extract_reddit_comment):
        out = extract(line, "dump.zst:3")
        assert out.drops == {reason: 1}
        assert [d["reason"] for d in out.dead_letters] == [reason]


def test_best_comment_is_highest_score_then_smallest_id_and_counts_all():
    a = {"body": "a", "score": 3, "id": "b2", "comments": 1}
    b = {"body": "b", "score": 7, "id": "z9", "comments": 2}
    c = {"body": "c", "score": 7, "id": "a1", "comments": 1}
    assert better_comment(a, b)["body"] == "b" and better_comment(b, a)["comments"] == 3
    assert better_comment(b, c)["body"] == "c" == better_comment(c, b)["body"]


def test_join_pairs_post_with_best_comment_and_counts_orphans():
    post = {"title": "T", "text": "Body text", "subreddit": "Coffee"}
    good = {"body": "best", "score": 9, "id": "c9", "comments": 1}
    worse = {"body": "meh", "score": 2, "id": "c1", "comments": 1}
    out = join_reddit_post("t3_x", {"submission": [post], "comment": [worse, good]})
    (pair,) = out.pairs
    assert (pair["query"], pair["document"]) == ("T\n\nBody text", "best")
    assert pair["task"] == "reddit_post_comment" and meta_dict(pair["meta"])["comment_id"] == "c9"
    orphan = join_reddit_post("t3_y", {"submission": [], "comment": [{**good, "comments": 4}]})
    assert orphan.drops == {"comment_without_submission": 4} and not orphan.pairs
    lonely = join_reddit_post("t3_z", {"submission": [post], "comment": []})
    assert lonely.drops == {"submission_without_comment": 1}


def _zst(lines: list[bytes]) -> bytes:
    return zstandard.ZstdCompressor().compress(b"\n".join(lines) + b"\n")


def test_pipeline_joins_comments_across_files(tmp_path):
    subs = [submission(id=f"s{i}", title=f"Question number {i} about coffee") for i in range(6)]
    subs.append(submission(id="link", title="A link post", selftext=""))
    (tmp_path / "RS_1.zst").write_bytes(_zst(subs + [b"{broken"]))
    comments = [comment(id=f"a{i}", link_id=f"t3_s{i}", parent_id=f"t3_s{i}", score=2,
                        body=f"A plain answer to question {i} here.") for i in range(4)]
    comments += [comment(id="top", link_id="t3_s0", parent_id="t3_s0", score=50,
                         body="The best answer to the first question."),
                 comment(id="reply", link_id="t3_s0", parent_id="t1_top", score=99),
                 comment(id="ok", link_id="t3_link", parent_id="t3_link",
                         body="Nice link, thanks for sharing it."),
                 comment(id="o1", link_id="t3_gone", parent_id="t3_gone"),
                 comment(id="o2", link_id="t3_gone", parent_id="t3_gone")]
    (tmp_path / "RC_a.gz").write_bytes(gzip.compress(b"\n".join(comments[:3]) + b"\n"))
    rest = _zst(comments[3:] * 5000)
    (tmp_path / "RC_b.zst").write_bytes(rest[: len(rest) - 40])  # truncated frame
    out = tmp_path / "out"
    assert main(["mine", "reddit", "--submissions", str(tmp_path / "RS_*"),
                 "--comments", str(tmp_path / "RC_*"), "--output", str(out)]) == 0
    assert validate_dataset(out) == []
    manifest = read_manifest(out)
    assert manifest.rows("reddit_title_body") == 6
    table = pq.read_table(out / manifest.tasks["reddit_post_comment"][0].path).to_pylist()
    by_origin = {r["origin"]: r for r in table}
    assert set(by_origin) == {"reddit:t3_s0", "reddit:t3_s1", "reddit:t3_s2", "reddit:t3_s3",
                              "reddit:t3_link"}
    assert by_origin["reddit:t3_s0"]["document"] == "The best answer to the first question."
    assert by_origin["reddit:t3_link"]["query"] == "A link post"
    drops = manifest.counters["drops"]
    assert drops["invalid_json"] == 1 and drops["truncated_file"] == 1
    assert drops["comment_without_submission"] >= 2 and drops["not_top_level"] >= 1
    assert drops["submission_without_comment"] == 2  # s4, s5


SUBMISSIONS = REALDATA / "reddit" / "AskWomen_submissions.zst"
COMMENTS = REALDATA / "reddit" / "RC_2005-12.zst"


def _real_lines(path) -> list[dict]:
    reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(path.open("rb"))
    return [json.loads(line) for line in io.TextIOWrapper(reader, encoding="utf-8") if line.strip()]


@pytest.mark.skipif(not SUBMISSIONS.exists(), reason="../shared/realdata is not present")
def test_real_dumps(tmp_path):
    out = tmp_path / "reddit"
    assert main(["mine", "reddit", "--submissions", str(SUBMISSIONS), "--comments", str(COMMENTS),
                 "--output", str(out)]) == 0
    manifest = read_manifest(out)
    subs, comments = _real_lines(SUBMISSIONS), _real_lines(COMMENTS)
    assert (len(subs), len(comments)) == (8271, 1075)
    assert manifest.counters["records_read"] == 8271 + 1075
    drops = manifest.counters["drops"]
    # The two files are from different months: no comment finds its submission.
    assert "reddit_post_comment" not in manifest.tasks
    top_level = [c for c in comments if c["parent_id"] == c["link_id"]]
    assert drops["not_top_level"] == len(comments) - len(top_level) - drops.get("missing_link_id", 0)
    rows = pq.read_table(out / manifest.tasks["reddit_title_body"][0].path).to_pylist()
    assert 200 < len(rows) < 1000
    alone = tmp_path / "submissions-only"
    assert main(["mine", "reddit", "--submissions", str(SUBMISSIONS), "--output", str(alone)]) == 0
    alone_manifest = read_manifest(alone)
    assert alone_manifest.rows("reddit_title_body") == len(rows)
    # Every submission is either a pair or one counted drop (r/AskWomen removes most posts).
    alone_drops = alone_manifest.counters["drops"]
    assert sum(alone_drops.values()) + len(rows) == len(subs)
    removed = sum(s["selftext"] in ("[removed]", "[deleted]") for s in subs)
    assert 0.8 * removed < alone_drops["removed_or_deleted"] <= removed
    assert all(meta_dict(r["meta"]) == {"subreddit": "AskWomen"} for r in rows)
    assert not any("&amp;" in r["document"] or r["document"] in ("[removed]", "[deleted]") for r in rows)
    source_ids = {f"reddit:t3_{s['id']}" for s in subs if s["selftext"] not in ("", "[removed]", "[deleted]")}
    assert {r["origin"] for r in rows} <= source_ids
