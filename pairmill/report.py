"""`pairmill report DIR`: one self-contained HTML page (charts embedded) plus the charts as PNGs.

DIR may be a pairs dataset, a `pairmill train` folder, or a `pairmill run` folder (its deduped
dataset, the mined datasets it came from, the training run and the before/after evaluation).
Everything is read from manifests, Parquet columns and metrics.jsonl: a report never changes
what it describes.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np

from .dataset.stats import dataset_summary, length_summary, task_lengths
from .schemas import read_manifest, storage
from .trainer.plan import task_probabilities


def read_metrics(train_dir: Path) -> list[dict]:
    """metrics.jsonl, skipping a half-written last line of a killed run."""
    path = train_dir / "metrics.jsonl"
    steps = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                steps.append(json.loads(line))
            except ValueError:
                continue
    return steps


class _Page:
    """Sections of HTML with their charts, also kept as PNG files."""

    def __init__(self, title: str):
        self.title = title
        self.parts: list[str] = []
        self.charts: dict[str, bytes] = {}

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def text(self, text: str) -> None:
        self.parts.append(f"<p>{html.escape(text)}</p>")

    def chart(self, name: str, png: bytes, alt: str) -> None:
        self.charts[name] = png
        data = base64.b64encode(png).decode()
        self.parts.append(f'<figure><img src="data:image/png;base64,{data}" '
                          f'alt="{html.escape(alt)}"><figcaption>{html.escape(name)}.png'
                          f"</figcaption></figure>")

    def table(self, header: list[str], rows: list[list]) -> None:
        cells = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(c))}</td>" for c in row) + "</tr>"
                       for row in rows)
        self.parts.append(f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>")

    def html(self) -> str:
        style = ("body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}"
                 "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;"
                 "padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
                 "figure{margin:1em 0}img{max-width:100%}figcaption{color:#888;font-size:small}")
        return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>"
                f"{html.escape(self.title)}</title><style>{style}</style></head><body>"
                f"<h1>{html.escape(self.title)}</h1>{''.join(self.parts)}</body></html>\n")


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def dataset_section(page: _Page, folder: str, alphas: list[float], sample_rows: int,
                    mined: list[str] = ()) -> None:
    from . import report_charts as charts

    summary = dataset_summary(folder)
    tasks = summary["tasks"]
    page.heading(f"Dataset {folder}")
    if summary["problems"]:
        page.text("PROBLEMS: the dataset does not match its manifest: "
                  + "; ".join(summary["problems"]))
    if not tasks:
        page.text("The dataset holds no pairs.")
        return
    lengths = task_lengths(folder, sample_rows)
    page.table(["task", "pairs", "query chars (median / p95)", "document chars (median / p95)"],
               [[t, n, _median_p95(lengths[t]["query"]), _median_p95(lengths[t]["document"])]
                for t, n in tasks.items()])
    page.chart("pairs_per_task", charts.horizontal_bars(tasks, "pairs per task", "pairs"),
               "pairs per task")
    page.chart("lengths", charts.length_histograms(lengths),
               f"length distributions (first {sample_rows:,} rows per task)")
    drops: dict[str, int] = {}
    for source in [*mined, folder]:
        manifest = read_manifest(source)
        for reason, n in manifest.counters.get("drops", {}).items():
            if n:
                drops[reason] = drops.get(reason, 0) + n
    for reason, n in summary["dead_letters"].items():
        drops[f"dead letter: {reason}"] = n
    if drops:
        page.table(["dropped because", "records"],
                   [[r, n] for r, n in sorted(drops.items(), key=lambda kv: (-kv[1], kv[0]))])
        page.chart("drops", charts.horizontal_bars(drops, "records dropped, per reason", "records",
                                                   log=max(drops.values()) > 50 * min(drops.values())),
                   "drops per reason")
    dedup = summary.get("dedup")
    if dedup:
        page.text(f"Dedup: Jaccard threshold {dedup['threshold']}, {dedup['num_perm']} "
                  f"permutations, {dedup['bands']} bands of {dedup['rows_per_band']} rows, "
                  f"{dedup['ngram']}-word shingles of the {dedup['field']}.")
        page.table(["task", "rows in", "rows out", "removed"],
                   [[t, e["rows_in"], e["rows_out"],
                     ", ".join(f"{r}: {n:,}" for r, n in sorted(e["removed"].items())) or "-"]
                    for t, e in dedup["tasks"].items()])
        if dedup["cluster_sizes"]:
            page.chart("dedup_clusters", charts.cluster_sizes(dedup["cluster_sizes"]),
                       "dedup cluster sizes")
    probabilities = {a: task_probabilities(tasks, a) for a in alphas}
    page.table(["task", *(f"p at α = {a:g}" for a in sorted(alphas))],
               [[t, *(probabilities[a][t] for a in sorted(alphas))] for t in tasks])
    page.chart("mixture", charts.mixture(probabilities), "mixture probabilities")


def _median_p95(values: np.ndarray) -> str:
    if not len(values):
        return "-"
    summary = length_summary(values)
    return f"{summary['median']:,} / {summary['p95']:,}"


def training_section(page: _Page, train_dir: Path) -> None:
    from . import report_charts as charts

    steps = read_metrics(train_dir)
    page.heading(f"Training {train_dir}")
    config_path = train_dir / "train_config.json"
    if config_path.is_file():
        config = json.loads(config_path.read_text())
        keys = ("model", "loss", "temperature", "alpha", "batch_size", "steps", "lr", "max_length",
                "world_size", "bf16")
        page.table(["setting", "value"], [[k, str(config[k])] for k in keys if k in config])
        sizing_text = _sizing_text(config)
        if sizing_text:
            page.text(sizing_text)
    selection_section(page, train_dir)
    if not steps:
        page.text("No steps recorded yet (metrics.jsonl is empty).")
        return
    last = steps[-1]
    page.table(["steps done", "first loss", "last loss", "median pairs/s", "median tokens/s",
                "peak memory MB"],
               [[last["step"], float(steps[0]["loss"]), float(last["loss"]),
                 float(np.median([s.get("pairs_per_s", 0) for s in steps])),
                 float(np.median([s.get("tokens_per_s", 0) for s in steps])),
                 float(max(s.get("peak_memory_mb", 0) for s in steps))]])
    loss_png, throughput_png = charts.training_curves(steps)
    page.chart("loss", loss_png, "training loss")
    page.chart("throughput", throughput_png, "throughput")


def _sizing_text(config: dict) -> str:
    """How the run was sized, when `train` sized it (no --batch-size or --steps)."""
    sizing, requested = config.get("sizing") or {}, config.get("requested") or {}
    auto = [k for k in ("batch_size", "steps", "temperature") if requested.get(k, 0) is None]
    if not sizing or not auto:
        return ""
    text = f"Sized by pairmill to {sizing.get('device')}: {', '.join(auto)} chosen"
    if sizing.get("step_s"):
        text += f"; {sizing['step_s']:.2f} s per step measured on warm-up batches"
    if sizing.get("estimate_s") and sizing.get("budget_s"):
        text += (f"; estimated {sizing['estimate_s'] / 60:.1f} min for a budget of "
                 f"{sizing['budget_s'] / 60:.1f} min")
    return text + "."


def selection_section(page: _Page, train_dir: Path) -> None:
    """Base, best and last on the dev set, every evaluation, and a plain warning when no
    checkpoint beat the base model."""
    from .trainer.selection import verdict

    path = train_dir / "selection.json"
    if not path.is_file():
        return
    record = json.loads(path.read_text())
    if not record.get("history"):
        return
    page.heading("Model selection on the dev set")
    page.text(verdict(record) + ".")
    metrics = list(record["base"]["metrics"])
    page.table(["model", "step", *metrics],
               [[name, record[name]["step"], *(float(v) for v in record[name]["metrics"].values())]
                for name in ("base", "best", "last")])
    rows = []
    for entry in record["history"]:
        parts = entry["parts"].values()
        rows.append([entry["step"], *(float(np.mean([p[m] for p in parts])) for m in metrics)])
    page.table(["evaluated at step", *metrics], rows)


def eval_section(page: _Page, reports: dict[str, dict]) -> None:
    """Held-out pairs (`tasks`) and BEIR/MTEB sets (`sets`), before and after training."""
    for key, what, size in (("tasks", "held-out pairs", "pairs"), ("sets", "BEIR/MTEB sets",
                                                                    "queries")):
        chosen = {name: r for name, r in reports.items() if key in r}
        if not chosen:
            continue
        page.heading(f"Retrieval evaluation: {what}")
        metrics = list(next(iter(chosen.values()))["mean"])
        rows = []
        for name, report in chosen.items():
            for item, row in report[key].items():
                rows.append([f"{name}: {item}", row[size], *(float(row[m]) for m in metrics)])
            if key == "sets" and len(report[key]) > 1:
                rows.append([f"{name}: mean", "", *(float(report["mean"][m]) for m in metrics)])
        page.table([f"model: {key[:-1]}", size, *metrics], rows)


def write_report(source: str, output: str | None, alphas: list[float], sample_rows: int,
                 datasets: str | None = None) -> str:
    """Write OUTPUT/index.html and OUTPUT/*.png; returns the HTML file's path. `datasets` is
    where a run keeps mined/ and pairs/ when not in its folder (a gs:// or s3:// URI)."""
    root = Path(source)
    if not root.is_dir():
        raise FileNotFoundError(f"{source}: no such directory")
    out = Path(output) if output else root / "report"
    page = _Page(f"pairmill report: {root.resolve().name}")
    data_root = (datasets or source).rstrip("/")
    mined = run_datasets(data_root)
    pairs = f"{data_root}/pairs"
    if (root / "manifest.json").is_file():
        dataset_section(page, str(root), alphas, sample_rows)
    elif storage.is_file(f"{pairs}/manifest.json") or mined:
        main_dataset = pairs if storage.is_file(f"{pairs}/manifest.json") else mined[0]
        if mined:
            page.heading("Mined datasets")
            page.table(["dataset", "records read", "pairs kept", "dead letters", "tasks"],
                       [[m.rsplit("/", 1)[-1], *_mined_row(m)] for m in mined])
        dataset_section(page, main_dataset, alphas, sample_rows,
                        [m for m in mined if m != main_dataset])
    train_dir = root if (root / "train_config.json").is_file() else root / "train"
    if (train_dir / "train_config.json").is_file():
        training_section(page, train_dir)
    reports = {name: json.loads((root / "eval" / f"{name}.json").read_text())
               for name in ("before", "after", "beir-before", "beir-after")
               if (root / "eval" / f"{name}.json").is_file()}
    if reports:
        eval_section(page, reports)
    if not page.parts:
        raise ValueError(f"{source}: neither a pairs dataset, a training folder nor a run folder")
    out.mkdir(parents=True, exist_ok=True)
    for name, png in page.charts.items():
        storage.write_bytes(str(out / f"{name}.png"), png)
    storage.write_bytes(str(out / "index.html"), page.html().encode())
    return str(out / "index.html")


def run_datasets(data_root: str) -> list[str]:
    """The datasets a run mined: ROOT/mined/NAME folders with a manifest."""
    names = {f.split("/")[0] for f in storage.list_files(f"{data_root}/mined")
             if f.count("/") == 1 and f.endswith("/manifest.json")}
    return [f"{data_root}/mined/{n}" for n in sorted(names)]


def _mined_row(folder: str) -> list:
    manifest = read_manifest(folder)
    counters = manifest.counters
    return [counters.get("records_read", 0), counters.get("pairs_kept", manifest.total_rows),
            counters.get("dead_letters", 0), ", ".join(sorted(manifest.tasks)) or "-"]


def report_command(config) -> int:
    print(write_report(config.source, config.output, config.alpha, config.sample_rows,
                       config.datasets))
    return 0
