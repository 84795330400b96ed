"""The mixture plan: which task, and which rows of it, make up each global batch.

A pure function of (tasks and their row groups, α, batch size, seed). Every rank of a multi-GPU
job and `pairmill mix` derive the same batches from it, and the cursor of every task at any step
is recomputed from the step number alone, so resuming needs nothing but the step.

Rows are visited in a streaming-friendly order: each epoch of a task permutes its row groups and
the rows inside each row group, so a reader touches one row group at a time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from ..dataset.read import RowGroup

# Tasks are drawn in blocks so `task_at(step)` is random-access without replaying earlier steps.
_BLOCK = 4096


@dataclass(frozen=True)
class RowRef:
    """One row of a task: row `row` of row group `group` (an index into the task's groups)."""

    group: int
    row: int


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def task_probabilities(rows: dict[str, int], alpha: float) -> dict[str, float]:
    """p_i = n_i^α / Σ_j n_j^α over the tasks, in name order (GTE §3.4)."""
    tasks = sorted(rows)
    weights = np.array([float(rows[t]) ** alpha for t in tasks], dtype=np.float64)
    return dict(zip(tasks, (weights / weights.sum()).tolist(), strict=True))


class MixturePlan:
    """Task per step with p_i ∝ n_i^α, whole global batches from one task, exact cursors."""

    def __init__(self, tasks: dict[str, list[RowGroup]], alpha: float = 0.5, batch_size: int = 1024,
                 seed: int = 0, exclude: dict[str, dict[int, list[int]]] | None = None):
        """`exclude`: task -> row group index -> rows never handed out (a held-out dev set)."""
        if batch_size <= 0:
            raise ValueError("batch size must be positive")
        if alpha < 0:
            raise ValueError("alpha must be zero or positive")
        if not tasks:
            raise ValueError("the mixture has no tasks: the datasets hold no rows")
        self.tasks = sorted(tasks)
        self.groups = {t: list(tasks[t]) for t in self.tasks}
        self.exclude = {t: {g: sorted(map(int, r)) for g, r in groups.items() if len(r)}
                        for t, groups in (exclude or {}).items() if t in self.groups}
        self.rows = {t: sum(g.rows for g in self.groups[t])
                     - sum(map(len, self.exclude.get(t, {}).values())) for t in self.tasks}
        small = {t: n for t, n in self.rows.items() if n < batch_size}
        if small:
            listed = ", ".join(f"{t} ({n} rows)" for t, n in sorted(small.items()))
            raise ValueError(f"tasks with fewer rows than the batch size {batch_size}: {listed}; "
                             f"lower --batch-size or leave those datasets out")
        self.alpha = float(alpha)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.probabilities = task_probabilities(self.rows, self.alpha)
        self._p = np.array([self.probabilities[t] for t in self.tasks], dtype=np.float64)
        self._blocks: dict[int, np.ndarray] = {}
        self._epochs: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, list[np.ndarray]]] = {}

    # -- which task ------------------------------------------------------------------------
    def _block(self, k: int) -> np.ndarray:
        if k not in self._blocks:
            if len(self._blocks) > 64:
                self._blocks.clear()
            rng = np.random.default_rng([self.seed, 0, k])
            self._blocks[k] = rng.choice(len(self.tasks), size=_BLOCK, p=self._p).astype(np.int32)
        return self._blocks[k]

    def task_indices(self, start: int, stop: int) -> np.ndarray:
        """Task index (into `self.tasks`) of every step in [start, stop)."""
        if stop <= start:
            return np.zeros(0, dtype=np.int32)
        first, last = start // _BLOCK, (stop - 1) // _BLOCK
        joined = np.concatenate([self._block(k) for k in range(first, last + 1)])
        return joined[start - first * _BLOCK: stop - first * _BLOCK]

    def task_at(self, step: int) -> str:
        return self.tasks[int(self._block(step // _BLOCK)[step % _BLOCK])]

    def cursors(self, step: int) -> dict[str, int]:
        """Rows each task has handed out before `step` (its position in its endless stream)."""
        counts = np.zeros(len(self.tasks), dtype=np.int64)
        for k in range(0, step, _BLOCK * 16):
            chunk = self.task_indices(k, min(step, k + _BLOCK * 16))
            counts += np.bincount(chunk, minlength=len(self.tasks))
        return {t: int(c) * self.batch_size for t, c in zip(self.tasks, counts, strict=True)}

    # -- which rows ------------------------------------------------------------------------
    def _epoch(self, task: str, epoch: int):
        """Row-group order, cumulative starts, and per-group row orders of one epoch of a task."""
        key = (task, epoch)
        if key not in self._epochs:
            if len(self._epochs) > 4 * len(self.tasks) + 8:
                self._epochs.clear()
            rng = np.random.default_rng([self.seed, 1, _stable_int(task), epoch])
            groups = self.groups[task]
            order = rng.permutation(len(groups))
            sizes = np.array([groups[g].rows for g in order], dtype=np.int64)
            starts = np.concatenate([[0], np.cumsum(sizes)])
            rows = [rng.permutation(groups[g].rows) for g in order]
            held = self.exclude.get(task)
            if held:
                rows = [r[~np.isin(r, held.get(int(g), ()))] for r, g in zip(rows, order, strict=True)]
                sizes = np.array([len(r) for r in rows], dtype=np.int64)
                starts = np.concatenate([[0], np.cumsum(sizes)])
            self._epochs[key] = (order, starts, rows)
        return self._epochs[key]

    def rows_at(self, task: str, position: int, count: int) -> list[RowRef]:
        """`count` rows of a task's endless stream from `position` on, wrapping with a reshuffle."""
        n = self.rows[task]
        out: list[RowRef] = []
        while count > 0:
            epoch, offset = divmod(position, n)
            order, starts, rows = self._epoch(task, epoch)
            slot = int(np.searchsorted(starts, offset, side="right") - 1)
            inside = offset - int(starts[slot])
            take = min(count, int(starts[slot + 1]) - offset)
            group = int(order[slot])
            out.extend(RowRef(group, int(r)) for r in rows[slot][inside:inside + take])
            position += take
            count -= take
        return out

    def batch(self, step: int, cursors: dict[str, int] | None = None) -> tuple[str, list[RowRef]]:
        """Task and rows of global batch `step`. Pass running `cursors` to skip the recount."""
        task = self.task_at(step)
        position = (cursors if cursors is not None else self.cursors(step))[task]
        return task, self.rows_at(task, position, self.batch_size)

    def fingerprint(self) -> str:
        """Changes whenever the plan would hand out different batches."""
        desc = {"alpha": self.alpha, "batch_size": self.batch_size, "seed": self.seed,
                "tasks": {t: [[g.location.rsplit("/", 3)[-3:], g.index, g.rows] for g in self.groups[t]]
                          for t in self.tasks}}
        if self.exclude:
            desc["exclude"] = {t: {str(g): r for g, r in sorted(e.items())}
                               for t, e in sorted(self.exclude.items())}
        return hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:16]


def rank_slice(batch_size: int, rank: int, world_size: int) -> slice:
    """The rows of a global batch that one rank embeds; the slices partition the batch."""
    if batch_size % world_size:
        raise ValueError(f"batch size {batch_size} is not divisible by {world_size} ranks")
    per_rank = batch_size // world_size
    return slice(rank * per_rank, (rank + 1) * per_rank)
