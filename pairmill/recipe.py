"""A recipe: one YAML file that names every step of a run, turned into `pairmill` command lines.

Every key below a section is the flag of the command that section runs, without its dashes
(`max-files: 1500` is `--max-files 1500`), so a recipe and a shell script say the same thing in
the same words. The run decides only the folders: each stage writes under the run's output.

    output: runs/code            # the run folder (`pairmill run --output` overrides it)
    datasets: gs://bucket/code   # where mined/ and pairs/ go when not in the run folder
    beam: [--runner=FnApiRunner] # Beam flags for every mine and dedup stage
    sources:                     # `pairmill mine SOURCE`, one stage each -> OUTPUT/mined/NAME
      NAME: {source: code, input: [...], languages: python}
      NAME: {source: code, discover: stdlib}   # or site-packages: source found on this machine
    dedup: {threshold: 0.8, decontaminate: [NAME]}          # -> OUTPUT/pairs
    train: {steps: 1000, batch-size: 1024}                  # -> OUTPUT/train
    eval: {data: [NAME], before: true}                      # -> OUTPUT/eval/{before,after}.json
    publish: {dataset: {repo-id: ORG/NAME}, model: {repo-id: ORG/NAME}, dry-run: true}
    report: true                                            # -> OUTPUT/report/index.html
"""

from __future__ import annotations

import argparse
import functools
import os
import sysconfig
from dataclasses import dataclass, field

SECTIONS = ("output", "datasets", "beam", "sources", "dedup", "train", "eval", "publish", "report")
DISCOVER = ("site-packages", "stdlib")


class RecipeError(ValueError):
    """A recipe that cannot run; the message names the section and key."""


@dataclass
class Stage:
    """One command of a run. `inputs` are the stages whose outputs it reads; `kind` says how its
    output is checked (dataset, train, file, folder, upload)."""

    name: str
    argv: list[str]
    output: str
    kind: str
    inputs: list[str] = field(default_factory=list)
    fresh_flag: str | None = None  # the flag that lets the command replace its old output


@dataclass
class Recipe:
    output: str
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)


class _RaisingParser(argparse.ArgumentParser):
    """Argument errors become exceptions, so a recipe is checked whole before anything runs."""

    def error(self, message):
        raise RecipeError(message)


@functools.cache
def _command_parser(path: tuple[str, ...]) -> argparse.ArgumentParser:
    from .cli import build_parser

    parser = build_parser(_RaisingParser)
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def _flags(section: str, settings: dict, command: tuple[str, ...], owned: set[str]) -> list[str]:
    """`key: value` pairs as the command's flags; unknown keys and the run's own flags refused."""
    parser = _command_parser(command)
    known = {opt[2:]: action for action in parser._actions for opt in action.option_strings
             if opt.startswith("--")}
    argv: list[str] = []
    for raw_key, value in settings.items():
        key = str(raw_key).replace("_", "-")
        if key in owned:
            raise RecipeError(f"{section}: `{key}` is set by the run, leave it out")
        if key not in known or key in ("help", "version"):
            choices = ", ".join(sorted(k for k in known if k not in owned | {"help", "version"}))
            raise RecipeError(f"{section}: unknown key `{raw_key}` for `pairmill "
                              f"{' '.join(command)}` (known: {choices})")
        argv += _flag_values(section, key, value)
    return argv


def _flag_values(section: str, key: str, value) -> list[str]:
    if value is None or value is False:
        return []
    if value is True:
        return [f"--{key}"]
    if isinstance(value, dict):
        raise RecipeError(f"{section}: `{key}` must be a value or a list, not a mapping")
    values = value if isinstance(value, list) else [value]
    return [f"--{key}", *(_expand(str(v)) for v in values)]


def _expand(text: str) -> str:
    return os.path.expanduser(os.path.expandvars(text))


def _section(raw: dict, name: str) -> dict | None:
    value = raw.get(name)
    if value is None:
        return None if name not in raw else {}
    if not isinstance(value, dict):
        raise RecipeError(f"`{name}` must be a mapping of settings")
    return dict(value)


def _names_or_paths(section: str, values, sources: dict[str, str]) -> list[str]:
    """Source names become their dataset folders; anything else is a path, kept as written."""
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list) or not values:
        raise RecipeError(f"{section}: expected a list of source names or paths")
    return [sources.get(str(v), _expand(str(v))) for v in values]


def discover_inputs(kind: str, budget_mb: int) -> list[str]:
    """Source trees already on this machine: nothing is downloaded."""
    from .machine_sources import other_language_inputs, python_package_dirs

    if kind == "stdlib":
        return [sysconfig.get_paths()["stdlib"]]
    return python_package_dirs(budget_mb << 20) + other_language_inputs()


def load_recipe(raw: dict, output: str | None = None) -> Recipe:
    """The stages of a recipe, in run order, each with its full command line."""
    if not isinstance(raw, dict):
        raise RecipeError("a recipe is a YAML mapping (output, sources, dedup, train, ...)")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise RecipeError(f"unknown section(s) {', '.join(map(str, unknown))}; "
                          f"a recipe has {', '.join(SECTIONS)}")
    out = _expand(str(output or raw.get("output") or ""))
    if not out:
        raise RecipeError("no output folder: set `output:` or pass --output")
    beam = [str(a) for a in raw.get("beam") or []]
    sources_raw = raw.get("sources") or {}
    if not isinstance(sources_raw, dict) or not sources_raw:
        raise RecipeError("`sources` must name at least one source: NAME: {source: ..., input: ...}")
    data_root = _expand(str(raw.get("datasets") or out)).rstrip("/")
    folders = {str(n): f"{data_root}/mined/{n}" for n in sources_raw}
    stages = [_mine_stage(str(n), s, folders[str(n)], beam) for n, s in sources_raw.items()]

    evals = _section(raw, "eval")
    held_out = set()
    if evals is not None and "data" in evals:
        held_out = {str(v) for v in (evals["data"] if isinstance(evals["data"], list)
                                     else [evals["data"]])}
    dedup = _section(raw, "dedup")
    training_data = [folders[n] for n in folders if n not in held_out]
    if dedup is not None:
        stages.append(_dedup_stage(dedup, folders, held_out, data_root, beam))
        training_data = [stages[-1].output]
    if not training_data:
        raise RecipeError("every source is held out for eval: nothing is left to train on")

    train = _section(raw, "train")
    trained = None
    if train is not None:
        stages.append(_train_stage(train, training_data, folders, out, stages))
        trained = os.path.join(stages[-1].output, "model")
    if evals is not None:
        stages += _eval_stages(evals, training_data, folders, out, stages, train, trained)
    publish = _section(raw, "publish")
    if publish is not None:
        stages += _publish_stages(publish, training_data, out, stages, trained)
    if raw.get("report", True):
        where = ["--datasets", data_root] if data_root != out.rstrip("/") else []
        stages.append(Stage("report", ["report", out, *where, "--output", os.path.join(out, "report")],
                            os.path.join(out, "report"), "folder",
                            [s.name for s in stages if s.kind != "upload"]))
    for stage in stages:  # every command line parses before any stage runs
        _command_parser(()).parse_known_args(stage.argv)
    return Recipe(out, stages)


def _stage_for(stages: list[Stage], output: str) -> list[str]:
    return [s.name for s in stages if s.output == output]


def _mine_stage(name: str, settings, folder: str, beam: list[str]) -> Stage:
    section = f"sources.{name}"
    if not isinstance(settings, dict) or "source" not in settings:
        raise RecipeError(f"{section}: needs `source:` (code, crawl, reddit, stackexchange, arxiv, "
                          f"s2orc, wikipedia)")
    settings = dict(settings)
    source = str(settings.pop("source"))
    mine = _command_parser(("mine",))
    choices = next(a for a in mine._actions if isinstance(a, argparse._SubParsersAction)).choices
    if source not in choices:
        raise RecipeError(f"{section}: unknown source {source!r} (one of {', '.join(choices)})")
    discover = settings.pop("discover", None)
    budget = settings.pop("budget-mb", settings.pop("budget_mb", 40))
    if discover is not None:
        if source != "code" or discover not in DISCOVER:
            raise RecipeError(f"{section}: `discover` is for code sources: "
                              f"{' or '.join(DISCOVER)}")
        if "input" in settings:
            raise RecipeError(f"{section}: give `input` or `discover`, not both")
        settings["input"] = discover_inputs(discover, int(budget))
    argv = ["mine", source, *_flags(section, settings, ("mine", source), {"output", "overwrite"}),
            "--output", folder, *beam]
    return Stage(f"mine-{name}", argv, folder, "dataset", fresh_flag="--overwrite")


def _dedup_stage(settings: dict, folders: dict[str, str], held_out: set[str], data_root: str,
                 beam: list[str]) -> Stage:
    inputs = settings.pop("input", None)
    decon = settings.pop("decontaminate", None)
    if inputs is None:
        decon_names = set(decon if isinstance(decon, list) else [decon] if decon else [])
        inputs = [n for n in folders if n not in held_out | decon_names]
    input_dirs = _names_or_paths("dedup.input", inputs, folders)
    argv = ["dedup", "--input", *input_dirs,
            *_flags("dedup", settings, ("dedup",), {"output", "overwrite"})]
    decon_paths = _names_or_paths("dedup.decontaminate", decon, folders) if decon else []
    if decon_paths:
        argv += ["--decontaminate", *decon_paths]
    folder = f"{data_root}/pairs"
    upstream = [f"mine-{n}" for n, f in folders.items() if f in input_dirs + decon_paths]
    return Stage("dedup", [*argv, "--output", folder, *beam], folder, "dataset", upstream,
                 fresh_flag="--overwrite")


def _train_stage(settings: dict, data: list[str], folders: dict[str, str], out: str,
                 stages: list[Stage]) -> Stage:
    if "data" in settings:
        data = _names_or_paths("train.data", settings.pop("data"), folders)
    folder = os.path.join(out, "train")
    argv = ["train", "--data", *data,
            *_flags("train", settings, ("train",), {"output", "overwrite"}), "--output", folder]
    upstream = [n for d in data for n in _stage_for(stages, d)]
    return Stage("train", argv, folder, "train", upstream, fresh_flag="--overwrite")


def _eval_stages(settings: dict, data: list[str], folders: dict[str, str], out: str,
                 stages: list[Stage], train: dict | None, trained: str | None) -> list[Stage]:
    before = settings.pop("before", True)
    if "data" in settings:
        data = _names_or_paths("eval.data", settings.pop("data"), folders)
    flags = _flags("eval", settings, ("eval",), {"output", "json", "model"})
    upstream = [n for d in data for n in _stage_for(stages, d)]
    base = (train or {}).get("model")
    result = []
    if before or trained is None:
        path = os.path.join(out, "eval", "before.json")
        model = ["--model", _expand(str(base))] if base else []
        result.append(Stage("eval-before", ["eval", *model, "--data", *data, *flags,
                                            "--output", path], path, "file", upstream))
    if trained is not None:
        path = os.path.join(out, "eval", "after.json")
        result.append(Stage("eval-after", ["eval", "--model", trained, "--data", *data, *flags,
                                           "--output", path], path, "file", [*upstream, "train"]))
    return result


def _publish_stages(settings: dict, data: list[str], out: str, stages: list[Stage],
                    trained: str | None) -> list[Stage]:
    dry_run = settings.pop("dry-run", settings.pop("dry_run", False))
    unknown = set(settings) - {"dataset", "model"}
    if unknown:
        raise RecipeError(f"publish: unknown key(s) {', '.join(sorted(map(str, unknown)))} "
                          f"(dataset, model, dry-run)")
    result = []
    for kind in ("dataset", "model"):
        target = settings.get(kind)
        if target is None:
            continue
        if not isinstance(target, dict) or "repo-id" not in target:
            raise RecipeError(f"publish.{kind}: needs `repo-id: ORG/NAME`")
        if kind == "dataset" and len(data) != 1:
            raise RecipeError("publish.dataset: needs one dataset: add a `dedup` section")
        if kind == "model" and trained is None:
            raise RecipeError("publish.model: needs a `train` section")
        source = data[0] if kind == "dataset" else os.path.dirname(trained)
        flags = _flags(f"publish.{kind}", dict(target), ("publish",),
                       {"dry-run", "repo-type", "eval"})
        argv = ["publish", source, *flags, "--repo-type", kind]
        upstream = _stage_for(stages, source)
        after = [s for s in stages if s.name == "eval-after"]
        if kind == "model" and after:
            argv += ["--eval", after[0].output]
            upstream.append("eval-after")
        folder = os.path.join(out, "publish", kind)
        if dry_run:
            result.append(Stage(f"publish-{kind}", [*argv, "--dry-run", folder], folder, "folder",
                                upstream))
        else:
            result.append(Stage(f"publish-{kind}", argv, target["repo-id"], "upload", upstream))
    return result
