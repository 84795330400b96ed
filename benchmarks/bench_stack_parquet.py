"""`pairmill mine code` on The Stack-style Parquet against the same repositories as archives.

  python benchmarks/bench_stack_parquet.py [--budget-mb 40]

Python packages of this machine's site-packages (up to the budget) become one .tar.gz each and
one Parquet shard with The Stack v1's columns (a file per row). Both are mined in the same run;
the pairs must be the same (by id), and the throughput ratio is Parquet time over archive time.
Results go to benchmarks/results/stack_parquet.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tarfile
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "stack_parquet.json"


def main() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pairmill.cli import main as pairmill
    from pairmill.machine_sources import python_package_dirs
    from pairmill.pipelines.dataset_sink import exact_key

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-mb", type=int, default=40)
    args = parser.parse_args()
    packages = python_package_dirs(args.budget_mb << 20)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        archives, rows = [], {"content": [], "max_stars_repo_path": [], "max_stars_repo_name": [],
                              "lang": [], "max_stars_repo_licenses": []}
        total = 0
        for package in packages:
            name = Path(package).name
            archive = tmp / "archives" / f"{name}.tar.gz"
            archive.parent.mkdir(exist_ok=True)
            # The Stack holds UTF-8 text: the same files, and only those, go into both inputs
            files = []
            for path in sorted(Path(package).rglob("*.py")):
                if path.is_symlink() or not path.is_file():
                    continue
                data = path.read_bytes()
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    continue
                if text.encode("utf-8") != data or data.startswith(b"\xef\xbb\xbf"):
                    continue
                files.append((path, data, text))
            with tarfile.open(archive, "w:gz") as tar:
                for path, _, _ in files:
                    tar.add(path, arcname=f"{name}/{path.relative_to(package).as_posix()}")
            archives.append(str(archive))
            for path, data, text in files:
                total += len(data)
                rows["content"].append(text)
                rows["max_stars_repo_path"].append(path.relative_to(package).as_posix())
                rows["max_stars_repo_name"].append(name)
                rows["lang"].append("Python")
                rows["max_stars_repo_licenses"].append(["unknown"])
        shard = tmp / "stack" / "train-00000.parquet"
        shard.parent.mkdir()
        pq.write_table(pa.table(rows), shard, row_group_size=2000)
        timings, ids = {}, {}
        for label, inputs in (("archives", archives), ("parquet", [str(shard)])):
            out = tmp / f"out-{label}"
            started = time.perf_counter()
            assert pairmill(["mine", "code", "--input", *inputs, "--output", str(out),
                             "--programming-languages", "python"]) == 0
            timings[label] = time.perf_counter() - started
            # compared as the exact dedup compares them (whitespace runs collapsed): which of two
            # whitespace variants survives depends on the origin, and origins differ by design
            # (`path:line` in an archive, `repo:path:line` in a Stack row)
            ids[label] = sorted(exact_key(r) for f in sorted(out.glob("data/*/*.parquet"))
                                for r in pq.read_table(f, columns=["task", "query", "document"])
                                .to_pylist())
    same = ids["archives"] == ids["parquet"]
    if not same:
        only_a = sorted(set(ids["archives"]) - set(ids["parquet"]))
        only_p = sorted(set(ids["parquet"]) - set(ids["archives"]))
        print(f"only from archives: {len(only_a)}, only from Parquet: {len(only_p)}")
    figures = {"machine": f"{platform.machine()}, Python {platform.python_version()}, "
                          f"{os.cpu_count()} cores",
               "packages": len(packages), "files": len(rows["content"]),
               "megabytes": round(total / 1e6, 1), "pairs": len(ids["parquet"]),
               "same_pairs": same,
               "archives_seconds": round(timings["archives"], 1),
               "parquet_seconds": round(timings["parquet"], 1),
               "parquet_time_over_archives": round(timings["parquet"] / timings["archives"], 2)}
    print(json.dumps(figures, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    if not same:
        raise SystemExit("the Parquet pairs differ from the archive pairs")


if __name__ == "__main__":
    main()
