"""Sizing a run to the machine: batch from the device, steps from a time budget, temperature from
the batch, and the estimate and ETA a user sees.

Defaults of batch 1,024 and 1,000 steps meant about 11 hours on a 2-core CPU with no word of it
(issue 31). Without `--batch-size` the batch follows the device; without `--steps` a few warm-up
batches are timed (forward and backward only: no optimiser step, RNG states restored, so the run
is the one explicit sizes would give) and the steps are what `--time-budget` leaves after setup,
the warm-up and the dev evaluations.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass

CPU_BATCH = 32  # sentence-transformers' usual batch; a step of MiniLM at 128 tokens ≈ 9 s on 2 cores
MIN_STEPS = 50  # below this, a smaller batch buys more updates (each halving doubles the steps)
MIN_BATCH = 8
BUDGET_SHARE = 0.92  # the estimate is sized to this share of the budget: step times vary by task
EVAL_SHARE = 0.2  # dev evaluations take at most this share of the time left for training
TARGET_EVALS = 10


def device_batch_size(device) -> int:
    """Pairs per batch a device takes in reasonable time. GradCache bounds memory by the token
    budget, not the batch, so on a GPU the batch is a choice of time: larger GPUs get more."""
    if getattr(device, "type", str(device)) != "cuda":
        return CPU_BATCH
    import torch

    memory_gib = torch.cuda.get_device_properties(device).total_memory / 2**30
    return 4096 if memory_gib >= 40 else 1024


def fit_batch(batch: int, task_rows: dict[str, int], world: int = 1) -> int:
    """The batch lowered to the smallest task (a batch never mixes tasks), a multiple of the
    number of ranks, a power of two when it had to shrink."""
    smallest = min(task_rows.values())
    if batch > smallest:
        batch = 2 ** int(math.log2(max(1, smallest)))
    return max(world, batch - batch % world)


def default_temperature(loss: str, batch: int) -> float | None:
    """GTE's fixed 0.01 is for batches of thousands; with tens of pairs a softmax that sharp
    over few negatives trains worse (sentence-transformers uses 0.05). Log-interpolated between
    0.05 at 64 pairs and 0.01 at 1,024. None: the loss's own (cpt learns its temperature)."""
    if loss != "gte":
        return None
    low, high = math.log(64), math.log(1024)
    t = min(1.0, max(0.0, (math.log(batch) - low) / (high - low)))
    return round(math.exp(math.log(0.05) + t * (math.log(0.01) - math.log(0.05))), 4)


@dataclass
class Sizing:
    """How the run was sized; train_config.json keeps it so a resumed run reuses it."""

    batch_size: int
    steps: int
    eval_every: int
    temperature: float | None
    device: str
    budget_s: float | None = None
    spent_s: float = 0.0  # setup, base evaluation and warm-up before the first step
    step_s: float | None = None  # measured per step at this batch
    eval_s: float | None = None  # one dev evaluation
    estimate_s: float | None = None  # the whole run, from start to the last evaluation
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


def steps_for_budget(budget_s: float, spent_s: float, step_s: float, eval_s: float | None,
                     eval_every: int | None) -> tuple[int, int]:
    """(steps, steps between evaluations) that fit the budget; eval_s None: no dev set."""
    left = max(0.0, budget_s * BUDGET_SHARE - spent_s)
    if not eval_s:
        steps = max(1, int(left / step_s))
        return steps, eval_every or max(1, math.ceil(steps / TARGET_EVALS))
    if eval_every:
        steps = max(1, int(left / (step_s + eval_s / eval_every)))
        return steps, eval_every
    evals = max(1, min(TARGET_EVALS, int(EVAL_SHARE * left / eval_s)))
    steps = max(1, int((left - evals * eval_s) / step_s))
    return steps, max(1, math.ceil(steps / evals))


def size_steps(batch: int, auto_batch: bool, budget_s: float, spent_s: float, step_s: float,
               eval_s: float | None, eval_every: int | None) -> tuple[int, int, int, float]:
    """(batch, steps, eval_every, seconds per step): with an automatic batch, halved while the
    budget allows fewer than MIN_STEPS (step time taken as proportional to the batch)."""
    steps, every = steps_for_budget(budget_s, spent_s, step_s, eval_s, eval_every)
    while auto_batch and steps < MIN_STEPS and batch // 2 >= MIN_BATCH:
        batch //= 2
        step_s /= 2
        steps, every = steps_for_budget(budget_s, spent_s, step_s, eval_s, eval_every)
    return batch, steps, every, step_s


def duration_text(seconds: float) -> str:
    """3725 → 1h02m, 250 → 4m10s, 35 → 35s."""
    seconds = max(0, int(round(seconds)))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def estimate_line(sizing: Sizing, dev_label: str | None) -> str:
    """What `train` prints before its first step."""
    parts = [f"batch {sizing.batch_size}", f"{sizing.steps} steps"]
    if sizing.temperature is not None:
        parts.append(f"temperature {sizing.temperature:g}")
    text = f"pairmill: sized to {sizing.device}: " + ", ".join(parts)
    if sizing.step_s:
        text += f"; {sizing.step_s:.2f} s/step measured"
    if dev_label:
        text += f"; dev set {dev_label}, scored every {sizing.eval_every} steps"
        if sizing.eval_s is not None:
            text += f" ({sizing.eval_s:.1f} s each)"
    if sizing.estimate_s:
        text += f"; estimated {duration_text(sizing.estimate_s)}"
        if sizing.budget_s:
            text += f" of a {duration_text(sizing.budget_s)} budget"
    return text


class Progress:
    """Progress lines with an ETA (steps left at the pace so far, plus evaluations left), at
    each evaluation and, without a progress bar, about once a minute."""

    def __init__(self, start: int, stop: int, eval_every: int | None, eval_s: float | None,
                 every_s: float = 60.0, enabled: bool = True):
        self.start, self.stop = start, stop
        self.eval_every, self.eval_s = eval_every, eval_s or 0.0
        self.every_s = every_s
        self.enabled = enabled
        self.began = time.perf_counter()
        self.last_line = self.began
        self.train_s = 0.0

    def add_step(self, seconds: float) -> None:
        self.train_s += seconds

    def eta(self, step: int) -> float:
        done = step - self.start
        per_step = self.train_s / done if done else 0.0
        evals = (self.stop // self.eval_every - step // self.eval_every
                 + (self.stop % self.eval_every != 0)) if self.eval_every else 0
        return (self.stop - step) * per_step + max(0, evals) * self.eval_s

    def line(self, step: int, extra: str = "") -> str:
        elapsed = time.perf_counter() - self.began
        text = (f"pairmill: step {step}/{self.stop} ({100 * step / self.stop:.0f}%), elapsed "
                f"{duration_text(elapsed)}, ETA {duration_text(self.eta(step))}")
        return text + (f"; {extra}" if extra else "")

    def maybe_print(self, step: int, extra: str = "", force: bool = False) -> None:
        now = time.perf_counter()
        if force or (self.enabled and now - self.last_line >= self.every_s):
            self.last_line = now
            print(self.line(step, extra), file=sys.stderr, flush=True)
