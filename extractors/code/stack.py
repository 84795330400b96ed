"""The Stack-style Parquet: source files as rows (`content`, path, repository, language, licences).

The largest source of code pairs at scale is not checkouts but Parquet shards on the Hub (The
Stack v1/v2-smol, bigcode's conventions). A shard is read a row group at a time, so a multi-GB
file never sits in memory; each row group is one unit of work. Column names are detected from
the conventions below unless given; licence columns are carried into each pair's `meta`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ...schemas import storage

# candidates per role, first match wins (The Stack v1, v2-smol, bigcode/starcoder exports)
COLUMNS = {
    "content": ("content", "text", "code", "source"),
    "path": ("max_stars_repo_path", "path", "file_path", "filepath", "max_issues_repo_path",
             "max_forks_repo_path"),
    "repo": ("max_stars_repo_name", "repo_name", "repository_name", "repo", "max_issues_repo_name",
             "max_forks_repo_name"),
    "language": ("lang", "language", "programming_language"),
}
LICENCE_MARK = "licen"


@dataclass(frozen=True)
class ParquetUnit:
    """One row group of one Parquet file."""

    location: str
    row_group: int  # -1: the file could not be opened (`error` says why)
    name: str  # how origins name the file (relative to the input named)
    error: str = ""


def is_parquet_input(path: str) -> bool:
    return path.lower().split("?", 1)[0].endswith(".parquet")


def parquet_units(pattern: str) -> Iterator[ParquetUnit]:
    """A unit per row group of every file the path or glob names (local, gs://, s3://, hf://)."""
    import pyarrow.parquet as pq

    files = storage.glob(pattern)
    if not files:
        raise ValueError(f"{pattern}: no such Parquet file")
    for path in files:
        name = path.rsplit("/", 1)[-1]
        try:
            with storage.open_input(path) as f:
                groups = pq.ParquetFile(f).num_row_groups
        except Exception as exc:  # a damaged footer costs this file, not the run
            yield ParquetUnit(path, -1, name, f"{type(exc).__name__}: {exc}")
            continue
        for i in range(groups):
            yield ParquetUnit(path, i, name)


def parquet_columns(path: str) -> list[str]:
    """The column names of a Parquet file, from its footer."""
    import pyarrow.parquet as pq

    with storage.open_input(path) as f:
        return pq.ParquetFile(f).schema_arrow.names


def detect_columns(names: list[str], given: dict[str, str | None]) -> dict[str, str | None]:
    """role -> column: what the user gave, else the first known convention present."""
    out: dict[str, str | None] = {}
    for role, candidates in COLUMNS.items():
        chosen = given.get(role)
        if chosen:
            if chosen not in names:
                raise ValueError(f"no column {chosen!r} for the {role} (columns: {', '.join(names)})")
        else:
            chosen = next((c for c in candidates if c in names), None)
        out[role] = chosen
    if out["content"] is None or out["path"] is None:
        raise ValueError(f"cannot tell the file content and path columns among {', '.join(names)}; "
                         f"name them with --content-column and --path-column")
    return out


def read_row_group(unit: ParquetUnit, given: dict[str, str | None]) -> Iterator[dict]:
    """Rows of one row group as {content, path, repo, meta} (licences in meta)."""
    import pyarrow.parquet as pq

    with storage.open_input(unit.location) as f:
        parquet = pq.ParquetFile(f)
        names = parquet.schema_arrow.names
        columns = detect_columns(names, given)
        licences = [n for n in names if LICENCE_MARK in n.lower()]
        wanted = sorted({c for c in columns.values() if c} | set(licences))
        table = parquet.read_row_group(unit.row_group, columns=wanted)
    for number, row in enumerate(table.to_pylist()):
        meta = {}
        for name in licences:
            value = row.get(name)
            if isinstance(value, list):
                value = ",".join(str(v) for v in value if v is not None)
            if value not in (None, ""):
                meta[name] = str(value)
        content = row.get(columns["content"])
        yield {"row": number, "content": content.encode("utf-8", "surrogatepass")
               if isinstance(content, str) else (content or b""),
               "path": str(row.get(columns["path"]) or ""),
               "repo": str(row.get(columns["repo"]) or "") if columns["repo"] else "",
               "meta": meta}
