"""Web main text: token F1 against gold text and pages/s per core, trafilatura vs the fast path.

  python benchmarks/bench_web_extraction.py [--data /work/benchdata] [--sets scrapinghub,...]
                                            [--repeat 1]

Data (not shipped; fetch the public repositories and point `--data` or `$PAIRMILL_BENCHDATA`
at a folder holding):
  scrapinghub/  from github.com/scrapinghub/article-extraction-benchmark: `ground-truth.json`
                and `html/*.html.gz` (181 news and blog articles; gold = `articleBody`).
  readability/  from github.com/mozilla/readability: `test/test-pages/*/source.html` and
                `expected.html` (130 pages; gold = the text of `expected.html`).
  htmltotext/   from github.com/leogao2/htmltotext-benchmark: `benchmarkdata/<lang>/html/*.html`
                and `text/*.txt` (28 hand-cleaned pages in en, de, hr, zh: blogs, forums, news).
A set whose folder is absent is skipped.

Token F1, the same for every tool: text is lower-cased and cut into tokens (runs of letters and
digits; each CJK character, kana or hangul syllable is a token of its own); precision and recall
count the multiset of tokens in common (`Counter` intersection) against the extracted and the
gold tokens; a page's F1 is their harmonic mean (0 when nothing was extracted), and a set's F1 is
the mean over its pages (macro average, as the scrapinghub benchmark reports).

Speed is CPU time of one process (one core) for HTML text in, main text out, parsing included:
  trafilatura   `trafilatura.extract` with pairmill's settings (no comments, no tables);
  resiliparse   `extract_plain_text(main_content=True)` alone, for reference;
  fast          `maintext.main_text`, pairmill's default (title from the same parse);
and, to show the whole page's cost, `extract_web_page` with each `--extractor` (decoding, title,
anchors, boilerplate and quality rules included). Ratios are against trafilatura in the same run.
Results go to benchmarks/results/web_extraction.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "web_extraction.json"
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|[^\W_]+")

Page = tuple[str, str, str]  # (name, html, gold text)


def _html_text(markup: str) -> str:
    import lxml.html

    return "\n".join(lxml.html.fromstring(markup).itertext())


def scrapinghub(root: Path) -> list[Page]:
    gold = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    return [(name, gzip.decompress((root / "html" / f"{name}.html.gz").read_bytes())
             .decode("utf-8", "replace"), item["articleBody"]) for name, item in sorted(gold.items())]


def readability(root: Path) -> list[Page]:
    folders = sorted(p for p in (root / "test" / "test-pages").iterdir() if p.is_dir())
    return [(folder.name, (folder / "source.html").read_text("utf-8", "replace"),
             _html_text((folder / "expected.html").read_text("utf-8", "replace")))
            for folder in folders]


def htmltotext(root: Path) -> list[Page]:
    pages = []
    for html in sorted((root / "benchmarkdata").glob("*/html/*.html")):
        gold = html.parent.parent / "text" / f"{html.stem}.txt"
        if gold.exists():
            pages.append((f"{html.parent.parent.name}/{html.stem}",
                          html.read_text("utf-8", "replace"), gold.read_text("utf-8", "replace")))
    return pages


SETS: dict[str, Callable[[Path], list[Page]]] = {
    "scrapinghub": scrapinghub, "readability": readability, "htmltotext": htmltotext}


def token_f1(extracted: str, gold: str) -> tuple[float, float, float]:
    """(precision, recall, F1) of the token multisets, as the module docstring says."""
    got, want = Counter(_TOKEN.findall((extracted or "").lower())), Counter(_TOKEN.findall(gold.lower()))
    common = sum((got & want).values())
    if not common:
        return 0.0, 0.0, 0.0
    precision, recall = common / sum(got.values()), common / sum(want.values())
    return precision, recall, 2 * precision * recall / (precision + recall)


def _trafilatura(html: str) -> str:
    import trafilatura

    return trafilatura.extract(html, include_comments=False, include_tables=False) or ""


def _resiliparse(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    return extract_plain_text(HTMLTree.parse(html), main_content=True)


def _fast(html: str) -> str:
    from resiliparse.parse.html import HTMLTree

    from pairmill.extractors.text.maintext import main_text

    tree = HTMLTree.parse(html)
    return main_text(tree, tree.title or "")


TOOLS = {"trafilatura": _trafilatura, "resiliparse": _resiliparse, "fast": _fast}


def _page_extractor(extractor: str) -> Callable[[str], object]:
    from pairmill.extractors.text.web import WebOptions, extract_web_page

    options = WebOptions(extractor=extractor)

    def run(html: str) -> object:
        response = {"url": "https://bench.example/page", "status": 200,
                    "content_type": "text/html", "charset": "utf-8", "body": html.encode()}
        return extract_web_page(response, "bench:0", options)
    return run


def _timed(fn: Callable[[str], object], pages: list[Page], repeat: int) -> tuple[list, float]:
    outputs = [fn(html) for _, html, _ in pages]  # warm: imports, caches
    start = time.process_time()
    for _ in range(repeat):
        for _, html, _ in pages:
            fn(html)
    return outputs, len(pages) * repeat / (time.process_time() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path,
                        default=Path(os.environ.get("PAIRMILL_BENCHDATA", "/work/benchdata")))
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--repeat", type=int, default=1, help="timed passes over each set")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    results: dict = {"machine": platform.processor() or platform.machine(), "sets": {}}
    for name in args.sets.split(","):
        root = args.data / name
        if not root.is_dir():
            print(f"{name}: {root} is absent, skipped", file=sys.stderr)
            continue
        pages = SETS[name](root)
        row: dict = {"pages": len(pages)}
        for tool, fn in TOOLS.items():
            outputs, rate = _timed(fn, pages, args.repeat)
            scores = [token_f1(out, gold) for out, (_, _, gold) in zip(outputs, pages, strict=True)]
            row[tool] = {"f1": round(sum(s[2] for s in scores) / len(scores), 4),
                         "precision": round(sum(s[0] for s in scores) / len(scores), 4),
                         "recall": round(sum(s[1] for s in scores) / len(scores), 4),
                         "pages_per_s": round(rate, 1)}
        for extractor in ("trafilatura", "fast"):
            _, rate = _timed(_page_extractor(extractor), pages, args.repeat)
            row[f"extract_web_page[{extractor}]"] = {"pages_per_s": round(rate, 1)}
        anchor = row["trafilatura"]["pages_per_s"]
        row["fast_speed_ratio"] = round(row["fast"]["pages_per_s"] / anchor, 2)
        row["fast_f1_minus_trafilatura"] = round(row["fast"]["f1"] - row["trafilatura"]["f1"], 4)
        row["extract_web_page_speed_ratio"] = round(
            row["extract_web_page[fast]"]["pages_per_s"]
            / row["extract_web_page[trafilatura]"]["pages_per_s"], 2)
        results["sets"][name] = row
        print(name, json.dumps(row), flush=True)
    if not args.no_write and results["sets"]:
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
