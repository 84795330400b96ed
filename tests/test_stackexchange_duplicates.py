"""`pairmill mine stackexchange` with PostLinks.xml: stackexchange_duplicate_question.

Fixtures follow the real dump (cstheory.meta and raspberrypi.meta PostLinks.xml: a byte order
mark, one `<row Id CreationDate PostId RelatedPostId LinkTypeId />` a line; `PostId` is the
question closed as a duplicate, whose body in older dumps starts with a "Possible Duplicate:"
notice linking `RelatedPostId`; links to deleted posts occur).
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from pairmill.cli import main
from pairmill.extractors.spec import InputKind, SourceSpec
from pairmill.extractors.text.stackexchange import (
    DUPLICATE_QUESTION,
    SPEC,
    extract_stackexchange_link,
    extract_stackexchange_post,
    iter_posts,
    join_duplicate_link,
    join_stackexchange_answers,
    join_stackexchange_question,
    site_of,
)
from pairmill.schemas import read_manifest, validate_dataset
from pairmill.schemas.pairs import meta_dict

from . import hostile
from .test_stackexchange import _attrs, answer, posts_xml, question, row

NOTICE = ('<blockquote>\n  <p><strong>Possible Duplicate:</strong><br>\n  <a href="https://coffee.'
          'stackexchange.com/questions/5/how-do-i-brew-method-5">How do I brew method 5?</a>  </p>\n'
          '</blockquote>\n\n\n\n<p>My moka pot gives a bitter cup every single morning.</p>\n')


def site_posts() -> str:
    """Questions 1, 2, 3, 5, 7, 8, 9, 13 (6 scores below zero: dropped), answer 4 to question 1."""
    return posts_xml([question(1, accepted=4), question(2), question(3), answer(4, 1),
                      question(5), question(6, score=-2), question(7), question(8), question(9),
                      question(13, Title="Why is my moka pot coffee bitter?", Body=NOTICE)])


# (Id, PostId = duplicate, RelatedPostId = original, LinkTypeId)
LINKS = [
    (20, 2, 1, 3),      # pair: 2 duplicates 1
    (21, 3, 1, 3),      # pair: 1 is the original of two duplicates
    (22, 3, 5, 3),      # pair: 3 is a duplicate in two links
    (23, 13, 5, 3),     # pair, the notice cut from 13's body
    (24, 7, 6, 3),      # 6 was dropped (low score)
    (25, 8, 4, 3),      # 4 is an answer
    (26, 9, 999, 3),    # 999 is not in the dump (deleted)
    (27, 2, 5, 1),      # a plain link
    (28, "abc", 1, 3),  # not a post id
    (29, 5, 5, 3),      # a link to itself
]
EXPECTED = {("2", "1"), ("3", "1"), ("3", "5"), ("13", "5")}


def _dup_rows(out) -> list[dict]:
    manifest = read_manifest(out)
    return [r for f in manifest.tasks.get(DUPLICATE_QUESTION, [])
            for r in pq.read_table(out / f.path).to_pylist()]


def _links(rows) -> set[tuple[str, str]]:
    return {(meta_dict(r["meta"])["post_id"], meta_dict(r["meta"])["original_id"]) for r in rows}


def _task_rows(out, task: str) -> list[dict]:
    manifest = read_manifest(out)
    rows = [r for f in manifest.tasks[task] for r in pq.read_table(out / f.path).to_pylist()]
    return sorted(rows, key=lambda r: r["id"])


# --- pure functions -----------------------------------------------------------------------------

@pytest.mark.parametrize("label, site", [
    ("coffee/Posts.xml", "coffee"), ("coffee/PostLinks.xml", "coffee"),
    ("dumps/coffee/posts.xml.bz2", "dumps/coffee"), ("Posts.xml", ""), ("PostLinks.xml.gz", ""),
    ("coffee.stackexchange.com.7z", "coffee.stackexchange.com.7z"),
    ("coffee.stackexchange.com.7z/PostLinks.xml", "coffee.stackexchange.com.7z"),
    ("stackoverflow.com-Posts.7z", "stackoverflow.com.7z"),
    ("stackoverflow.com-PostLinks.7z", "stackoverflow.com.7z"),
    ("coffee/old-Posts.xml", "coffee/old-Posts.xml"),  # any other file is a site of its own
    ("coffee/bad.xml", "coffee/bad.xml"),
])
def test_site_of_a_dump_file(label, site):
    assert site_of(label) == site


def test_a_duplicate_link_leaves_a_part_keyed_by_each_post():
    out = extract_stackexchange_link(_attrs(row(Id=20, PostId=2, RelatedPostId=1, LinkTypeId=3)),
                                     "coffee/PostLinks.xml:20")
    assert not out.pairs and not out.drops
    assert [(p.side, p.key, p.value["role"], p.value["link"]) for p in out.parts] == [
        ("link", "coffee:2", "duplicate", "coffee:2:1"), ("link", "coffee:1", "original", "coffee:2:1")]
    assert out.parts[0].value["origin"] == "coffee/PostLinks.xml:20"
    # leading zeros are the same post
    out = extract_stackexchange_link(_attrs(row(Id=1, PostId="002", RelatedPostId="01", LinkTypeId=3)),
                                     "PostLinks.xml:1")
    assert [p.key for p in out.parts] == [":2", ":1"]


@pytest.mark.parametrize("attrs, reason", [
    ({"PostId": 2, "RelatedPostId": 1, "LinkTypeId": 1}, "other_link_type"),
    ({"PostId": 2, "RelatedPostId": 1}, "other_link_type"),
    ({"PostId": "abc", "RelatedPostId": 1, "LinkTypeId": 3}, "malformed_link"),
    ({"PostId": 2, "RelatedPostId": "", "LinkTypeId": 3}, "malformed_link"),
    ({"PostId": "-2", "RelatedPostId": 1, "LinkTypeId": 3}, "malformed_link"),
    ({"PostId": "٢", "RelatedPostId": 1, "LinkTypeId": 3}, "malformed_link"),  # a digit, not ASCII
    ({"PostId": 2, "RelatedPostId": 1, "LinkTypeId": 3}, None),
    ({"PostId": 5, "RelatedPostId": "05", "LinkTypeId": 3}, "self_link"),
])
def test_links_that_give_no_pair_are_counted(attrs, reason):
    out = extract_stackexchange_link(_attrs(row(Id=9, **attrs)), "PostLinks.xml:9")
    if reason is None:
        assert len(out.parts) == 2 and not out.drops
    else:
        assert out.drops == {reason: 1} and not out.parts


def _question_part(i: int, **extra) -> dict:
    (part,) = [p for p in extract_stackexchange_post(_attrs(question(i, **extra)), f"s/Posts.xml:{i}")
               .parts]
    return part.value


def _link(role: str, dup: str = "2", orig: str = "1") -> dict:
    return {"link": f"s:{dup}:{orig}", "link_id": "20", "origin": "s/PostLinks.xml:20", "role": role}


def test_the_post_join_keeps_the_answer_pair_and_adds_a_half_per_link():
    groups = {"question": [_question_part(1, accepted=4)],
              "answer": [{"id": "4", "body": "Grind finer and pour slower.", "score": 2}]}
    alone = join_stackexchange_answers("s:1", groups)
    joined = join_stackexchange_question("s:1", {**groups, "link": [_link("original"),
                                                                    _link("original", dup="3")]})
    assert joined.pairs == alone.pairs and joined.drops == alone.drops  # unchanged by the links
    assert [(p.side, p.key) for p in joined.parts] == [("original", "s:2:1"), ("original", "s:3:1")]
    assert joined.parts[0].value["title"] == "How do I brew method 1?"
    # no question (deleted, or the id of an answer), a dropped one: a half that says so
    (part,) = join_stackexchange_question("s:4", {"link": [_link("original", orig="4")]}).parts
    assert part.value["missing"] == "missing_question"
    out = join_stackexchange_question("s:6", {"question": [_question_part(6, score=-1)],
                                              "link": [_link("original", orig="6")]})
    assert out.parts[0].value["missing"] == "dropped_question"
    assert not +out.drops  # a dropped question without answers counts nothing new


def _half(post: str, title: str, body: str = "Body text of the question.", **extra) -> dict:
    return {"title": title, "body": body, "post_id": post, "tags": "t", "link_id": "20",
            "origin": "s/PostLinks.xml:20", **extra}


def test_the_link_join_pairs_duplicate_with_original():
    out = join_duplicate_link("s:2:1", {"duplicate": [_half("2", "Dup?")],
                                        "original": [_half("1", "Orig?", "")]})
    (pair,) = out.pairs
    assert (pair["task"], pair["query"], pair["document"]) == (
        DUPLICATE_QUESTION, "Dup?\n\nBody text of the question.", "Orig?")
    assert pair["origin"] == "s/PostLinks.xml:20"
    assert meta_dict(pair["meta"]) == {"post_id": "2", "original_id": "1", "link_id": "20", "tags": "t"}
    missing = {"missing": "missing_question", "link_id": "20", "origin": "o"}
    dropped = {"missing": "dropped_question", "link_id": "20", "origin": "o"}
    for groups, drops in [
        ({"duplicate": [missing], "original": [_half("1", "O")]}, {"duplicate_link_missing_question": 1}),
        ({"duplicate": [_half("2", "D")], "original": [dropped]}, {"duplicate_link_dropped_question": 1}),
        ({"duplicate": [dropped], "original": [missing]}, {"duplicate_link_dropped_question": 1}),
        ({"duplicate": [_half("2", "Same")], "original": [_half("1", "Same")]},
         {"duplicate_link_same_text": 1}),
    ]:
        out = join_duplicate_link("s:2:1", groups)
        assert not out.pairs and out.drops == drops
    twice = join_duplicate_link("s:2:1", {"duplicate": [_half("2", "D")] * 2,
                                          "original": [_half("1", "O")] * 2})
    assert len(twice.pairs) == 1 and twice.drops == {"repeated_duplicate_link": 1}


def test_the_closing_notice_is_cut_from_duplicate_pairs_only():
    out = extract_stackexchange_post(_attrs(question(13, Body=NOTICE)), "s/Posts.xml:13")
    assert out.pairs[0]["document"].startswith("Possible Duplicate:")  # title_body as before
    (part,) = out.parts
    assert part.value["body"].startswith("Possible Duplicate:")
    assert part.value["body_without_notice"] == "My moka pot gives a bitter cup every single morning."
    (half,) = join_stackexchange_question("s:13", {"question": [part.value],
                                                   "link": [_link("duplicate", "13", "5")]}).parts
    assert half.value["body"] == "My moka pot gives a bitter cup every single morning."
    newer = ('<blockquote>\n  <p><strong>This question already has answers here:</strong></p>\n  <ul>'
             '<li><a href="/q/5">Old</a> <span>3 answers</span></li></ul>\n</blockquote>\n<p>Rest of it '
             'here now.</p>')
    (part,) = extract_stackexchange_post(_attrs(question(14, Body=newer)), "s/Posts.xml:14").parts
    assert part.value["body_without_notice"] == "Rest of it here now."
    (part,) = extract_stackexchange_post(_attrs(question(15, Body="<blockquote><p>A quote, not a "
                                                     "notice at all.</p></blockquote>")), "s:15").parts
    assert "body_without_notice" not in part.value


def test_an_input_fed_from_another_kinds_archives_is_declared_consistently():
    def extract(options):
        return lambda record, origin: None

    with pytest.raises(ValueError, match="archive_member"):
        InputKind("links", "", extract, records=iter_posts, from_archives_of="input")
    kind = InputKind("links", "", extract, records=iter_posts, archive_member="L.xml",
                     from_archives_of="posts")
    with pytest.raises(ValueError, match="not one of its inputs"):
        SourceSpec("x-dups", "", "", (), object, (InputKind("input", "", extract, records=iter_posts,
                                                            archive_member="P.xml"), kind))
    assert SPEC.kind("post-links").from_archives_of == "input"


# --- the pipeline -------------------------------------------------------------------------------

def test_folder_of_posts_and_links_mines_one_pair_per_duplicate_link(tmp_path):
    site = tmp_path / "dumps" / "coffee.stackexchange.com"
    site.mkdir(parents=True)
    (site / "Posts.xml").write_text(site_posts(), encoding="utf-8-sig")
    (site / "PostLinks.xml").write_bytes(hostile.post_links_xml(LINKS))
    out, plain = tmp_path / "out", tmp_path / "plain"
    assert main(["mine", "stackexchange", "--input", str(tmp_path / "dumps" / "*" / "Posts.xml"),
                 "--post-links", str(tmp_path / "dumps" / "*" / "PostLinks.xml"),
                 "--output", str(out)]) == 0
    assert validate_dataset(out) == []
    rows = _dup_rows(out)
    assert _links(rows) == EXPECTED and len(rows) == 4
    by_link = {(meta_dict(r["meta"])["post_id"], meta_dict(r["meta"])["original_id"]): r for r in rows}
    pair = by_link[("2", "1")]  # PostId is the query: the duplicate; RelatedPostId the document
    assert pair["query"].startswith("How do I brew method 2?\n\nI tried method 2")
    assert pair["document"].startswith("How do I brew method 1?\n\nI tried method 1")
    assert pair["origin"] == "coffee.stackexchange.com/PostLinks.xml:20"
    assert by_link[("13", "5")]["query"] == ("Why is my moka pot coffee bitter?\n\n"
                                            "My moka pot gives a bitter cup every single morning.")
    drops = read_manifest(out).counters["drops"]
    assert drops["duplicate_link_missing_question"] == 2  # the answer and the deleted post
    assert drops["duplicate_link_dropped_question"] == 1
    assert (drops["other_link_type"], drops["malformed_link"], drops["self_link"]) == (1, 1, 1)
    assert read_manifest(out).counters["records_read"] == 10 + len(LINKS)
    # the other tasks are exactly what a run without PostLinks.xml gives
    assert main(["mine", "stackexchange", "--input", str(tmp_path / "dumps" / "*" / "Posts.xml"),
                 "--output", str(plain)]) == 0
    assert DUPLICATE_QUESTION not in read_manifest(plain).tasks
    for task in ("stackexchange_title_body", "stackexchange_question_answer"):
        assert _task_rows(out, task) == _task_rows(plain, task)


def test_a_site_7z_feeds_posts_and_links_without_the_flag(tmp_path):
    hostile.site_7z(tmp_path / "coffee.stackexchange.com.7z", {
        "Badges.xml": "<badges/>", "PostLinks.xml": hostile.post_links_xml(LINKS),
        "Posts.xml": site_posts()})
    # Site B reuses the post ids with other texts and one link: the sites must not mix.
    hostile.site_7z(tmp_path / "tea.stackexchange.com.7z", {
        "Posts.xml": posts_xml([question(1, Title="Is green tea bitter when too hot?"),
                                question(2, Title="Does water temperature change green tea?")]),
        "PostLinks.xml": hostile.post_links_xml([(20, 2, 1, 3)])})
    # an older archive without PostLinks.xml: its posts still count, nothing breaks
    hostile.site_7z(tmp_path / "old.stackexchange.com.7z",
                    {"Posts.xml": posts_xml([question(1, Title="An old kettle question?")])})
    out = tmp_path / "out"
    assert main(["mine", "stackexchange", "--input", str(tmp_path / "*.7z"),
                 "--post-links", str(tmp_path / "coffee.stackexchange.com.7z"),  # not read twice
                 "--output", str(out)]) == 0
    rows = _dup_rows(out)
    coffee = [r for r in rows if r["origin"].startswith("coffee.stackexchange.com.7z/PostLinks.xml:")]
    assert _links(coffee) == EXPECTED and len(coffee) == 4
    (tea,) = [r for r in rows if r["origin"].startswith("tea.")]
    assert tea["origin"] == "tea.stackexchange.com.7z/PostLinks.xml:20"
    assert tea["query"].startswith("Does water temperature change green tea?")
    assert tea["document"].startswith("Is green tea bitter when too hot?")
    assert len(rows) == 5
    manifest = read_manifest(out)
    drops = manifest.counters["drops"]
    assert drops["archive_without_post_links"] == 1
    assert "repeated_duplicate_link" not in drops
    assert manifest.counters["dead_letters"] == 0
    assert manifest.rows("stackexchange_title_body") == 8 + 2 + 1


def test_stack_overflow_split_archives_join_as_one_site(tmp_path):
    hostile.site_7z(tmp_path / "stackoverflow.com-Posts.7z", {"Posts.xml": site_posts()})
    hostile.site_7z(tmp_path / "stackoverflow.com-PostLinks.7z",
                    {"PostLinks.xml": hostile.post_links_xml(LINKS[:2])})
    out = tmp_path / "out"
    assert main(["mine", "stackexchange", "--input", str(tmp_path / "stackoverflow.com-Posts.7z"),
                 "--post-links", str(tmp_path / "stackoverflow.com-PostLinks.7z"),
                 "--output", str(out)]) == 0
    assert _links(_dup_rows(out)) == {("2", "1"), ("3", "1")}
    drops = read_manifest(out).counters["drops"]
    assert drops["archive_without_post_links"] == 1  # the Posts archive holds no links


def test_damaged_post_links_keep_every_link_before_the_damage(tmp_path):
    whole = hostile.post_links_xml(LINKS[:3])
    cut = whole[:whole.index(b'<row Id="22"') + 30]  # the third row cut in the middle
    (tmp_path / "Posts.xml").write_text(site_posts())
    (tmp_path / "PostLinks.xml").write_bytes(cut)
    hostile.site_7z(tmp_path / "site.7z", {"Posts.xml": site_posts(), "PostLinks.xml": cut})
    out, packed = tmp_path / "out", tmp_path / "packed"
    assert main(["mine", "stackexchange", "--input", str(tmp_path / "Posts.xml"),
                 "--post-links", str(tmp_path / "PostLinks.xml"), "--output", str(out)]) == 0
    assert main(["mine", "stackexchange", "--input", str(tmp_path / "site.7z"),
                 "--output", str(packed)]) == 0
    for folder, label in ((out, "PostLinks.xml"), (packed, "site.7z/PostLinks.xml")):
        assert _links(_dup_rows(folder)) == {("2", "1"), ("3", "1")}
        manifest = read_manifest(folder)
        errors = pq.read_table(folder / manifest.errors[0].path).to_pylist()
        assert [(e["reason"], e["origin"]) for e in errors] == [("invalid_xml", f"{label}:after 21")]
        assert manifest.rows("stackexchange_title_body") == 8  # the posts are all there


def test_a_gzip_post_links_cut_short_is_one_dead_letter(tmp_path):
    import gzip

    (tmp_path / "Posts.xml").write_text(site_posts())
    links = [(100 + i, 2 + i % 2, 1, 3) for i in range(400)]
    (tmp_path / "PostLinks.xml.gz").write_bytes(gzip.compress(hostile.post_links_xml(links))[:-200])
    out = tmp_path / "out"
    assert main(["mine", "stackexchange", "--input", str(tmp_path / "Posts.xml"),
                 "--post-links", str(tmp_path / "PostLinks.xml.gz"), "--output", str(out)]) == 0
    manifest = read_manifest(out)
    assert _links(_dup_rows(out)) == {("2", "1"), ("3", "1")}
    assert manifest.counters["drops"]["repeated_duplicate_link"] > 100  # the same two links again
    errors = pq.read_table(out / manifest.errors[0].path).to_pylist()
    assert [e["reason"] for e in errors] == ["truncated_file"]
    assert errors[0]["origin"].startswith("PostLinks.xml.gz:after ")


def test_a_broken_site_archive_is_one_dead_letter(tmp_path):
    (tmp_path / "site.7z").write_bytes(b"7z\xbc\xaf\x27\x1c" + b"\x00" * 64)
    (tmp_path / "ok.xml").write_text(posts_xml([question(1), answer(2, 1)]))
    out = tmp_path / "out"
    assert main(["mine", "stackexchange", "--input", str(tmp_path / "site.7z"), str(tmp_path / "ok.xml"),
                 "--output", str(out)]) == 0
    manifest = read_manifest(out)
    assert manifest.counters["dead_letters"] == 1 and manifest.counters["drops"]["unreadable_file"] == 1
    assert manifest.rows("stackexchange_question_answer") == 1


def test_the_post_links_flag_is_optional_and_documented(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["mine", "stackexchange", "--help"])
    assert exc.value.code == 0
    assert "--post-links PATH" in capsys.readouterr().out
    assert not SPEC.kind("post-links").required and SPEC.kind("input").required
