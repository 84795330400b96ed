"""`pairmill mix`: the trainer's mixture plan written out as sequential shards.

Every aligned block of `batch_size` rows is one step's global batch, all from one task, in the
order the trainer would see them; for trainers that read sequentially and for publishing a
ready-to-train mixture. Uses the same `MixturePlan` as `pairmill train`, so both agree row for row.
"""

from __future__ import annotations

from .. import __version__
from ..dataset.output import (
    PairsFileWriter,
    mixture_part,
    prepare_output,
    write_mixture_manifest,
)
from ..dataset.read import task_row_groups
from ..schemas import storage
from .data import RowGroupReader
from .plan import MixturePlan


def write_mixture(datasets: list[str], output: str, alpha: float, batch_size: int, steps: int,
                  seed: int = 0, rows_per_file: int = 100_000, command: list[str] | None = None,
                  overwrite: bool = False, progress: bool = True) -> dict:
    """Write `steps` global batches to OUTPUT/data/part-NNNNN.parquet and OUTPUT/mixture.json
    (written last: a folder without it is unfinished)."""
    prepare_output(output, overwrite, inputs=datasets, clear=("data", "mixture.json"))
    plan = MixturePlan(task_row_groups(datasets), alpha, batch_size, seed)
    reader = RowGroupReader(plan)
    steps_per_file = max(1, rows_per_file // batch_size)
    cursors = plan.cursors(0)
    files, counts = [], dict.fromkeys(plan.tasks, 0)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, unit="step", desc="mix")
    for first in range(0, steps, steps_per_file):
        name = mixture_part(len(files))
        last = min(steps, first + steps_per_file)
        with storage.open_output(storage.join(output, name)) as sink:
            # snappy, as `mix` has always written them: a mixture made now equals one made before
            writer = PairsFileWriter(sink, batch_size, compression="snappy")
            for step in range(first, last):
                task, refs = plan.batch(step, cursors)
                cursors[task] += batch_size
                counts[task] += 1
                writer.write(reader.rows(task, refs))
                if bar is not None:
                    bar.update(1)
            writer.close()
        files.append({"path": name, "rows": (last - first) * batch_size, "first_step": first,
                      "steps": last - first})
    if bar is not None:
        bar.close()
    description = {
        "created_by": f"pairmill {__version__}", "command": command or [],
        "alpha": alpha, "batch_size": batch_size, "steps": steps, "seed": seed,
        "plan": plan.fingerprint(), "sources": datasets, "probabilities": plan.probabilities,
        "steps_per_task": counts, "files": files,
    }
    write_mixture_manifest(output, description)
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
