"""A recipe: one YAML file that names every step of a run, turned into the commands' configs.

Every key below a section is a setting of the command that section runs, spelled as its flag
without the dashes (`max-files: 1500` is `--max-files 1500`), so a recipe and a shell script say
the same thing in the same words; values are checked by the same types. The run decides only the
folders: each stage writes under the run's output.

    output: runs/code            # the run folder (`pairmill run --output` overrides it)
    datasets: gs://bucket/code   # where mined/ and pairs/ go when not in the run folder
    beam: [--runner=FnApiRunner] # Beam flags for every mine and dedup stage
    sources:                     # `pairmill mine SOURCE`, one stage each -> OUTPUT/mined/NAME
      NAME: {source: code, input: [...], programming_languages: python}
      NAME: {source: code, discover: stdlib}   # or site-packages: source found on this machine
    dedup: {threshold: 0.8, decontaminate: [NAME]}          # -> OUTPUT/pairs
    train: {time-budget: 1h}      # -> OUTPUT/train (no size keys: sized to the device)
    eval: {input: [NAME], before: true}                     # -> OUTPUT/eval/{before,after}.json
    publish: {dataset: {repo-id: ORG/NAME}, model: {repo-id: ORG/NAME}, dry-run: true}
    report: true                                            # -> OUTPUT/report/index.html
"""

from __future__ import annotations

import dataclasses
import os
import re
import sysconfig
from dataclasses import dataclass, field
from typing import Any

from .commands import build_mine_config, command, mine_groups
from .dataset.settings import WriteSettings
from .schemas.settings import (
    SettingError,
    config_from_mapping,
    is_secret_name,
    known_keys,
    redact_argv,
    render_argv,
)

SECTIONS = ("output", "datasets", "beam", "sources", "dedup", "filter", "train", "negatives",
            "finetune", "eval", "publish", "report")
DISCOVER = ("site-packages", "stdlib")


class RecipeError(ValueError):
    """A recipe that cannot run; the message names the section and key."""


@dataclass
class Stage:
    """One command of a run: its config, rendered as the command line it stands for.

    `inputs` are the stages whose outputs it reads; `kind` says how its output is checked
    (dataset, train, file, folder, upload).
    """

    name: str
    command: str
    config: Any
    output: str
    kind: str
    inputs: list[str] = field(default_factory=list)

    @property
    def argv(self) -> list[str]:
        """The command line the stage stands for, credentials redacted (run.json records it)."""
        if hasattr(self.config, "argv"):
            return redact_argv(self.config.argv())
        return redact_argv([self.command, *render_argv(self.config, skip={"overwrite"})])

    def fresh(self) -> Any:
        """The config that replaces the stage's old output (its overwrite setting on)."""
        config = self.config
        if isinstance(getattr(config, "write", None), WriteSettings):
            return dataclasses.replace(config, write=dataclasses.replace(config.write,
                                                                         overwrite=True))
        if any(f.name == "overwrite" for f in dataclasses.fields(config)):
            return dataclasses.replace(config, overwrite=True)
        return config


@dataclass
class Recipe:
    output: str
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)


def _config(name: str, section: str, settings: dict, owned: set[str], **fixed):
    """The config of command `name` from a recipe section; mistakes become RecipeError."""
    try:
        return config_from_mapping(command(name).config, settings, section, owned, **fixed)
    except SettingError as exc:
        raise RecipeError(str(exc).replace(" (known:", f" for `pairmill {name}` (known:", 1)) from None


_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def _expand(text: str) -> str:
    """`~` and `$VARIABLES` in paths; a credential never goes through a recipe value (it would
    be recorded in run.json and manifests), so a secret-looking variable is refused."""
    for match in _VARIABLE.finditer(text):
        name = match.group(1) or match.group(2)
        if is_secret_name(name):
            raise RecipeError(f"${name}: credentials are not recipe values (they would be recorded); "
                              f"pairmill reads HF_TOKEN and cloud credentials from the environment")
    return os.path.expanduser(os.path.expandvars(text))


def _section(raw: dict, name: str) -> dict | None:
    value = raw.get(name)
    if value is None:
        return None if name not in raw else {}
    if not isinstance(value, dict):
        raise RecipeError(f"`{name}` must be a mapping of settings")
    return {str(k): v for k, v in value.items()}


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


def _pop_alias(settings: dict, *names: str):
    """The value of the first of `names` present (new spelling first), all of them removed."""
    value = None
    for name in reversed(names):
        if name in settings:
            value = settings.pop(name)
    return value


def load_recipe(raw: dict, output: str | None = None) -> Recipe:
    """The stages of a recipe, in run order, each with its config."""
    if not isinstance(raw, dict):
        raise RecipeError("a recipe is a YAML mapping (output, sources, dedup, train, ...)")
    unknown = sorted(set(map(str, raw)) - set(SECTIONS))
    if unknown:
        raise RecipeError(f"unknown section(s) {', '.join(unknown)}; "
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
    if evals is not None:
        held = _pop_alias(dict(evals), "input", "data")
        if held is not None:
            held_out = {str(v) for v in (held if isinstance(held, list) else [held])}
    dedup = _section(raw, "dedup")
    training_data = [folders[n] for n in folders if n not in held_out]
    if dedup is not None:
        stages.append(_dedup_stage(dedup, folders, held_out, data_root, beam))
        training_data = [stages[-1].output]
    if not training_data:
        raise RecipeError("every source is held out for eval: nothing is left to train on")
    consistency = _section(raw, "filter")
    if consistency is not None:  # consistency filtering between dedup and training
        stages.append(_filter_stage(consistency, training_data, data_root, stages))
        training_data = [stages[-1].output]

    train = _section(raw, "train")
    trained = None
    dev = _dev_splits(evals)
    if train is not None:
        stages.append(_train_stage(train, training_data, folders, out, stages, dev=dev))
        trained = os.path.join(stages[-1].output, "model")
    negatives, finetune = _section(raw, "negatives"), _section(raw, "finetune")
    if finetune is not None and trained is None:
        raise RecipeError("finetune: needs a train section (stage 2 starts from its model)")
    if negatives is not None:  # GTE stage 2: hard negatives from the stage-1 model
        stages.append(_negatives_stage(negatives, training_data, data_root, trained, stages))
        training_data = [stages[-1].output]
    if finetune is not None:
        stages.append(_train_stage(finetune, training_data, folders, out, stages,
                                   name="finetune", model=trained, dev=dev))
        trained = os.path.join(stages[-1].output, "model")
    if evals is not None:
        stages += _eval_stages(evals, training_data, folders, out, stages, train, trained)
    publish = _section(raw, "publish")
    if publish is not None:
        stages += _publish_stages(publish, training_data, out, stages, trained)
    if raw.get("report", True):
        report = _config("report", "report", {}, set(), source=out,
                         output=os.path.join(out, "report"),
                         datasets=data_root if data_root != out.rstrip("/") else None)
        stages.append(Stage("report", "report", report, os.path.join(out, "report"), "folder",
                            [s.name for s in stages if s.kind != "upload"]))
    return Recipe(out, stages)


def _write_settings(section: str, settings: dict, folder: str) -> WriteSettings:
    """The dataset-writing keys of a section (taken out of `settings`); the run owns the folder."""
    keys = known_keys(WriteSettings)
    write = {k: settings.pop(k) for k in list(settings) if k in keys}
    try:
        return config_from_mapping(WriteSettings, write, section, {"output", "overwrite"},
                                   output=folder)
    except SettingError as exc:
        raise RecipeError(str(exc)) from None


def _stage_for(stages: list[Stage], output: str) -> list[str]:
    return [s.name for s in stages if s.output == output]


def _mine_stage(name: str, settings, folder: str, beam: list[str]) -> Stage:
    from .extractors.registry import source as source_spec

    section = f"sources.{name}"
    if not isinstance(settings, dict) or "source" not in settings:
        from .extractors.registry import sources

        raise RecipeError(f"{section}: needs `source:` ({', '.join(sources())})")
    settings = {str(k): v for k, v in settings.items()}
    try:
        spec = source_spec(str(settings.pop("source")))
    except ValueError as exc:
        raise RecipeError(f"{section}: {exc}") from None
    discover = settings.pop("discover", None)
    budget = _pop_alias(settings, "budget-mb", "budget_mb") or 40
    if discover is not None:
        if spec.name != "code" or discover not in DISCOVER:
            raise RecipeError(f"{section}: `discover` is for code sources: "
                              f"{' or '.join(DISCOVER)}")
        if "input" in settings:
            raise RecipeError(f"{section}: give `input` or `discover`, not both")
        settings["input"] = discover_inputs(discover, int(budget))
    inputs = {}
    for kind in spec.inputs:
        value = settings.pop(kind.name, None)
        if value is None:
            if kind.required:
                raise RecipeError(f"{section}: needs `{kind.name}:` ({kind.help})")
            continue
        inputs[kind.name] = [_expand(str(v)) for v in (value if isinstance(value, list) else [value])]
    write_settings = _write_settings(section, settings, folder)
    picked = {cls: {k: settings.pop(k) for k in list(settings) if k in known_keys(cls)}
              for name, cls in mine_groups(spec) if name != "write"}

    def make(cls):
        if cls is WriteSettings:
            return write_settings
        return config_from_mapping(cls, picked.get(cls, settings), section)

    try:
        config = build_mine_config(spec, inputs, make, beam)
    except SettingError as exc:
        raise RecipeError(str(exc).replace(" (known:", f" for `pairmill mine {spec.name}` (known:",
                                           1)) from None
    return Stage(f"mine-{name}", "mine", config, folder, "dataset")


def _dedup_stage(settings: dict, folders: dict[str, str], held_out: set[str], data_root: str,
                 beam: list[str]) -> Stage:
    inputs = settings.pop("input", None)
    decon = settings.pop("decontaminate", None)
    if inputs is None:
        decon_names = set(decon if isinstance(decon, list) else [decon] if decon else [])
        inputs = [n for n in folders if n not in held_out | decon_names]
    input_dirs = _names_or_paths("dedup.input", inputs, folders)
    decon_paths = _names_or_paths("dedup.decontaminate", decon, folders) if decon else []
    folder = f"{data_root}/pairs"
    write_settings = _write_settings("dedup", settings, folder)
    config = _config("dedup", "dedup", settings, set(), input=input_dirs,
                     decontaminate=decon_paths, write=write_settings, beam_args=list(beam))
    upstream = [f"mine-{n}" for n, f in folders.items() if f in input_dirs + decon_paths]
    return Stage("dedup", "dedup", config, folder, "dataset", upstream)


def _filter_stage(settings: dict, data: list[str], data_root: str, stages: list[Stage]) -> Stage:
    folder = f"{data_root}/filtered"
    config = _config("filter", "filter", settings, {"input", "output", "overwrite"}, input=data,
                     output=folder)
    upstream = [n for d in data for n in _stage_for(stages, d)]
    return Stage("filter", "filter", config, folder, "dataset", upstream)


def _dev_splits(evals: dict | None) -> list[str]:
    """The eval section's BEIR folders when every one has a dev split: what training selects
    its checkpoint on (test splits are for reporting only, never for choosing)."""
    beir = (evals or {}).get("beir")
    paths = [_expand(str(p)) for p in (beir if isinstance(beir, list) else [beir])] if beir else []
    has_dev = all(os.path.isfile(os.path.join(p, "qrels", "dev.tsv")) for p in paths)
    return paths if paths and has_dev else []


def _train_stage(settings: dict, data: list[str], folders: dict[str, str], out: str,
                 stages: list[Stage], name: str = "train", model: str | None = None,
                 dev: list[str] = ()) -> Stage:
    """The `train` stage, or `finetune`: stage 2, from the first stage's model, with GTE's
    fine-tuning preset unless the section says otherwise. The dev set is the section's
    `eval-beir` (with `eval-split`, dev by default), else the eval section's BEIR folders when
    they have a dev split, else (`dev-pairs`) a held-out slice of the training data."""
    given = _pop_alias(settings, "input", "data")
    if given is not None:
        data = _names_or_paths(f"{name}.input", given, folders)
    beir = _pop_alias(settings, "eval-beir", "eval_beir")
    if beir is not None:
        settings["eval-beir"] = [_expand(str(p)) for p in (beir if isinstance(beir, list) else [beir])]
    elif dev and not {"dev-pairs", "dev_pairs"} & set(settings):
        settings["eval-beir"] = list(dev)
    folder = os.path.join(out, name)
    defaults = {"model": model, "preset": settings.pop("preset", "stage2")} if model else {}
    owned = {"output", "overwrite"} | ({"model"} if model else set())
    config = _config("train", name, settings, owned, input=data, output=folder, **defaults)
    upstream = [n for d in data for n in _stage_for(stages, d)]
    if model:
        upstream.append("train")
    return Stage(name, "train", config, folder, "train", upstream)


def _negatives_stage(settings: dict, data: list[str], data_root: str, model: str | None,
                     stages: list[Stage]) -> Stage:
    folder = f"{data_root}/negatives"
    given = {"model": model} if model and "model" not in settings else {}
    config = _config("negatives", "negatives", settings, {"input", "output", "overwrite"},
                     input=data, output=folder, **given)
    upstream = [n for d in data for n in _stage_for(stages, d)] + (["train"] if given else [])
    return Stage("negatives", "negatives", config, folder, "dataset", upstream)


def _eval_stages(settings: dict, data: list[str], folders: dict[str, str], out: str,
                 stages: list[Stage], train: dict | None, trained: str | None) -> list[Stage]:
    """Evaluation before and after training: on held-out datasets (`eval-*`, eval/before.json)
    and, with `beir:`, on BEIR/MTEB folders or CodeSearchNet files (`beir-*`,
    eval/beir-before.json), so the figures sit beside published models'."""
    before = settings.pop("before", True)
    given = _pop_alias(settings, "input", "data")
    beir = settings.pop("beir", None)
    beir_paths = [_expand(str(p)) for p in (beir if isinstance(beir, list) else [beir])] if beir else []
    kinds = []
    if given is not None or not beir_paths:
        if given is not None:
            data = _names_or_paths("eval.input", given, folders)
        kinds.append(("eval", "", {"input": data}, [n for d in data for n in _stage_for(stages, d)]))
    if beir_paths:
        kinds.append(("beir", "beir-", {"beir": beir_paths}, []))
    owned = {"output", "json", "model"}
    base = (train or {}).get("model")
    result = []
    for prefix, file_prefix, inputs, upstream in kinds:
        if before or trained is None:
            path = os.path.join(out, "eval", f"{file_prefix}before.json")
            config = _config("eval", "eval", settings, owned, output=path, **inputs,
                             model=_expand(str(base)) if base else None)
            result.append(Stage(f"{prefix}-before", "eval", config, path, "file", upstream))
        if trained is not None:
            path = os.path.join(out, "eval", f"{file_prefix}after.json")
            config = _config("eval", "eval", settings, owned, output=path, **inputs, model=trained)
            result.append(Stage(f"{prefix}-after", "eval", config, path, "file",
                                [*upstream, *_stage_for(stages, os.path.dirname(trained))]))
    return result


def _publish_stages(settings: dict, data: list[str], out: str, stages: list[Stage],
                    trained: str | None) -> list[Stage]:
    dry_run = _pop_alias(settings, "dry-run", "dry_run") or False
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
        upstream = _stage_for(stages, source)
        # the model card carries the BEIR figures when there are some (the Hub shows them)
        after = [s for s in stages if s.name == "beir-after"] or [
            s for s in stages if s.name == "eval-after"]
        eval_file = None
        if kind == "model" and after:
            eval_file = after[0].output
            upstream.append(after[0].name)
        folder = os.path.join(out, "publish", kind)
        config = _config("publish", f"publish.{kind}", {str(k): v for k, v in target.items()},
                         {"dry_run", "repo_type", "eval", "source"}, source=source, repo_type=kind,
                         eval=eval_file, dry_run=folder if dry_run else None)
        if dry_run:
            result.append(Stage(f"publish-{kind}", "publish", config, folder, "folder", upstream))
        else:
            result.append(Stage(f"publish-{kind}", "publish", config, target["repo-id"], "upload",
                                upstream))
    return result
