"""The cost table users plan with: records/s per core for every `pairmill mine` source, next to
the fastest known tool for its format, and the core-hours of one full public dump.

  python benchmarks/bench_throughput.py [--sources reddit,...] [--scale 1.0] [--repeats 3]
                                        [--pubmed-sample medline16n0902.xml.gz]

Inputs are built from the real samples in ../shared/realdata (repeated with fresh ids until a run
takes seconds; a source whose sample is absent is skipped), PubMed from a real file given with
--pubmed-sample (copies with moved PMIDs) or else from generated articles shaped like the 2025
baseline (a tenth of a real record's size: per-record costs outside the extractor weigh more),
code from CPython's standard library. Every figure is CPU seconds on one
core (the machine may be shared: CPU time moves less than wall time), best of --repeats runs, at
two input sizes; the *marginal* time (large minus small) is what one more record costs, without
start-up. Per source:

  anchors    the fastest known tool on the same input: a plain decompress-and-`json.loads` loop for
             the JSON dumps, an lxml `iterparse` loop for the XML dumps, WikiExtractor
             (`--processes 1`, in a subprocess, marginal) for Wikipedia, trafilatura and
             resiliparse main-text extraction for web pages, a tree-sitter parse for code
             (WikiExtractor, far the slowest, is run once instead of --repeats times);
  extractor  pairmill's reader and pure extractor over the same files, then the source's pure join
             functions over the join parts grouped in a dict: the plain loop, no Beam (a join
             is the extractor's work; only the shuffle that feeds it is Beam's), timed with
             the cyclic collector off (it held every part until the join);
  rules      the rules every mined pair passes (language, personal data) over those pairs, the
             joined ones included;
  command    `pairmill mine SOURCE` end to end in a subprocess on the local runner (FnApiRunner:
             joins, exact dedup, Parquet, manifest); `overhead` = its marginal CPU time over the
             extractor's (goal: at most 1.5), `startup_s` = the small run's CPU time minus its
             marginal share (interpreter, imports, pipeline construction, the language model).

Core-hours for one full dump = DUMPS[source] records / the command's marginal records/s / 3600.
The dump sizes are approximate public figures (where each comes from is beside it); they only
scale the measured rates. Results go to benchmarks/results/throughput.json.
"""

from __future__ import annotations

import argparse
import bz2
import gc
import gzip
import io
import json
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).resolve().parents[1])]

RESULTS = Path(__file__).parent / "results" / "throughput.json"
REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"

# records in one full public dump (approximate) and where the figure comes from
DUMPS = {
    "web": (2.5e9, "pages", "one Common Crawl monthly crawl: 2.3-3.1 billion pages each since 2020 "
            "(the crawl announcements on commoncrawl.org/blog)"),
    "wikipedia": (23e6, "pages", "enwiki pages-articles: about 6.8 M articles (Wikipedia:Size of "
                  "Wikipedia, 2024) plus about 11 M redirects and the template, category and file "
                  "pages the dump also holds"),
    "reddit": (160e6, "submissions and comments", "one Pushshift month of 2019: about 20 M "
               "submissions and 140 M comments (the Pushshift paper, arXiv:2001.08435, counts "
               "651 M submissions and 5.6 B comments up to 2019)"),
    "stackexchange": (80e6, "posts", "all Stack Exchange sites: Stack Overflow's Posts.xml holds "
                      "about 60 M posts (June 2023 dump), the other ~180 sites about 20 M more"),
    "arxiv": (2.9e6, "records", "the arXiv metadata snapshot on Kaggle (about 2.9 M records in "
              "2025; the open-index/open-arxiv mirror lists 2.99 M rows)"),
    "s2orc": (12e6, "paper parses", "S2ORC 2020-07-05 release: full text for 12 M papers "
              "(allenai/s2orc README; 8.1 M in the ACL 2020 paper)"),
    "pubmed": (38e6, "citations", "the PubMed 2025 baseline: 1,274 files of up to 30,000 citations "
               "each (pubmed25n0001-1274)"),
    "code": (100e6, "files", "The Stack v2-smol (bigcode/the-stack-v2-train-smol-ids, 17 "
             "languages): order of magnitude only, not checked here"),
}


def _cpu() -> float:
    return time.process_time()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _write_zst(path: Path, lines: list[bytes]) -> int:
    import zstandard

    data = b"".join(lines)
    path.write_bytes(zstandard.ZstdCompressor(level=3).compress(data))
    return len(data)


def _json_loop(paths: list[Path]) -> None:
    """The anchor of the JSON dumps: decompress, split lines, json.loads each."""
    import zstandard

    for path in paths:
        raw = path.open("rb")
        if path.suffix == ".zst":
            raw = io.BufferedReader(zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(raw))
        with raw:
            for line in raw:
                if line.strip():
                    json.loads(line)


def _iterparse(path: Path, tag: str) -> None:
    """The anchor of the XML dumps: lxml iterparse, each element cleared once read."""
    from lxml import etree

    opener = gzip.open if path.suffix == ".gz" else bz2.open if path.suffix == ".bz2" else open
    with opener(path, "rb") as f:
        for _, element in etree.iterparse(f, tag=tag):
            element.clear()


# --- workloads: (tmp, copies) -> {"args", "records", "anchors": {name: fn}} --------------------
# Copies of a sample differ in a text of every pair they make (`_copy_text`): exact copies were
# exact duplicates, so the writer saw a few hundred pairs of tens of thousands, where a real
# dump writes nearly every pair it makes.

def _copy_text(text, k: int):
    """`text` as copy `k` of a sample holds it: copy 0 unchanged."""
    return f"{text} ({k})" if k and isinstance(text, str) and text else text


def reddit(tmp: Path, copies: int) -> dict | None:
    import zstandard

    subs_path = REALDATA / "reddit" / "AskWomen_submissions.zst"
    comments_path = REALDATA / "reddit" / "RC_2005-12.zst"
    if not subs_path.exists():
        return None

    def lines(path):
        reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(path.open("rb"))
        return [json.loads(line) for line in io.BufferedReader(reader) if line.strip()]

    subs, comments = lines(subs_path), lines(comments_path)
    out_subs = [json.dumps(dict(s, id=f"{s['id']}c{k}", title=_copy_text(s.get("title"), k))).encode()
                + b"\n" for k in range(copies) for s in subs]
    out_comments = []
    for k in range(copies * 8):  # the comment month is small: more copies of it
        for c in comments:
            parent = c["parent_id"] + (f"c{k}" if c["parent_id"] == c["link_id"] else "")
            out_comments.append(json.dumps(dict(c, id=f"{c['id']}c{k}", link_id=f"{c['link_id']}c{k}",
                                                parent_id=parent, body=_copy_text(c.get("body"), k))).encode()
                                + b"\n")
    rs, rc = tmp / "RS.zst", tmp / "RC.zst"
    _write_zst(rs, out_subs)
    _write_zst(rc, out_comments)
    return {"args": ["--submissions", str(rs), "--comments", str(rc)],
            "records": len(out_subs) + len(out_comments),
            "anchors": {"zstd + json.loads": lambda: _json_loop([rs, rc])}}


def arxiv(tmp: Path, copies: int) -> dict | None:
    sample = REALDATA / "arxiv" / "arxiv-metadata-oai-snapshot.sample.jsonl"
    if not sample.exists():
        return None
    base = [json.loads(line) for line in sample.open(encoding="utf-8")]
    records = [dict(r, id=f"{r['id']}c{k}", title=_copy_text(r.get("title"), k))
               for k in range(copies * 10) for r in base]
    path = tmp / "arxiv.jsonl"
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in records))
    return {"args": ["--input", str(path)], "records": len(records),
            "anchors": {"json.loads": lambda: _json_loop([path])}}


def s2orc(tmp: Path, copies: int) -> dict | None:
    papers = [json.loads(p.read_text()) for p in sorted((REALDATA / "s2orc").glob("*.json"))]
    if not papers:
        return None
    records = [dict(p, paper_id=f"{p['paper_id']}c{k}", bib_entries={  # the cited titles differ
        ref: dict(entry, title=_copy_text(entry.get("title"), k)) if isinstance(entry, dict) else entry
        for ref, entry in (p.get("bib_entries") or {}).items()}) for k in range(copies * 20) for p in papers]
    path = tmp / "papers.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in records), 1))

    def anchor():
        with gzip.open(path) as f:
            for line in f:
                json.loads(line)

    return {"args": ["--input", str(path)], "records": len(records),
            "anchors": {"gunzip + json.loads": anchor}}


def stackexchange(tmp: Path, copies: int) -> dict | None:
    import bench_text_sources

    work = bench_text_sources.stackexchange(tmp, copies / 10, mark_copy=_copy_text)
    if work is None:
        return None
    path = Path(work["args"][1])
    return {"args": work["args"], "records": work["records"],
            "anchors": {"lxml iterparse": lambda: _iterparse(path, "row")}}


def wikipedia(tmp: Path, copies: int) -> dict | None:
    import bench_text_sources

    # four times the pages a --scale gives elsewhere: at 240 more pages the marginal time was
    # about as long as the start-up's noise, and mine / extractor moved from 0.7 to 1.7
    work = bench_text_sources.wikipedia(tmp, copies / 2.5)
    if work is None:
        return None
    plain = Path(work["args"][1])
    path = plain.with_suffix(".xml.bz2")
    path.write_bytes(bz2.compress(plain.read_bytes(), 9))
    plain.unlink()
    anchors = {"bunzip2 + lxml iterparse": lambda: _iterparse(path, "{*}page")}
    try:
        import wikiextractor  # noqa: F401  (a benchmark tool, not a dependency)
        anchors["WikiExtractor --processes 1"] = ("subprocess", _wikiextractor_argv(path, tmp))
    except ImportError:
        pass
    # WikiExtractor is some 25x slower than the rest here: one run, not --repeats
    return {"args": ["--input", str(path)], "records": work["records"], "anchors": anchors,
            "anchors_once": ("WikiExtractor --processes 1",)}


def _wikiextractor_argv(dump: Path, tmp: Path) -> list[str]:
    from bench_wikipedia import WIKIEXTRACTOR

    return [sys.executable, "-c", WIKIEXTRACTOR, "--processes", "1", "-q", "-o",
            str(tmp / "wikiextractor-out"), str(dump)]


def web(tmp: Path, copies: int) -> dict | None:
    import bench_text_sources

    work = bench_text_sources.crawl(tmp, copies / 4)
    if work is None:
        return None
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    path = Path(work["args"][1])
    with gzip.open(path) as f:
        pages = [(r.headers.get("WARC-Target-URI"), r.reader.read())
                 for r in ArchiveIterator(f, record_types=WarcRecordType.response, parse_http=True,
                                          auto_decode="all", quirks_mode=True)]

    def trafilatura_loop():
        import trafilatura

        for url, body in pages:
            trafilatura.bare_extraction(body, url=url, include_comments=False, include_tables=False)

    def resiliparse_loop():
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.encoding import bytes_to_str, detect_encoding
        from resiliparse.parse.html import HTMLTree

        for _, body in pages:
            tree = HTMLTree.parse(bytes_to_str(body, detect_encoding(body)))
            extract_plain_text(tree, main_content=True)

    return {"args": work["args"], "records": work["records"],
            "anchors": {"trafilatura": trafilatura_loop, "resiliparse main_content": resiliparse_loop}}


PUBMED_SAMPLE: Path | None = None  # --pubmed-sample: a real baseline or MEDLINE file


def pubmed(tmp: Path, copies: int) -> dict | None:
    if PUBMED_SAMPLE is not None:
        return _pubmed_from_sample(tmp, copies * 3)
    from tests.hostile import pubmed_article, pubmed_file

    n = copies * 2000
    path = tmp / "pubmed25n0001.xml.gz"
    path.write_bytes(gzip.compress(pubmed_file([pubmed_article(pmid) for pmid in range(1, n + 1)]), 1))
    return {"args": ["--input", str(path)], "records": n,
            "anchors": {"gunzip + lxml iterparse": lambda: _iterparse(path, "PubmedArticle")}}


def _pubmed_from_sample(tmp: Path, copies: int) -> dict:
    """`copies` files, each the real sample with every PMID moved by a per-copy offset (fresh
    citations, their references moved alike, titles marked with the copy), named as consecutive
    files of one release."""

    text = gzip.decompress(PUBMED_SAMPLE.read_bytes()).decode("utf-8")
    pmid = re.compile(r'(<PMID Version="\d+">|<ArticleId IdType="pubmed">)(\d+)(<)')
    tag = "PubmedArticle" if "<PubmedArticle>" in text else "MedlineCitation"
    records = text.count(f"<{tag}>") + text.count(f"<{tag} ")
    stem = re.match(r"[a-z]+\d\dn", PUBMED_SAMPLE.name)
    stem = stem.group(0) if stem else "pubmed25n"
    title = re.compile(r"(<ArticleTitle>.*?)(</ArticleTitle>)", re.S)
    paths = []
    for k in range(copies):
        offset = k * 100_000_000
        moved = pmid.sub(lambda m, offset=offset: f"{m.group(1)}{int(m.group(2)) + offset}{m.group(3)}",
                         text)
        moved = title.sub(lambda m, k=k: f"{_copy_text(m.group(1), k)}{m.group(2)}", moved)
        path = tmp / f"{stem}{k + 1:04d}.xml.gz"
        path.write_bytes(gzip.compress(moved.encode("utf-8"), 1))
        paths.append(path)

    def anchor():
        for path in paths:
            _iterparse(path, tag)

    return {"args": ["--input", str(tmp / f"{stem}*.xml.gz")], "records": records * copies,
            "input": f"{PUBMED_SAMPLE.name} ({records} real citations) x {copies}",
            "anchors": {"gunzip + lxml iterparse": anchor}}


def code(tmp: Path, copies: int) -> dict | None:
    import sysconfig

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in stdlib.glob("*.py"))[:120]
    root = tmp / "tree"
    for k in range(copies):
        for path in files:
            target = root / f"copy{k}" / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            source = path.read_bytes()  # copy k's functions are renamed: its pairs differ
            target.write_bytes(re.sub(rb"\bdef (\w+)", rb"def \1_c%d" % k, source) if k else source)
    sources = [p.read_bytes() for p in sorted(root.rglob("*.py"))]

    def tree_sitter_loop():
        from pairmill.extractors.code.languages import parser_for

        parser, _ = parser_for("python")
        for data in sources:
            parser.parse(data)

    return {"args": ["--input", str(root), "--programming-languages", "python"],
            "records": len(sources), "anchors": {"tree-sitter parse": tree_sitter_loop}}


WORKLOADS = {"reddit": reddit, "stackexchange": stackexchange, "arxiv": arxiv, "s2orc": s2orc,
             "wikipedia": wikipedia, "web": web, "pubmed": pubmed, "code": code}


# --- the three measured things -----------------------------------------------------------------

def extract_only(source: str, args: list[str]) -> list[dict]:
    """pairmill's readers and pure extractors over the inputs, no Beam, then the source's join
    functions over their parts held in a dict (what a plain script would do in memory): the pairs
    `mine` makes, without Beam's shuffle."""
    from pairmill.cli import build_parser
    from pairmill.commands import command
    from pairmill.extractors.inputs import open_input
    from pairmill.extractors.registry import source as source_spec
    from pairmill.extractors.result import Skipped, Unreadable
    from pairmill.pipelines.mine import resolve_inputs

    config = command("mine").config_from_args(build_parser().parse_args(
        ["mine", source, *args, "--output", "unused"]), [])
    spec = source_spec(config.source)
    options = spec.prepare(config.options, config.inputs)
    pairs: list[dict] = []
    parts: list[tuple[str, str, dict]] = []

    def take(result) -> None:
        pairs.extend(result.pairs)
        parts.extend(result.parts)

    for kind_name, unit in resolve_inputs(spec, config.inputs):
        kind = spec.kind(kind_name)
        extract = kind.extract(options)
        if kind.records is None:  # a tree: units, then records
            for sub in kind.units(unit, options):
                for locator, record, _ in kind.read(sub, options):
                    if not isinstance(record, (Skipped, Unreadable)):
                        take(extract(record, locator))
            continue
        path, _label = unit
        with open_input(path, kind.archive_member) as stream:
            for locator, record in kind.records(stream):
                if not isinstance(record, (Skipped, Unreadable)):
                    take(extract(record, f"{path}:{locator}"))
    return pairs + join_in_memory(tuple(spec.joins(options)), parts)


def join_in_memory(stages: tuple, parts: list[tuple[str, str, dict]]) -> list[dict]:
    """The join stages over parts grouped in a dict, reducers applied as parts arrive, parts a
    later stage reads carried on: `pipelines/mine.py`'s `join_and_write` without Beam."""
    pairs: list[dict] = []
    for number, stage in enumerate(stages):
        later = {side for after in stages[number + 1:] for side in after.sides}
        groups: dict[str, dict[str, list[dict]]] = {}
        carried = []
        for side, key, value in parts:
            if side in stage.sides:
                values = groups.setdefault(key, {s: [] for s in stage.sides})[side]
                better = stage.reducers.get(side)
                if better is not None and values:
                    values[0] = better(values[0], value)
                else:
                    values.append(value)
            if side in later:
                carried.append((side, key, value))
        for key, grouped in groups.items():
            result = stage.join(key, grouped)
            pairs.extend(result.pairs)
            carried.extend(result.parts)
        parts = carried
    return pairs


def rules_over(pairs: list[dict], language_of: str) -> None:
    from pairmill.extractors.rules import apply_rules, mined_pair_rules
    from pairmill.extractors.settings import RuleSettings
    from pairmill.schemas.counts import Counts

    rules, counts = mined_pair_rules(RuleSettings(), language_of), Counts()
    for pair in pairs:
        apply_rules(pair, rules, counts)


def mine_cpu(source: str, args: list[str], out: Path) -> float:
    """CPU seconds of `pairmill mine SOURCE` in a fresh process (start-up included)."""
    before = _children_cpu()
    subprocess.run([sys.executable, "-m", "pairmill", "mine", source, *args, "--output", str(out),
                    "--overwrite"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return _children_cpu() - before


def _cpu_of(fn) -> float:
    if isinstance(fn, tuple):  # ("subprocess", argv)
        before = _children_cpu()
        subprocess.run(fn[1], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return _children_cpu() - before
    started = _cpu()
    fn()
    return _cpu() - started


def _hours(hours: float) -> float:
    return round(hours) if hours >= 10 else round(hours, 1)


def measure(source: str, scale: float, repeats: int) -> dict | None:
    from pairmill.extractors.registry import source as source_spec

    small_copies, large_copies = max(1, round(2 * scale)), max(2, round(8 * scale))
    with tempfile.TemporaryDirectory() as tmp_small, tempfile.TemporaryDirectory() as tmp_large:
        small = WORKLOADS[source](Path(tmp_small), small_copies)
        if small is None:
            return None
        large = WORKLOADS[source](Path(tmp_large), large_copies)
        best: dict[str, dict[str, float]] = {"small": {}, "large": {}}
        pairs_large: list[dict] = []
        for repeat in range(repeats):  # alternating, so a change of load hits every figure alike
            for size, work, tmp in (("small", small, tmp_small), ("large", large, tmp_large)):
                times = {name: _cpu_of(fn) for name, fn in work["anchors"].items()
                         if repeat == 0 or name not in work.get("anchors_once", ())}
                # the loop holds every pair and part until its joins (Beam streams them): the
                # collector's passes over that growing heap are not extraction, so they are off
                gc.collect()
                gc.disable()
                try:
                    started = _cpu()
                    pairs = extract_only(source, work["args"])
                    times["extractor"] = _cpu() - started
                finally:
                    gc.enable()
                started = _cpu()
                rules_over(pairs, source_spec(source).language_of)
                times["rules"] = _cpu() - started
                times["command"] = mine_cpu(source, work["args"], Path(tmp, "out"))
                if size == "large":
                    pairs_large = pairs
                for name, seconds in times.items():
                    best[size][name] = min(best[size].get(name, float("inf")), seconds)
    added = large["records"] - small["records"]
    marginal = {name: max(best["large"][name] - best["small"][name], 1e-9) for name in best["large"]}
    rate = {name: round(added / seconds, 1) for name, seconds in marginal.items()}
    command_rate = added / marginal["command"]
    startup = best["small"]["command"] - marginal["command"] * small["records"] / added
    dump_records, unit, where = DUMPS[source]
    return {
        **({"input": large["input"]} if "input" in large else {}),
        "records": [small["records"], large["records"]],
        "pairs_from_extractor_large": len(pairs_large),
        "records_per_cpu_s": rate,
        "anchors": list(large["anchors"]),
        "overhead": round(marginal["command"] / marginal["extractor"], 2),
        # the command over the work a plain loop would also do: extract, then the rules
        "overhead_beyond_rules": round(
            marginal["command"] / (marginal["extractor"] + marginal["rules"]), 2),
        "rules_share_of_extractor": round(marginal["rules"] / marginal["extractor"], 2),
        "startup_cpu_s": round(startup, 1),
        "dump": {"records": dump_records, "unit": unit, "source": where,
                 "core_hours": _hours(dump_records / command_rate / 3600),
                 "core_hours_extractor_alone": _hours(dump_records / rate["extractor"] / 3600)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default=",".join(WORKLOADS))
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every input size")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pubmed-sample", type=Path, help="a real PubMed baseline or MEDLINE "
                        ".xml.gz to build the PubMed input from (default: generated articles, "
                        "far shorter than real ones)")
    args = parser.parse_args()
    global PUBMED_SAMPLE
    PUBMED_SAMPLE = args.pubmed_sample
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = f"{platform.machine()}, Python {platform.python_version()}, CPU seconds of one core"
    command = " ".join(["bench_throughput.py", *sys.argv[1:]])
    results.pop("command", None)  # each source says the run it comes from: runs may differ
    for source in args.sources.split(","):
        figures = measure(source, args.scale, args.repeats)
        if figures is None:
            print(f"{source}: skipped, its sample is not in {REALDATA}")
            continue
        results[source] = {"command": command, "date": time.strftime("%Y-%m-%d"), **figures}
        rate = figures["records_per_cpu_s"]
        print(f"{source}: {figures['records'][1]:,} records (marginal over {figures['records'][0]:,})")
        for name in (*figures["anchors"], "extractor", "rules", "command"):
            print(f"  {name:<32}{rate[name]:>12,.1f} records/s per core")
        print(f"  overhead (command / extractor)  {figures['overhead']:>12}   (goal <= 1.5)")
        print(f"  command / (extractor + rules)   {figures['overhead_beyond_rules']:>12}")
        print(f"  start-up                        {figures['startup_cpu_s']:>12} CPU s")
        dump = figures["dump"]
        print(f"  one dump: {dump['records']:,.0f} {dump['unit']} -> {dump['core_hours']:,} core-hours "
              f"({dump['core_hours_extractor_alone']:,} for the extractor alone)")
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
