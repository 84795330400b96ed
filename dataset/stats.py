"""`pairmill stats DIR`: what a dataset holds, read from its manifest and its `lang` column.
Also the length statistics the dataset card and the report share."""

from __future__ import annotations

import collections

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..schemas import ManifestError, read_manifest, storage, validate_dataset


def dataset_summary(dataset_dir: str) -> dict:
    """Rows per task and language, counters, dead letters per reason, and any integrity problem."""
    manifest = read_manifest(dataset_dir)
    by_lang = {task: column_counts(dataset_dir, files, "lang")
               for task, files in manifest.tasks.items()}
    errors = column_counts(dataset_dir, manifest.errors, "reason")
    return {
        "path": storage.absolute(dataset_dir),
        "tasks": {t: manifest.rows(t) for t in sorted(manifest.tasks)},
        "languages": {t: dict(sorted(c.items())) for t, c in by_lang.items()},
        "counters": manifest.counters,
        "dead_letters": dict(sorted(errors.items())),
        "problems": validate_dataset(dataset_dir),
        "dedup": manifest.extra.get("dedup"),
    }


def task_lengths(dataset_dir: str, sample_rows: int | None = None
                 ) -> dict[str, dict[str, np.ndarray]]:
    """Characters per query and document, per task, from the first `sample_rows` rows (all when
    None)."""
    manifest = read_manifest(dataset_dir)
    out = {}
    for task, files in sorted(manifest.tasks.items()):
        sides: dict[str, list[np.ndarray]] = {"query": [], "document": []}
        taken = 0
        for entry in files:
            if sample_rows is not None and taken >= sample_rows:
                break
            with storage.open_input(storage.join(dataset_dir, entry.path)) as f:
                table = pq.read_table(f, columns=["query", "document"])
            if sample_rows is not None:
                table = table.slice(0, sample_rows - taken)
            taken += table.num_rows
            for side in sides:
                sides[side].append(pc.utf8_length(table[side]).to_numpy(zero_copy_only=False))
        out[task] = {s: np.concatenate(v) if v else np.zeros(0, np.int64) for s, v in sides.items()}
    return out


def length_summary(values: np.ndarray) -> dict[str, int]:
    """Mean, median and 95th percentile of lengths (zeros for none)."""
    if not len(values):
        return {"mean": 0, "median": 0, "p95": 0}
    return {"mean": round(float(np.mean(values))), "median": int(np.median(values)),
            "p95": int(np.percentile(values, 95))}


def column_counts(dataset_dir: str, files, column: str) -> collections.Counter:
    """Value counts of one column over files; unreadable files are left to the problems list."""
    counts = collections.Counter()
    for entry in files:
        try:
            with storage.open_input(storage.join(dataset_dir, entry.path)) as f:
                values = pq.read_table(f, columns=[column])[column]
        except (OSError, ValueError, KeyError):
            continue
        counts.update(v if v is not None else "-" for v in values.to_pylist())
    return counts


def format_summary(summary: dict) -> str:
    lines = [f"dataset: {summary['path']}"]
    counters = summary["counters"]
    lines.append(f"records read: {counters.get('records_read', 0):,}   "
                 f"pairs kept: {counters.get('pairs_kept', 0):,}   "
                 f"dead letters: {counters.get('dead_letters', 0):,}")
    lines.append("pairs per task:")
    for task, rows in summary["tasks"].items():
        lines.append(f"  {task:<34} {rows:>10,}")
        for lang, n in summary["languages"].get(task, {}).items():
            if lang != "-":
                lines.append(f"    {lang:<32} {n:>10,}")
    drops = {k: v for k, v in counters.get("drops", {}).items() if v}
    if drops:
        lines.append("drops per reason:")
        for reason, n in sorted(drops.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {reason:<34} {n:>10,}")
    if summary["dead_letters"]:
        lines.append("dead letters per reason (in errors/):")
        for reason, n in summary["dead_letters"].items():
            lines.append(f"  {reason:<34} {n:>10,}")
    dedup = summary.get("dedup")
    if dedup:
        lines.append(f"dedup (threshold {dedup['threshold']}, {dedup['num_perm']} permutations, "
                     f"{dedup['bands']} bands x {dedup['rows_per_band']} rows, "
                     f"{dedup['ngram']}-word shingles of the {dedup['field']}):")
        lines.append(f"  {'task':<34} {'rows in':>10} {'rows out':>10}  removed")
        for task, entry in dedup["tasks"].items():
            removed = ", ".join(f"{r} {n:,}" for r, n in sorted(entry["removed"].items()))
            lines.append(f"  {task:<34} {entry['rows_in']:>10,} {entry['rows_out']:>10,}  "
                         f"{removed or '-'}")
        sizes = ", ".join(f"{k}: {v:,}" for k, v in dedup["cluster_sizes"].items())
        lines.append(f"  cluster sizes (pairs a survivor stands for): {sizes}")
    if dedup and dedup.get("decontamination"):
        decon = dedup["decontamination"]
        lines.append(f"decontamination: {decontamination_method(decon)}")
        lines.append(f"  {'benchmark':<34} {'texts read':>10} {'n-grams':>12} {'removed':>8}")
        for label, (texts, grams, removed, examples) in decontamination_rows(decon).items():
            lines.append(f"  {label:<34} {texts:>10,} {grams:>12} {removed:>8,}")
            lines.extend(f"    e.g. {e}" for e in examples)
    if summary["problems"]:
        lines.append("PROBLEMS (the dataset does not match its manifest):")
        lines.extend(f"  {p}" for p in summary["problems"])
    return "\n".join(lines)


def decontamination_method(report: dict) -> str:
    """One sentence saying what made a pair contaminated (the summary's and the card's)."""
    read = ("; a BEIR folder's benchmark texts are its queries and its judged documents"
            if report.get("documents") == "judged" else
            "; a BEIR folder's benchmark texts are its queries and its whole corpus")
    if report.get("mode") == "minhash":
        return (f"query or document a near duplicate (MinHash, Jaccard >= {report['threshold']}) "
                f"of a benchmark text{read}")
    return (f"query or document shares a run of {report['ngram']} tokens with a benchmark "
            f"text, contains one or is contained in one (texts of {report['min_tokens']}+ "
            f"tokens); code compared without comments, docstrings and layout{read}")


def decontamination_rows(report: dict) -> dict[str, tuple[int, str, int, list[str]]]:
    """Per benchmark: texts read, n-grams held ("-" in minhash mode), pairs removed, and one
    line per example (pair id, task, origin, field and the overlapping tokens)."""
    rows = {}
    for label, b in report["benchmarks"].items():
        examples = [f"{e['id'][:12]} {e['task']} {e.get('origin') or ''} {e['field']}: "
                    f"\"{e['overlap'][:80]}\"" for e in b.get("examples", [])]
        grams = f"{b['ngrams']:,}" if "ngrams" in b else "-"
        rows[label] = (b["texts"], grams, b["removed"], examples)
    return rows


__all__ = ["dataset_summary", "format_summary", "ManifestError"]


def stats(config) -> int:
    """`pairmill stats DIR`: exit 1 when the dataset does not match its manifest."""
    import json

    if not storage.is_dir(config.dataset):
        raise FileNotFoundError(f"{config.dataset}: no such directory")
    summary = dataset_summary(config.dataset)
    print(json.dumps(summary, indent=2) if config.json else format_summary(summary))
    return 1 if summary["problems"] else 0
