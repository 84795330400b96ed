"""What each pair filter removes from the real samples (../shared/realdata), with examples.

  python benchmarks/bench_removed.py [--no-consistency]

For the WARC sample: the web quality rules, the language filter (`--languages en`) and the
personal-data rules over the pairs the extractor makes with the quality rules off; for the
StackExchange sample: `pairmill filter` (consistency) with its defaults. Each filter's count and
up to five removed examples, shortened, go to benchmarks/results/removed.json so a reader can
judge the rules; the script prints them as Markdown for the README.
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
    args = parser.parse_args()
    if not REALDATA.is_dir():
        raise SystemExit(f"{REALDATA} not found: this benchmark reads the real samples")
    results = {"web (warc sample)": web_filters()}
    if not args.no_consistency:
        results["stackexchange (coffee sample)"] = consistency()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    for source, found in results.items():
        print(f"\n{source}: {found['pairs']} pairs\n")
        print("| filter | removed | examples |\n|---|---|---|")
        for reason, entry in found["filters"].items():
            examples = "<br>".join(e.replace("|", "/") for e in entry["examples"])
            print(f"| `{reason}` | {entry['removed']} | {examples} |")
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
