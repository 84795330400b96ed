"""`pairmill demo`: mine code pairs from source already on this machine, end to end.

Inputs are found, not downloaded: the packages of the running Python's site-packages (up to a
size budget), and, when present, npm's node_modules, a JDK's src.zip, Go's, Ruby's and PHP's
libraries. The same pipeline as `pairmill mine code` runs on them.
"""

from __future__ import annotations

import glob
import os
import sys
import sysconfig
import time

from ..extractors.code import CodeOptions
from .dataset_sink import finalize_dataset, prepare_output
from .mine_code import mine_code
from .options import beam_options
from .stats import dataset_summary, format_summary

# Other languages' libraries that distributions install; one of each is plenty for a demo.
OTHER_LANGUAGE_SOURCES = (
    ("/usr/lib/node_modules/npm/node_modules", "/usr/local/lib/node_modules/npm/node_modules"),
    ("/usr/lib/jvm/*/lib/src.zip",),
    ("/usr/local/go/src", "/usr/lib/go/src"),
    ("/usr/lib/ruby/[0-9]*",),
    ("/usr/share/php",),
)
FILES_PER_INPUT = 1500


def python_package_dirs(budget_bytes: int) -> list[str]:
    """Package folders of site-packages, in name order, until `budget_bytes` of .py source."""
    site = sysconfig.get_paths()["purelib"]
    chosen, total = [], 0
    for name in sorted(os.listdir(site)):
        path = os.path.join(site, name)
        if not os.path.isfile(os.path.join(path, "__init__.py")):
            continue
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path)
                   for f in fs if f.endswith(".py"))
        if total + size > budget_bytes:
            continue
        chosen.append(path)
        total += size
    return chosen


def other_language_inputs() -> list[str]:
    found = []
    for patterns in OTHER_LANGUAGE_SOURCES:
        paths = [p for pattern in patterns for p in sorted(glob.glob(pattern)) if os.path.exists(p)]
        if paths:
            found.append(paths[0])
    return found


def run_demo(output_dir: str, budget_mb: int) -> int:
    started = time.time()
    python_inputs = python_package_dirs(budget_mb << 20)
    others = other_language_inputs()
    print(f"pairmill demo: {len(python_inputs)} Python packages from site-packages"
          + "".join(f", {p}" for p in others), file=sys.stderr)
    prepare_output(output_dir, overwrite=True)
    workers = ["--direct_running_mode=multi_processing", "--direct_num_workers=0"]
    options = beam_options(workers)
    code_options = CodeOptions()
    mine_code(python_inputs + others, output_dir, options, code_options,
              max_files=FILES_PER_INPUT)
    finalize_dataset(output_dir, ["pairmill", "demo", "--output", output_dir,
                                  "--budget-mb", str(budget_mb)], 1000,
                     extra={"seconds": round(time.time() - started, 1)})
    summary = dataset_summary(output_dir)
    print(format_summary(summary))
    print(f"\ndemo finished in {time.time() - started:.0f}s; dataset written to "
          f"{os.path.abspath(output_dir)}\nnext: pairmill stats {output_dir}")
    return 1 if summary["problems"] or not summary["tasks"] else 0
