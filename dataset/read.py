"""Reading a pairs dataset: its files by task, its row groups as the manifest promises them,
its rows with their locations. Verified before use, so a damaged dataset is refused before any
work rather than half-way through it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from ..schemas import ManifestError, load_verified_manifest, read_manifest, storage

ROW_BITS = 40  # a location is (file index << ROW_BITS) | row within the file


@dataclass(frozen=True)
class RowGroup:
    """One Parquet row group: `location` is the file (local path or fsspec URL)."""

    location: str
    index: int
    rows: int


def task_row_groups(datasets: list[str]) -> dict[str, list[RowGroup]]:
    """Row groups of every task over all datasets, from their manifests (no data file is read):
    what a mixture plan draws from."""
    tasks: dict[str, list[RowGroup]] = {}
    for location in datasets:
        manifest = read_manifest(location)
        size = manifest.row_group_size
        for task, files in sorted(manifest.tasks.items()):
            for entry in files:
                if entry.rows == 0:
                    continue
                if size <= 0:
                    raise ManifestError(f"{location}: manifest has no row_group_size")
                full, rest = divmod(entry.rows, size)
                counts = [size] * full + ([rest] if rest else [])
                url = storage.join(location, entry.path)
                tasks.setdefault(task, []).extend(RowGroup(url, i, n) for i, n in enumerate(counts))
    return tasks


def files_by_task(datasets: list[str]) -> dict[str, list[str]]:
    """task -> its Parquet file locations over every dataset, in order; a damaged dataset is
    refused here, before any work (the commands that rewrite datasets read them through this)."""
    files: dict[str, list[str]] = {}
    for location in datasets:
        manifest = load_verified_manifest(location)
        for task, entries in sorted(manifest.tasks.items()):
            files.setdefault(task, []).extend(storage.join(location, e.path) for e in entries)
    return files


def dataset_files(datasets: list[str]) -> list[str]:
    """Every Parquet file of the verified datasets, sorted."""
    return sorted(f for files in files_by_task(datasets).values() for f in files)


def dataset_rows(datasets: list[str]) -> int:
    """Rows of the datasets, as their manifests record them (no Parquet footer read)."""
    return sum(read_manifest(location).total_rows for location in datasets)


def row_groups(paths: list[str], columns: list[str] | None = None) -> Iterator[pa.Table]:
    """Every row group of the files, in order, one at a time."""
    for path in paths:
        with storage.open_input(path) as f:
            parquet = pq.ParquetFile(f)
            for i in range(parquet.num_row_groups):
                yield parquet.read_row_group(i, columns=columns)


def row_count(paths: list[str]) -> int:
    """Rows of the files, from their footers."""
    total = 0
    for path in paths:
        with storage.open_input(path) as f:
            total += pq.ParquetFile(f).metadata.num_rows
    return total


def location(file_index: int, row: int) -> int:
    return (file_index << ROW_BITS) | row


def read_located(file_index: int, path: str, columns: list[str] | None = None
                 ) -> Iterator[tuple[int, dict]]:
    """(location, row) for every row of one Parquet file, a row group at a time."""
    row = 0
    for table in row_groups([path], columns):
        for values in table.to_pylist():
            yield location(file_index, row), values
            row += 1
