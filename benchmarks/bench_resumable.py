"""Resumable mining: the rerun after `kill -9` half-way against a full run.

  python benchmarks/bench_resumable.py [--files 16] [--per-file 20000] [--shards 8]

Generated Pushshift-style submission dumps are mined with `--input-shards`; a second run is
killed once half the shards have their completion marker, and the same command run again.
Reported: the full run's time, the rerun's time and their ratio, and whether the merged data is
byte-identical to the full run's. Results go to benchmarks/results/resumable.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import hostile  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "resumable.json"


def data_files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.parquet"))
            if "_work" not in p.parts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--per-file", type=int, default=20_000)
    parser.add_argument("--shards", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i in range(args.files):
            (tmp / f"RS_{i:03d}.zst").write_bytes(
                hostile.zst(hostile.submissions(args.per_file, start=i * args.per_file)))

        def command(out: Path) -> list[str]:
            return [sys.executable, "-m", "pairmill", "mine", "reddit", "--submissions",
                    str(tmp / "RS_*.zst"), "--output", str(out), "--input-shards", str(args.shards)]

        started = time.perf_counter()
        subprocess.run(command(tmp / "full"), check=True, capture_output=True)
        full = time.perf_counter() - started
        proc = subprocess.Popen(command(tmp / "killed"), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        while len(list((tmp / "killed" / "_work").glob("shard-*/_SUCCESS"))) < args.shards // 2:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        kept = len(list((tmp / "killed" / "_work").glob("shard-*/_SUCCESS")))
        started = time.perf_counter()
        subprocess.run(command(tmp / "killed"), check=True, capture_output=True)
        rerun = time.perf_counter() - started
        identical = data_files(tmp / "full") == data_files(tmp / "killed")
    figures = {"machine": f"{platform.machine()}, Python {platform.python_version()}, "
                          f"{os.cpu_count()} cores",
               "files": args.files, "records": args.files * args.per_file, "shards": args.shards,
               "shards_kept_after_kill": kept, "full_seconds": round(full, 1),
               "rerun_seconds": round(rerun, 1), "rerun_over_full": round(rerun / full, 2),
               "identical": identical}
    print(json.dumps(figures, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
