"""What each pair filter removes from the real samples (../shared/realdata), with examples.

  python benchmarks/bench_removed.py [--no-consistency] [--warc-dir DIR] [--extractor NAME]

For the WARC sample: the web quality rules, the language filter (`--languages en`) and the
personal-data rules over the pairs the extractor makes with the quality rules off; for the
StackExchange sample: `pairmill filter` (consistency) with its defaults. Each filter's count and
up to five removed examples, shortened, go to benchmarks/results/removed.json so a reader can
judge the rules; the script prints them as Markdown for the README.

The publishing rules of `mine web` (URL lists, adult content, spam, menus, titles) run with their
defaults on every HTTP 200 HTML page of the shared Common Crawl slice and of each WARC file under
`--warc-dir` (real archives fetched outside the repository; none by default): pages each rule
removes per source (the first rule that fires, as in a run), their share, and up to five examples.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
RESULTS = Path(__file__).parent / "results" / "removed.json"
EXAMPLES = 5


def _short(text: str, n: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1] + "…"


def _web_pairs() -> list[dict]:
    """Every title/body pair of the WARC sample, the quality rules switched off."""
    from unittest import mock

    from pairmill.extractors.text import web

    pairs = []
    for name in ("warcfile.warc.gz", "example-iana.org-chunked.warc"):
        path = REALDATA / "warc" / name
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rb") as f:
            for origin, response in web.iter_warc_responses(f):
                if isinstance(response, dict):
                    with mock.patch.object(web, "quality_issue", return_value=None):
                        pairs += [p for p in web.extract_web_page(response, origin).pairs
                                  if p["task"] == "web_title_body"]
    return pairs


def web_filters() -> dict:
    from pairmill.extractors.text.language import identify_language
    from pairmill.extractors.text.personal_data import redact_personal_data
    from pairmill.extractors.text.quality import QualitySettings, quality_issue

    pairs = _web_pairs()
    removed: dict[str, list[str]] = defaultdict(list)
    for pair in pairs:
        reason = quality_issue(pair["query"], pair["document"], QualitySettings())
        if reason:
            removed[reason].append(f"{_short(pair['query'], 50)} | {_short(pair['document'])}")
        code, _ = identify_language(f"{pair['query']}\n{pair['document']}")
        if code != "en":
            removed["language (--languages en)"].append(f"{code}: {_short(pair['query'], 70)}")
        redacted: Counter = Counter()
        for field in ("query", "document"):
            text, counts = redact_personal_data(pair[field])
            redacted += counts
            for kind in counts:
                at = text.find(f"<{kind.upper()}>") if f"<{kind.upper()}>" in text else 0
                removed[f"pii:{kind} (redacted)"].append(_short(text[max(0, at - 40):at + 50]))
    return {"pairs": len(pairs), "filters": {reason: {"removed": len(examples),
                                                      "examples": examples[:EXAMPLES]}
                                             for reason, examples in sorted(removed.items())}}


PUBLISHING_RULES = ("url_blocklisted", "url_banned_word", "adult_content", "gambling_content",
                    "spam_contact",
                    "keyword_stuffed_title", "mostly_boilerplate", "title_script_mismatch",
                    "title_body_unrelated")


def _warc_sources(warc_dir: Path | None) -> dict[str, list[Path]]:
    sources = {"shared CC slice": [REALDATA / "warc" / "warcfile.warc.gz",
                                   REALDATA / "warc" / "example-iana.org-chunked.warc"]}
    for path in sorted(warc_dir.rglob("*.warc*") if warc_dir else ()):
        sources[path.name.split(".warc")[0]] = [path]
    return sources


def _html_responses(paths: list[Path]):
    from pairmill.extractors.text import web

    for path in paths:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as f, contextlib.suppress(EOFError, OSError):  # a cut file
            for origin, response in web.iter_warc_responses(f):
                if isinstance(response, dict) and response["status"] == 200 and \
                        "html" in response["content_type"]:
                    yield f"{path.name}:{origin}", response


def _as_read(response: dict, origin: str, options) -> tuple[str, str]:
    """(title, text) of a removed page as the rules saw it, menus still in, for the examples."""
    from dataclasses import replace
    from unittest import mock

    from pairmill.extractors.text import web

    every_rule_off = replace(options, url_filter="off", max_bad_words=0, max_repeated_numbers=0,
                             max_title_parts=0, max_boilerplate_share=1.0, min_body_words=1,
                             min_title_script_share=0.0, min_title_overlap=0)
    with mock.patch.object(web, "quality_issue", return_value=None), \
            mock.patch.object(web, "strip_navigation", side_effect=lambda text, links=(): (text, 0)):
        pairs = web.extract_web_page(response, origin, every_rule_off).pairs
    return (pairs[0]["query"], pairs[0]["document"]) if pairs else ("", "")


def publishing_rules(warc_dir: Path | None = None, extractor: str | None = None) -> dict:
    """Pages each publishing rule of `mine web` removes from real pages, per source."""
    from pairmill.extractors.text.web import WebOptions, extract_web_page

    options = WebOptions(**({"extractor": extractor} if extractor else {}))
    per_source, examples = {}, defaultdict(list)
    for source, paths in _warc_sources(warc_dir).items():
        pages, removed, kept = 0, Counter(), 0
        for origin, response in _html_responses(paths):
            pages += 1
            out = extract_web_page(response, origin, options)
            kept += any(p["task"] == "web_title_body" for p in out.pairs)
            reason = next((r for r in out.drops if r in PUBLISHING_RULES), None)
            if reason is None:
                continue
            removed[reason] += 1
            if len(examples[reason]) < EXAMPLES:
                title, text = _as_read(response, origin, options)
                examples[reason].append(f"{source}: {_short(response['url'], 60)} | "
                                        f"{_short(title, 50)} | {_short(text)}")
        per_source[source] = {"pages": pages, "title_body_pairs": kept,
                              "removed": {r: removed[r] for r in PUBLISHING_RULES if removed[r]},
                              "share": {r: round(removed[r] / pages, 4)
                                        for r in PUBLISHING_RULES if removed[r]}}
    totals = Counter()
    for found in per_source.values():
        totals.update(found["removed"])
    return {"extractor": getattr(options, "extractor", "trafilatura"),
            "sources": per_source,
            "rules": {r: {"removed": totals[r], "examples": examples[r]} for r in PUBLISHING_RULES}}


def _print_publishing(found: dict) -> None:
    sources = found["sources"]
    print(f"\nweb publishing rules, {found['extractor']} extractor: pages removed (share) per "
          "source\n")
    print("| source | pages | pairs kept | " + " | ".join(f"`{r}`" for r in PUBLISHING_RULES) +
          " |\n|---|---|---|" + "---|" * len(PUBLISHING_RULES))
    for source, entry in sources.items():
        cells = [f"{entry['removed'][r]} ({entry['share'][r]:.0%})" if r in entry["removed"]
                 else "0" for r in PUBLISHING_RULES]
        print(f"| {source} | {entry['pages']} | {entry['title_body_pairs']} | " +
              " | ".join(cells) + " |")
    print("\n| rule | removed | examples |\n|---|---|---|")
    for rule, entry in found["rules"].items():
        shown = "<br>".join(e.replace("|", "/") for e in entry["examples"])
        print(f"| `{rule}` | {entry['removed']} | {shown} |")


def consistency() -> dict:
    import pyarrow.parquet as pq

    from pairmill.cli import main as pairmill

    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(io.StringIO()), \
            contextlib.redirect_stdout(io.StringIO()):
        assert pairmill(["mine", "stackexchange", "--input",
                         str(REALDATA / "stackexchange" / "Posts.xml"),
                         "--output", f"{tmp}/se"]) == 0
        assert pairmill(["filter", "--input", f"{tmp}/se", "--output", f"{tmp}/kept",
                         "--device", "cpu"]) == 0
        read = [r for f in Path(tmp, "se").glob("data/*/*.parquet")
                for r in pq.read_table(f).to_pylist()]
        kept = {r["id"] for f in Path(tmp, "kept").glob("data/*/*.parquet")
                for r in pq.read_table(f, columns=["id"]).to_pylist()}
    removed = [r for r in read if r["id"] not in kept]
    return {"pairs": len(read), "filters": {"inconsistent": {
        "removed": len(removed),
        "examples": [f"{_short(r['query'], 60)} | {_short(r['document'])}"
                     for r in removed[:EXAMPLES]]}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-consistency", action="store_true",
                        help="skip `pairmill filter` (it embeds every pair on the CPU)")
    parser.add_argument("--warc-dir", type=Path, default=None,
                        help="more real WARC files (each file a source), besides the shared slice")
    parser.add_argument("--extractor", default=None,
                        help="the main-text extractor of `mine web` (default: its default)")
    args = parser.parse_args()
    if not REALDATA.is_dir():
        raise SystemExit(f"{REALDATA} not found: this benchmark reads the real samples")
    results = {"web (warc sample)": web_filters(),
               "web publishing rules (real pages)": publishing_rules(args.warc_dir,
                                                                     args.extractor)}
    if not args.no_consistency:
        results["stackexchange (coffee sample)"] = consistency()
    elif RESULTS.exists():  # keep the last measured figures rather than drop them
        previous = json.loads(RESULTS.read_text()).get("stackexchange (coffee sample)")
        if previous:
            results["stackexchange (coffee sample)"] = previous
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    for source, found in results.items():
        if "rules" in found:
            _print_publishing(found)
            continue
        print(f"\n{source}: {found['pairs']} pairs\n")
        print("| filter | removed | examples |\n|---|---|---|")
        for reason, entry in found["filters"].items():
            examples = "<br>".join(e.replace("|", "/") for e in entry["examples"])
            print(f"| `{reason}` | {entry['removed']} | {examples} |")
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
