"""`pairmill train`: the loop around GradCache — optimiser, schedule, checkpoints, exact resume.

Output folder:
  OUTPUT/train_config.json      the settings (a resumed run must match them)
  OUTPUT/metrics.jsonl          one line per step: task, loss, temperature, lr, pairs/s, tokens/s, memory
  OUTPUT/checkpoints/step-N/    weights, optimiser, scheduler, RNG states; `latest` names the newest
  OUTPUT/checkpoints/best/      the best model on the dev set so far (the base model at step 0)
  OUTPUT/checkpoints/last/      at the end: the last step's model
  OUTPUT/selection.json         every dev evaluation; base, best and last
  OUTPUT/model/                 the model: the best checkpoint on the dev set (the last step
                                without a dev set); transformers and sentence-transformers folder

The mixture plan is a pure function of the step, so a checkpoint needs only the step to put every
task cursor back; it also records the plan's fingerprint and refuses to resume on other data.
Without --batch-size/--steps the run is sized to the device and --time-budget (`sizing.py`);
train_config.json keeps the sizing, so a resumed run reuses it instead of measuring again.
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
from .selection import METRIC, DevSet, Selection, load_dev_set, save_atomic, timed, verdict
from .sizing import (
    Progress,
    Sizing,
    default_temperature,
    device_batch_size,
    duration_text,
    estimate_line,
    fit_batch,
    size_steps,
)
from .st_config import model_max_length

# Settings that change what the run computes; a resume with other values would not be exact.
_PLAN_KEYS = ("input", "model", "pooling", "loss", "temperature", "alpha", "batch_size", "steps", "lr",
              "warmup", "weight_decay", "max_length", "group_size", "matryoshka_dims", "seed",
              "dropout", "time_budget", "eval_beir", "eval_split", "dev_pairs", "eval_every")
CALIBRATION_BATCHES = 4  # the first is a warm-up (allocations, thread pools); the others are timed
OVERRUN = 1.05  # a sized run whose pace so far would end past this share of its budget is shortened


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
    saved = saved.get("requested", saved)  # what was asked for, before sizing filled it in
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
    dev: DevSet = field(default_factory=DevSet)
    selection: Selection | None = None
    sizing: Sizing | None = None
    progress: Progress | None = None


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
    config = apply_preset(dataclasses.replace(config))  # sizing fills in the copy, not the caller's
    began = time.perf_counter()
    run, resume_from, requested = _setup(config)
    _size(run, began)
    _resume(run, resume_from, requested)
    stop = config.steps if config.stop_after is None else min(config.steps, run.start + config.stop_after)
    stop = _loop(run, stop)
    return _finish(run, stop)


def _setup(config: TrainConfig) -> tuple[_Run, Path | None, dict]:
    """Output folder checked; dev set, batch size, plan, model, loss and optimiser built; the
    checkpoint to resume and the settings as requested (before sizing)."""
    rank, world, local_rank = _distributed()
    if config.model is None:
        config.model = default_model_path()
    requested = plan_settings(config)
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

    saved = _saved_sizing(Path(config.output)) if resume_from is not None else None
    tasks = task_row_groups(config.input)
    dev, exclude = load_dev_set(tasks, config.eval_beir, config.eval_split, config.dev_pairs,
                                config.batch_size)
    if saved is not None:
        config.batch_size, config.temperature = saved.batch_size, saved.temperature
    elif config.batch_size is None:
        rows = {t: sum(g.rows for g in groups) - sum(map(len, exclude.get(t, {}).values()))
                for t, groups in tasks.items()}
        config.batch_size = fit_batch(device_batch_size(device), rows, world)
    if config.temperature is None:
        config.temperature = default_temperature(config.loss, config.batch_size)
    plan = MixturePlan(tasks, config.alpha, config.batch_size, config.seed, exclude)
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
    loss, optimizer = _loss_and_optimizer(config, encoder, device)
    ddp = None
    if world > 1:
        ddp = torch.nn.parallel.DistributedDataParallel(
            encoder, device_ids=[device.index] if device.type == "cuda" else None)
    run = _Run(config, rank, world, device, bf16, output, plan, tokenizer, encoder, loss, optimizer,
               None, ddp, extra={"requested": requested}, dev=dev, sizing=saved)
    return run, resume_from, requested


def _loss_and_optimizer(config: TrainConfig, encoder: Encoder, device: torch.device):
    loss = with_matryoshka(make_loss(config.loss, config.temperature),
                           config.matryoshka_dims).to(device)
    params = [p for p in encoder.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.ndim > 1], "weight_decay": config.weight_decay},
              {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
              *loss.parameter_groups()]
    return loss, torch.optim.AdamW(groups, lr=config.lr, fused=device.type == "cuda")


def _saved_sizing(output: Path) -> Sizing | None:
    """The sizing a run made before it was stopped (train_config.json), for its resume."""
    path = output / "train_config.json"
    if not path.is_file():
        return None
    sizing = json.loads(path.read_text()).get("sizing")
    return Sizing(**{**sizing, "notes": tuple(sizing.get("notes", ()))}) if sizing else None


def _size(run: _Run, began: float) -> None:
    """Base evaluation, warm-up timing and the steps the budget allows; the estimate printed.

    A resumed run reuses the sizing it made (the steps decide the schedule, so they must not
    change), and its evaluations so far."""
    config = run.config
    selection = Selection(run.output, run.dev) if run.rank == 0 and not run.dev.empty else None
    run.selection = selection
    if run.sizing is not None:  # resuming
        config.steps, config.eval_every = run.sizing.steps, run.sizing.eval_every
    else:
        if selection is not None:  # a fresh start: earlier evaluations described another run
            selection.history = []
            shutil.rmtree(selection.best_dir, ignore_errors=True)
            _evaluate(run, 0)
        eval_s = selection.history[0]["seconds"] if selection is not None else None
        step_s, notes = None, []
        if config.steps is None:
            step_s, eval_s, spent = _agree(run, _calibrate(run), eval_s, time.perf_counter() - began)
            batch, steps, every, step_s = size_steps(
                config.batch_size, _left_to_run(run, "batch_size"), config.time_budget, spent,
                step_s, eval_s, config.eval_every)
            if batch != config.batch_size:
                notes.append(f"batch lowered from {config.batch_size} to {batch} so the budget "
                             f"allows more steps")
                _rebatch(run, batch)
                # measured again: overheads do not shrink with the batch
                step_s, spent = _agree(run, _calibrate(run), time.perf_counter() - began)
                _, steps, every, step_s = size_steps(
                    batch, False, config.time_budget, spent, step_s, eval_s, config.eval_every)
            config.steps, config.eval_every = steps, every
        elif config.eval_every is None:
            config.eval_every = max(1, -(-config.steps // 10))
        spent = time.perf_counter() - began
        evals = -(-config.steps // config.eval_every) if eval_s is not None else 0
        estimate = spent + config.steps * step_s + evals * (eval_s or 0) if step_s else None
        if estimate and estimate > config.time_budget:
            notes.append(f"the budget of {duration_text(config.time_budget)} is shorter than "
                         f"setup and one step take here: the run will overrun it")
        run.sizing = Sizing(config.batch_size, config.steps, config.eval_every, config.temperature,
                            _device_text(run.device), config.time_budget if step_s else None,
                            round(spent, 2), step_s and round(step_s, 3),
                            eval_s and round(eval_s, 3), estimate and round(estimate, 1),
                            tuple(notes))
        if run.world > 1:  # rank 0 measured; every rank runs what it decided
            shared = [run.sizing]
            dist.broadcast_object_list(shared, src=0)
            run.sizing = shared[0]
            config.steps, config.eval_every = run.sizing.steps, run.sizing.eval_every
            if run.sizing.batch_size != config.batch_size:
                _rebatch(run, run.sizing.batch_size)
        if run.rank == 0:
            print(estimate_line(run.sizing, run.dev.label() if selection is not None else None),
                  file=sys.stderr, flush=True)
            for note in run.sizing.notes:
                print(f"pairmill: {note}", file=sys.stderr)
    run.scheduler = torch.optim.lr_scheduler.LambdaLR(
        run.optimizer, lambda s: _schedule(s, config.steps, config.warmup))


def _agree(run: _Run, *values):
    """Rank 0's values on every rank (timings differ between ranks; decisions must not)."""
    if run.world > 1:
        shared = list(values)
        dist.broadcast_object_list(shared, src=0)
        values = tuple(shared)
    return values


def _left_to_run(run: _Run, key: str) -> bool:
    """Whether a setting was left for the run to choose (requested as None)."""
    return run.extra["requested"].get(key, "given") is None


def _rebatch(run: _Run, batch: int) -> None:
    """A new batch size: the plan, the temperature that follows it, and loss and optimiser."""
    config = run.config
    if _left_to_run(run, "temperature"):
        config.temperature = default_temperature(config.loss, batch)
    config.batch_size = batch
    run.plan = MixturePlan(run.plan.groups, config.alpha, batch, config.seed, run.plan.exclude)
    run.loss, run.optimizer = _loss_and_optimizer(config, run.encoder, run.device)


def _device_text(device: torch.device) -> str:
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"{props.name} ({props.total_memory / 2**30:.0f} GiB)"
    return f"cpu ({torch.get_num_threads()} threads)"


def _calibrate(run: _Run) -> float:
    """Seconds per step at the planned batch: forward and backward of the first batches, no
    optimiser step, gradients dropped and RNG states put back, so the run itself is unchanged."""
    config = run.config
    rng = _rng_state()
    step_fn = GradCacheStep(run.encoder, run.loss, run.tokenizer.pad_token_id, run.device,
                            config.token_budget, config.nograd_factor, config.chunk_rows, run.bf16,
                            run.ddp)
    encode = make_encode(run.tokenizer, config.max_length, run.encoder.pooling)
    times = []
    for batch in stream_batches(run.plan, encode, 0, CALIBRATION_BATCHES, run.rank, run.world,
                                config.group_size - 1):
        began = time.perf_counter()
        step_fn(batch.queries, batch.documents, batch.negatives)
        if run.device.type == "cuda":
            torch.cuda.synchronize(run.device)
        times.append(time.perf_counter() - began)
    run.optimizer.zero_grad(set_to_none=True)
    _set_rng_state(rng)
    timed_steps = times[1:] or times
    return float(np.mean(timed_steps)) * 1.05  # the optimiser step, not timed here


def _keep_to_budget(run: _Run, step: int, elapsed: float, pace: float) -> None:
    """A sized run that would overrun its budget at the pace measured so far (the machine got
    busier, or steps of some tasks are longer) ends earlier: fewer steps, the schedule's decay
    follows. Checked at evaluation steps, decided by rank 0, recorded for a resume."""
    config, sizing = run.config, run.sizing
    if not _left_to_run(run, "steps") or sizing is None or sizing.budget_s is None:
        return
    steps = config.steps
    if run.rank == 0:
        eval_s = sizing.eval_s or 0.0
        evals_left = -(-(steps - step) // config.eval_every) if run.selection is not None else 0
        projected = sizing.spent_s + elapsed + (steps - step) * pace + evals_left * eval_s
        if projected > OVERRUN * sizing.budget_s:
            left = sizing.budget_s - sizing.spent_s - elapsed - evals_left * eval_s
            steps = max(step + 1, step + int(left / pace))
    if run.world > 1:
        shared = [steps]
        dist.broadcast_object_list(shared, src=0)
        steps = shared[0]
    if steps < config.steps:
        note = (f"at step {step}, {pace:.2f} s/step against {sizing.step_s:.2f} estimated: "
                f"shortened from {config.steps} to {steps} steps to end within the budget")
        config.steps = sizing.steps = steps
        sizing.notes = (*sizing.notes, note)
        if run.rank == 0:
            print(f"pairmill: {note}", file=sys.stderr, flush=True)
            path = run.output / "train_config.json"
            saved = json.loads(path.read_text())
            saved.update(steps=steps, sizing=sizing.to_json())
            path.write_text(json.dumps(saved, indent=2))


def _evaluate(run: _Run, step: int) -> float:
    """Score the dev set now; a new best is saved as checkpoints/best. Rank 0 only."""
    selection = run.selection
    result, seconds = timed(lambda: run.dev.evaluate(run.encoder, run.tokenizer,
                                                     run.config.max_length, run.device))
    if selection.record(step, result, seconds):
        save_atomic(selection.best_dir, lambda tmp: run.encoder.save(
            tmp, run.tokenizer, _saved_length(run), extra=_model_info(run, step)))
    selection.save()
    return result["score"]


def _saved_length(run: _Run) -> int:
    """The `max_seq_length` a saved model embeds with: the base model's own, or the training
    length when that is longer. Training at fewer tokens is a choice of speed; saving it would
    make every later use truncate there (SciFact lost 0.02 nDCG@10 at 128 tokens against the
    base's 256, more than the training changed)."""
    return max(run.config.max_length, model_max_length(str(run.config.model)))


def _model_info(run: _Run, step: int) -> dict:
    config = run.config
    return {**run.loss.card(), "steps": config.steps, "step": step,
            "train_max_length": config.max_length,
            "base_model": base_model_name(config.model),
            "data": [storage.portable_name(d) for d in config.input]}


def _resume(run: _Run, resume_from: Path | None, requested: dict) -> None:
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
             "probabilities": run.plan.probabilities, "requested": requested,
             "sizing": run.sizing.to_json(),
             "dev": run.dev.describe() if not run.dev.empty else None}, indent=2))
        _trim_metrics(run.output / "metrics.jsonl", run.start)
        if run.selection is not None:
            run.selection.trim(run.start)
        if resume_from is not None:
            print(f"pairmill: resuming {run.output} at step {run.start} of {run.config.steps}",
                  file=sys.stderr)


def _loop(run: _Run, stop: int) -> int:
    """Steps from `run.start` to `stop`: one GradCache step, metrics, checkpoints, dev
    evaluations. Returns the step it stopped at (earlier when the budget required it)."""
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
    sizing = run.sizing
    every = config.eval_every if run.selection is not None else None
    progress = Progress(run.start, config.steps, every, sizing.eval_s if sizing else None,
                        enabled=bar is None) if run.rank == 0 else None
    metrics = open(run.output / "metrics.jsonl", "a") if run.rank == 0 else None
    trained_s, check_every = 0.0, max(1, min(config.steps // 20, 10))
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
            trained_s += seconds
            if run.start == 0 and step % check_every == 0 and step < config.steps:
                _keep_to_budget(run, step, time.perf_counter() - clock, trained_s / step)
                stop = min(stop, config.steps)
                if progress is not None:
                    progress.stop = config.steps
            evaluate = not run.dev.empty and (step % config.eval_every == 0 or step == config.steps)
            dev_score = None
            if evaluate and run.selection is not None:
                dev_score = _evaluate(run, step)
            if progress is not None:
                progress.add_step(seconds)
                note = f"loss {stats.loss:.4f}"
                if dev_score is not None:
                    best = run.selection.best
                    note += (f", dev {METRIC} {dev_score:.4f} (base {run.selection.history[0]['score']:.4f}, "
                             f"best {best['score']:.4f} at step {best['step']})")
                progress.maybe_print(step, note, force=dev_score is not None)
            if metrics is not None:
                record = {
                    "step": step, "task": batch.task, "loss": round(stats.loss, 6),
                    "temperature": round(run.loss.temperature, 6), "lr": lr,
                    "pairs_per_s": round(stats.pairs / seconds, 2),
                    "tokens_per_s": round(stats.tokens * run.world / seconds, 1),
                    "peak_memory_mb": round(_peak_memory_mb(run.device), 1),
                    "elapsed_s": round(time.perf_counter() - clock, 3)}
                if dev_score is not None:
                    record[f"dev_{METRIC}"] = round(dev_score, 6)
                metrics.write(json.dumps(record) + "\n")
                metrics.flush()
                if reporter is not None:
                    reporter.log(step, record)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(task=batch.task, loss=f"{stats.loss:.4f}")
            if step % config.checkpoint_every == 0 or step == stop or evaluate:
                _checkpoint(checkpoints, step, run.plan, run.encoder, run.loss, run.optimizer,
                            run.scheduler, run.rank, run.world)
            if step >= stop:
                break
    finally:
        if bar is not None:
            bar.close()
        if metrics is not None:
            metrics.close()
        if reporter is not None:
            reporter.close()
    return stop


def _finish(run: _Run, stop: int) -> dict:
    """The model (when every step ran): the best checkpoint on the dev set, the last step beside
    it in checkpoints/last; without a dev set, the last step. And the summary."""
    config = run.config
    finished = stop >= config.steps
    selection = {}
    if finished and run.rank == 0:
        model = run.output / "model"
        if run.selection is None:
            save_atomic(model, lambda tmp: run.encoder.save(
                tmp, run.tokenizer, _saved_length(run), extra=_model_info(run, config.steps)))
        else:
            selection = run.selection.summary()
            save_atomic(run.output / "checkpoints" / "last", lambda tmp: run.encoder.save(
                tmp, run.tokenizer, _saved_length(run), extra=_model_info(run, config.steps)))

            def copy_best(tmp: Path) -> None:
                shutil.copytree(run.selection.best_dir, tmp)
                info_path = tmp / "pairmill_model.json"
                info = json.loads(info_path.read_text())
                info_path.write_text(json.dumps({**info, "selection": selection}, indent=2))

            save_atomic(model, copy_best)
    if run.world > 1:
        dist.barrier()
    return {"output": str(run.output), "rank": run.rank, "steps_done": stop, "steps": config.steps,
            "finished": finished, "last_loss": run.last_loss,
            "model": str(run.output / "model") if finished else None, "selection": selection}


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
        if summary["selection"]:
            print(f"pairmill: {verdict(summary['selection'])}; the last step is in "
                  f"{Path(summary['output'], 'checkpoints', 'last')}")
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
