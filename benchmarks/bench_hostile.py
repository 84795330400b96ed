"""Hostile inputs against their clean twins: rows kept and peak memory of `pairmill mine`.

  python benchmarks/bench_hostile.py [--blank-gib 4] [--line-gib 1]

Each case mines a damaged file (tests/hostile.py) and the same data undamaged, each in its own
process, and reports pairs kept, dead letters and the process's peak RSS. The anchor for memory
is the clean file measured in the same run. Results go to benchmarks/results/hostile.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import hostile  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "hostile.json"
REALDATA = ROOT.parent / "shared" / "realdata"


def mine(args: list[str], out: Path) -> dict:
    """One `pairmill mine` in a child process: exit code, seconds, peak MB, pairs, dead letters."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pairmill", "mine", *map(str, args),
                             "--output", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
    return {"exit": os.waitstatus_to_exitcode(status),
            "seconds": round(time.perf_counter() - started, 1),
            "peak_mb": round(usage.ru_maxrss / 1024),
            "pairs": sum(t["rows"] for t in manifest.get("tasks", {}).values()),
            "dead_letters": manifest.get("counters", {}).get("dead_letters"),
            "error": err.strip().splitlines()[-1] if proc.returncode and err.strip() else ""}


def cases(tmp: Path, blank_gib: float, line_gib: float):
    """(name, hostile args, clean args, expected pairs)."""
    for source in ("reddit", "arxiv"):
        path, n = hostile.with_lone_surrogate(tmp, source)
        clean = tmp / f"clean_{path.name}"
        lines = hostile.submissions(n) if source == "reddit" else hostile.arxiv_records(n)
        clean.write_bytes(hostile.zst(lines) if source == "reddit" else b"\n".join(lines) + b"\n")
        flag = "--submissions" if source == "reddit" else "--input"
        yield f"{source}: a lone surrogate escape", [source, flag, path], [source, flag, clean], n
    tree, archive, n = hostile.code_tree_with_undecodable_names(tmp / "names")
    clean_tree = tmp / "clean_tree"
    clean_tree.mkdir()
    (clean_tree / "a.py").write_bytes((tree / "pkg" / "good.py").read_bytes())
    (clean_tree / "b.py").write_bytes((tree / "pkg" / "good.py").read_bytes().replace(b"total", b"other"))
    yield "code: a file name that is not UTF-8 (directory)", ["code", "--input", tree], \
        ["code", "--input", clean_tree], n
    yield "code: a file name that is not UTF-8 (tar.gz)", ["code", "--input", archive], \
        ["code", "--input", clean_tree], n
    bomb, n = hostile.blank_bomb(tmp, int(blank_gib * (1 << 30)))
    clean = tmp / "clean_RS.zst"
    clean.write_bytes(hostile.zst(hostile.submissions(n)))
    yield (f"reddit: {bomb.stat().st_size // 1024} KB .zst holding {blank_gib:g} GiB of blank lines",
           ["reddit", "--submissions", bomb], ["reddit", "--submissions", clean], n)
    for suffix in (".gz", ".zst"):
        long_line, n = hostile.endless_line(tmp, int(line_gib * (1 << 30)), suffix)
        yield (f"reddit: a {line_gib:g} GiB line without a newline ({suffix})",
               ["reddit", "--submissions", long_line], ["reddit", "--submissions", clean], n)
    clue, n = hostile.clueweb_warc(tmp)
    clean_warc = tmp / "clean_clue.warc"
    clean_warc.write_bytes(b"".join(hostile._warc_record(f"http://clue.example/{i:08d}".encode(),
                                                         hostile.page(f"Page {i}"))
                                    for i in range(n)))
    yield "web: WARC/0.18 Content-Encoding over a decoded body", ["web", "--input", clue], \
        ["web", "--input", clean_warc], n
    liar, n = hostile.lying_length_warc(tmp)
    (tmp / "honest").mkdir()
    honest, _ = hostile.lying_length_warc(tmp / "honest", liar=-1)
    yield "web: one record of ten whose Content-Length lies", ["web", "--input", liar], \
        ["web", "--input", honest], n
    for suffix in (".gz", ".bz2"):
        cut, complete = hostile.truncated_xml(tmp / suffix.strip("."), suffix)
        full = tmp / f"full{suffix}.xml"
        full.write_bytes(hostile.posts_xml(400))
        yield (f"stackexchange: Posts.xml{suffix} cut at 80% ({complete} complete rows)",
               ["stackexchange", "--input", cut], ["stackexchange", "--input", full], None)
    if (REALDATA / "s2orc").is_dir():
        flat, nested = tmp / "s2flat", tmp / "s2nested"
        hostile.s2orc_layouts(sorted((REALDATA / "s2orc").glob("*.json")), flat, nested)
        yield "s2orc: the real sample in the 2019/2020 layout (grobid_parse)", \
            ["s2orc", "--input", f"{nested}/*.json"], ["s2orc", "--input", f"{flat}/*.json"], None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blank-gib", type=float, default=4.0)
    parser.add_argument("--line-gib", type=float, default=1.0)
    args = parser.parse_args()
    results = {"machine": f"{platform.machine()}, Python {platform.python_version()}, "
                          f"{os.cpu_count()} cores", "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i, (name, bad, clean, _) in enumerate(cases(tmp, args.blank_gib, args.line_gib)):
            got = mine(bad, tmp / f"bad{i}")
            ref = mine(clean, tmp / f"clean{i}")
            row = {"hostile": got, "clean": ref,
                   "rows_kept_vs_clean": f"{got['pairs']} / {ref['pairs']}",
                   "peak_memory_ratio": round(got["peak_mb"] / max(ref["peak_mb"], 1), 2)}
            results["cases"][name] = row
            print(f"{name}\n  pairs {got['pairs']} of {ref['pairs']} (clean), dead letters "
                  f"{got['dead_letters']}, exit {got['exit']}, peak {got['peak_mb']} MB vs "
                  f"{ref['peak_mb']} MB clean ({row['peak_memory_ratio']}x), {got['seconds']} s"
                  + (f"\n  {got['error']}" if got["error"] else ""), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
