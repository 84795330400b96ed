"""Scale-out figure: `pairmill mine reddit` and `mine web` on the local runner, on Flink at
parallelism 1 and 2, and on Spark (two workers), one after another in one run on the same inputs;
records/s, the ratio to the local runner, and whether every run wrote the same Parquet bytes.

    python benchmarks/bench_engines.py [--submissions FILE] [--warc FILE] [--copies N]

Needs `make engines`; starts and stops the clusters itself (engines/engines.sh). Each cluster
run includes its job server's start-up, as a user's command does. Figures go to
benchmarks/results/engines.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "engines" / "engines.sh"
REAL = ROOT.parent / "shared" / "realdata" / "reddit" / "AskWomen_submissions.zst"
WARC = ROOT.parent / "shared" / "realdata" / "warc" / "warcfile.warc.gz"
POOL = ["--environment_type=EXTERNAL", "--environment_config=localhost:50000"]
RUNS = {
    "local (FnApiRunner)": [],
    "flink, parallelism 1": ["--runner=FlinkRunner", "--flink_master=localhost:8081",
                             "--parallelism=1", *POOL],
    "flink, parallelism 2": ["--runner=FlinkRunner", "--flink_master=localhost:8081",
                             "--parallelism=2", *POOL],
    "spark": ["--runner=SparkRunner", "--spark_master_url=spark://localhost:7077",
                         *POOL],
}


def _engines(*args: str) -> None:
    subprocess.run([str(SCRIPT), *args], check=True, env=dict(os.environ, PYTHON=sys.executable))


def _digest(dataset: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(dataset.rglob("*.parquet")):
        h.update(str(path.relative_to(dataset)).encode() + path.read_bytes())
    return h.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", default=str(REAL))
    parser.add_argument("--warc", default=str(WARC))
    parser.add_argument("--copies", type=int, default=4,
                        help="input files: the sample copied N times under other names")
    parser.add_argument("--work", default="/tmp/pairmill-bench-engines")
    args = parser.parse_args()
    work = Path(args.work)
    subprocess.run(["rm", "-rf", str(work)], check=True)
    (work / "in").mkdir(parents=True)
    inputs = {"reddit": ("--submissions", Path(args.submissions), "RS"),
              "web": ("--input", Path(args.warc), "CC")}
    for _, source, prefix in inputs.values():
        for i in range(args.copies):
            (work / "in" / f"{prefix}_{i}{''.join(source.suffixes)}").write_bytes(
                source.read_bytes())
    results = []
    _engines("flink-up")
    _engines("spark-up")
    try:
        for command, (flag, _, prefix) in inputs.items():
            for name, flags in RUNS.items():
                out = work / command / name.replace(" ", "_").replace(",", "")
                started = time.perf_counter()
                subprocess.run([sys.executable, "-m", "pairmill", "mine", command, flag,
                                str(work / "in" / f"{prefix}_*"), "--output", str(out), *flags],
                               check=True, capture_output=True)
                seconds = time.perf_counter() - started
                manifest = json.loads((out / "manifest.json").read_text())
                results.append({"command": f"mine {command}", "run": name,
                                "seconds": round(seconds, 1),
                                "records": manifest["counters"]["records_read"],
                                "pairs": manifest["counters"]["pairs_kept"],
                                "digest": _digest(out)})
                print(f"mine {command:7s} {name:24s} {seconds:7.1f} s", flush=True)
    finally:
        _engines("down")
    local = {r["command"]: r for r in results if r["run"].startswith("local")}
    for r in results:
        r["records_per_s"] = round(r["records"] / r["seconds"], 1)
        r["time_vs_local"] = round(r["seconds"] / local[r["command"]]["seconds"], 2)
        r["same_bytes_as_local"] = r["digest"] == local[r["command"]]["digest"]
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                         f"{platform.python_version()}",
              "inputs": {c: f"{src.name} x {args.copies}" for c, (_, src, _) in inputs.items()},
              "runs": results}
    out = ROOT / "benchmarks" / "results" / "engines.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'command':12s} {'run':24s} {'s':>7s} {'records/s':>10s} {'x local':>8s} same bytes")
    for r in results:
        print(f"{r['command']:12s} {r['run']:24s} {r['seconds']:7.1f} {r['records_per_s']:10.1f} "
              f"{r['time_vs_local']:8.2f} {r['same_bytes_as_local']}")


if __name__ == "__main__":
    main()
