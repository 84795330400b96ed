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

import json
import os
import random
import resource
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from ..dataset.read import task_row_groups
from ..schemas import storage
from .configs import STAGE2_PRESET, TrainConfig
from .data import stream_batches
from .gradcache import GradCacheStep
from .losses import ContrastiveLoss, make_loss, with_matryoshka
from .model import Encoder, base_model_name, default_model_path, load_tokenizer, make_encode
from .plan import MixturePlan
from .reporting import make_reporter

# Settings that change what the run computes; a resume with other values would not be exact.
_PLAN_KEYS = ("input", "model", "pooling", "loss", "temperature", "alpha", "batch_size", "steps", "lr",
              "warmup", "weight_decay", "max_length", "group_size", "matryoshka_dims", "seed",
              "dropout")


def plan_settings(config: TrainConfig) -> dict:
    """The settings as JSON writes them (tuples as lists), so a resume compares like with like."""
    return {k: list(v) if isinstance(v, tuple) else v
            for k, v in ((k, getattr(config, k)) for k in _PLAN_KEYS)}


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
    """RNG states as tensors and plain values only, so a checkpoint loads with weights_only."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    state = {"python": (version, torch.tensor(internal, dtype=torch.int64), gauss),
             "numpy": (name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(int(x) for x in internal.tolist()), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
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
    changed = [k for k, v in plan_settings(config).items() if saved.get(k) != v]
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


@dataclass
class _Run:
    """Everything one training run holds between its phases."""

    config: TrainConfig
    rank: int
    world: int
    device: torch.device
    bf16: bool
    output: Path
    plan: MixturePlan
    tokenizer: object
    encoder: Encoder
    loss: ContrastiveLoss
    optimizer: torch.optim.Optimizer
    scheduler: object
    ddp: object = None
    start: int = 0
    last_loss: float = float("nan")
    extra: dict = field(default_factory=dict)


def apply_preset(config: TrainConfig) -> TrainConfig:
    """Fill the preset's settings that were left at their defaults (a given flag wins)."""
    if config.preset == "stage2":
        defaults = TrainConfig.__dataclass_fields__
        for key, value in STAGE2_PRESET.items():
            if getattr(config, key) == defaults[key].default:
                setattr(config, key, value)
    return config


def train(config: TrainConfig) -> dict:
    """Run (or resume) training; returns a summary. Only rank 0 writes."""
    apply_preset(config)
    run, resume_from = _setup(config)
    _resume(run, resume_from)
    stop = config.steps if config.stop_after is None else min(config.steps, run.start + config.stop_after)
    _loop(run, stop)
    return _finish(run, stop)


def _setup(config: TrainConfig) -> tuple[_Run, Path | None]:
    """Output folder checked, model, loss, optimiser and schedule built; the checkpoint to resume."""
    rank, world, local_rank = _distributed()
    if config.model is None:
        config.model = default_model_path()
    _check_output(config, config.overwrite)
    make_loss(config.loss)  # an unknown loss stops the run before any work
    device = _device(config, local_rank)
    bf16 = config.bf16 == "on" or (config.bf16 == "auto" and device.type == "cuda"
                                   and torch.cuda.is_bf16_supported())
    output, resume_from = (_prepare_output(config, config.overwrite) if rank == 0
                           else (Path(config.output), None))
    if world > 1:  # every rank resumes from the checkpoint rank 0 found
        shared = [str(resume_from) if resume_from else ""]
        dist.broadcast_object_list(shared, src=0)
        resume_from = Path(shared[0]) if shared[0] else None

    plan = MixturePlan(task_row_groups(config.input), config.alpha, config.batch_size, config.seed)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    np.random.seed(config.seed)
    tokenizer = load_tokenizer(config.model)
    encoder = Encoder.from_pretrained(config.model, config.pooling, dropout=config.dropout).to(device)
    if config.gradient_checkpointing:
        encoder.enable_checkpointing()
    encoder.train()
    width = encoder.backbone.config.hidden_size
    if any(d > width for d in config.matryoshka_dims):
        raise ValueError(f"--matryoshka-dims: the model's embeddings have {width} dimensions")
    loss = with_matryoshka(make_loss(config.loss, config.temperature),
                           config.matryoshka_dims).to(device)
    params = [p for p in encoder.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.ndim > 1], "weight_decay": config.weight_decay},
              {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
              *loss.parameter_groups()]
    optimizer = torch.optim.AdamW(groups, lr=config.lr, fused=device.type == "cuda")
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: _schedule(s, config.steps, config.warmup))
    ddp = None
    if world > 1:
        ddp = torch.nn.parallel.DistributedDataParallel(
            encoder, device_ids=[device.index] if device.type == "cuda" else None)
    run = _Run(config, rank, world, device, bf16, output, plan, tokenizer, encoder, loss, optimizer,
               scheduler, ddp)
    return run, resume_from


def _resume(run: _Run, resume_from: Path | None) -> None:
    """Weights, optimiser, schedule and RNG states back from the checkpoint, exactly."""
    if resume_from is not None:
        try:  # tensors and plain values only: a checkpoint can never run code
            state = torch.load(resume_from / "state.pt", map_location=run.device, weights_only=True)
        except Exception as exc:
            raise ValueError(f"{resume_from}/state.pt is not a pairmill checkpoint "
                             f"(refused: {str(exc).splitlines()[0]}); pass --overwrite to start "
                             f"again") from None
        if state["plan"] != run.plan.fingerprint():
            raise ValueError(f"{resume_from}: the checkpoint was made on other data; "
                             f"pass --overwrite to start again")
        run.encoder.load_state_dict(state["encoder"])
        run.loss.load_state_dict(state["loss"])
        run.optimizer.load_state_dict(state["optimizer"])
        run.scheduler.load_state_dict(state["scheduler"])
        rng = state["rng"]
        _set_rng_state(rng[run.rank] if isinstance(rng, list) else rng)
        run.start = state["step"]
    if run.rank == 0:
        (run.output / "train_config.json").write_text(json.dumps(
            {**plan_settings(run.config), "world_size": run.world, "bf16": run.bf16,
             "probabilities": run.plan.probabilities}, indent=2))
        _trim_metrics(run.output / "metrics.jsonl", run.start)
        if resume_from is not None:
            print(f"pairmill: resuming {run.output} at step {run.start} of {run.config.steps}",
                  file=sys.stderr)


def _loop(run: _Run, stop: int) -> None:
    """Steps from `run.start` to `stop`: one GradCache step, metrics, checkpoints."""
    config = run.config
    step_fn = GradCacheStep(run.encoder, run.loss, run.tokenizer.pad_token_id, run.device,
                            config.token_budget, config.nograd_factor, config.chunk_rows, run.bf16,
                            run.ddp)
    encode = make_encode(run.tokenizer, config.max_length, run.encoder.pooling)
    checkpoints = Checkpoints(run.output, config.keep_checkpoints)
    bar = None
    if run.rank == 0 and config.progress:
        from tqdm import tqdm

        bar = tqdm(total=config.steps, initial=run.start, unit="step", dynamic_ncols=True,
                   file=sys.stderr)
    clock = time.perf_counter()
    metrics = open(run.output / "metrics.jsonl", "a") if run.rank == 0 else None
    reporter = make_reporter(config.report_to, run.output, plan_settings(config)) \
        if run.rank == 0 else None
    try:
        for batch in stream_batches(run.plan, encode, run.start, stop, run.rank, run.world,
                                    config.group_size - 1):
            began = time.perf_counter()
            stats = step_fn(batch.queries, batch.documents, batch.negatives)
            if run.device.type == "cuda":
                torch.cuda.synchronize(run.device)
            lr = run.scheduler.get_last_lr()[0]
            run.optimizer.step()
            run.scheduler.step()
            run.optimizer.zero_grad(set_to_none=True)
            seconds = time.perf_counter() - began
            run.last_loss = stats.loss
            step = batch.step + 1
            if metrics is not None:
                record = {
                    "step": step, "task": batch.task, "loss": round(stats.loss, 6),
                    "temperature": round(run.loss.temperature, 6), "lr": lr,
                    "pairs_per_s": round(stats.pairs / seconds, 2),
                    "tokens_per_s": round(stats.tokens * run.world / seconds, 1),
                    "peak_memory_mb": round(_peak_memory_mb(run.device), 1),
                    "elapsed_s": round(time.perf_counter() - clock, 3)}
                metrics.write(json.dumps(record) + "\n")
                metrics.flush()
                if reporter is not None:
                    reporter.log(step, record)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(task=batch.task, loss=f"{stats.loss:.4f}")
            if step % config.checkpoint_every == 0 or step == stop:
                _checkpoint(checkpoints, step, run.plan, run.encoder, run.loss, run.optimizer,
                            run.scheduler, run.rank, run.world)
    finally:
        if bar is not None:
            bar.close()
        if metrics is not None:
            metrics.close()
        if reporter is not None:
            reporter.close()


def _finish(run: _Run, stop: int) -> dict:
    """The final model (when every step ran) and the summary."""
    config = run.config
    finished = stop >= config.steps
    if finished and run.rank == 0:
        run.encoder.save(run.output / "model", run.tokenizer, config.max_length,
                         extra={**run.loss.card(), "steps": config.steps,
                                "base_model": base_model_name(config.model),
                                "data": [storage.portable_name(d) for d in config.input]})
    if run.world > 1:
        dist.barrier()
    return {"output": str(run.output), "rank": run.rank, "steps_done": stop, "steps": config.steps,
            "finished": finished, "last_loss": run.last_loss,
            "model": str(run.output / "model") if finished else None}


def train_command(config: TrainConfig) -> int:
    """`pairmill train` from its config."""
    from .model import offline

    offline()
    summary = train(config)
    if summary["rank"] != 0:
        return 0
    if summary["finished"]:
        print(f"pairmill: trained {summary['steps']} steps, last loss {summary['last_loss']:.4f}; "
              f"model in {summary['model']}")
    else:
        print(f"pairmill: stopped after step {summary['steps_done']} of {summary['steps']}; "
              f"rerun the same command to continue", file=sys.stderr)
    return 0


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
