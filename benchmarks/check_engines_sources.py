"""Every `mine` source on the real samples, on the local runner, on Flink and on Spark: are the
Parquet parts (and dead letters) byte-identical? The suite checks reddit and dedup on both
clusters at every run; this checks the other sources, which take too long for the suite.

    python benchmarks/check_engines_sources.py [SOURCE...]

Needs `make engines` and ../shared/realdata; starts and stops the clusters itself. Results go to
benchmarks/results/engines_sources.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bench_engines import _digest, _engines  # same folder: run as a script

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "realdata"
POOL = ["--environment_type=EXTERNAL", "--environment_config=localhost:50000"]
ENGINES = {
    "local": [],
    "flink": ["--runner=FlinkRunner", "--flink_master=localhost:8081", *POOL],
    "spark": ["--runner=SparkRunner", "--spark_master_url=spark://localhost:7077", *POOL],
}
SOURCES = {
    "code": ["--input", str(ROOT / "schemas"), str(ROOT / "dataset")],
    "web": ["--input", str(REAL / "warc" / "warcfile.warc.gz"),
            str(REAL / "warc" / "example-iana.org-chunked.warc")],
    "reddit": ["--submissions", str(REAL / "reddit" / "AskWomen_submissions.zst"),
               "--comments", str(REAL / "reddit" / "RC_2005-12.zst")],
    "stackexchange": ["--input", str(REAL / "stackexchange" / "Posts.xml")],
    "arxiv": ["--input", str(REAL / "arxiv" / "arxiv-metadata-oai-snapshot.sample.jsonl")],
    "s2orc": ["--input", str(REAL / "s2orc" / "*.json")],
    "wikipedia": ["--input", str(REAL / "wikipedia" / "enwiki-table-markup.xml.bz2")],
    "commits": ["--input", str(ROOT)],  # this repository's own history
}


def _generated(folder: Path) -> dict[str, list[str]]:
    """Sources with no real sample on this machine, on the fixtures the tests build (named
    `source:fixture` in the results): PubMed versions and deletions, paper metadata with
    citations, StackExchange duplicate links inside a site archive."""
    sys.path.insert(0, str(ROOT))
    from tests import hostile

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pubmed25n0001.xml").write_bytes(hostile.pubmed_file(
        [hostile.pubmed_article(100 + i) for i in range(40)]))
    (folder / "pubmed25n0002.xml").write_bytes(hostile.pubmed_file(
        [hostile.pubmed_article(100 + i, version=2) for i in range(0, 40, 4)], deleted=[101, 102]))
    papers = [hostile.s2orc_metadata_row(str(i), f"Espresso extraction study number {i}",
                                         hostile.paper_abstract(i), outbound=[str((i + 7) % 40)])
              for i in range(40)]
    (folder / "metadata.jsonl").write_bytes(hostile.jsonl(papers))
    links = [(100 + i, 4 * i + 1, 4 * i + 3, 3) for i in range(10)]
    hostile.site_7z(folder / "coffee.stackexchange.com.7z",
                    {"Posts.xml": hostile.posts_xml(24), "PostLinks.xml": hostile.post_links_xml(links)})
    return {"pubmed:fixture": ["--input", str(folder / "pubmed25n*.xml")],
            "s2orc:fixture": ["--metadata", str(folder / "metadata.jsonl")],
            "stackexchange:fixture": ["--input", str(folder / "coffee.stackexchange.com.7z")]}


def main() -> None:
    work = Path("/tmp/pairmill-check-engines")
    subprocess.run(["rm", "-rf", str(work)], check=True)
    results = ROOT / "benchmarks" / "results" / "engines_sources.json"
    only = set(sys.argv[1:])  # optional: the sources to check (the others' rows are kept)
    rows = [r for r in (json.loads(results.read_text()) if results.exists() and only else [])
            if r["source"] not in only]
    sources = {**SOURCES, **_generated(work / "fixtures")}
    _engines("flink-up")
    _engines("spark-up")
    try:
        for name, args in sources.items():
            if only and name not in only:
                continue
            source = name.split(":")[0]
            row = {"source": name}
            for engine, flags in ENGINES.items():
                out = work / name.replace(":", "-") / engine
                started = time.perf_counter()
                try:
                    done = subprocess.run([sys.executable, "-m", "pairmill", "mine", source,
                                           *args, "--output", str(out), *flags],
                                          capture_output=True, text=True, timeout=900)
                except subprocess.TimeoutExpired:
                    row[engine] = "failed: no result in 900 s"
                    continue
                finally:
                    row[f"{engine}_seconds"] = round(time.perf_counter() - started, 1)
                if done.returncode != 0:
                    row[engine] = f"failed: {done.stderr.strip().splitlines()[-1]}"
                    continue
                row[engine] = _digest(out)
                manifest = json.loads((out / "manifest.json").read_text())
                row[f"{engine}_pairs"] = manifest["counters"]["pairs_kept"]
            row["identical"] = row["local"] == row.get("flink") == row.get("spark")
            rows.append(row)
            print(f"{name:22s} pairs {row.get('local_pairs')}: identical={row['identical']} "
                  f"(local {row['local_seconds']} s, flink {row['flink_seconds']} s, spark "
                  f"{row['spark_seconds']} s)", flush=True)
    finally:
        _engines("down")
    results.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
