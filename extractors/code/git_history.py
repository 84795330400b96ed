"""Reading git histories for `pairmill mine commits`: working trees, bare repositories, and
tarballs of either, offline.

The `git` command does the reading. It walks packs and delta chains in C and writes the unified
diffs people know from `git show`; on psf/requests' history (4,876 commits) `git log -p` took
0.9 s where dulwich, the pure-Python library, took 7.9 s and diffs with difflib instead of git's
algorithm. It also adds no Python dependency. A machine without it (a slim worker image) gets one
error that names the fix (`GitMissing`), before any work on the driver and on every worker.

Pure Python around the subprocess (no Beam): `repository_units` lists an input into work units
of commits on a worker, `read_commits` streams one unit's commits as `Commit` records for the
pure extractor in `commits.py`. git's own configuration is kept out (no system or global config,
every option that changes the output given on the command line), so the same repository gives
the same bytes on every machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from ..result import Skipped, Unreadable
from .trees import TAR_SUFFIXES

# Files larger than this are "Binary files differ" to git (core.bigFileThreshold): their
# contents are never read into a diff, so a 2 GB data file costs nothing.
BIG_FILE_BYTES = 1 << 20
# Above this many bytes of hunks in one commit the rest of its files are listed but not kept:
# memory stays bounded whatever a commit holds (the extractor's limit is far below it).
DEFAULT_READ_LIMIT = 8 << 20
_LICENSE_BLOB_BYTES = 256 << 10


class GitMissing(RuntimeError):
    """The `git` command is not installed where a repository has to be read."""


def git_binary() -> str:
    path = shutil.which("git")
    if path is None:
        raise GitMissing(
            "mine commits reads repositories with the `git` command, which is not installed on "
            "this machine: install it (apt-get install git; on a cluster, in the worker image "
            "too)")
    return path


def _environment() -> dict[str, str]:
    """The caller's environment without GIT_* (a hook's GIT_DIR must not redirect us) and without
    the system and global config; no prompts, no locks, no replace refs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0",
               GIT_OPTIONAL_LOCKS="0", GIT_NO_REPLACE_OBJECTS="1", LC_ALL="C", GIT_PAGER="cat")
    return env


# A repository's own config still applies: everything that changes what we read is set here.
_CONFIG = ("-c", "safe.directory=*", "-c", "core.quotePath=false",
           "-c", f"core.bigFileThreshold={BIG_FILE_BYTES}", "-c", "log.showSignature=false",
           "-c", "diff.suppressBlankEmpty=false", "-c", "diff.noprefix=false",
           "-c", "diff.mnemonicPrefix=false", "-c", "diff.relative=false",
           "-c", "i18n.logOutputEncoding=UTF-8")
_FORMAT = "--format=%x00C%H%x00%P%x00%T%x00%an <%ae>%x00%at%x00%B%x00"
_LOG = ("log", "--no-walk=unsorted", "--stdin", "--root", "-p", "-M", "-U3",
        "--inter-hunk-context=0", "--diff-algorithm=myers", "--no-color", "--no-ext-diff",
        "--no-textconv", "--no-notes", "--no-mailmap", "--encoding=UTF-8", "--src-prefix=a/",
        "--dst-prefix=b/", "-O/dev/null", _FORMAT)


def _git(git_dir: str, *args: str) -> list[str]:
    return [git_binary(), f"--git-dir={git_dir}", "--no-pager", *_CONFIG, *args]


def _run(git_dir: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(_git(git_dir, *args), capture_output=True, env=_environment(),
                          stdin=subprocess.DEVNULL, timeout=timeout)


# --- inputs --------------------------------------------------------------------------------

def git_dir_of(path: str) -> str | None:
    """The git directory of a working tree's top folder, a bare repository or a `.git` folder
    (found without running git, so a folder inside someone else's checkout is never taken for
    that checkout); None when `path` is none of these."""
    dot = os.path.join(path, ".git")
    if os.path.isdir(dot):
        return dot
    if os.path.isfile(dot):  # a linked worktree or a submodule: "gitdir: PATH"
        try:
            with open(dot, encoding="utf-8", errors="replace") as f:
                line = f.readline().strip()
        except OSError:
            return None
        if line.startswith("gitdir:"):
            target = os.path.join(path, line[len("gitdir:"):].strip())
            return os.path.normpath(target) if os.path.isdir(target) else None
        return None
    if os.path.isfile(os.path.join(path, "HEAD")) and os.path.isdir(os.path.join(path, "objects")):
        return path
    return None


def input_kind(path: str) -> str:
    """"repository" or "archive"; ValueError (one line for the CLI) for anything else."""
    if "://" in path:
        raise ValueError(f"{path}: mine commits reads local repositories only (copy or clone it "
                         "first)")
    if os.path.isdir(path):
        if git_dir_of(path) is None:
            raise ValueError(f"{path}: not a git repository (give a working tree's top folder, a "
                             "bare repository, or a .tar.gz of one)")
        return "repository"
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file or directory")
    if path.endswith(TAR_SUFFIXES):
        return "archive"
    raise ValueError(f"{path}: not a git repository or a .tar.gz of one")


def repository_name(path: str) -> str:
    """How pairs name a repository (`source`, and `origin` before `@sha`): its folder's name,
    without `.git` and archive suffixes; a `.git` folder is named after its working tree."""
    path = os.path.normpath(os.path.abspath(path))
    name = os.path.basename(path)
    if name == ".git":
        name = os.path.basename(os.path.dirname(path))
    for suffix in TAR_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if name.endswith(".git") and len(name) > 4:
        name = name[:-4]
    return name or "repository"


@dataclass(frozen=True)
class CommitUnit:
    """One piece of work: a run of commits of one repository, or a whole archive (tar has no
    index, and a repository unpacked on one worker is not on the others), or a note in place of
    either (an empty repository, a history git could not list to the end)."""

    kind: str  # "commits" | "archive" | "skipped" | "unreadable"
    location: str  # the git directory, or the archive
    source: str
    commits: tuple[str, ...] = ()  # newest first
    head_license: str = ""
    shallow: tuple[str, ...] = ()  # commits of this unit whose parents a shallow clone cut off
    reason: str = ""  # skipped and unreadable units
    detail: str = ""


def repository_units(path: str, *, all_refs: bool = False, max_commits: int = 0,
                     per_unit: int = 1000) -> Iterator[CommitUnit]:
    """Work units of one input: runs of `per_unit` commits (newest first), or the archive."""
    path = os.path.abspath(path)
    if input_kind(path) == "archive":
        git_binary()  # a worker without git fails here, with the fix named, not on every record
        yield CommitUnit("archive", path, repository_name(path))
        return
    yield from history_units(git_dir_of(path), repository_name(path), all_refs=all_refs,
                             max_commits=max_commits, per_unit=per_unit)


def history_units(git_dir: str, source: str, *, all_refs: bool = False, max_commits: int = 0,
                  per_unit: int = 1000) -> Iterator[CommitUnit]:
    commits, error = list_commits(git_dir, all_refs=all_refs, max_commits=max_commits)
    if not commits and not error:
        yield CommitUnit("skipped", git_dir, source, reason="empty_repository")
        return
    head_license = ""
    if commits:
        with LicenseReader(git_dir) as licenses:
            head_license = licenses.license_of("HEAD") or licenses.license_of(commits[0])
    shallow = shallow_commits(git_dir)
    for start in range(0, len(commits), per_unit):
        chunk = tuple(commits[start:start + per_unit])
        yield CommitUnit("commits", git_dir, source, chunk, head_license,
                         tuple(sha for sha in chunk if sha in shallow))
    if error:
        yield CommitUnit("unreadable", git_dir, source, reason="unreadable_history", detail=error)


def list_commits(git_dir: str, *, all_refs: bool = False, max_commits: int = 0
                 ) -> tuple[list[str], str]:
    """(commits newest first, "" or why the listing stopped early). HEAD's history, or every
    branch and tag with `all_refs` (or when HEAD names no commit, as in a mirror whose default
    branch was renamed); an empty list and "" for a repository without commits."""
    refs = ["--branches", "--remotes", "--tags"]
    if not all_refs:
        head = _run(git_dir, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        if head.returncode == 0:
            refs = ["HEAD"]
    if refs != ["HEAD"] and not _has_refs(git_dir):
        return [], ""  # no commits at all
    limit = [f"--max-count={max_commits}"] if max_commits else []
    listed = _run(git_dir, "rev-list", *limit, *refs, "--")
    commits = [line for line in listed.stdout.decode("ascii", "replace").split() if line]
    if listed.returncode == 0:
        return commits, ""
    return commits, (f"git rev-list stopped after {len(commits)} commits: "
                     f"{_last_line(listed.stderr)}")


def _has_refs(git_dir: str) -> bool:
    shown = _run(git_dir, "for-each-ref", "--count=1", "--format=%(refname)")
    return bool(shown.stdout.strip())


def shallow_commits(git_dir: str) -> frozenset[str]:
    """Commits at the edge of a shallow clone: git shows them as if they had no parent, so their
    "diff" would be the whole tree."""
    common = git_dir
    try:
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as f:
            common = os.path.join(git_dir, f.read().strip())
    except OSError:
        pass
    try:
        with open(os.path.join(common, "shallow"), encoding="ascii", errors="replace") as f:
            return frozenset(line.strip() for line in f if line.strip())
    except OSError:
        return frozenset()


def _last_line(stderr: bytes) -> str:
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no message"


# --- records ---------------------------------------------------------------------------------

class FileDiff(NamedTuple):
    """One file of a commit's diff, as git wrote it."""

    path: str  # the new path (the old one for a deletion); undecodable bytes replaced
    old_path: str  # renamed or copied from; "" otherwise
    status: str  # "modified" | "added" | "deleted" | "renamed" | "copied"
    binary: bool  # git's "Binary files differ" (NUL bytes, or over BIG_FILE_BYTES)
    hunks: bytes  # "@@" lines and their lines; for a deletion the "@@" line only
    mode_only: bool = False  # a mode change and nothing else
    unread: bool = False  # hunks not kept: past the read limit, or a path the extractor drops


class Commit(NamedTuple):
    """One commit as the extractor takes it."""

    source: str  # the repository
    sha: str
    parents: tuple[str, ...]
    author: str  # "name <email>": only to tell bots apart, never written into a pair
    time: int  # author time, seconds since the epoch
    message: bytes  # as git gave it: UTF-8 unless the commit lied about its encoding
    files: tuple[FileDiff, ...]
    license: str = ""  # SPDX id guessed at this commit, else at HEAD; "" when none
    shallow: bool = False  # a shallow clone's edge: its diff is not what it changed
    tree: str = ""  # the commit's root tree


def read_commits(unit: CommitUnit, *, read_limit: int = DEFAULT_READ_LIMIT,
                 all_refs: bool = False, max_commits: int = 0,
                 skip_hunks: Callable[[str], bool] | None = None
                 ) -> Iterator[tuple[str, object, int]]:
    """(origin `repo@sha`, Commit | Unreadable | Skipped, bytes read) per commit of a unit.

    A commit git cannot read (a missing or corrupt object) is one `unreadable_commit`; the
    commits after it are still read. `skip_hunks(path)` says which files' hunks are not worth
    keeping (the extractor drops them by their path anyway).
    """
    if unit.kind == "skipped":
        yield unit.source, Skipped(unit.reason), 0
    elif unit.kind == "unreadable":
        yield unit.source, Unreadable(unit.reason, unit.detail), 0
    elif unit.kind == "archive":
        yield from _read_archive(unit, read_limit=read_limit, all_refs=all_refs,
                                 max_commits=max_commits, skip_hunks=skip_hunks)
    else:
        yield from _read_listed(unit, read_limit, skip_hunks)


def _read_listed(unit: CommitUnit, read_limit: int, skip_hunks) -> Iterator[tuple[str, object, int]]:
    shallow = frozenset(unit.shallow)
    with LicenseReader(unit.location) as reader:
        licenses = reader.licenses_at(unit.commits)
    queue = list(unit.commits)
    while queue:
        done: set[str] = set()
        state = _LogRun(unit.location, queue, read_limit, skip_hunks)
        for commit, nbytes in state.commits():
            done.add(commit.sha)
            yield _record(unit, commit, nbytes, licenses, shallow)
        queue = [sha for sha in queue if sha not in done]
        if not queue:
            break
        if state.error is None:  # git said nothing of these: report them, never lose them
            for sha in queue:
                yield (f"{unit.source}@{sha}",
                       Unreadable("unreadable_commit", "git log did not show it"), 0)
            break
        # git stopped: the first commit it did not finish is read alone, and reported if it
        # fails again; the rest go on in a new run
        bad = state.bad_object if state.bad_object in queue else queue[0]
        queue.remove(bad)
        alone = _LogRun(unit.location, [bad], read_limit, skip_hunks)
        got = list(alone.commits())
        if got and alone.error is None:
            yield _record(unit, got[0][0], got[0][1], licenses, shallow)
        else:
            yield (f"{unit.source}@{bad}",
                   Unreadable("unreadable_commit", alone.error or state.error or ""), 0)


def _record(unit: CommitUnit, commit: Commit, nbytes: int, licenses: dict[str, str],
            shallow: frozenset[str]) -> tuple[str, Commit, int]:
    commit = commit._replace(source=unit.source,
                             license=licenses.get(commit.sha) or unit.head_license,
                             shallow=commit.sha in shallow)
    return f"{unit.source}@{commit.sha}", commit, nbytes


class _LogRun:
    """One `git log --no-walk --stdin -p` over listed commits, parsed as it streams.

    A commit is handed on only once the next one has begun (or git exited cleanly), so a commit
    whose diff git could not finish is never taken for whole. After the run, `error` holds git's
    last words when it failed, `bad_object` the commit it named as missing, if any.
    """

    def __init__(self, git_dir: str, commits: list[str], read_limit: int, skip_hunks):
        self._git_dir, self._commits = git_dir, commits
        self._read_limit, self._skip_hunks = read_limit, skip_hunks
        self.error: str | None = None
        self.bad_object = ""

    def commits(self) -> Iterator[tuple[Commit, int]]:
        with tempfile.TemporaryFile() as stderr:
            proc = subprocess.Popen(_git(self._git_dir, *_LOG), stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=stderr, env=_environment(),
                                    bufsize=1 << 20)
            try:
                # git reads all of stdin before it writes anything: no deadlock
                proc.stdin.write("".join(f"{sha}\n" for sha in self._commits).encode("ascii"))
                proc.stdin.close()
                pending: _CommitBuilder | None = None
                for line in proc.stdout:
                    if line.startswith(b"\x00C"):
                        if pending is not None:
                            yield pending.finish()
                        pending = _CommitBuilder(self._read_limit, self._skip_hunks)
                    if pending is not None:
                        pending.feed(line)
                code = proc.wait()
                stderr.seek(0)
                message = stderr.read(1 << 16)
                if code == 0 and pending is not None and pending.complete:
                    yield pending.finish()
                elif code == 0 and pending is not None:
                    self.error = "git log ended inside a commit's header"
                elif code != 0:
                    self.error = f"git log exited {code}: {_last_line(message)}"
                    named = re.search(rb"(?:bad object|unable to read|bad revision '?)\s*([0-9a-f]{40,64})",
                                      message)
                    self.bad_object = named.group(1).decode() if named else ""
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()


_BODY = frozenset((b" ", b"+", b"-", b"\\"))


class _CommitBuilder:
    """The lines of one commit (its header, then its patch) into a Commit.

    Most lines are hunk lines; they take the short path at the top of `feed`.
    """

    def __init__(self, read_limit: int, skip_hunks):
        self._read_limit, self._skip_hunks = read_limit, skip_hunks
        self._header = b""
        self._fields: list[bytes] | None = None
        self._files: list[FileDiff] = []
        self._kept = 0
        self.nbytes = 0
        self._start_file(None, None, open_=False)

    def _start_file(self, old: bytes | None, new: bytes | None, open_: bool = True) -> None:
        self._open = open_  # a `diff --git` section is being read
        self._old, self._new = old, new
        self._status, self._binary, self._mode, self._unread = "modified", False, False, False
        self._in_hunks = False
        self._keep_lines = False  # hunk lines are kept (not a deletion, not skipped, in budget)
        self._lines: list[bytes] = []

    @property
    def complete(self) -> bool:
        return self._fields is not None

    def feed(self, line: bytes) -> None:
        self.nbytes += len(line)
        if self._in_hunks and line[:1] in _BODY:
            if self._keep_lines:
                self._keep(line)
            return
        if self._fields is None:
            self._header += line
            if self._header.count(b"\x00") >= 7:  # marker, six fields: the header is whole
                self._fields = self._header[2:].split(b"\x00", 6)[:6]
                self._header = b""
            elif len(self._header) > (64 << 20):  # no message is this long: give up on it
                self._fields = [b"", b"", b"", b"", b"0", self._header[:1 << 20]]
                self._header = b""
            return
        self._patch_line(line)

    def _keep(self, line: bytes) -> None:
        """A diff line kept for the document, until the file's read limit is reached."""
        if self._kept + len(line) > self._read_limit:
            self._unread, self._keep_lines = True, False
        else:
            self._kept += len(line)
            self._lines.append(line)

    def _patch_line(self, line: bytes) -> None:
        if line.startswith(b"diff --git "):
            self._close_file()
            self._start_file(*_diff_git_paths(line[len(b"diff --git "):].rstrip(b"\n")))
            return
        if not self._open:
            return  # blank lines between the header and the first file
        if line.startswith(b"@@"):
            if not self._in_hunks:
                self._in_hunks = True
                skip = self._skip_hunks is not None and self._skip_hunks(
                    _text(self._new if self._new is not None else self._old or b""))
                self._unread = self._unread or skip
                # a deleted file is shown by its "@@ -1,N +0,0 @@" line: what it held is gone
                self._keep_lines = not self._unread and self._status != "deleted"
            if not self._unread:
                self._keep(line)
            return
        if self._in_hunks:
            return
        if line.startswith(b"--- "):
            self._old = _side_path(line[4:], b"a/", self._old)
        elif line.startswith(b"+++ "):
            self._new = _side_path(line[4:], b"b/", self._new)
        elif line.startswith(b"new file mode"):
            self._status = "added"
        elif line.startswith(b"deleted file mode"):
            self._status = "deleted"
        elif line.startswith((b"old mode", b"new mode")):
            self._mode = True
        elif line.startswith((b"rename from ", b"copy from ")):
            self._status = "renamed" if line.startswith(b"rename") else "copied"
            self._old = _unquote(line.split(b" ", 2)[2].rstrip(b"\n"))
        elif line.startswith((b"rename to ", b"copy to ")):
            self._new = _unquote(line.split(b" ", 2)[2].rstrip(b"\n"))
        elif line.startswith((b"Binary files ", b"GIT binary patch")):
            self._binary = True

    def _close_file(self) -> None:
        if not self._open:
            return
        status, old, new = self._status, self._old, self._new
        if status == "added":
            old = None
        elif status == "deleted":
            new = None
        path = new if new is not None else old
        renamed = status in ("renamed", "copied")
        self._files.append(FileDiff(
            _text(path or b""), _text(old or b"") if renamed else "", status, self._binary,
            b"".join(self._lines),
            mode_only=self._mode and not self._lines and not self._binary and status == "modified",
            unread=self._unread))
        self._open = False

    def finish(self) -> tuple[Commit, int]:
        self._close_file()
        sha, parents, tree, author, time, message = self._fields or [b""] * 6
        try:
            when = int(time or b"0")
        except ValueError:
            when = 0
        commit = Commit("", sha.decode("ascii", "replace"),
                        tuple(p.decode("ascii", "replace") for p in parents.split()),
                        _text(author), when, message, tuple(self._files),
                        tree=tree.decode("ascii", "replace"))
        return commit, self.nbytes


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _side_path(raw: bytes, prefix: bytes, current: bytes | None) -> bytes | None:
    """The path of a `---`/`+++` line (None for /dev/null); git ends a name holding a space
    with a tab."""
    raw = raw.rstrip(b"\n")
    if raw.endswith(b"\t"):
        raw = raw[:-1]
    if raw == b"/dev/null":
        return None
    path = _unquote(raw)
    return path[len(prefix):] if path.startswith(prefix) else (current or path)


def _diff_git_paths(rest: bytes) -> tuple[bytes, bytes]:
    """(old, new) from `a/OLD b/NEW` of a `diff --git` line; the `---`/`+++` and rename lines
    that follow correct what a name with spaces leaves ambiguous."""
    if rest.startswith(b'"'):
        first, end = _quoted(rest)
        second = rest[end:].lstrip(b" ")
        second = _unquote(second)
        return first[2:], second[2:]
    half = (len(rest) - 1) // 2  # same name on both sides: "a/P b/P"
    if rest[half:half + 3] == b" b/" and rest[2:half] == rest[half + 3:]:
        return rest[2:half], rest[half + 3:]
    old, _, new = rest.partition(b" b/")
    return old[2:], new


_ESCAPES = {ord("n"): b"\n", ord("t"): b"\t", ord('"'): b'"', ord("\\"): b"\\", ord("a"): b"\a",
            ord("b"): b"\b", ord("f"): b"\f", ord("r"): b"\r", ord("v"): b"\v"}


def _quoted(raw: bytes) -> tuple[bytes, int]:
    """A C-quoted name at the start of `raw` ("a\\303\\251"): its bytes and where it ends."""
    out = bytearray()
    i = 1
    while i < len(raw):
        c = raw[i]
        if c == ord('"'):
            return bytes(out), i + 1
        if c == ord("\\") and i + 1 < len(raw):
            nxt = raw[i + 1]
            if ord("0") <= nxt <= ord("7"):
                out.append(int(raw[i + 1:i + 4], 8) & 0xFF)
                i += 4
                continue
            out += _ESCAPES.get(nxt, bytes([nxt]))
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out), len(raw)


def _unquote(raw: bytes) -> bytes:
    return _quoted(raw)[0] if raw.startswith(b'"') else raw


# --- archives --------------------------------------------------------------------------------

def _read_archive(unit: CommitUnit, **kw) -> Iterator[tuple[str, object, int]]:
    """Unpack a tarball into a private folder, read every repository in it, remove the folder."""
    read_limit, skip_hunks = kw["read_limit"], kw["skip_hunks"]
    with tempfile.TemporaryDirectory(prefix="pairmill-commits-") as tmp:
        problem = _unpack(unit.location, tmp)
        if problem is not None:  # what was unpacked before the break is still read
            yield unit.source, problem, 0
        found = _repositories_in(tmp)
        if not found and problem is None:
            yield unit.source, Unreadable("not_a_repository",
                                          "no git repository in the archive"), 0
        for folder, git_dir in found:
            source = unit.source if len(found) == 1 else \
                f"{unit.source}/{os.path.relpath(folder, tmp)}"
            for inner in history_units(git_dir, source, all_refs=kw["all_refs"],
                                       max_commits=kw["max_commits"], per_unit=10_000):
                yield from read_commits(inner, read_limit=read_limit, skip_hunks=skip_hunks)


def _unpack(archive: str, into: str) -> Unreadable | None:
    """Extract safely (no absolute paths, no links out, no devices); the first damage found."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                try:
                    tar.extract(member, into, filter="data")
                except (tarfile.FilterError, OSError):
                    continue  # one unsafe or unwritable member costs itself
    except (OSError, tarfile.TarError, EOFError, zlib.error) as exc:
        return Unreadable("truncated_archive", f"{type(exc).__name__}: {exc}")
    return None


def _repositories_in(root: str, depth: int = 2) -> list[tuple[str, str]]:
    """(folder, git dir) of every repository at most `depth` folders down, in sorted order."""
    found = []
    git_dir = git_dir_of(root)
    if git_dir is not None:
        return [(root, git_dir)]
    if depth == 0:
        return []
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    for name in names:
        path = os.path.join(root, name)
        if os.path.isdir(path) and not os.path.islink(path):
            found += _repositories_in(path, depth - 1)
    return found


# --- licences --------------------------------------------------------------------------------

_LICENSE_NAME = re.compile(rb"^(licen[cs]e|copying|unlicense)([-._][\w.-]*)?$", re.IGNORECASE)
_LICENSE_FIRST = (b"license", b"licence", b"copying", b"unlicense")


class LicenseReader:
    """A repository's licences at many commits, read through `git cat-file --batch`: each root
    tree's LICENSE/COPYING files, each blob classified once. Requests are written by a thread
    while the answers are read, so a thousand commits cost one process and no round trips."""

    def __init__(self, git_dir: str):
        self._git_dir = git_dir
        self._by_blob: dict[str, str] = {}

    def __enter__(self) -> LicenseReader:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def _objects(self, names: list[str]) -> Iterator[tuple[str, str, str, bytes]]:
        """(name, object id, type, content) per object name, in order; type "" when missing.
        Stops early (without raising) when git cannot go on."""
        proc = subprocess.Popen(_git(self._git_dir, "cat-file", "--batch"), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env=_environment(), bufsize=1 << 20)

        def write():
            try:
                proc.stdin.write("".join(f"{n}\n" for n in names).encode("utf-8", "replace"))
                proc.stdin.close()
            except OSError:  # git died early: the reader sees the end of its output
                pass

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        try:
            for name in names:
                header = proc.stdout.readline()
                parts = header.split()
                if not header:
                    return
                if len(parts) != 3 or not parts[2].isdigit():
                    yield name, "", "", b""
                    continue
                data = proc.stdout.read(int(parts[2]))
                proc.stdout.read(1)
                yield (name, parts[0].decode("ascii", "replace"),
                       parts[1].decode("ascii", "replace"), data)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            writer.join()
            proc.stdout.close()

    def licenses_at(self, revisions) -> dict[str, str]:
        """revision -> the SPDX id (or ids joined by " OR ") of its root's licence files; a
        revision without any is left out."""
        revisions = list(revisions)
        files: dict[str, list[str]] = {}
        for name, tree, kind, data in self._objects([f"{r}^{{tree}}" for r in revisions]):
            if kind == "tree":  # entries hold raw ids: 20 bytes (SHA-1) or 32 (SHA-256)
                files[name[:-len("^{tree}")]] = _license_blobs(data, len(tree) // 2)
        unseen = sorted({oid for oids in files.values() for oid in oids} - set(self._by_blob))
        for oid, _, kind, data in self._objects(unseen):
            text = data[:_LICENSE_BLOB_BYTES] if kind == "blob" else b""
            self._by_blob[oid] = spdx_id(text.decode("utf-8", "replace"))
        out = {}
        for revision, oids in files.items():
            ids = []
            for oid in oids:
                found = self._by_blob.get(oid, "")
                if found and found not in ids:
                    ids.append(found)
            if any(i.startswith("LGPL") for i in ids):  # COPYING (GPL) + COPYING.LESSER: LGPL
                ids = [i for i in ids if not i.startswith("GPL")]
            if ids:
                out[revision] = " OR ".join(ids)
        return out

    def license_of(self, revision: str) -> str:
        return self.licenses_at([revision]).get(revision, "")


def _license_blobs(tree: bytes, oid_bytes: int) -> list[str]:
    """Blob ids of a root tree's licence files, LICENSE/LICENCE/COPYING first."""
    candidates = []
    for mode, name, oid in _tree_entries(tree, oid_bytes):
        if mode.startswith(b"100") and _LICENSE_NAME.match(name):
            first = name.lower().split(b".")[0] in _LICENSE_FIRST
            candidates.append((not first, name, oid))
    return [oid for _, _, oid in sorted(candidates)]


def _tree_entries(data: bytes, oid_bytes: int) -> Iterator[tuple[bytes, bytes, str]]:
    i = 0
    while i < len(data):
        space = data.find(b" ", i)
        nul = data.find(b"\x00", space)
        if space < 0 or nul < 0:
            return
        yield data[i:space], data[space + 1:nul], data[nul + 1:nul + 1 + oid_bytes].hex()
        i = nul + 1 + oid_bytes


# (SPDX id, phrases that must all occur), first match wins: the narrower licence comes first.
_LICENSE_RULES = (
    ("AGPL-3.0", ("gnu affero general public license",)),
    ("LGPL-2.1", ("gnu lesser general public license", "version 2.1")),
    ("LGPL-3.0", ("gnu lesser general public license",)),
    ("LGPL-2.0", ("gnu library general public license",)),
    ("GPL-3.0", ("gnu general public license", "version 3")),
    ("GPL-2.0", ("gnu general public license", "version 2")),
    ("Apache-2.0", ("apache license", "version 2.0")),
    ("MPL-2.0", ("mozilla public license", "2.0")),
    ("EPL-2.0", ("eclipse public license", "2.0")),
    ("EPL-1.0", ("eclipse public license",)),
    ("BSL-1.0", ("boost software license",)),
    ("Unlicense", ("free and unencumbered software released into the public domain",)),
    ("CC0-1.0", ("cc0 1.0",)),
    ("WTFPL", ("do what the fuck you want",)),
    ("Zlib", ("altered source versions must be plainly marked",)),
    ("PSF-2.0", ("python software foundation license",)),
    ("ISC", ("permission to use, copy, modify, and",
             "distribute this software for any purpose with or without fee")),
    ("MIT", ("permission is hereby granted, free of charge, to any person obtaining a copy",)),
    ("BSD-3-Clause", ("redistribution and use in source and binary forms",
                      "endorse or promote products")),
    ("BSD-2-Clause", ("redistribution and use in source and binary forms",)),
    ("MIT", ("mit license",)),
)
_SPDX_LINE = re.compile(r"SPDX-License-Identifier:\s*([\w.+-]+(?:\s+(?:OR|AND|WITH)\s+[\w.+-]+)*)")


def spdx_id(text: str) -> str:
    """The SPDX id a licence text reads as, "" when it is none of the common ones."""
    declared = _SPDX_LINE.search(text)
    if declared:
        return declared.group(1)
    flat = " ".join(text.lower().replace("\u2019", "'").split())
    for spdx, phrases in _LICENSE_RULES:
        if all(phrase in flat for phrase in phrases):
            return spdx
    return ""
