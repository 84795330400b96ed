"""StackExchange data dump (`Posts.xml`, `PostLinks.xml`): (title, body), (question, answer) and
(duplicate question, original question) pairs.

`iter_posts` streams the rows of a Posts.xml or a PostLinks.xml (see `xmlstream`: flat memory,
DTDs refused). A question and its answers are different rows, so answers leave as join parts
keyed by their question's id and `join_stackexchange_answers` picks the answer. A duplicate link
(PostLinks.xml, `LinkTypeId` 3: `PostId` was closed as a duplicate of `RelatedPostId`) needs
both questions' text: it leaves a part keyed by each of its two posts, meets each question in
the same join as the answers, and the two halves meet again keyed by the link
(`join_duplicate_link`). Post ids are per site, so every key starts with the site (`site_of`).
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
from .language import identify_language
from .social import is_link_only
from .textnorm import html_to_text, normalize_whitespace
from .words import word_count
from .xmlstream import iter_records

SOURCE = "stackexchange"
TITLE_BODY = "stackexchange_title_body"
QUESTION_ANSWER = "stackexchange_question_answer"
DUPLICATE_QUESTION = "stackexchange_duplicate_question"
DUPLICATE_LINK = "3"  # PostLinks.xml LinkTypeId: 1 linked, 3 duplicate
_TAGS = re.compile(r"<([^<>]+)>|\|?([^|]+)\|?")
_POST_ID = re.compile(r"[0-9]+")
# The dump files of one site: in a folder, plain or compressed, or members of a site archive
# (labelled ARCHIVE/PostLinks.xml); Stack Overflow ships one archive per file.
_SITE_FILE = re.compile(r"(?:^|/)(?:Posts|PostLinks)\.xml(?:\.(?:gz|bz2|zst))?$", re.I)
_SITE_ARCHIVE = re.compile(r"-(?:Posts|PostLinks)(\.7z)$", re.I)
# The closing notice older dumps kept at the top of a duplicate's body ("Possible Duplicate:"
# and a link titled with the original): it would hand the pair its answer.
_DUPLICATE_NOTICE = re.compile(
    r"\s*<blockquote>\s*<p>\s*<strong>\s*(?:possible duplicates?|exact duplicates?|"
    r"this question already has (?:an )?answers? here)\s*:?\s*</strong>.*?</blockquote>",
    re.I | re.S)


@dataclass(frozen=True)
class StackExchangeOptions:
    min_score: int = setting(0, "drop questions scoring below this", type=int)
    min_body_words: int = setting(3, "drop question bodies and answers with fewer words",
                                  type=non_negative_int)


def iter_posts(stream: BinaryIO) -> Iterator[tuple[str, dict | Unreadable]]:
    """(row Id, row attributes) for every `<row>` (Posts.xml, PostLinks.xml); an Unreadable ends
    a damaged document."""
    return iter_records(stream, "row", lambda row: (row.get("Id") or "?", dict(row.attrib)))


def site_of(label: str) -> str:
    """The site of an input file, which every join key starts with (post ids are per site): the
    folder holding Posts.xml and PostLinks.xml (`dumps/coffee/Posts.xml.bz2` -> `dumps/coffee`,
    a bare `Posts.xml` -> ""), a site archive (`coffee.stackexchange.com.7z`, also for its member
    `coffee.stackexchange.com.7z/PostLinks.xml`; Stack Overflow's `stackoverflow.com-Posts.7z`
    and `-PostLinks.7z` are one site), or any other file on its own."""
    found = _SITE_FILE.search(label)
    if found:
        label = label[:found.start()]
    return _SITE_ARCHIVE.sub(r"\1", label)


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
    # Ids are per site: the join key carries the site of the file (origin is "<file>:<Id>").
    site = site_of(origin.rsplit(":", 1)[0])
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
    # identified once per question (the text the title_body pair would be identified on) and
    # given to its question_answer pair too: an answer is in its question's language
    lang = identify_language(f"{title}\n{body}")[0]
    out.pairs.append(make_pair(TITLE_BODY, title, body, SOURCE, origin,
                               score=float(_int(row.get("Score"))), lang=lang, meta=meta))
    question = {"title": title, "body": body, "origin": origin, "lang": lang,
                "accepted": row.get("AcceptedAnswerId") or "", **meta}
    notice = _DUPLICATE_NOTICE.match(row.get("Body") or "")
    if notice:  # only duplicate pairs use it; title_body and question_answer keep the body whole
        question["body_without_notice"] = html_to_text(row["Body"][notice.end():])
    out.part("question", f"{site}:{post_id}", question)
    return out


def extract_stackexchange_link(row: dict, origin: str, options=None) -> Extraction:
    """One PostLinks.xml row: a duplicate link leaves a `link` part keyed by each of its two
    posts (`PostId` the duplicate, `RelatedPostId` the original it was closed against).

    Drops: other_link_type (links that only relate two posts), malformed_link (a post id that
    is not a number), self_link.
    """
    out = Extraction()
    if row.get("LinkTypeId") != DUPLICATE_LINK:
        out.drop("other_link_type")
        return out
    duplicate, original = row.get("PostId") or "", row.get("RelatedPostId") or ""
    if not (_POST_ID.fullmatch(duplicate) and _POST_ID.fullmatch(original)):
        out.drop("malformed_link")
        return out
    duplicate, original = str(int(duplicate)), str(int(original))
    if duplicate == original:
        out.drop("self_link")
        return out
    site = site_of(origin.rsplit(":", 1)[0])
    link = {"link": f"{site}:{duplicate}:{original}", "link_id": row.get("Id") or "", "origin": origin}
    out.part("link", f"{site}:{duplicate}", {**link, "role": "duplicate"})
    out.part("link", f"{site}:{original}", {**link, "role": "original"})
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
        question["origin"], score=float(answer["score"]), lang=question.get("lang"),
        meta={"post_id": question["post_id"], "answer_id": answer["id"], "tags": question["tags"],
              "accepted": "true" if accepted else "false"}))
    return out


def join_stackexchange_question(key: str, groups: dict[str, list[dict]]) -> Extraction:
    """A post's question, answers and duplicate links: the question-answer pair as
    `join_stackexchange_answers` makes it, and for each link naming the post a half (the
    question's text, or why there is none) keyed by the link, for `join_duplicate_link`."""
    questions, links = groups.get("question", []), groups.get("link", [])
    out = (join_stackexchange_answers(key, groups) if questions or groups.get("answer")
           else Extraction())
    question = questions[0] if questions else None
    for link in links:
        if question is None:  # not in the input (deleted), or not a question (an answer)
            half = {"missing": "missing_question"}
        elif "dropped" in question:
            half = {"missing": "dropped_question"}
        else:
            half = {"title": question["title"], "post_id": question["post_id"],
                    "body": question.get("body_without_notice", question["body"]),
                    "tags": question["tags"]}
        out.part(link["role"], link["link"],
                 {**half, "link_id": link["link_id"], "origin": link["origin"]})
    return out


def _question_text(half: dict) -> str:
    return f"{half['title']}\n\n{half['body']}" if half["body"] else half["title"]


def join_duplicate_link(link: str, groups: dict[str, list[dict]]) -> Extraction:
    """A duplicate link's two halves -> (duplicate's title + body, original's title + body).

    Drops: duplicate_link_missing_question (a post of the link is not a question of the input:
    deleted, an answer), duplicate_link_dropped_question (a question dropped by the post rules),
    duplicate_link_same_text, repeated_duplicate_link (the same two posts linked again, or one
    PostLinks.xml read twice).
    """
    out = Extraction()
    duplicates = sorted(groups.get("duplicate", []), key=lambda h: (h["origin"], h["link_id"]))
    originals = sorted(groups.get("original", []), key=lambda h: (h["origin"], h["link_id"]))
    if not duplicates or not originals:  # every link leaves both halves; never seen
        out.drop("duplicate_link_missing_question", max(len(duplicates), len(originals)))
        return out
    if max(len(duplicates), len(originals)) > 1:
        out.drop("repeated_duplicate_link", max(len(duplicates), len(originals)) - 1)
    duplicate, original = duplicates[0], originals[0]
    for half in (duplicate, original):
        if "missing" in half:
            out.drop(f"duplicate_link_{half['missing']}")
            return out
    query, document = _question_text(duplicate), _question_text(original)
    if query == document:
        out.drop("duplicate_link_same_text")
        return out
    out.pairs.append(make_pair(
        DUPLICATE_QUESTION, query, document, SOURCE, duplicate["origin"],
        meta={"post_id": duplicate["post_id"], "original_id": original["post_id"],
              "link_id": duplicate["link_id"], "tags": duplicate["tags"]}))
    return out


SPEC = SourceSpec(
    name=SOURCE,
    help="(title, body), (question, answer) and (duplicate, original question) pairs from a "
         "StackExchange dump",
    description="Mine stackexchange_title_body and stackexchange_question_answer (the "
                "accepted answer, else the best positively scored one) from the data dump's "
                "Posts.xml, plain or inside a site's .7z archive, and "
                "stackexchange_duplicate_question (a question closed as a duplicate with the "
                "question it repeats) from PostLinks.xml: read from a site .7z given as --input, "
                "or named with --post-links. Links join the posts of the same site: the same "
                "archive, or the folder holding Posts.xml and PostLinks.xml.",
    tasks=(Task(TITLE_BODY, "question title", "question body"),
           Task(QUESTION_ANSWER, "question title + body", "accepted / best answer"),
           Task(DUPLICATE_QUESTION, "question title + body", "the question it duplicates: title + body")),
    options=StackExchangeOptions,
    requires=(("lxml", "text"),),
    inputs=(InputKind("input", "Posts.xml files or site .7z archives (globs allowed)",
                      lambda options: functools.partial(extract_stackexchange_post, options=options),
                      records=iter_posts, archive_member="Posts.xml", metavar="PATH"),
            InputKind("post-links", "PostLinks.xml files (plain, compressed, or a .7z such as "
                                    "stackoverflow.com-PostLinks.7z); a site .7z given as --input "
                                    "is read for its PostLinks.xml without this flag",
                      lambda options: extract_stackexchange_link, records=iter_posts,
                      archive_member="PostLinks.xml", from_archives_of="input", required=False,
                      metavar="PATH")),
    joins=lambda options: (JoinStage(("question", "answer", "link"), join_stackexchange_question),
                           JoinStage(("duplicate", "original"), join_duplicate_link)),
)
