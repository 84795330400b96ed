"""`pairmill mine stackexchange`: Posts.xml streaming, hostile XML, the answer join, the real dump."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from xml.sax.saxutils import quoteattr

import py7zr
import pyarrow.parquet as pq
import pytest

from pairmill.cli import main
from pairmill.extractors.result import Unreadable
from pairmill.extractors.text import (
    StackExchangeOptions,
    extract_stackexchange_post,
    html_to_text,
    iter_posts,
    join_stackexchange_answers,
)
from pairmill.schemas import read_manifest, validate_dataset
from pairmill.schemas.pairs import meta_dict

from .conftest import REALDATA


def row(**attrs) -> str:
    return "<row " + " ".join(f"{k}={quoteattr(str(v))}" for k, v in attrs.items()) + " />"


def posts_xml(rows: list[str], head: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return head + "\n<posts>\n" + "\n".join(rows) + "\n</posts>\n"


def question(i: int, accepted: int | None = None, score: int = 3, **extra) -> str:
    attrs = {"Id": i, "PostTypeId": 1, "Score": score, "Title": f"How do I brew method {i}?",
             "Body": f"<p>I tried method {i} twice and the cup was <b>sour</b> both times.</p>",
             "Tags": "<brewing><method-{i}>".replace("{i}", str(i))}
    if accepted is not None:
        attrs["AcceptedAnswerId"] = accepted
    attrs.update(extra)
    return row(**attrs)


def answer(i: int, parent: int, score: int = 1, text: str = "") -> str:
    return row(Id=i, PostTypeId=2, ParentId=parent, Score=score,
               Body=f"<p>{text or f'Answer {i}: grind finer and use hotter water.'}</p>")


def rows_of(data: bytes) -> list:
    return list(iter_posts(io.BytesIO(data)))


def test_rows_stream_with_byte_order_mark_and_other_encodings():
    doc = posts_xml([question(1), answer(2, 1)])
    got = rows_of(b"\xef\xbb\xbf" + doc.encode())
    assert [locator for locator, _ in got] == ["1", "2"]
    assert got[0][1]["Title"] == "How do I brew method 1?"
    utf16 = posts_xml([row(Id=1, PostTypeId=1, Title="Café crème?")],
                      '<?xml version="1.0" encoding="utf-16"?>').encode("utf-16")
    assert rows_of(utf16)[0][1]["Title"] == "Café crème?"
    euc = posts_xml([row(Id=1, PostTypeId=1, Title="コーヒーの淹れ方")],
                    '<?xml version="1.0" encoding="EUC-JP"?>').encode("euc-jp")
    assert rows_of(euc)[0][1]["Title"] == "コーヒーの淹れ方"


@pytest.mark.parametrize("dtd", [
    '<!DOCTYPE posts [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    '<!DOCTYPE posts [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
])
def test_documents_with_a_dtd_are_refused_before_any_row(dtd):
    doc = posts_xml([row(Id=1, PostTypeId=1, Title="t", Body="&b;" if "b " in dtd else "&x;")],
                    '<?xml version="1.0"?>' + dtd)
    got = rows_of(doc.encode())
    assert len(got) == 1 and isinstance(got[0][1], Unreadable)
    assert got[0][1].reason == "dtd_not_allowed"


def test_broken_xml_keeps_rows_before_the_break():
    doc = posts_xml([question(1), answer(2, 1), '<row Id="3" Body="unterminated />'])
    got = rows_of(doc.encode())
    assert [locator for locator, _ in got[:2]] == ["1", "2"]
    assert isinstance(got[2][1], Unreadable) and got[2][1].reason == "invalid_xml"
    assert got[2][0] == "after 2"


def test_html_bodies_become_text_with_code_blocks_kept():
    body = ("<p>Use this:</p>\n<pre><code>for cup in cups:\n    pour(cup)\n</code></pre>\n"
            "<ul><li>fresh <code>beans</code></li><li>hot   water</li></ul><p>a &amp; b<br>c</p>")
    assert html_to_text(body) == ("Use this:\n\nfor cup in cups:\n    pour(cup)\n\n- fresh beans\n\n"
                                  "- hot water\n\na & b\n\nc")
    assert html_to_text("<!-- nothing -->") == ""


def _attrs(xml_row: str) -> dict:
    return dict(ET.fromstring(xml_row).attrib)


def test_question_gives_title_body_and_a_part_keyed_by_site_and_id():
    out = extract_stackexchange_post(_attrs(question(7, accepted=9)), "coffee/Posts.xml:7")
    (pair,) = out.pairs
    assert pair["task"] == "stackexchange_title_body"
    assert pair["document"] == "I tried method 7 twice and the cup was sour both times."
    assert meta_dict(pair["meta"])["tags"] == "brewing method-7"
    (part,) = out.parts
    # the site is the folder of Posts.xml (PostLinks.xml beside it joins on the same keys)
    assert (part.side, part.key, part.value["accepted"]) == ("question", "coffee:7", "9")
    out = extract_stackexchange_post(_attrs(answer(9, 7)), "coffee/Posts.xml:9")
    assert [(p.side, p.key) for p in out.parts] == [("answer", "coffee:7")]
    out = extract_stackexchange_post(_attrs(answer(9, 7)), "coffee/other-posts.xml:9")
    assert [p.key for p in out.parts] == ["coffee/other-posts.xml:7"]  # another file: its own site


@pytest.mark.parametrize("xml_row, reason", [
    (row(Id=1, PostTypeId=5, Body="<p>tag wiki</p>"), "other_post_type"),
    (question(1, Title="  "), "missing_title"),
    (question(1, Body="<p></p>"), "empty_body"),
    (question(1, Body="<p>Why?</p>"), "body_too_short"),
    (question(1, score=-1), "low_score"),
    (row(Id=2, PostTypeId=2, Body="<p>an answer with no question id</p>"), "missing_parent"),
])
def test_unusable_posts_are_counted(xml_row, reason):
    out = extract_stackexchange_post(_attrs(xml_row), "f:1")
    assert out.drops == {reason: 1} and not out.pairs
    assert [p.value for p in out.parts] == ([{"dropped": reason}] if "PostTypeId=\"1\"" in xml_row
                                            else [])
    assert extract_stackexchange_post(_attrs(question(1, score=-1)), "f:1",
                                      StackExchangeOptions(min_score=-5)).pairs


def _q(accepted: str = "") -> dict:
    return {"title": "T", "body": "B", "origin": "f:1", "accepted": accepted, "post_id": "1",
            "tags": ""}


def test_join_prefers_accepted_then_best_positive_answer():
    answers = [{"id": "5", "body": "low", "score": 1}, {"id": "6", "body": "top", "score": 9},
               {"id": "4", "body": "accepted", "score": 0}]
    (pair,) = join_stackexchange_answers("f:1", {"question": [_q("4")], "answer": answers}).pairs
    assert pair["document"] == "accepted" and meta_dict(pair["meta"])["accepted"] == "true"
    assert pair["query"] == "T\n\nB" and pair["task"] == "stackexchange_question_answer"
    (pair,) = join_stackexchange_answers("f:1", {"question": [_q()], "answer": answers}).pairs
    assert pair["document"] == "top" and meta_dict(pair["meta"])["accepted"] == "false"
    tie = [{"id": "12", "body": "later", "score": 3}, {"id": "11", "body": "earlier", "score": 3}]
    assert join_stackexchange_answers("k", {"question": [_q()], "answer": tie}).pairs[0]["document"] \
        == "earlier"
    assert join_stackexchange_answers("k", {"question": [_q()], "answer": [
        {"id": "3", "body": "bad", "score": 0}]}).drops == {"no_positive_answer": 1}
    assert join_stackexchange_answers("k", {"question": [], "answer": answers}).drops == {
        "answer_without_question": 3}
    assert join_stackexchange_answers("k", {"question": [_q()], "answer": []}).drops == {
        "question_without_answer": 1}
    assert join_stackexchange_answers("k", {"question": [{"dropped": "low_score"}],
                                            "answer": answers}).drops == {"answer_of_dropped_question": 3}


def test_pipeline_reads_plain_and_7z_sites_without_mixing_their_ids(tmp_path):
    site_a = posts_xml([question(1, accepted=2), answer(2, 1, text="Site A accepted answer here."),
                        question(3), answer(4, 3, score=-1), answer(99, 1000)])
    # Site B reuses Ids 1 and 2 for another question: the join must not mix the two sites.
    site_b = posts_xml([question(1, Title="Is a moka pot espresso?"),
                        answer(2, 1, score=4, text="Site B best answer right here."),
                        '<row Id="3" PostTypeId="1" Body="broken'])
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "Posts.xml").write_text(site_a, encoding="utf-8-sig")
    with py7zr.SevenZipFile(tmp_path / "b.stackexchange.com.7z", "w") as archive:
        archive.writestr(site_b, "Posts.xml")
        archive.writestr("<users/>", "Users.xml")
    out = tmp_path / "out"
    assert main(["mine", "stackexchange", "--input", str(tmp_path / "a" / "Posts.xml"),
                 str(tmp_path / "*.7z"), "--output", str(out)]) == 0
    assert validate_dataset(out) == []
    manifest = read_manifest(out)
    assert manifest.rows("stackexchange_title_body") == 3
    qa = pq.read_table(out / manifest.tasks["stackexchange_question_answer"][0].path).to_pylist()
    assert sorted(r["document"] for r in qa) == ["Site A accepted answer here.",
                                                 "Site B best answer right here."]
    drops = manifest.counters["drops"]
    assert drops["answer_without_question"] == 1 and drops["no_positive_answer"] == 1
    assert drops["invalid_xml"] == 1
    errors = pq.read_table(out / manifest.errors[0].path).to_pylist()
    assert [e["reason"] for e in errors] == ["invalid_xml"]
    assert errors[0]["origin"].endswith(".7z:after 2")


def test_a_7z_without_posts_is_one_dead_letter(tmp_path):
    with py7zr.SevenZipFile(tmp_path / "site.7z", "w") as archive:
        archive.writestr("<users/>", "Users.xml")
    (tmp_path / "ok.xml").write_text(posts_xml([question(1), answer(2, 1)]))
    out = tmp_path / "out"
    assert main(["mine", "stackexchange", "--input", str(tmp_path / "site.7z"),
                 str(tmp_path / "ok.xml"), "--output", str(out)]) == 0
    manifest = read_manifest(out)
    assert manifest.rows("stackexchange_question_answer") == 1
    assert manifest.counters["drops"]["truncated_file"] == 1
    (tmp_path / "site.7z").write_bytes(b"7z\xbc\xaf\x27\x1c" + b"\x00" * 64)  # a corrupt archive
    assert main(["mine", "stackexchange", "--input", str(tmp_path / "site.7z"),
                 str(tmp_path / "ok.xml"), "--output", str(out), "--overwrite"]) == 0
    manifest = read_manifest(out)
    assert manifest.rows("stackexchange_question_answer") == 1
    assert manifest.counters["drops"]["unreadable_file"] == 1


POSTS = REALDATA / "stackexchange" / "Posts.xml"


@pytest.mark.skipif(not POSTS.exists(), reason="../shared/realdata is not present")
def test_real_coffee_dump(tmp_path):
    out = tmp_path / "coffee"
    assert main(["mine", "stackexchange", "--input", str(POSTS), "--output", str(out)]) == 0
    manifest = read_manifest(out)
    rows = [dict(r.attrib) for r in ET.parse(POSTS).getroot()]
    questions = {r["Id"]: r for r in rows if r["PostTypeId"] == "1"}
    answers = {r["Id"]: r for r in rows if r["PostTypeId"] == "2"}
    assert (len(rows), len(questions), len(answers)) == (592, 225, 327)
    assert manifest.counters["records_read"] == 592
    drops = manifest.counters["drops"]
    assert drops["other_post_type"] == 40  # 20 tag-wiki excerpts and 20 tag wikis
    assert all(a["ParentId"] in questions for a in answers.values())
    assert "answer_without_question" not in drops
    dropped = {q for q, r in questions.items() if int(r["Score"]) < 0}
    assert drops["low_score"] == len(dropped) == 4
    assert drops["answer_of_dropped_question"] == sum(a["ParentId"] in dropped for a in answers.values())
    qa = pq.read_table(out / manifest.tasks["stackexchange_question_answer"][0].path).to_pylist()
    accepted = [r for r in qa if meta_dict(r["meta"])["accepted"] == "true"]
    usable = {q for q, r in questions.items() if int(r["Score"]) >= 0}
    with_accepted = {q for q in usable if questions[q].get("AcceptedAnswerId") in answers}
    assert sum(bool(q.get("AcceptedAnswerId")) for q in questions.values()) == 105
    assert 95 <= len(with_accepted) <= 105
    assert {meta_dict(r["meta"])["post_id"] for r in accepted} == with_accepted
    for r in accepted:
        meta = meta_dict(r["meta"])
        assert meta["answer_id"] == questions[meta["post_id"]]["AcceptedAnswerId"]
        assert r["query"].startswith(questions[meta["post_id"]]["Title"])
    assert manifest.rows("stackexchange_title_body") == 221
    assert not any("<p>" in r["document"] or "&lt;" in r["document"] for r in qa)
