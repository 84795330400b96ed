"""StackExchange data dump (`Posts.xml`): (title, body) and (question, answer) pairs.

`iter_posts` streams the rows of a Posts.xml (see `xmlstream`: flat memory, DTDs refused). A
question and its answers are different rows, so answers leave as join
parts keyed by their question's id and `join_stackexchange_answers` picks the answer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ...schemas import make_pair
from ...schemas.settings import non_negative_int, setting
from ..result import Extraction, Unreadable
from ..spec import InputKind, JoinStage, SourceSpec, Task
from .social import is_link_only
from .textnorm import html_to_text, normalize_whitespace
from .words import word_count
from .xmlstream import iter_records

SOURCE = "stackexchange"
TITLE_BODY = "stackexchange_title_body"
QUESTION_ANSWER = "stackexchange_question_answer"
_TAGS = re.compile(r"<([^<>]+)>|\|?([^|]+)\|?")


@dataclass(frozen=True)
class StackExchangeOptions:
    min_score: int = setting(0, "drop questions scoring below this", type=int)
    min_body_words: int = setting(3, "drop question bodies and answers with fewer words",
                                  type=non_negative_int)


def iter_posts(stream: BinaryIO) -> Iterator[tuple[str, dict | Unreadable]]:
    """(row Id, row attributes) for every `<row>`; an Unreadable ends a damaged document."""
    return iter_records(stream, "row", lambda row: (row.get("Id") or "?", dict(row.attrib)))


def _tags(value: str) -> str:
    """`<a><b>` (older dumps) or `|a|b|` (newer ones) to "a b"."""
    return " ".join(a or b for a, b in _TAGS.findall(value or "") if (a or b).strip())


def _int(value, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def extract_stackexchange_post(row: dict, origin: str,
                               options: StackExchangeOptions = StackExchangeOptions()) -> Extraction:
    """One Posts.xml row: a question gives a title_body pair and a `question` part; an answer
    gives an `answer` part keyed by its question. A dropped question still leaves a small part
    marked `dropped`, so its answers are counted for what they are.

    Drops: other_post_type (tag wikis, moderator posts), missing_title, empty_body,
    body_too_short, low_score, missing_parent.
    """
    out = Extraction()
    kind = row.get("PostTypeId")
    if kind not in ("1", "2"):
        out.drop("other_post_type")
        return out
    body = html_to_text(row.get("Body") or "")
    post_id = row.get("Id") or ""
    # Ids are per site: the join key carries the file (origin is "<file>:<Id>").
    site = origin.rsplit(":", 1)[0]
    if kind == "2":
        parent = row.get("ParentId") or ""
        if not parent:
            out.drop("missing_parent")
        elif not body:
            out.drop("empty_body")
        elif is_link_only(body):
            out.drop("link_only")
        elif word_count(body) < options.min_body_words:
            out.drop("body_too_short")
        else:
            out.part("answer", f"{site}:{parent}", {"id": post_id, "body": body,
                                        "score": _int(row.get("Score"))})
        return out
    title = normalize_whitespace(row.get("Title") or "")
    reason = ("missing_title" if not title else
              "low_score" if _int(row.get("Score")) < options.min_score else
              "empty_body" if not body else
              "body_too_short" if word_count(body) < options.min_body_words else "")
    if reason:
        out.drop(reason)
        # Still joined, so that its answers are told apart from answers whose question is absent.
        out.part("question", f"{site}:{post_id}", {"dropped": reason})
        return out
    meta = {"post_id": post_id, "tags": _tags(row.get("Tags") or "")}
    out.pairs.append(make_pair(TITLE_BODY, title, body, SOURCE, origin,
                               score=float(_int(row.get("Score"))), meta=meta))
    out.part("question", f"{site}:{post_id}", {"title": title, "body": body, "origin": origin,
                                   "accepted": row.get("AcceptedAnswerId") or "", **meta})
    return out


def join_stackexchange_answers(question_key: str, groups: dict[str, list[dict]]) -> Extraction:
    """A question and its answers -> the accepted answer, else the best positively scored one.

    Drops: answer_without_question (per answer, the question is not in the input),
    answer_of_dropped_question (per answer), question_without_answer, no_positive_answer.
    """
    out = Extraction()
    questions, answers = groups.get("question", []), groups.get("answer", [])
    if not questions:
        out.drop("answer_without_question", len(answers))
        return out
    if "dropped" in questions[0]:
        out.drop("answer_of_dropped_question", len(answers))
        return out
    if not answers:
        out.drop("question_without_answer")
        return out
    question = questions[0]
    accepted = [a for a in answers if a["id"] and a["id"] == question["accepted"]]
    if accepted:
        answer = accepted[0]
    else:
        positive = [a for a in answers if a["score"] > 0]
        if not positive:
            out.drop("no_positive_answer")
            return out
        answer = min(positive, key=lambda a: (-a["score"], _int(a["id"], 1 << 62), a["id"]))
    out.pairs.append(make_pair(
        QUESTION_ANSWER, f"{question['title']}\n\n{question['body']}", answer["body"], SOURCE,
        question["origin"], score=float(answer["score"]),
        meta={"post_id": question["post_id"], "answer_id": answer["id"], "tags": question["tags"],
              "accepted": "true" if accepted else "false"}))
    return out


SPEC = SourceSpec(
    name=SOURCE,
    help="(title, body) and (question, answer) pairs from a StackExchange dump",
    description="Mine stackexchange_title_body and stackexchange_question_answer (the "
                "accepted answer, else the best positively scored one) from the data dump's "
                "Posts.xml, plain or inside a site's .7z archive.",
    tasks=(Task(TITLE_BODY, "question title", "question body"),
           Task(QUESTION_ANSWER, "question title + body", "accepted / best answer")),
    options=StackExchangeOptions,
    requires=(("lxml", "text"),),
    inputs=(InputKind("input", "Posts.xml files or site .7z archives (globs allowed)",
                      lambda options: functools.partial(extract_stackexchange_post, options=options),
                      records=iter_posts, archive_member="Posts.xml", metavar="PATH"),),
    joins=lambda options: (JoinStage(("question", "answer"), join_stackexchange_answers),),
)
