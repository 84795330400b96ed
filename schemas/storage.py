"""The one storage layer: every dataset read and write, and every remote dump opened.

`pyarrow.fs` was chosen over fsspec as the interface: it ships GCS, S3 and HDFS clients in the
pyarrow wheel pairmill already needs (no extra packages on Dataflow/Spark workers, where driver
and workers share no disk), and gives seekable files for Parquet footers. Schemes only fsspec
knows (`hf://` through huggingface_hub, `memory://`) are wrapped with pyarrow's FSSpecHandler, so
callers see one API. Beam's own FileSystems are left to Beam. A plain path stays a local path.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.fs as pafs


def resolve(location: str | os.PathLike) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path inside it) for a local path or a URI."""
    location = os.fspath(location)
    if "://" not in location:
        return pafs.LocalFileSystem(), os.path.abspath(location)
    try:
        return pafs.FileSystem.from_uri(location)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _fsspec(location)


def _fsspec(location: str) -> tuple[pafs.FileSystem, str]:
    """A scheme pyarrow has no client for, through fsspec (hf:// needs huggingface_hub)."""
    try:
        import fsspec
    except ImportError:
        raise ValueError(f"{location}: this scheme needs fsspec (pip install fsspec)") from None
    scheme, _, path = location.partition("://")
    try:
        fs = fsspec.filesystem(scheme)
    except (ImportError, ValueError) as exc:
        raise ValueError(f"{location}: cannot open this scheme ({exc})") from None
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


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
    with committed_output(location) as f:
        f.write(data)


@contextlib.contextmanager
def committed_output(location: str | os.PathLike) -> Iterator[pafs.NativeFile]:
    """A writer whose file appears at `location` only when the block ends without an error:
    it writes to a temporary name of its own and moves it into place. Two attempts at the same
    file (a bundle a cluster engine retries, a worker lost half-way) never see each other's
    half-written bytes, and a failed attempt leaves nothing under the final name."""
    location = os.fspath(location)
    folder, _, name = location.rpartition("/")
    temporary = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp" if folder else f".{name}.{uuid.uuid4().hex}.tmp"
    stream = open_output(temporary)
    try:
        yield stream
    except BaseException:
        stream.close()
        fs, path = resolve(temporary)
        fs.delete_file(path)
        raise
    stream.close()
    move(temporary, location)


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


def remove(location: str | os.PathLike) -> None:
    """Remove a file, or a folder and everything under it; nothing happens if it is not there."""
    fs, path = resolve(location)
    kind = fs.get_file_info(path).type
    if kind == pafs.FileType.File:
        fs.delete_file(path)
    elif kind == pafs.FileType.Directory:
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


def glob(pattern: str) -> list[str]:
    """Files a glob pattern (or a plain path) names, sorted; local paths come back absolute."""
    import fnmatch
    import glob as local_glob

    if "://" not in pattern:
        return sorted(os.path.abspath(p) for p in local_glob.glob(pattern) if os.path.isfile(p))
    if not any(c in pattern for c in "*?["):
        return [pattern] if is_file(pattern) else []
    scheme, _, rest = pattern.partition("://")
    fixed = rest[:min(rest.find(c) for c in "*?[" if c in rest)].rsplit("/", 1)[0]
    base = f"{scheme}://{fixed}"
    return sorted(f"{base}/{rel}" for rel in list_files(base)
                  if fnmatch.fnmatchcase(f"{base}/{rel}", pattern))


def portable_name(location: str | os.PathLike) -> str:
    """A location as a published card shows it: URIs as they are, local paths by their name
    only (a card never carries the machine's folders)."""
    location = os.fspath(location)
    if "://" in location:
        return location
    return os.path.basename(os.path.normpath(location)) or location
