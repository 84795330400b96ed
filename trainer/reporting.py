"""Training metrics to TensorBoard, Weights & Biases or Trackio (`--report-to`), offline-safe.

Every step's metrics already go to OUTPUT/metrics.jsonl; a reporter copies them to the tool a
team watches. Nothing here reaches the network on its own: TensorBoard writes event files under
OUTPUT/runs, wandb runs in offline mode unless WANDB_MODE says otherwise, Trackio is local-first.
"""

from __future__ import annotations

import os
from pathlib import Path

_EXTRA = {"tensorboard": "tensorboard", "wandb": "wandb", "trackio": "trackio"}


class Reporter:
    """Copies each step's numeric metrics to one tracking tool."""

    def __init__(self, name: str, output: Path, settings: dict):
        self.name = name
        try:
            if name == "tensorboard":
                from torch.utils.tensorboard import SummaryWriter

                self._writer = SummaryWriter(log_dir=str(output / "runs"))
                self._writer.add_text("settings", f"```\n{settings}\n```")
            elif name == "wandb":
                os.environ.setdefault("WANDB_MODE", "offline")
                import wandb

                self._run = wandb.init(project="pairmill", dir=str(output), config=settings)
            elif name == "trackio":
                import trackio

                self._run = trackio.init(project="pairmill", config=settings)
            else:
                raise ValueError(f"unknown --report-to {name!r}")
        except ImportError as exc:
            raise SystemExit(f"pairmill: --report-to {name} needs the {_EXTRA[name]} package "
                             f"(pip install {_EXTRA[name]}): {exc}") from None

    def log(self, step: int, metrics: dict) -> None:
        numbers = {k: v for k, v in metrics.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step"}
        if self.name == "tensorboard":
            for key, value in numbers.items():
                self._writer.add_scalar(f"train/{key}", value, step)
        elif self.name == "wandb":
            self._run.log(numbers, step=step)
        else:
            import trackio

            trackio.log(numbers, step=step)

    def close(self) -> None:
        if self.name == "tensorboard":
            self._writer.close()
        elif self.name == "wandb":
            self._run.finish()
        else:
            import trackio

            trackio.finish()


def make_reporter(name: str, output: Path, settings: dict) -> Reporter | None:
    """The reporter for `--report-to`, or None for `none`; a missing package stops here, before
    any training step."""
    return None if name == "none" else Reporter(name, output, settings)
