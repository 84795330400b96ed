"""The dataset manifest: what a pairs dataset holds and how to check it was not damaged.

A dataset is a folder `DIR/manifest.json`, `DIR/data/<task>/part-NNNNN.parquet`, `DIR/errors/...`,
written by `dataset/output.py` (the one writer).
The manifest records rows and sha256 per file so a reader can refuse a truncated or altered file
instead of training on it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

import pyarrow.parquet as pq

from . import storage
from .counts import Counts
from .pairs import REQUIRED_COLUMNS, TASK_NAME

FORMAT = "pairmill/1"
MANIFEST_NAME = "manifest.json"


@dataclass
class FileEntry:
    """One Parquet file of a dataset, relative to the dataset folder."""

    path: str
    rows: int
    sha256: str


@dataclass
class Manifest:
    """Everything `manifest.json` holds. `counters` are records read, pairs kept, drops per reason."""

    tasks: dict[str, list[FileEntry]] = field(default_factory=dict)
    counters: dict = field(default_factory=dict)  # summary: totals and drops per reason
    counts: Counts = field(default_factory=Counts)  # every counter, per kind, task and reason
    errors: list[FileEntry] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    row_group_size: int = 0
    created_by: str = ""
    extra: dict = field(default_factory=dict)

    def rows(self, task: str) -> int:
        return sum(f.rows for f in self.tasks.get(task, []))

    @property
    def total_rows(self) -> int:
        return sum(self.rows(t) for t in self.tasks)

    def to_json(self) -> dict:
        out = {
            "format": FORMAT,
            "created_by": self.created_by,
            "command": self.command,
            "row_group_size": self.row_group_size,
            "tasks": {
                task: {"rows": self.rows(task), "files": [vars(f) for f in files]}
                for task, files in sorted(self.tasks.items())
            },
            "errors": {"rows": sum(f.rows for f in self.errors),
                       "files": [vars(f) for f in self.errors]},
            "counters": self.counters,
            "counts": self.counts.to_json(),
        }
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, obj: dict) -> Manifest:
        if obj.get("format") != FORMAT:
            raise ManifestError(f"not a pairmill dataset manifest (format {obj.get('format')!r})")
        known = {"format", "created_by", "command", "row_group_size", "tasks", "errors", "counters",
                 "counts"}
        try:
            return cls(
                tasks={t: [FileEntry(**f) for f in v["files"]] for t, v in obj["tasks"].items()},
                counters=obj.get("counters", {}),
                counts=Counts.from_json(obj.get("counts", [])),
                errors=[FileEntry(**f) for f in obj.get("errors", {}).get("files", [])],
                command=obj.get("command", []),
                row_group_size=obj.get("row_group_size", 0),
                created_by=obj.get("created_by", ""),
                extra={k: v for k, v in obj.items() if k not in known},
            )
        except (KeyError, TypeError) as exc:
            raise ManifestError(f"malformed manifest: {exc!r}") from exc


class ManifestError(ValueError):
    """A dataset's manifest is missing, malformed, or does not match the files on disk."""


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with storage.open_input(path) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(dataset_dir: str | os.PathLike) -> Manifest:
    path = storage.join(dataset_dir, MANIFEST_NAME)
    if not storage.is_file(path):
        raise ManifestError(f"{dataset_dir}: no {MANIFEST_NAME}; not a pairmill dataset")
    try:
        obj = json.loads(storage.read_bytes(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: invalid JSON ({exc})") from exc
    return Manifest.from_json(obj)


def validate_dataset(dataset_dir: str | os.PathLike, check_hashes: bool = True) -> list[str]:
    """Every problem found, as readable lines; an empty list means the dataset can be used.

    Checks that each recorded file exists, has the recorded rows and sha256, carries the required
    columns, and that each task is a known task.
    """
    problems: list[str] = []
    try:
        manifest = read_manifest(dataset_dir)
    except ManifestError as exc:
        return [str(exc)]
    for task, files in manifest.tasks.items():
        if not TASK_NAME.match(task):  # tasks of plug-in sources are valid too
            problems.append(f"malformed task name {task!r}")
        for entry in files:
            problems.extend(_check_file(dataset_dir, entry, check_hashes, REQUIRED_COLUMNS))
    for entry in manifest.errors:
        problems.extend(_check_file(dataset_dir, entry, check_hashes, ()))
    return problems


def _check_file(dataset_dir, entry: FileEntry, check_hashes: bool, columns) -> list[str]:
    full = storage.join(dataset_dir, entry.path)
    if not storage.is_file(full):
        return [f"{entry.path}: missing"]
    if check_hashes and file_sha256(full) != entry.sha256:
        return [f"{entry.path}: sha256 differs from the manifest (file changed or corrupted)"]
    try:
        with storage.open_input(full) as f:
            meta = pq.ParquetFile(f).metadata
    except Exception as exc:  # pyarrow raises several types for damaged footers
        return [f"{entry.path}: unreadable Parquet ({exc})"]
    problems = []
    if meta.num_rows != entry.rows:
        problems.append(f"{entry.path}: {meta.num_rows} rows, manifest says {entry.rows}")
    names = set(meta.schema.to_arrow_schema().names)
    missing = [c for c in columns if c not in names]
    if missing:
        problems.append(f"{entry.path}: missing columns {missing}")
    return problems


def load_verified_manifest(dataset_dir: str | os.PathLike) -> Manifest:
    """Read a manifest and refuse the dataset if any file does not match it."""
    problems = validate_dataset(dataset_dir)
    if problems:
        raise ManifestError(f"{dataset_dir}: dataset does not match its manifest:\n  "
                            + "\n  ".join(problems))
    return read_manifest(dataset_dir)


def personal_data_counts(manifest: Manifest) -> dict[str, int]:
    """Personal data replaced by placeholders, per kind: this dataset's own counts plus what the
    datasets it was made from recorded (dedup carries them forward)."""
    out = dict(manifest.extra.get("personal_data") or {})
    for reason, n in manifest.counts.by_reason("total").items():
        if reason.startswith("pii:"):
            out[reason[4:]] = out.get(reason[4:], 0) + n
    return dict(sorted(out.items()))
