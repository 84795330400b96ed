"""`pairmill train`: the loop around GradCache — optimiser, schedule, checkpoints, exact resume.

Output folder:
  OUTPUT/train_config.json      the settings (a resumed run must match them)
  OUTPUT/metrics.jsonl          one line per step: task, loss, temperature, lr, pairs/s, tokens/s, memory
  OUTPUT/checkpoints/step-N/    weights, optimiser, scheduler, RNG states; `latest` names the newest
  OUTPUT/model/                 the final model (transformers and sentence-transformers folder)

The mixture plan is a pure function of the step, so a checkpoint needs only the step to put every
task cursor back; it also records the plan's fingerprint and refuses to resume on other data.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import resource
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from .data import mixture_tasks, stream_batches
from .gradcache import GradCacheStep
from .losses import ContrastiveLoss
from .model import Encoder, default_model_path, load_tokenizer, make_encode
from .plan import MixturePlan

# Settings that change what the run computes; a resume with other values would not be exact.
_PLAN_KEYS = ("data", "model", "pooling", "loss", "temperature", "alpha", "batch_size", "steps", "lr",
              "warmup", "weight_decay", "max_length", "negatives", "seed", "dropout")


@dataclass
class TrainConfig:
    data: list[str]
    output: str
    model: str | None = None
    pooling: str | None = None
    loss: str = "gte"
    temperature: float | None = None  # gte: fixed 0.01; cpt: initial 0.05, trainable
    alpha: float = 0.5
    batch_size: int = 1024
    steps: int = 1000
    lr: float = 2e-5
    warmup: float = 0.1  # fraction of steps when < 1, else a number of steps
    weight_decay: float = 0.01
    max_length: int = 128
    token_budget: int = 16384
    nograd_factor: int = 4
    chunk_rows: int = 1024
    negatives: int = 1
    seed: int = 0
    dropout: bool = True
    bf16: str = "auto"  # auto: on for CUDA devices that support it
    gradient_checkpointing: bool = False
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    stop_after: int | None = None  # steps to run in this invocation (time-sliced or preemptible jobs)
    device: str | None = None
    progress: bool = True

    def plan_settings(self) -> dict:
        return {k: getattr(self, k) for k in _PLAN_KEYS}


def _distributed() -> tuple[int, int, int]:
    """(rank, world size, local rank); starts the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    rank = dist.get_rank() if world > 1 else 0
    return rank, world, int(os.environ.get("LOCAL_RANK", "0"))


def _device(config: TrainConfig, local_rank: int) -> torch.device:
    if config.device:
        return torch.device(config.device)
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def _schedule(step: int, steps: int, warmup: float) -> float:
    """Linear warm-up then linear decay to zero, as a multiplier of the peak learning rate."""
    warm = int(warmup * steps) if warmup < 1 else int(warmup)
    if step < warm:
        return (step + 1) / warm
    return max(0.0, (steps - step) / max(1, steps - warm))


def _rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Checkpoints:
    """Atomic checkpoints: written to a temporary folder, renamed, then `latest` replaced."""

    def __init__(self, output: Path, keep: int):
        self.root = output / "checkpoints"
        self.keep = max(1, keep)

    def latest(self) -> Path | None:
        pointer = self.root / "latest"
        if not pointer.is_file():
            return None
        path = self.root / pointer.read_text().strip()
        return path if (path / "state.pt").is_file() else None

    def save(self, step: int, state: dict) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        name = f"step-{step:08d}"
        tmp = self.root / f"{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        torch.save(state, tmp / "state.pt")
        final = self.root / name
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        pointer = self.root / "latest.tmp"
        pointer.write_text(name + "\n")
        os.replace(pointer, self.root / "latest")
        done = sorted(p for p in self.root.glob("step-*") if not p.name.endswith(".tmp"))
        for old in done[:-self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        return final


def _check_output(config: TrainConfig, overwrite: bool) -> None:
    """Refuse a folder that is not a training folder or holds a run with other settings.

    Read-only, so every rank of a distributed job runs it and they all stop with the same message.
    """
    output = Path(config.output)
    if overwrite or not output.exists() or not any(output.iterdir()):
        return
    settings = output / "train_config.json"
    if not settings.is_file():
        raise FileExistsError(f"{output} exists and is not a pairmill training folder; "
                              f"choose another --output or pass --overwrite")
    saved = json.loads(settings.read_text())
    changed = [k for k, v in config.plan_settings().items() if saved.get(k) != v]
    if changed:
        raise ValueError(f"{output} holds a run with other settings ({', '.join(changed)}); "
                         f"resume with the same settings or pass --overwrite")


def _prepare_output(config: TrainConfig, overwrite: bool) -> tuple[Path, Path | None]:
    """The output folder (emptied with --overwrite), and the checkpoint to resume from if any."""
    output = Path(config.output)
    if overwrite and output.exists():
        shutil.rmtree(output)
    output.mkdir(parents=True, exist_ok=True)
    return output, Checkpoints(output, config.keep_checkpoints).latest()


def train(config: TrainConfig, overwrite: bool = False) -> dict:
    """Run (or resume) training; returns a summary. Only rank 0 writes."""
    rank, world, local_rank = _distributed()
    if config.model is None:
        config.model = default_model_path()
    _check_output(config, overwrite)
    device = _device(config, local_rank)
    bf16 = config.bf16 == "on" or (config.bf16 == "auto" and device.type == "cuda"
                                   and torch.cuda.is_bf16_supported())
    output, resume_from = _prepare_output(config, overwrite) if rank == 0 else (Path(config.output), None)
    if world > 1:  # every rank resumes from the checkpoint rank 0 found
        shared = [str(resume_from) if resume_from else ""]
        dist.broadcast_object_list(shared, src=0)
        resume_from = Path(shared[0]) if shared[0] else None

    plan = MixturePlan(mixture_tasks(config.data), config.alpha, config.batch_size, config.seed)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    np.random.seed(config.seed)
    tokenizer = load_tokenizer(config.model)
    encoder = Encoder.from_pretrained(config.model, config.pooling, dropout=config.dropout).to(device)
    if config.gradient_checkpointing:
        encoder.enable_checkpointing()
    encoder.train()
    temperature = config.temperature or (0.01 if config.loss == "gte" else 0.05)
    loss = ContrastiveLoss(config.loss, temperature).to(device)
    params = [p for p in encoder.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.ndim > 1], "weight_decay": config.weight_decay},
              {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}]
    if config.loss == "cpt":
        groups.append({"params": [loss.log_scale], "weight_decay": 0.0})
    optimizer = torch.optim.AdamW(groups, lr=config.lr, fused=device.type == "cuda")
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: _schedule(s, config.steps, config.warmup))
    ddp = None
    if world > 1:
        ddp = torch.nn.parallel.DistributedDataParallel(
            encoder, device_ids=[device.index] if device.type == "cuda" else None)

    start = 0
    if resume_from is not None:
        state = torch.load(resume_from / "state.pt", map_location=device, weights_only=False)
        if state["plan"] != plan.fingerprint():
            raise ValueError(f"{resume_from}: the checkpoint was made on other data; "
                             f"pass --overwrite to start again")
        encoder.load_state_dict(state["encoder"])
        loss.load_state_dict(state["loss"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        _set_rng_state(state["rng"][rank] if isinstance(state["rng"], list) else state["rng"])
        start = state["step"]
    if rank == 0:
        (output / "train_config.json").write_text(json.dumps(
            {**config.plan_settings(), "world_size": world, "bf16": bf16,
             "probabilities": plan.probabilities}, indent=2))
        _trim_metrics(output / "metrics.jsonl", start)
        if resume_from is not None:
            print(f"pairmill: resuming {output} at step {start} of {config.steps}", file=sys.stderr)

    step_fn = GradCacheStep(encoder, loss, tokenizer.pad_token_id, device, config.token_budget,
                            config.nograd_factor, config.chunk_rows, bf16, ddp)
    encode = make_encode(tokenizer, config.max_length, encoder.pooling)
    stop = config.steps if config.stop_after is None else min(config.steps, start + config.stop_after)
    checkpoints = Checkpoints(output, config.keep_checkpoints)
    bar = None
    if rank == 0 and config.progress:
        from tqdm import tqdm

        bar = tqdm(total=config.steps, initial=start, unit="step", dynamic_ncols=True, file=sys.stderr)
    last_loss = float("nan")
    clock = time.perf_counter()
    metrics = open(output / "metrics.jsonl", "a") if rank == 0 else None
    try:
        for batch in stream_batches(plan, encode, start, stop, rank, world, config.negatives):
            began = time.perf_counter()
            stats = step_fn(batch.queries, batch.documents, batch.negatives)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            seconds = time.perf_counter() - began
            last_loss = stats.loss
            step = batch.step + 1
            if metrics is not None:
                metrics.write(json.dumps({
                    "step": step, "task": batch.task, "loss": round(stats.loss, 6),
                    "temperature": round(loss.temperature, 6), "lr": lr,
                    "pairs_per_s": round(stats.pairs / seconds, 2),
                    "tokens_per_s": round(stats.tokens * world / seconds, 1),
                    "peak_memory_mb": round(_peak_memory_mb(device), 1),
                    "elapsed_s": round(time.perf_counter() - clock, 3)}) + "\n")
                metrics.flush()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(task=batch.task, loss=f"{stats.loss:.4f}")
            if step % config.checkpoint_every == 0 or step == stop:
                _checkpoint(checkpoints, step, plan, encoder, loss, optimizer, scheduler, rank, world)
    finally:
        if bar is not None:
            bar.close()
        if metrics is not None:
            metrics.close()
    finished = stop >= config.steps
    if finished and rank == 0:
        encoder.save(output / "model", tokenizer, config.max_length,
                     extra={"loss": config.loss, "temperature": loss.temperature,
                            "steps": config.steps, "data": config.data})
    if world > 1:
        dist.barrier()
    return {"output": str(output), "rank": rank, "steps_done": stop, "steps": config.steps,
            "finished": finished, "last_loss": last_loss,
            "model": str(output / "model") if finished else None}


def _checkpoint(checkpoints: Checkpoints, step: int, plan: MixturePlan, encoder: Encoder,
                loss: ContrastiveLoss, optimizer, scheduler, rank: int, world: int) -> None:
    rng = _rng_state()
    if world > 1:
        states = [None] * world
        dist.all_gather_object(states, rng)
        rng = states
    if rank == 0:
        checkpoints.save(step, {
            "step": step, "plan": plan.fingerprint(), "cursors": plan.cursors(step),
            "encoder": encoder.state_dict(), "loss": loss.state_dict(),
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng})


def _trim_metrics(path: Path, start: int) -> None:
    """Drop metric lines past the resumed step, so curves never hold a step twice."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) <= start:
                kept.append(line)
        except ValueError:  # the half-written last line of a killed run
            continue
    path.write_text("".join(line + "\n" for line in kept))


def config_from_args(args) -> TrainConfig:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in vars(args).items() if k in names})
