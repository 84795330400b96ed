"""Forum bodies: signatures are cut, link-only bodies are a named drop."""

import json

from pairmill.extractors.text.reddit import extract_reddit_comment, extract_reddit_submission
from pairmill.extractors.text.social import is_link_only, strip_signature
from pairmill.extractors.text.stackexchange import extract_stackexchange_post

from .test_stackexchange import _attrs, answer

LONG = "I tried the recipe twice with different flour and the crust came out much better " \
       "the second time, mostly because the oven was hotter and the dough rested longer."


def test_signatures_are_cut_and_bodies_kept():
    assert strip_signature(LONG + "\n--\nJohn Smith\nACME Corp") == LONG
    assert strip_signature(LONG + "\n\nSent from my iPhone") == LONG
    assert strip_signature(LONG + " -- not a delimiter in the middle") == LONG + \
        " -- not a delimiter in the middle"


def test_link_only_bodies():
    assert is_link_only("https://example.com/a/very/long/path")
    assert is_link_only("see [this](https://example.com) and www.example.org")
    assert not is_link_only("Read https://example.com for the full story of the bakery fire.")
    assert not is_link_only(LONG)


def test_reddit_and_stackexchange_drop_link_only_bodies_by_name():
    post = {"id": "abc", "title": "Where can I read more about this?", "author": "someone",
            "selftext": "https://example.com/article-about-it", "score": 5,
            "subreddit": "AskWomen", "created_utc": 1}
    out = extract_reddit_submission(json.dumps(post), "x:1")
    assert not out.pairs and out.drops == {"link_only": 1}
    comment = {"id": "c1", "link_id": "t3_abc", "parent_id": "t3_abc", "author": "a",
               "body": "[here](https://example.com/x)", "score": 3}
    assert extract_reddit_comment(json.dumps(comment), "x:2").drops == {"link_only": 1}
    signed = dict(post, selftext=LONG + "\n\nSent from my Android phone")
    [pair] = extract_reddit_submission(json.dumps(signed), "x:3").pairs
    assert pair["document"] == LONG
    out = extract_stackexchange_post(_attrs(answer(2, 1, text="https://example.com/docs")),
                                     "Posts.xml:2")
    assert out.drops == {"link_only": 1} and not out.parts
