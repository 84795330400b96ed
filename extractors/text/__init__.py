"""Text sources: one raw record in, pairs (or the reason for none) out. One module per dump."""

from .arxiv import ArxivOptions, extract_arxiv_record
from .latex import latex_to_text
from .records import parse_json_record
from .reddit import (
    RedditOptions,
    better_comment,
    extract_reddit_comment,
    extract_reddit_submission,
    join_reddit_post,
)
from .s2orc import S2orcOptions, extract_s2orc_paper, join_s2orc_citations, read_papers
from .stackexchange import (
    StackExchangeOptions,
    extract_stackexchange_post,
    iter_posts,
    join_stackexchange_answers,
)
from .textnorm import html_to_text, normalize_paragraphs, normalize_whitespace
from .web import (
    WebOptions,
    decode_html,
    extract_web_page,
    iter_warc_responses,
    join_web_anchors,
    normalize_url,
)
from .wikipedia import (
    WikipediaOptions,
    extract_wikipedia_page,
    iter_pages,
    join_wikipedia_links,
    normalize_title,
    resolve_wikipedia_redirects,
)

__all__ = ["ArxivOptions", "extract_arxiv_record", "parse_json_record", "latex_to_text",
           "normalize_paragraphs", "normalize_whitespace", "RedditOptions", "better_comment",
           "extract_reddit_comment", "extract_reddit_submission", "join_reddit_post",
           "StackExchangeOptions", "extract_stackexchange_post", "iter_posts",
           "join_stackexchange_answers", "html_to_text", "S2orcOptions", "extract_s2orc_paper",
           "join_s2orc_citations", "read_papers", "WikipediaOptions", "extract_wikipedia_page",
           "iter_pages", "join_wikipedia_links", "normalize_title", "resolve_wikipedia_redirects",
           "WebOptions", "decode_html", "extract_web_page", "iter_warc_responses", "join_web_anchors",
           "normalize_url"]
