"""Writing a pairs dataset: the one module that lays out part files and builds and writes
manifests.

Every command that writes pairs (the Beam sink of `mine` and `dedup`, `filter`, `negatives`,
`mix`, `publish`) goes through here, so a dataset's layout, its row groups, its manifest, its
card and the refusal to overwrite or to write into an input are decided once:

    DIR/manifest.json                   rows and sha256 per file, counters, the command
    DIR/README.md                       one `datasets` config per task
    DIR/data/<task>/part-NNNNN.parquet  one task per file, row groups of `row_group_size` rows
    DIR/errors/part-NNNNN.parquet       dead letters

Writers that run on many workers write under `DIR/_staging/` and the driver moves the files into
place with `finalize_staged` once every worker finished; single-process writers use
`DatasetWriter`. Either way the manifest is built from the files on disk.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from .. import __version__
from ..schemas import storage
from ..schemas.counts import Counts
from ..schemas.manifest import MANIFEST_NAME, FileEntry, Manifest, file_sha256
from ..schemas.pairs import PAIR_SCHEMA

STAGING = "_staging"
COUNTS_FILE = "counts.json"
README_NAME = "README.md"
MIXTURE_NAME = "mixture.json"
MIXTURE_FORMAT = "pairmill-mixture/1"


def part_name(shard: int) -> str:
    return f"part-{shard:05d}.parquet"


def task_part(task: str, shard: int = 0) -> str:
    """A task's part file, relative to the dataset folder."""
    return f"data/{task}/{part_name(shard)}"


def mixture_part(index: int) -> str:
    """A `pairmill mix` output's part: every task in one sequence of files."""
    return f"data/{part_name(index)}"


def errors_part(shard: int = 0) -> str:
    return f"errors/{part_name(shard)}"


def write_part(path: str, table: pa.Table, row_group_size: int) -> None:
    """One whole part file: equal rows give equal bytes, whoever writes them; it appears under
    its name only once complete (a retried bundle rewrites the same bytes)."""
    with storage.committed_output(path) as out:
        pq.write_table(table, out, row_group_size=row_group_size, compression="zstd")


class PairsFileWriter:
    """One part file written in row groups of exactly `row_group_size` rows (the last one may
    be shorter), whatever the sizes of the tables it is given: the layout a manifest's
    `row_group_size` promises and the trainer's reader checks."""

    def __init__(self, sink, row_group_size: int, schema: pa.Schema = PAIR_SCHEMA,
                 compression: str = "zstd"):
        self._writer = pq.ParquetWriter(sink, schema, compression=compression)
        self._schema, self._size = schema, row_group_size
        self._held: list[pa.Table] = []
        self._rows = 0
        self.rows_written = 0

    def write(self, table: pa.Table) -> None:
        self._held.append(conform(table, self._schema))
        self._rows += table.num_rows
        while self._rows >= self._size:
            merged = pa.concat_tables(self._held)
            self._emit(merged.slice(0, self._size))
            self._held, self._rows = [merged.slice(self._size)], self._rows - self._size

    @property
    def rows(self) -> int:
        """Rows given so far, written or held for the next row group."""
        return self.rows_written + self._rows

    def _emit(self, table: pa.Table) -> None:
        self._writer.write_table(table, row_group_size=self._size)
        self.rows_written += table.num_rows

    def close(self) -> None:
        if self._rows:
            self._emit(pa.concat_tables(self._held))
            self._held, self._rows = [], 0
        self._writer.close()


def conform(table: pa.Table, schema: pa.Schema = PAIR_SCHEMA) -> pa.Table:
    """The rows in `schema`: columns in its order and types, missing optional ones as nulls."""
    columns = [table.column(f.name).cast(f.type) if f.name in table.column_names
               else pa.nulls(table.num_rows, f.type) for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def prepare_output(output: str, overwrite: bool, inputs: Iterable[str] = (),
                   clear: Iterable[str] = ()) -> None:
    """Refuse an output that is a file, one of the inputs, or an existing dataset or mixture
    (unless `overwrite`); then clear what an earlier run left half-written: the staging folder,
    and what `clear` names (a writer that writes in place clears `data`). An old dataset
    otherwise stays whole until the new one is finalized."""
    if storage.is_file(output):
        raise FileExistsError(f"{output}: exists and is not a directory")
    if storage.absolute(output) in {storage.absolute(d) for d in inputs}:
        raise ValueError("--output must not be one of the --input datasets")
    if not overwrite and any(storage.exists(storage.join(output, name))
                             for name in (MANIFEST_NAME, MIXTURE_NAME)):
        raise FileExistsError(f"{output}: already holds a dataset (use --overwrite)")
    for name in (STAGING, *clear):
        storage.remove(storage.join(output, name))
    storage.make_dir(output)


class TaskPart:
    """One task's part file, written row group by row group; a part that got no rows is
    removed on close, so a task that kept nothing is absent from the dataset."""

    def __init__(self, location: str, row_group_size: int):
        self.location = location
        self._sink = storage.open_output(location)
        self._writer = PairsFileWriter(self._sink, row_group_size)

    @property
    def rows(self) -> int:
        return self._writer.rows

    def write(self, table: pa.Table) -> None:
        self._writer.write(table)

    def close(self) -> None:
        empty = self.rows == 0
        self._writer.close()
        self._sink.close()
        if empty:
            storage.delete_dir(self.location.rsplit("/", 1)[0] if "://" in self.location
                               else os.path.dirname(self.location))

    def __enter__(self) -> TaskPart:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class DatasetWriter:
    """A pairs dataset written by one process, task by task (filter, negatives)."""

    def __init__(self, output: str, row_group_size: int):
        self.output = output
        self.row_group_size = row_group_size

    def task_part(self, task: str) -> TaskPart:
        return TaskPart(storage.join(self.output, task_part(task)), self.row_group_size)

    def has_task(self, task: str) -> bool:
        return storage.exists(storage.join(self.output, task_part(task)))

    def finalize(self, command: list[str], counts: Counts, extra: dict | None = None) -> Manifest:
        return finalize_dataset(self.output, command, self.row_group_size, counts, extra)


def describe_file(dataset_dir: str | os.PathLike, rel_path: str) -> FileEntry:
    """A written file as the manifest lists it: row count from the footer, and sha256."""
    full = storage.join(dataset_dir, rel_path)
    with storage.open_input(full) as f:
        rows = pq.ParquetFile(f).metadata.num_rows
    return FileEntry(rel_path, rows, file_sha256(full))


def finalize_dataset(output: str, command: list[str], row_group_size: int, counts: Counts,
                     extra: dict | None = None, report: Callable[[Counts], dict] | None = None
                     ) -> Manifest:
    """The manifest of the part files under `output` (rows, checksums, counts) and the card."""
    manifest = Manifest(command=command, row_group_size=row_group_size,
                        created_by=f"pairmill {__version__}", extra=dict(extra or {}))
    for rel in storage.list_files(output):
        folder, _, name = rel.rpartition("/")
        if not (name.startswith("part-") and name.endswith(".parquet")):
            continue
        if folder.startswith("data/") and folder.count("/") == 1:
            manifest.tasks.setdefault(folder[len("data/"):], []).append(describe_file(output, rel))
        elif folder == "errors":
            manifest.errors.append(describe_file(output, rel))
    manifest.counts = counts
    manifest.counters = counts.summary(dead_letters=sum(f.rows for f in manifest.errors))
    if report is not None:  # a command's own report built from its counts
        manifest.extra.update(report(counts))
    write_manifest(output, manifest)
    return manifest


def write_manifest(output: str, manifest: Manifest) -> None:
    """manifest.json (written whole, through a temporary name) and the card beside it."""
    _write_manifest_json(output, manifest)
    storage.write_bytes(storage.join(output, README_NAME), dataset_readme(manifest).encode())


def _write_manifest_json(output: str, manifest: Manifest) -> None:
    storage.write_bytes(storage.join(output, MANIFEST_NAME),
                        (json.dumps(manifest.to_json(), indent=2) + "\n").encode())


def dataset_readme(manifest: Manifest) -> str:
    """A README whose YAML header names one config per task, so `datasets.load_dataset(DIR,
    TASK)` loads a task of the folder itself, as it does the published copy."""
    lines = ["---", "configs:"]
    for task in sorted(manifest.tasks):
        lines += [f"- config_name: {task}", f"  data_files: data/{task}/*.parquet"]
    if not manifest.tasks:
        lines[-1] = "configs: []"
    lines += ["---", "", "A pairs dataset written by pairmill: `manifest.json` lists every file "
              "with its rows and sha256; `errors/` holds the dead letters.", ""]
    return "\n".join(lines)


def staging_dir(output: str) -> str:
    """Where workers write a dataset's files before the driver commits them."""
    return storage.join(storage.absolute(output), STAGING)


def write_staged_counts(staging: str, counts: Counts) -> str:
    path = storage.join(staging, COUNTS_FILE)
    storage.write_bytes(path, json.dumps(counts.to_json()).encode())
    return path


def finalize_staged(output: str, command: list[str], row_group_size: int,
                    extra: dict | None = None, report: Callable[[Counts], dict] | None = None
                    ) -> Manifest:
    """Move what the workers staged into place (file by file: object stores cannot move
    folders), then write the manifest from the files and the summed counts they left."""
    staging = storage.join(output, STAGING)
    counts_path = storage.join(staging, COUNTS_FILE)
    counts = (Counts.from_json(json.loads(storage.read_bytes(counts_path)))
              if storage.is_file(counts_path) else Counts())
    for sub in ("data", "errors"):
        storage.delete_dir(storage.join(output, sub))
    for rel in storage.list_files(staging):
        if rel.startswith(("data/", "errors/")):
            storage.move(storage.join(staging, rel), storage.join(output, rel))
    storage.delete_dir(staging)
    return finalize_dataset(output, command, row_group_size, counts, extra, report)


def copy_dataset(manifest: Manifest, out: str, copy_file: Callable[[str, str], None],
                 extra: dict | None = None, command: list[str] | None = None) -> Manifest:
    """A dataset's part files copied into `out` by `copy_file(rel, target)` (publishing rewrites
    them on the way), dead letters left behind, and the copy's manifest written."""
    copied = Manifest(command=manifest.command if command is None else command,
                      row_group_size=manifest.row_group_size, created_by=manifest.created_by,
                      counters=manifest.counters, counts=manifest.counts,
                      extra={**manifest.extra, **(extra or {})})
    for task, files in manifest.tasks.items():
        for entry in files:
            copy_file(entry.path, storage.join(out, entry.path))
            copied.tasks.setdefault(task, []).append(describe_file(out, entry.path))
    _write_manifest_json(out, copied)  # the caller writes its own card
    return copied


def write_mixture_manifest(out: str, description: dict) -> None:
    """`mixture.json` of a `pairmill mix` output: the plan and its files with sha256."""
    for entry in description["files"]:
        entry["sha256"] = file_sha256(storage.join(out, entry["path"]))
    description = {"format": MIXTURE_FORMAT, **description}
    storage.write_bytes(storage.join(out, MIXTURE_NAME),
                        (json.dumps(description, indent=2) + "\n").encode())
