"""`pairmill run RECIPE.yaml`: every stage of a recipe as one job that resumes where it stopped.

A stage is skipped when its output is complete and valid (a dataset matches its manifest, a
training folder holds its final model, a report file exists), its command line is the one it
ran with, and the outputs it read are the ones it read then. Anything else runs again, and so
does everything downstream of it. `OUTPUT/run.json` records, per stage, the command, the
fingerprints of its inputs and of its output; a killed training stage resumes from its last
checkpoint because its command and inputs did not change.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

from .recipe import Recipe, RecipeError, Stage, load_recipe
from .schemas import storage, validate_dataset

STATE_NAME = "run.json"


def read_recipe_file(path: str) -> dict:
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such recipe file") from None
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None


def fingerprint(stage: Stage) -> str | None:
    """What the stage's output is now, or None when it is missing, partial or damaged."""
    out = stage.output
    if stage.kind == "upload":
        return "uploaded"
    if stage.kind == "dataset":
        if not storage.is_file(storage.join(out, "manifest.json")) or validate_dataset(
                out, check_hashes=False):
            return None
        return hashlib.sha256(storage.read_bytes(storage.join(out, "manifest.json"))).hexdigest()
    if stage.kind == "train":
        model = Path(out, "model")
        if not (model / "config.json").is_file() or not Path(out, "train_config.json").is_file():
            return None
        return _hash_files([Path(out, "train_config.json"),
                            *sorted(p for p in model.rglob("*") if p.is_file())], Path(out))
    if stage.kind == "file":
        return _hash_files([Path(out)], Path(out).parent) if Path(out).is_file() else None
    files = sorted(p for p in Path(out).rglob("*") if p.is_file()) if Path(out).is_dir() else []
    return _hash_files(files, Path(out)) if files else None


def _hash_files(files: list[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


class RunState:
    """`run.json`: per stage, the command, input fingerprints, output fingerprint, done or not."""

    def __init__(self, folder: str):
        self.path = Path(folder, STATE_NAME)
        self.stages: dict[str, dict] = {}
        if self.path.is_file():
            try:
                self.stages = json.loads(self.path.read_text()).get("stages", {})
            except ValueError:  # a damaged state file only costs reruns
                self.stages = {}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"stages": self.stages}, indent=2))
        tmp.replace(self.path)


def plan_stages(recipe: Recipe, state: RunState, redo: set[str]) -> list[tuple[Stage, str]]:
    """(stage, action) in order: `skip`, `run`, or `resume` (training with a checkpoint)."""
    current: dict[str, str | None] = {}
    planned = []
    for stage in recipe.stages:
        inputs = {name: current.get(name) for name in stage.inputs}
        record = state.stages.get(stage.name, {})
        same = record.get("argv") == stage.argv and record.get("inputs") == inputs
        now = fingerprint(stage) if same and record.get("done") else None
        if stage.name not in redo and same and record.get("done") and now == record.get("output"):
            action = "skip"
            current[stage.name] = now
        else:
            # what a stopped stage left to continue from: training checkpoints, or the finished
            # input shards of a mine stage (`input-shards`)
            progress = {"train": "checkpoints", "dataset": "_work"}.get(stage.kind)
            resumable = (progress is not None and same and not record.get("done")
                         and stage.name not in redo and Path(stage.output, progress).is_dir())
            action = "resume" if resumable else "run"
            current[stage.name] = None  # unknown until it has run: everything downstream reruns
        planned.append((stage, action))
    return planned


def run_stage(stage: Stage, config) -> int:
    """Call the stage's library function with its config (the same one the CLI calls)."""
    from .cli import guarded, quiet_beam_imports
    from .commands import command

    if command(stage.command).beam:
        quiet_beam_imports()
    return guarded(lambda: command(stage.command).function()(config))


def run_recipe(recipe: Recipe, redo: list[str], plan_only: bool = False) -> int:
    names = [s.name for s in recipe.stages]
    unknown = [n for n in redo if n not in names]
    if unknown:
        raise ValueError(f"--redo: no stage {', '.join(unknown)} (stages: {', '.join(names)})")
    state = RunState(recipe.output)
    planned = plan_stages(recipe, state, set(redo))
    print(f"pairmill run: {len(planned)} stages in {os.path.abspath(recipe.output)}", file=sys.stderr)
    for i, (stage, action) in enumerate(planned, 1):
        print(f"  {i}. {stage.name:<16} {action:<6}  pairmill {_quoted(stage.argv)}", file=sys.stderr)
    if plan_only:
        return 0
    Path(recipe.output).mkdir(parents=True, exist_ok=True)
    fingerprints = {s.name: state.stages[s.name].get("output") for s, a in planned if a == "skip"}
    timings: list[tuple[str, str, float]] = []
    for i, (stage, action) in enumerate(planned, 1):
        if action == "skip":
            timings.append((stage.name, "skipped (complete)", 0.0))
            continue
        inputs = {name: fingerprints.get(name) for name in stage.inputs}
        state.stages[stage.name] = {"argv": stage.argv, "inputs": inputs, "done": False}
        state.save()
        config = stage.config
        if action == "run":
            _clear(stage)
            config = stage.fresh()
        print(f"\npairmill run: [{i}/{len(planned)}] {stage.name}"
              f"{' (resuming)' if action == 'resume' else ''}", file=sys.stderr)
        started = time.time()
        code = run_stage(stage, config)
        seconds = time.time() - started
        output = fingerprint(stage) if code == 0 else None
        if output is None:
            why = f"failed (exit {code})" if code else "stopped before its output was complete"
            print(f"pairmill run: stage {stage.name} {why}; run the same command again to continue "
                  f"from this stage", file=sys.stderr)
            return code or 1
        fingerprints[stage.name] = output
        state.stages[stage.name].update(done=True, output=output, seconds=round(seconds, 1))
        state.save()
        timings.append((stage.name, "ran", seconds))
    _print_summary(recipe, timings)
    return 0


def _clear(stage: Stage) -> None:
    """Stages without an overwrite flag of their own write into a folder the run owns."""
    if stage.fresh() is not stage.config or stage.kind == "upload":
        return
    path = Path(stage.output)
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _quoted(argv: list[str]) -> str:
    import shlex

    text = " ".join(shlex.quote(a) for a in argv)
    return text if len(text) < 160 else text[:157] + "..."


def _print_summary(recipe: Recipe, timings: list[tuple[str, str, float]]) -> None:
    lines = ["", f"pairmill run: finished {os.path.abspath(recipe.output)}"]
    for name, what, seconds in timings:
        lines.append(f"  {name:<16} {what}{f' in {seconds:.0f}s' if seconds else ''}")
    for prefix, what in (("", "the held-out pairs"), ("beir-", "the BEIR/MTEB sets (mean)")):
        before = Path(recipe.output, "eval", f"{prefix}before.json")
        after = Path(recipe.output, "eval", f"{prefix}after.json")
        if before.is_file() and after.is_file():
            b, a = json.loads(before.read_text())["mean"], json.loads(after.read_text())["mean"]
            lines.append(f"  retrieval on {what}, before -> after training:")
            lines += [f"    {m:<12} {b[m]:.4f} -> {a[m]:.4f}" for m in b]
    report = Path(recipe.output, "report", "index.html")
    if report.is_file():
        lines.append(f"  report: {report.resolve()}")
    print("\n".join(lines))


def run_command(config) -> int:
    """`pairmill run RECIPE.yaml` from its config."""
    recipe = load_recipe(read_recipe_file(config.recipe), config.output)
    return run_recipe(recipe, config.redo, config.plan)


def run_demo(config) -> int:
    return demo(config.output, config.budget_mb)


def demo(output: str, budget_mb: int) -> int:
    """The bundled demo recipe: code pairs from this machine, dedup, a short CPU training run,
    retrieval before and after on held-out standard-library code, and the report."""
    from importlib import resources

    raw = read_recipe_file(str(resources.files("pairmill") / "recipes" / "demo.yaml"))
    raw["sources"]["code"]["budget-mb"] = budget_mb
    return run_recipe(load_recipe(raw, output), [])
