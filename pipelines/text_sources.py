"""The `pairmill mine <text source>` commands: each source's flags, inputs and extractors.

A source is declared, not programmed: which kinds of input files it reads, the pure record
reader and extractor for each kind, and the join stages that pair records across files. The one
pipeline in `mine_records.py` runs them all.
"""

from __future__ import annotations

import argparse
import functools
from typing import TYPE_CHECKING

from ..cli_types import non_negative_int, positive_int

if TYPE_CHECKING:
    from .record_sources import TextSource


def _input_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--input", nargs="+", required=True, metavar="GLOB",
                        help=f"{what} (files or glob patterns; local, gs://, s3://)")


def add_text_sources(sources, add_dataset_flags) -> None:
    """Add one `mine` subcommand per text source to the `sources` subparsers."""
    crawl = sources.add_parser(
        "crawl", help="(title, main text) and (anchor sentence, linked page) pairs from WARC files",
        description="Mine web_title_body (page title, main text via trafilatura) and "
                    "web_anchor_target (a link's sentence, the linked page's title and lead; "
                    "joined on the normalised URL across the whole crawl) from WARC files "
                    "(.warc, .warc.gz; Common Crawl layout). HTTP 200 HTML responses only.")
    _input_flag(crawl, "WARC files")
    crawl.add_argument("--min-body-words", type=positive_int, default=50,
                       help="main texts with fewer words give no title_body pair (default 50)")
    crawl.add_argument("--max-anchors-per-page", type=non_negative_int, default=20)
    crawl.add_argument("--max-anchors-per-target", type=positive_int, default=20,
                       help="anchor pairs kept per linked page (default 20)")
    add_dataset_flags(crawl)

    arxiv = sources.add_parser(
        "arxiv", help="(title, abstract) pairs from the arXiv metadata snapshot",
        description="Mine arxiv_title_abstract pairs from the Kaggle arXiv metadata snapshot "
                    "(JSON lines; plain, .gz, .bz2, .zst).")
    _input_flag(arxiv, "snapshot files")
    arxiv.add_argument("--min-abstract-words", type=positive_int, default=10)
    add_dataset_flags(arxiv)

    reddit = sources.add_parser(
        "reddit", help="(title, self text) and (post, top comment) pairs from Reddit dumps",
        description="Mine reddit_title_body from submissions and, with --comments, "
                    "reddit_post_comment (a submission with its best top-level comment, joined "
                    "on link_id). Pushshift / Arctic Shift NDJSON; plain, .gz, .bz2, .zst.")
    reddit.add_argument("--submissions", nargs="+", required=True, metavar="GLOB",
                        help="submission dumps (RS_*.zst, *_submissions.zst)")
    reddit.add_argument("--comments", nargs="+", default=[], metavar="GLOB",
                        help="comment dumps (RC_*.zst, *_comments.zst)")
    reddit.add_argument("--min-score", type=int, default=1,
                        help="drop submissions and comments scoring below this (default 1)")
    reddit.add_argument("--min-body-words", type=non_negative_int, default=5,
                        help="drop self texts and comments with fewer words (default 5)")
    reddit.add_argument("--bot-authors", default="",
                        help="comma-separated extra author names to treat as bots")
    add_dataset_flags(reddit)

    stackexchange = sources.add_parser(
        "stackexchange", help="(title, body) and (question, answer) pairs from a StackExchange dump",
        description="Mine stackexchange_title_body and stackexchange_question_answer (the "
                    "accepted answer, else the best positively scored one) from the data dump's "
                    "Posts.xml, plain or inside a site's .7z archive.")
    stackexchange.add_argument("--input", nargs="+", required=True, metavar="PATH",
                               help="Posts.xml files or site .7z archives (globs allowed)")
    stackexchange.add_argument("--min-score", type=int, default=0,
                               help="drop questions scoring below this (default 0)")
    stackexchange.add_argument("--min-body-words", type=non_negative_int, default=3,
                               help="drop question bodies and answers with fewer words (default 3)")
    add_dataset_flags(stackexchange)

    s2orc = sources.add_parser(
        "s2orc", help="(citing sentence, cited paper) pairs from S2ORC paper parses",
        description="Mine s2orc_citation_reference: each citing sentence (citation markers "
                    "removed) with the cited paper's title, plus its abstract when the cited "
                    "paper is in the input too (joined on S2 paper id). Input: S2ORC pdf_parses "
                    "JSON lines (plain, .gz, .bz2, .zst) or one paper per .json file.")
    _input_flag(s2orc, "paper files")
    s2orc.add_argument("--min-sentence-words", type=positive_int, default=6)
    s2orc.add_argument("--max-sentence-words", type=positive_int, default=120)
    add_dataset_flags(s2orc)

    wikipedia = sources.add_parser(
        "wikipedia", help="(title, lead) and (linking sentence, linked lead) pairs from a dump",
        description="Mine wikipedia_entity_description (article title, lead paragraph) and "
                    "wikipedia_citation_reference (a sentence with a wiki link, the linked "
                    "article's lead; redirects resolved) from a pages-articles XML dump "
                    "(plain or .bz2, streamed).")
    _input_flag(wikipedia, "pages-articles dumps")
    wikipedia.add_argument("--min-lead-words", type=positive_int, default=8)
    wikipedia.add_argument("--min-sentence-words", type=positive_int, default=6)
    wikipedia.add_argument("--max-links-per-page", type=non_negative_int, default=20,
                           help="linking sentences kept per article (default 20; 0: none)")
    add_dataset_flags(wikipedia)


def source_for(args) -> tuple[TextSource, list[tuple[str, str]]]:
    """The source a parsed `mine` command names, and its (kind, path) inputs."""
    # Imported here, not at the top: building the CLI parser must not load Beam.
    from ..extractors import text
    from .record_sources import InputKind, JoinStage, TextSource, read_lines

    if args.source == "crawl":
        options = text.WebOptions(min_body_words=args.min_body_words,
                                  max_anchors_per_page=args.max_anchors_per_page)
        kinds = {"warc": InputKind(text.iter_warc_responses, functools.partial(
            text.extract_web_page, options=options))}
        joins = (JoinStage(("anchor", "page"), functools.partial(
            text.join_web_anchors, max_anchors_per_target=args.max_anchors_per_target)),)
        return TextSource("crawl", kinds, joins), _inputs("warc", args.input)
    if args.source == "arxiv":
        options = text.ArxivOptions(args.min_abstract_words)
        kinds = {"snapshot": InputKind(read_lines, functools.partial(text.extract_arxiv_record,
                                                                     options=options))}
        return TextSource("arxiv", kinds), _inputs("snapshot", args.input)
    if args.source == "reddit":
        extra_bots = {name.strip() for name in args.bot_authors.split(",") if name.strip()}
        options = text.RedditOptions(
            min_score=args.min_score, min_body_words=args.min_body_words,
            bot_authors=text.RedditOptions.bot_authors | extra_bots,
            with_comments=bool(args.comments))
        kinds = {
            "submissions": InputKind(read_lines, functools.partial(
                text.extract_reddit_submission, options=options)),
            "comments": InputKind(read_lines, functools.partial(
                text.extract_reddit_comment, options=options)),
        }
        joins = (JoinStage(("submission", "comment"), text.join_reddit_post,
                           reducers={"comment": text.better_comment}),) if args.comments else ()
        return (TextSource("reddit", kinds, joins),
                _inputs("submissions", args.submissions) + _inputs("comments", args.comments))
    if args.source == "stackexchange":
        options = text.StackExchangeOptions(args.min_score, args.min_body_words)
        kinds = {"posts": InputKind(text.iter_posts, functools.partial(
            text.extract_stackexchange_post, options=options), archive_member="Posts.xml")}
        joins = (JoinStage(("question", "answer"), text.join_stackexchange_answers),)
        return TextSource("stackexchange", kinds, joins), _inputs("posts", args.input)
    if args.source == "s2orc":
        options = text.S2orcOptions(args.min_sentence_words, args.max_sentence_words)
        kinds = {"papers": InputKind(text.read_papers, functools.partial(
            text.extract_s2orc_paper, options=options))}
        joins = (JoinStage(("citation", "paper"), text.join_s2orc_citations),)
        return TextSource("s2orc", kinds, joins), _inputs("papers", args.input)
    if args.source == "wikipedia":
        options = text.WikipediaOptions(args.min_lead_words, args.min_sentence_words,
                                        args.max_links_per_page)
        kinds = {"pages": InputKind(text.iter_pages, functools.partial(
            text.extract_wikipedia_page, options=options))}
        joins = (JoinStage(("link", "redirect"), text.resolve_wikipedia_redirects),
                 JoinStage(("resolved_link", "page"), text.join_wikipedia_links))
        return TextSource("wikipedia", kinds, joins), _inputs("pages", args.input)
    raise ValueError(f"unknown source {args.source}")


def _inputs(kind: str, patterns: list[str]) -> list[tuple[str, str]]:
    from .record_sources import expand_patterns

    return [(kind, path) for path in expand_patterns(patterns)] if patterns else []
