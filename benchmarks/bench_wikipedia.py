"""Wikipedia: `pairmill mine wikipedia` and its extractor against WikiExtractor on the same dump.

  python benchmarks/bench_wikipedia.py DUMP.xml.bz2 [DUMP...] [--copies 3] [--repeat 1] [--before OLD.py]

DUMP is a pages-articles fragment, for example gensim's test data
(piskvorky/gensim: gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2,
206 pages) or a truncated dump cut at its last `</page>` and closed (ssvb/xztextfilter's
testfiles/*wiki-truncated-100k.xml.xz, in its history, recompressed as bz2); keep them outside the
repository (/work/benchdata/wikipedia/).

The anchor is WikiExtractor 3.0.6 (`pip install wikiextractor==3.0.6`: a benchmark tool, not a
dependency of pairmill) with `--processes 1`, run on the same interpreter; on Python 3.11+ its
module fails to compile two patterns (a `(?i)` flag mid-pattern), so the run moves that flag to
the whole pattern, which changes nothing it measures. Marginal time is start-up free: each tool
runs on the dump once and on the dump repeated COPIES times (titles made unique), and
(t_copies - t_1) / (copies - 1) is the time one more copy of the dump costs. Wall and CPU
seconds (the process and its children) are both kept; the machine may be shared, so the ratios
are what to read (CPU above all). `--before` times an older extractor module on the same pages (for example
`git show <commit>:extractors/text/wikipedia.py > /tmp/old.py`). Results go to
benchmarks/results/wikipedia.json, one entry per dump (a rerun replaces its dump's entry).
"""

from __future__ import annotations

import argparse
import bz2
import importlib.util
import json
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "wikipedia.json"
# WikiExtractor 3.0.6 on Python 3.11+: compile `(?i)` mid-pattern as a whole-pattern flag.
WIKIEXTRACTOR = """
import re, sys
_compile = re.compile
def compile(pattern, flags=0):
    try:
        return _compile(pattern, flags)
    except re.error as exc:
        if "global flags not at the start" not in str(exc):
            raise
        return _compile(pattern.replace("(?i)", ""), flags | re.IGNORECASE)
re.compile = compile
from wikiextractor.WikiExtractor import main
sys.argv = ["WikiExtractor", *sys.argv[1:]]
main()
"""


def repeat_dump(dump: Path, copies: int, out: Path) -> int:
    """The dump's pages `copies` times over, titles of the copies suffixed; returns pages."""
    data = bz2.decompress(dump.read_bytes())
    start, end = data.index(b"<page>"), data.rindex(b"</page>") + len(b"</page>")
    head, pages, tail = data[:start], data[start:end], data[end:]
    body = [pages] + [re.sub(rb"<title>(.*?)</title>", rb"<title>\1 (copy %d)</title>" % k, pages)
                      for k in range(1, copies)]
    out.write_bytes(bz2.compress(head + b"\n".join(body) + tail, compresslevel=9))
    return pages.count(b"<page>") * copies


def timed(argv: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of a command and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def wikiextractor(dump: Path, tmp: Path) -> tuple[float, float]:
    out = tmp / f"we-{dump.stem}"
    return timed([sys.executable, "-c", WIKIEXTRACTOR, "--processes", "1", "-q", "-o", str(out),
                  str(dump)], tmp)


def pairmill(dump: Path, tmp: Path) -> tuple[float, float]:
    out = tmp / f"pm-{dump.stem}"
    return timed([sys.executable, "-m", "pairmill", "mine", "wikipedia", "--input", str(dump),
                  "--output", str(out), "--overwrite"], tmp)


def load_pages(dump: Path) -> list[dict]:
    from pairmill.extractors.text import iter_pages

    with bz2.open(dump) as stream:
        return [page for _, page in iter_pages(stream) if isinstance(page, dict)]


def extractor_seconds(extract, pages: list[dict]) -> tuple[float, dict[str, int]]:
    """CPU seconds of the pure extractor over the pages, and its pairs by task."""
    counts: dict[str, int] = {}
    started = time.process_time()
    for k, page in enumerate(pages):
        for pair in extract(page, f"dump.xml:{k}").pairs:
            counts[pair["task"]] = counts.get(pair["task"], 0) + 1
    return time.process_time() - started, counts


def load_module(path: Path):
    """An extractor module from a file, imported inside pairmill's text package (its relative
    imports resolve there)."""
    spec = importlib.util.spec_from_file_location("pairmill.extractors.text._bench_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def marginal(one: tuple[float, float], many: tuple[float, float], copies: int) -> dict:
    return {"wall_s": round((many[0] - one[0]) / (copies - 1), 3),
            "cpu_s": round((many[1] - one[1]) / (copies - 1), 3)}


def bench(dump: Path, copies: int, before: Path | None, tmp: Path, repeat: int = 1) -> dict:
    from pairmill.extractors.text import extract_wikipedia_page

    one, many = tmp / f"{dump.name}.x1.xml.bz2", tmp / f"{dump.name}.x{copies}.xml.bz2"
    pages = repeat_dump(dump, 1, one)
    repeat_dump(dump, copies, many)
    result: dict = {"dump": dump.name, "pages": pages, "copies": copies, "repeat": repeat,
                    "mb_uncompressed": round(len(bz2.decompress(one.read_bytes())) / 1e6, 2)}
    # Interleaved, so a change of load on a shared machine hits both tools alike; the least of
    # `repeat` runs, wall and CPU each.
    runs = [(wikiextractor(one, tmp), pairmill(one, tmp), wikiextractor(many, tmp), pairmill(many, tmp))
            for _ in range(repeat)]
    we1, pm1, wen, pmn = (tuple(min(run[k][i] for run in runs) for i in (0, 1)) for k in range(4))
    result["wikiextractor"] = {"x1": [round(v, 3) for v in we1], "marginal": marginal(we1, wen, copies)}
    result["pairmill_mine"] = {"x1": [round(v, 3) for v in pm1], "marginal": marginal(pm1, pmn, copies)}
    for key in ("wall_s", "cpu_s"):
        result[f"mine_vs_wikiextractor_{key[:-2]}"] = round(
            result["pairmill_mine"]["marginal"][key] / result["wikiextractor"]["marginal"][key], 2)
    records = load_pages(one)
    seconds, counts = extractor_seconds(extract_wikipedia_page, records)
    result["extractor"] = {"cpu_s": round(seconds, 3), "pairs": counts,
                           "vs_wikiextractor_cpu": round(
                               seconds / result["wikiextractor"]["marginal"]["cpu_s"], 2)}
    if before is not None:
        old_seconds, old_counts = extractor_seconds(load_module(before).extract_wikipedia_page, records)
        result["extractor_before"] = {"cpu_s": round(old_seconds, 3), "pairs": old_counts,
                                      "speedup": round(old_seconds / seconds, 1)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dumps", nargs="+", type=Path)
    parser.add_argument("--copies", type=int, default=3, help="repeats for the marginal time (>= 2)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each timing; the least is kept")
    parser.add_argument("--before", type=Path, help="an older wikipedia.py to time on the same pages")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for dump in args.dumps:
            runs.append(bench(dump, max(2, args.copies), args.before, Path(tmp), max(1, args.repeat)))
            print(json.dumps(runs[-1]), flush=True)
    # Runs of other dumps already in the file stay: one invocation per dump may fill it.
    earlier = json.loads(args.output.read_text())["runs"] if args.output.exists() else []
    names = {run["dump"] for run in runs}
    runs = [run for run in earlier if run["dump"] not in names] + runs
    args.output.write_text(json.dumps({"machine": platform.processor() or platform.machine(),
                                       "python": platform.python_version(),
                                       "anchor": "WikiExtractor 3.0.6 --processes 1",
                                       "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
