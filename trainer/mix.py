"""`pairmill mix`: the trainer's mixture plan written out as sequential shards.

Every aligned block of `batch_size` rows is one step's global batch, all from one task, in the
order the trainer would see them; for trainers that read sequentially and for publishing a
ready-to-train mixture. Uses the same `MixturePlan` as `pairmill train`, so both agree row for row.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .. import __version__
from ..schemas import PAIR_SCHEMA
from ..schemas.manifest import file_sha256
from .data import RowGroupReader, mixture_tasks
from .plan import MixturePlan

MIXTURE_FORMAT = "pairmill-mixture/1"


def _conform(table: pa.Table) -> pa.Table:
    """The rows in the pairs schema: missing optional columns become nulls."""
    columns = []
    for field in PAIR_SCHEMA:
        if field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=PAIR_SCHEMA)


def write_mixture(datasets: list[str], output: str, alpha: float, batch_size: int, steps: int,
                  seed: int = 0, rows_per_file: int = 100_000, command: list[str] | None = None,
                  overwrite: bool = False, progress: bool = True) -> dict:
    """Write `steps` global batches to OUTPUT/data/part-NNNNN.parquet and OUTPUT/mixture.json."""
    out = Path(output)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out} exists and is not empty; pass --overwrite to replace it")
        shutil.rmtree(out)
    plan = MixturePlan(mixture_tasks(datasets), alpha, batch_size, seed)
    staging = out / "_staging"
    (staging / "data").mkdir(parents=True, exist_ok=True)
    reader = RowGroupReader(plan)
    steps_per_file = max(1, rows_per_file // batch_size)
    cursors = plan.cursors(0)
    files, counts = [], dict.fromkeys(plan.tasks, 0)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, unit="step", desc="mix")
    for first in range(0, steps, steps_per_file):
        name = f"data/part-{len(files):05d}.parquet"
        last = min(steps, first + steps_per_file)
        with pq.ParquetWriter(staging / name, PAIR_SCHEMA) as writer:
            for step in range(first, last):
                task, refs = plan.batch(step, cursors)
                cursors[task] += batch_size
                counts[task] += 1
                writer.write_table(_conform(reader.rows(task, refs)), row_group_size=batch_size)
                if bar is not None:
                    bar.update(1)
        files.append({"path": name, "rows": (last - first) * batch_size, "first_step": first,
                      "steps": last - first, "sha256": file_sha256(staging / name)})
    if bar is not None:
        bar.close()
    description = {
        "format": MIXTURE_FORMAT, "created_by": f"pairmill {__version__}", "command": command or [],
        "alpha": alpha, "batch_size": batch_size, "steps": steps, "seed": seed,
        "plan": plan.fingerprint(), "sources": datasets, "probabilities": plan.probabilities,
        "steps_per_task": counts, "files": files,
    }
    (staging / "mixture.json").write_text(json.dumps(description, indent=2) + "\n")
    out.mkdir(parents=True, exist_ok=True)
    os.replace(staging / "data", out / "data")
    os.replace(staging / "mixture.json", out / "mixture.json")
    staging.rmdir()
    return description


def mix(config) -> int:
    """`pairmill mix` from its config."""
    from ..schemas.settings import render_argv
    from .model import offline

    offline()
    described = write_mixture(config.input, config.output, config.alpha, config.batch_size,
                              config.steps, config.seed, config.rows_per_file,
                              ["pairmill", "mix", *render_argv(config, skip={"overwrite"})],
                              config.overwrite)
    per_task = ", ".join(f"{t}: {n}" for t, n in described["steps_per_task"].items())
    print(f"pairmill: wrote {config.steps} batches of {config.batch_size} to {config.output} "
          f"({per_task})")
    return 0
