"""Reddit (Pushshift / Arctic Shift NDJSON): (title, self text) and (post, top comment) pairs.

A submission gives `reddit_title_body` on its own. `reddit_post_comment` needs the submission and
its comments, which sit in other files (other months, even): both leave as join parts keyed by
the submission's fullname (`t3_<id>`, the comments' `link_id`), the pipeline keeps the best
top-level comment per submission (`better_comment`) and `join_reddit_post` builds the pair.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import re
from dataclasses import dataclass

from ...schemas import make_pair
from ...schemas.settings import comma_list, non_negative_int, setting
from ..result import Extraction
from ..spec import InputKind, JoinStage, SourceSpec, Task
from .records import read_json_record, read_lines
from .social import is_link_only, strip_signature
from .textnorm import normalize_paragraphs
from .words import word_count

SOURCE = "reddit"
TITLE_BODY = "reddit_title_body"
POST_COMMENT = "reddit_post_comment"
_GONE = {"[removed]", "[deleted]", "[removed by reddit]", "[deleted by user]"}
# AutoModerator and the "...Bot" / "..._bot" naming convention of Reddit's bots.
_BOT_NAME = re.compile(r"(?:[-_][Bb][Oo][Tt]|Bot|BOT)$")
_KNOWN_BOTS = frozenset({"AutoModerator", "RepostSleuthBot", "SaveVideo", "savevideobot"})


def _bot_authors(text: str) -> frozenset[str]:
    return _KNOWN_BOTS | frozenset(comma_list(text))


@dataclass(frozen=True)
class RedditOptions:
    min_score: int = setting(1, "drop submissions and comments scoring below this", type=int)
    min_body_words: int = setting(5, "drop self texts and comments with fewer words",
                                  type=non_negative_int)
    bot_authors: frozenset[str] = setting(
        _KNOWN_BOTS, "comma-separated extra author names to treat as bots", type=_bot_authors,
        metavar="NAMES")
    # set from the inputs: submissions become join parts for reddit_post_comment
    with_comments: bool = setting(False, cli=False)


def _text(value) -> str:
    """Pushshift keeps Reddit's HTML escaping (&amp;, &gt;) in titles and bodies."""
    return normalize_paragraphs(html.unescape(str(value or "")))


def _is_bot(author: str, options: RedditOptions) -> bool:
    return author in options.bot_authors or bool(_BOT_NAME.search(author))


def _score(record: dict) -> int:
    try:
        return int(record.get("score") or 0)
    except (TypeError, ValueError):
        return 0


def _filtered(record: dict, options: RedditOptions, out: Extraction) -> bool:
    """True (and a counted drop) when the author is a bot or the score too low."""
    author = str(record.get("author") or "")
    if author and _is_bot(author, options):
        out.drop("bot")
        return True
    if _score(record) < options.min_score:
        out.drop("low_score")
        return True
    return False


def extract_reddit_submission(line: bytes | str, origin: str,
                              options: RedditOptions = RedditOptions()) -> Extraction:
    """One submission line: a reddit_title_body pair when it has real self text, and (with
    comments to join) a `submission` part.

    Drops: missing_id, missing_title, bot, low_score, over_18, removed_or_deleted (self text
    removed), no_selftext (a link post: no title_body pair, still joinable), body_too_short.
    """
    out = Extraction()
    record = read_json_record(line, origin, SOURCE, out)
    if record is None:
        return out
    post_id = str(record.get("id") or "").strip()
    title = _text(record.get("title"))
    if not post_id:
        out.drop("missing_id")
        return out
    if not title or title in _GONE:
        out.drop("missing_title")
        return out
    if _filtered(record, options, out):
        return out
    if record.get("over_18"):
        out.drop("over_18")
        return out
    body = strip_signature(_text(record.get("selftext")))
    gone = body in _GONE or bool(record.get("removed_by_category"))
    subreddit = str(record.get("subreddit") or "")
    origin = f"reddit:t3_{post_id}"
    if gone:
        out.drop("removed_or_deleted")
    elif not body:
        out.drop("no_selftext")
    elif is_link_only(body):
        out.drop("link_only")
    elif word_count(body) < options.min_body_words:
        out.drop("body_too_short")
    else:
        out.pairs.append(make_pair(TITLE_BODY, title, body, SOURCE, origin, score=float(_score(record)),
                                   meta={"subreddit": subreddit}))
    if options.with_comments:
        out.part("submission", f"t3_{post_id}", {
            "title": title, "text": "" if gone else body, "subreddit": subreddit})
    return out


def extract_reddit_comment(line: bytes | str, origin: str,
                           options: RedditOptions = RedditOptions()) -> Extraction:
    """One comment line: a `comment` part when it is a usable top-level comment.

    Drops: missing_link_id, not_top_level, removed_or_deleted, bot, low_score, body_too_short.
    """
    out = Extraction()
    record = read_json_record(line, origin, SOURCE, out)
    if record is None:
        return out
    link_id = str(record.get("link_id") or "").strip()
    if not link_id.startswith("t3_"):
        out.drop("missing_link_id")
        return out
    if str(record.get("parent_id") or "") != link_id:
        out.drop("not_top_level")
        return out
    body = strip_signature(_text(record.get("body")))
    if not body or body in _GONE:
        out.drop("removed_or_deleted")
        return out
    if _filtered(record, options, out):
        return out
    if is_link_only(body):
        out.drop("link_only")
        return out
    if word_count(body) < options.min_body_words:
        out.drop("body_too_short")
        return out
    out.part("comment", link_id, {"body": body, "score": _score(record),
                                  "id": str(record.get("id") or ""), "comments": 1})
    return out


def better_comment(a: dict, b: dict) -> dict:
    """The higher-scored of two comments (then the smaller id), counting every comment seen."""
    best = min(a, b, key=lambda c: (-c["score"], c["id"]))
    return {**best, "comments": a["comments"] + b["comments"]}


def join_reddit_post(link_id: str, groups: dict[str, list[dict]]) -> Extraction:
    """A submission and its best top-level comment -> one reddit_post_comment pair.

    Drops: comment_without_submission (every comment of a submission not in the input),
    submission_without_comment.
    """
    out = Extraction()
    submissions, comments = groups.get("submission", []), groups.get("comment", [])
    if not comments:
        out.drop("submission_without_comment", len(submissions))
        return out
    best = comments[0]
    for other in comments[1:]:
        best = better_comment(best, other)
    if not submissions:
        out.drop("comment_without_submission", best["comments"])
        return out
    post = min(submissions, key=lambda s: (s["title"], s["text"]))  # the same post in two files
    query = f"{post['title']}\n\n{post['text']}" if post["text"] else post["title"]
    out.pairs.append(make_pair(POST_COMMENT, query, best["body"], SOURCE, f"reddit:{link_id}",
                               score=float(best["score"]),
                               meta={"subreddit": post["subreddit"], "comment_id": best["id"]}))
    return out


SPEC = SourceSpec(
    name=SOURCE,
    help="(title, self text) and (post, top comment) pairs from Reddit dumps",
    description="Mine reddit_title_body from submissions and, with --comments, "
                "reddit_post_comment (a submission with its best top-level comment, joined "
                "on link_id). Pushshift / Arctic Shift NDJSON; plain, .gz, .bz2, .zst.",
    tasks=(Task(TITLE_BODY, "submission title", "self text"),
           Task(POST_COMMENT, "submission title + text", "top comment")),
    options=RedditOptions,
    inputs=(InputKind("submissions", "submission dumps (RS_*.zst, *_submissions.zst)",
                      lambda options: functools.partial(extract_reddit_submission, options=options),
                      records=read_lines, json_rows=True),
            InputKind("comments", "comment dumps (RC_*.zst, *_comments.zst)",
                      lambda options: functools.partial(extract_reddit_comment, options=options),
                      records=read_lines, required=False, json_rows=True)),
    joins=lambda options: ((JoinStage(("submission", "comment"), join_reddit_post,
                                      reducers={"comment": better_comment}),)
                           if options.with_comments else ()),
    prepare=lambda options, inputs: dataclasses.replace(
        options, with_comments=bool(inputs.get("comments"))),
)
