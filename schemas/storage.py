"""Dataset folders on any filesystem pyarrow knows: a local path, file://, gs://, s3://, hdfs://.

On Dataflow, Spark or Flink the driver and the workers share no disk, so every read and write
of a dataset (shards, counters, manifest, inputs of `pairmill dedup`) goes through
`pyarrow.fs`, which ships GCS, S3 and HDFS clients in its wheels. A plain path stays a plain
local path.
"""

from __future__ import annotations

import os

import pyarrow.fs as pafs


def resolve(location: str | os.PathLike) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path inside it) for a local path or a URI."""
    location = os.fspath(location)
    if "://" not in location:
        return pafs.LocalFileSystem(), os.path.abspath(location)
    return pafs.FileSystem.from_uri(location)


def absolute(location: str | os.PathLike) -> str:
    """A location every worker resolves the same way (local paths made absolute)."""
    location = os.fspath(location)
    return location if "://" in location else os.path.abspath(location)


def join(base: str | os.PathLike, *parts: str) -> str:
    """`base/part/...` for a local path or a URI (URIs always use "/")."""
    base = os.fspath(base)
    if "://" not in base:
        return os.path.join(base, *parts)
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])


def is_file(location: str | os.PathLike) -> bool:
    fs, path = resolve(location)
    return fs.get_file_info(path).type == pafs.FileType.File


def is_dir(location: str | os.PathLike) -> bool:
    fs, path = resolve(location)
    return fs.get_file_info(path).type == pafs.FileType.Directory


def exists(location: str | os.PathLike) -> bool:
    fs, path = resolve(location)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def open_input(location: str | os.PathLike) -> pafs.NativeFile:
    """A seekable binary reader (what Parquet needs)."""
    fs, path = resolve(location)
    return fs.open_input_file(path)


def open_output(location: str | os.PathLike) -> pafs.NativeFile:
    """A binary writer; parent folders are created first (object stores have none)."""
    fs, path = resolve(location)
    parent = path.rsplit("/", 1)[0]
    if parent:
        fs.create_dir(parent, recursive=True)
    return fs.open_output_stream(path)


def read_bytes(location: str | os.PathLike) -> bytes:
    with open_input(location) as f:
        return f.read()


def write_bytes(location: str | os.PathLike, data: bytes) -> None:
    """Write through a temporary name and move it into place, so readers never see half a file
    (a move is atomic on local disks and HDFS; object stores publish an object whole anyway)."""
    tmp = os.fspath(location) + ".tmp"
    with open_output(tmp) as f:
        f.write(data)
    move(tmp, location)


def move(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Rename a file, creating the target's folder first."""
    fs, src = resolve(source)
    _, dst = resolve(target)
    parent = dst.rsplit("/", 1)[0]
    if parent:
        fs.create_dir(parent, recursive=True)
    fs.move(src, dst)


def delete_dir(location: str | os.PathLike) -> None:
    """Remove a folder and everything under it; nothing happens if it is not there."""
    fs, path = resolve(location)
    if fs.get_file_info(path).type != pafs.FileType.NotFound:
        fs.delete_dir(path)


def make_dir(location: str | os.PathLike) -> None:
    fs, path = resolve(location)
    fs.create_dir(path, recursive=True)


def list_files(location: str | os.PathLike) -> list[str]:
    """Paths of all files under a folder, relative to it, sorted; [] if it does not exist."""
    fs, path = resolve(location)
    if fs.get_file_info(path).type != pafs.FileType.Directory:
        return []
    infos = fs.get_file_info(pafs.FileSelector(path, recursive=True))
    root = path.rstrip("/") + "/"
    return sorted(i.path[len(root):] for i in infos if i.type == pafs.FileType.File)
