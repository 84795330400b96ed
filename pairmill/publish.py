"""`pairmill publish`: a pairs dataset or a trained model as a Hugging Face Hub repository.

The folder that would be uploaded is always built first (under --dry-run OUTDIR it is all that
happens), so what users get from the Hub is exactly what a dry run shows. The upload goes through
huggingface_hub's API; the token comes from HF_TOKEN or `hf auth login` and is never printed or
written: pairmill never reads it itself.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from . import __version__
from .dataset.output import copy_dataset
from .dataset.stats import (
    column_counts,
    decontamination_method,
    decontamination_rows,
    length_summary,
    task_lengths,
)
from .extractors.registry import task_families
from .schemas import load_verified_manifest, storage
from .schemas.manifest import personal_data_counts
from .schemas.pairs import META_TYPE

HUB_META = META_TYPE  # datasets written before pairmill stored meta as key/value records

# pairs are used to train and evaluate sentence embeddings
TASK_CATEGORIES = ["sentence-similarity", "feature-extraction"]


def build_dataset_folder(dataset_dir: str, out_dir: str, repo_id: str, license_id: str) -> Path:
    """Copy a verified dataset's Parquet files and write its dataset card into `out_dir`."""
    manifest = load_verified_manifest(dataset_dir)
    out = _fresh_folder(out_dir)
    extra = {"published_from": storage.portable_name(dataset_dir)}
    if "history" in manifest.extra:
        extra["history"] = portable(manifest.extra["history"])
    copied = copy_dataset(manifest, str(out), functools.partial(_hub_copy, dataset_dir),
                          extra=extra, command=portable(manifest.command))
    stats = _length_stats(out, copied)
    (out / "README.md").write_text(dataset_card(copied, stats, repo_id, license_id))
    return out


def _hub_copy(dataset_dir: str, rel: str, target: str) -> None:
    """Copy one Parquet file, with `meta` as a list of {key, value}: `datasets` has no map type
    and refuses to load a map column (the same data; Arrow stores a map that way)."""
    with storage.open_input(storage.join(dataset_dir, rel)) as f:  # local, gs://, s3://, ...
        source = pq.ParquetFile(f)
        table = source.read()
        source_meta = source.metadata  # keep the row-group size
    meta = table.schema.field("meta") if "meta" in table.column_names else None
    if meta is not None and pa.types.is_map(meta.type):
        table = table.set_column(table.column_names.index("meta"), pa.field("meta", HUB_META),
                                 table["meta"].cast(HUB_META))
    size = max(source_meta.row_group(0).num_rows, 1) if source_meta.num_row_groups else None
    with storage.open_output(target) as sink:
        pq.write_table(table, sink, row_group_size=size, compression="zstd")


def _fresh_folder(out_dir: str) -> Path:
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out_dir}: exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _length_stats(dataset_dir: Path, manifest) -> dict:
    """Per task: characters per query and document (mean, median, 95th percentile), sources."""
    lengths = task_lengths(str(dataset_dir))
    return {task: {"sources": dict(sorted(column_counts(str(dataset_dir), files, "source").items())),
                   "query": length_summary(lengths[task]["query"]),
                   "document": length_summary(lengths[task]["document"])}
            for task, files in manifest.tasks.items()}


def dataset_card(manifest, stats: dict, repo_id: str, license_id: str) -> str:
    """README.md with the Hub's YAML header: one config per task, license, task categories."""
    total = manifest.total_rows
    header = ["---", f"license: {license_id}", "task_categories:"]
    header += [f"- {c}" for c in TASK_CATEGORIES]
    header += ["tags:", "- pairmill", "- text-pairs", "- contrastive-learning",
               f"size_categories:\n- {_size_category(total)}", "configs:"]
    for task in sorted(manifest.tasks):
        header += [f"- config_name: {task}", "  data_files:", "  - split: train",
                   f"    path: data/{task}/*.parquet"]
    header.append("---")
    name = repo_id.rsplit("/", 1)[-1]
    first = sorted(manifest.tasks)[0] if manifest.tasks else "TASK"
    lines = [f"# {name}", "",
             f"{total:,} naturally occurring text pairs for training and evaluating embedding "
             f"models, mined and deduplicated with pairmill {__version__}. Each task is one "
             "config:", "", "```python", "from datasets import load_dataset", "",
             f'pairs = load_dataset("{repo_id}", "{first}")',
             "```", "",
             "## Tasks", "",
             "| config | source family | pairs | sources | query chars (mean / median / p95) "
             "| document chars (mean / median / p95) |",
             "|---|---|---|---|---|---|"]
    for task in sorted(manifest.tasks):
        s = stats[task]
        sources = ", ".join(f"{k} ({v:,})" for k, v in s["sources"].items())
        q, d = s["query"], s["document"]
        lines.append(f"| `{task}` | {task_families().get(task, '')} | {manifest.rows(task):,} | {sources} "
                     f"| {q['mean']} / {q['median']} / {q['p95']} "
                     f"| {d['mean']} / {d['median']} / {d['p95']} |")
    lines += ["", "Columns: `id` (a hash of task, query and document), `task`, `query`, "
              "`document`, `source`, `origin` (where the pair was found), `lang`, `score` and "
              "`meta` (a list of {key, value}; after dedup, `duplicates` is how many pairs a "
              "row stood for).", ""]
    lines += _dedup_section(manifest.extra.get("dedup"))
    counters = manifest.counters
    lines += ["## How it was made", "",
              f"- records read: {counters.get('records_read', 0):,}; pairs kept: "
              f"{counters.get('pairs_kept', 0):,}; records set aside as unreadable: "
              f"{counters.get('dead_letters', 0):,}"]
    drops = {k: v for k, v in counters.get("drops", {}).items() if v}
    if drops:
        lines.append("- dropped, by reason: " + ", ".join(
            f"{k} {v:,}" for k, v in sorted(drops.items(), key=lambda kv: (-kv[1], kv[0]))))
    personal = personal_data_counts(manifest)
    if personal:
        lines.append("- personal data replaced by placeholders (`<EMAIL>`, `<PHONE>`, ...): " +
                     ", ".join(f"{kind} {n:,}" for kind, n in personal.items()))
    lines.append(f"- made by {manifest.created_by or 'pairmill'}; the command:")
    lines += ["", "```", " ".join(portable(manifest.command)) or "(not recorded)", "```", ""]
    history = portable(manifest.extra.get("history") or [])
    if history:
        lines += ["Earlier steps:", ""]
        lines += [f"```\n{' '.join(c)}\n```" for c in history]
        lines.append("")
    lines += ["`manifest.json` lists every file with its row count and sha256.", ""]
    return "\n".join(header) + "\n\n" + "\n".join(lines)


def _dedup_section(report: dict | None) -> list[str]:
    if not report:
        return ["## Deduplication", "",
                "Exact duplicates (same task, query and document up to whitespace) removed; no "
                "near-duplicate pass or decontamination recorded.", ""]
    lines = ["## Deduplication and decontamination", "",
             f"MinHash LSH near-duplicate removal within each task: threshold "
             f"{report['threshold']}, {report['num_perm']} permutations, word {report['ngram']}-"
             f"grams of the {report['field']} text, {report['bands']} bands × "
             f"{report['rows_per_band']} rows.", "",
             "| task | pairs in | pairs out | removed, by reason |", "|---|---|---|---|"]
    for task, t in report["tasks"].items():
        removed = ", ".join(f"{k} {v:,}" for k, v in sorted(t["removed"].items())) or "-"
        lines.append(f"| `{task}` | {t['rows_in']:,} | {t['rows_out']:,} | {removed} |")
    sizes = report.get("cluster_sizes") or {}
    if sizes:
        lines += ["", "Pairs each kept row stood for: " + ", ".join(
            f"{k}: {v:,}" for k, v in sizes.items())]
    decon = report.get("decontamination")
    if decon:
        lines += ["", f"Decontamination: a pair was removed when its {decontamination_method(decon)}.",
                  "", "| benchmark | texts read | n-grams held | pairs removed |", "|---|---|---|---|"]
        rows = decontamination_rows(decon)
        lines += [f"| `{label}` | {t:,} | {g} | {r:,} |" for label, (t, g, r, _) in rows.items()]
        for label, (*_, examples) in rows.items():
            if examples:
                lines += ["", f"Pairs removed for `{label}`, for example:", ""]
                lines += [f"- `{e}`" for e in examples]
    return [*lines, ""]


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"),
                        (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")):
        if n < limit:
            return name
    return "n>1B"


def build_model_folder(train_dir: str, out_dir: str, repo_id: str, license_id: str,
                       eval_report: str | None = None) -> Path:
    """Copy a `pairmill train` model folder and write a model card for sentence-transformers."""
    source = Path(train_dir)
    model = source / "model" if (source / "model" / "config.json").exists() else source
    if not (model / "config.json").exists() or not (model / "modules.json").exists():
        raise FileNotFoundError(f"{train_dir}: no model saved by `pairmill train` (config.json "
                                "and modules.json)")
    out = _fresh_folder(out_dir)
    shutil.copytree(model, out, dirs_exist_ok=True)
    info = json.loads((model / "pairmill_model.json").read_text()) \
        if (model / "pairmill_model.json").exists() else {}
    extras = {}
    for name in ("train_config.json", "eval.json"):  # eval.json: `pairmill eval --output ...`
        if (source / name).exists():
            extras[name] = json.loads((source / name).read_text())
    if eval_report:
        extras["eval.json"] = json.loads(Path(eval_report).read_text())
    selection = model_selection(train_dir)
    if selection:
        extras["selection"] = selection
    if (source / "metrics.jsonl").exists():
        steps = [json.loads(line) for line in (source / "metrics.jsonl").read_text().splitlines()
                 if line.strip()]
        if steps:
            extras["training_curve"] = {"steps": len(steps), "first_loss": steps[0].get("loss"),
                                        "last_loss": steps[-1].get("loss")}
    (out / "README.md").write_text(model_card(info, repo_id, license_id, extras))
    return out


def model_selection(train_dir: str) -> dict:
    """Base, best and last on the dev set, as `pairmill train` recorded them (the model's own
    pairmill_model.json, else the training folder's selection.json); {} without a dev set."""
    source = Path(train_dir)
    for path in (source / "model" / "pairmill_model.json", source / "pairmill_model.json"):
        if path.is_file():
            selection = json.loads(path.read_text()).get("selection")
            if selection:
                return selection
    path = source / "selection.json"
    if path.is_file():
        record = json.loads(path.read_text())
        return {k: v for k, v in record.items() if k != "history"}
    return {}


def _selection_section(selection: dict) -> list[str]:
    """The card's account of model selection: base, best and last on the dev set."""
    dev = selection.get("dev") or {}
    if dev.get("kind") == "beir":
        what = f"{', '.join(dev.get('sets', {}))} ({dev.get('split')} split)"
    else:
        what = f"{sum(dev.get('tasks', {}).values()):,} pairs held out of the training data"
    metric = selection.get("metric", "ndcg@10")
    lines = ["## Model selection", "",
             f"Scored on the dev set ({what}) at step 0 and during training; this model is the "
             f"checkpoint with the best mean {metric}.", "",
             "| model | step | " + " | ".join(selection["best"]["metrics"]) + " |",
             "|---|---|" + "---|" * len(selection["best"]["metrics"])]
    for name in ("base", "best", "last"):
        entry = selection[name]
        lines.append(f"| {name} | {entry['step']} | " + " | ".join(
            f"{v:.4f}" for v in entry["metrics"].values()) + " |")
    if not selection.get("improved"):
        lines += ["", "**No checkpoint beat the base model on the dev set: this model is the base "
                      "model unchanged.**"]
    return [*lines, ""]


_LOCAL_PATH = re.compile(r"^(/|~/|[A-Za-z]:[\\/])")


def portable(value):
    """Local absolute paths in what a card shows replaced by their last component (the
    machine's folders, user names and venvs are nobody's business); URIs stay."""
    if isinstance(value, str):
        return storage.portable_name(value) if _LOCAL_PATH.match(value) else value
    if isinstance(value, list):
        return [portable(v) for v in value]
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    return value


# metric names of `pairmill eval --beir` -> the Hub's model-index metric types (as MTEB's)
HUB_METRICS = {"ndcg@10": "ndcg_at_10", "map@100": "map_at_100", "recall@10": "recall_at_10",
               "recall@100": "recall_at_100", "mrr@10": "mrr_at_10",
               "precision@10": "precision_at_10"}


def model_index(name: str, report: dict) -> list[str]:
    """YAML lines of the card's `model-index`: one retrieval result per BEIR/MTEB set of a
    `pairmill eval --beir` report, so the Hub shows the figures."""
    sets = report.get("sets") or {}
    if not sets:
        return []
    lines = ["model-index:", f"- name: {json.dumps(name)}", "  results:"]
    for set_name, row in sorted(sets.items()):
        lines += ["  - task:", "      type: retrieval", "    dataset:",
                  f"      type: {json.dumps(set_name)}", f"      name: {json.dumps(set_name)}"]
        if row.get("split"):
            lines.append(f"      split: {json.dumps(row['split'])}")
        lines.append("    metrics:")
        for metric, hub in HUB_METRICS.items():
            if metric in row:
                lines += [f"    - type: {hub}", f"      value: {round(float(row[metric]), 6)}"]
    return lines


def model_card(info: dict, repo_id: str, license_id: str, extras: dict) -> str:
    header = ["---", f"license: {license_id}", "library_name: sentence-transformers",
              "pipeline_tag: sentence-similarity", "tags:", "- pairmill", "- sentence-transformers",
              "- feature-extraction"]
    if info.get("base_model"):
        header.append(f"base_model: {info['base_model']}")
    header += model_index(repo_id.rsplit("/", 1)[-1], extras.get("eval.json") or {})
    header.append("---")
    lines = [f"# {repo_id.rsplit('/', 1)[-1]}", "",
             f"A sentence embedding model trained with pairmill {__version__} (contrastive "
             f"training on mined text pairs, {info.get('pooling', 'mean')} pooling, "
             f"max length {info.get('max_length', '?')} tokens).", "",
             "```python", "from sentence_transformers import SentenceTransformer", "",
             f'model = SentenceTransformer("{repo_id}")',
             'embeddings = model.encode(["how do I read a file?", "open() returns a file"])',
             "```", ""]
    training = {k: v for k, v in info.items() if k not in ("pooling", "max_length", "selection")}
    training.update({k: v for k, v in extras.items() if k not in ("eval.json", "selection")})
    training = portable(training)
    if training:
        lines += ["## Training", "", "```json", json.dumps(training, indent=2), "```", ""]
    if extras.get("selection"):
        lines += _selection_section(extras["selection"])
    if "eval.json" in extras:
        lines += ["## Evaluation", "", "```json", json.dumps(portable(extras["eval.json"]), indent=2),
                  "```", ""]
    return "\n".join(header) + "\n\n" + "\n".join(lines)


def _check_selection(source: str, dry_run: str | None, force: bool) -> None:
    """A model whose run found no checkpoint better than its base is not pushed without --force
    (a dry run only says so): publishing it would hand users the base model under a new name."""
    selection = model_selection(source)
    if not selection or selection.get("improved", True) or force:
        return
    base, best = selection["base"], selection.get("best_checkpoint") or selection["best"]
    why = (f"{source}: no checkpoint of its training run beat the base model on the dev set "
           f"({selection.get('metric', 'ndcg@10')} base {base['score']:.4f}, best checkpoint "
           f"{best['score']:.4f}); the model is the base model unchanged")
    if dry_run:
        print(f"pairmill: warning: {why}; a real upload needs --force", file=sys.stderr)
        return
    raise ValueError(f"{why}; pass --force to publish it anyway")


def upload_folder(folder: Path, repo_id: str, repo_type: str, private: bool) -> str:
    """Create the repository if needed and upload the folder as one commit; returns its URL."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError

    api = HfApi()
    try:
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
        info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type=repo_type,
                                 commit_message=f"Upload with pairmill {__version__}")
    except LocalTokenNotFoundError as exc:
        raise ValueError("no Hugging Face token: set HF_TOKEN or run `hf auth login`") from exc
    except HfHubHTTPError as exc:  # the message names the status, never the token
        raise ValueError(f"the Hub refused the upload to {repo_id}: {exc}") from exc
    return getattr(info, "commit_url", None) or f"https://huggingface.co/{repo_id}"


def publish(config) -> int:
    """`pairmill publish` from its config (a PublishConfig)."""
    source, repo_id, repo_type = config.source, config.repo_id, config.repo_type
    private, dry_run, license_id, eval_report = (config.private, config.dry_run, config.license,
                                                 config.eval)
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValueError(f"--repo-id must be ORG/NAME, not {repo_id!r}")
    if eval_report and repo_type != "model":
        raise ValueError("--eval goes with --repo-type model")
    if eval_report and not Path(eval_report).is_file():
        raise FileNotFoundError(f"{eval_report}: no such file")
    if repo_type == "model":
        _check_selection(source, dry_run, getattr(config, "force", False))
    build = (build_dataset_folder if repo_type == "dataset"
             else functools.partial(build_model_folder, eval_report=eval_report))
    if dry_run:
        folder = build(source, dry_run, repo_id, license_id)
        files = sum(1 for p in folder.rglob("*") if p.is_file())
        print(f"pairmill: dry run: {files} files for {repo_type} {repo_id} in {folder}",
              file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory(prefix="pairmill-publish-") as tmp:
        folder = build(source, str(Path(tmp, "repo")), repo_id, license_id)
        url = upload_folder(folder, repo_id, repo_type, private)
    print(f"pairmill: published {repo_type} {repo_id}: {url}", file=sys.stderr)
    return 0
