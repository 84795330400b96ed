"""Language identification and personal-data redaction against the extractor alone, on the real
samples (../shared/realdata): how much each new per-pair step adds to mining.

  python benchmarks/bench_languages.py

For WARC pages and StackExchange posts: the extractor's pages (posts) per second, then
py3langid's identification and the personal-data rules over the pairs it made, as pairs per
second and as a share of the extractor's time. Results go to benchmarks/results/languages.json.
"""

from __future__ import annotations

import gzip
import json
import platform
import time
from pathlib import Path

from pairmill.extractors.text.language import identify_language
from pairmill.extractors.text.personal_data import redact_personal_data
from pairmill.extractors.text.stackexchange import extract_stackexchange_post, iter_posts
from pairmill.extractors.text.web import extract_web_page, iter_warc_responses

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
RESULTS = Path(__file__).parent / "results" / "languages.json"


def _records(name: str) -> list[tuple[str, dict]]:
    if name == "web":
        with gzip.open(REALDATA / "warc" / "warcfile.warc.gz") as f:
            return [(o, r) for o, r in iter_warc_responses(f) if isinstance(r, dict)]
    with open(REALDATA / "stackexchange" / "Posts.xml", "rb") as f:
        return [(o, r) for o, r in iter_posts(f) if isinstance(r, dict)]


def measure(name: str, repeat: int) -> dict:
    records = _records(name)
    extract = extract_web_page if name == "web" else extract_stackexchange_post
    start = time.perf_counter()
    pairs = []
    for _ in range(repeat):
        pairs = [p for o, r in records for p in extract(r, o).pairs]
    extract_s = (time.perf_counter() - start) / repeat
    texts = [p["query"] + "\n" + p["document"] for p in pairs]
    identify_language("warm up")
    start = time.perf_counter()
    for _ in range(repeat):
        for text in texts:
            identify_language(text)
    language_s = (time.perf_counter() - start) / repeat
    start = time.perf_counter()
    for _ in range(repeat):
        for p in pairs:
            redact_personal_data(p["query"])
            redact_personal_data(p["document"])
    pii_s = (time.perf_counter() - start) / repeat
    return {"records": len(records), "pairs": len(pairs),
            "extractor_records_s": round(len(records) / extract_s, 1),
            "language_pairs_s": round(len(pairs) / language_s, 1) if pairs else None,
            "pii_pairs_s": round(len(pairs) / pii_s, 1) if pairs else None,
            "language_share_of_extractor_time": round(language_s / extract_s, 3),
            "pii_share_of_extractor_time": round(pii_s / extract_s, 3)}


def main() -> None:
    results = {"machine": f"{platform.machine()}, Python {platform.python_version()}"}
    for name, repeat in (("web", 3), ("stackexchange", 5)):
        results[name] = r = measure(name, repeat)
        print(f"{name}: extractor {r['extractor_records_s']} records/s ({r['pairs']} pairs); "
              f"language id {r['language_pairs_s']} pairs/s = "
              f"{r['language_share_of_extractor_time']}x the extractor's time; personal data "
              f"{r['pii_pairs_s']} pairs/s = {r['pii_share_of_extractor_time']}x")
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
