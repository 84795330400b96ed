"""`pairmill mine commits`: (commit message, diff) pairs from git histories, as OctoPack's
CommitPack pairs them.

The query is the commit message: its subject, and its body where it explains (trailers,
issue references, cherry-pick and revert lines, squashed lists of trivial commits and template
comments removed). The document is the unified diff of the files a person would read: lock files,
vendored, generated, minified and binary files, data files and changelogs are taken out (the
changelog repeats the message). A deleted file is shown by its header and `@@` line only.

Every commit that gives no pair is counted under its reason: `merge_commit`, `bot_author`,
`revert_commit`, `trivial_message`, `short_message`, `shallow_boundary` (a shallow clone's edge,
whose "diff" is the whole tree), `only_<kind>_files` / `only_excluded_files` (nothing left once
those files are out), `empty_diff`, `diff_too_large` (with `--oversized-diff drop`).

Reading (`git_history.py`) is the `git` command; this module is pure: a `Commit` in, an
`Extraction` out.
"""

from __future__ import annotations

import functools
import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from ...schemas import make_pair
from ...schemas.settings import non_negative_int, positive_int, setting
from ..result import Extraction
from ..spec import InputKind, SourceSpec, Task
from .files import content_skip_reason
from .git_history import (
    DEFAULT_READ_LIMIT,
    Commit,
    CommitUnit,
    FileDiff,
    git_binary,
    input_kind,
    read_commits,
    repository_units,
)
from .languages import language_for_path

TASK = "commit_message_diff"


@dataclass(frozen=True)
class CommitOptions:
    """What is read from each repository, and what makes a commit worth a pair."""

    all_refs: bool = setting(
        False, "read every branch and tag, not only the history of HEAD (a mirror's pull "
               "request refs are never read)")
    max_commits: int = setting(0, "read at most this many commits per repository, newest first "
                                  "(0: all)", type=non_negative_int)
    commits_per_unit: int = setting(
        1000, "commits per unit of work: a repository's history is split into runs of this many "
              "commits, spread over the workers (an archive is one unit)", type=positive_int)
    max_diff_bytes: int = setting(
        16 << 10, "a diff longer than this (after lock, vendored, generated and binary files are "
                  "out) is dropped or cut, as --oversized-diff says", type=positive_int)
    oversized_diff: str = setting(
        "cut", "a diff over --max-diff-bytes is cut after the last whole file (or hunk) that "
               "fits, meta diff_cut=true (cut: the limit is past what a trainer reads, and large "
               "commits carry the most descriptive messages), or the commit is dropped (drop)",
        choices=("cut", "drop"))
    min_message_words: int = setting(
        2, "messages with fewer words (not counting a `type(scope):` prefix) are dropped",
        type=positive_int)
    max_message_chars: int = setting(
        2000, "a longer message keeps its subject and the body paragraphs that fit",
        type=positive_int)
    subject_only: bool = setting(
        False, "the query is the subject line alone (default: the subject and the body's "
               "explanation)")


DEFAULT_OPTIONS = CommitOptions()


# --- authors and messages ----------------------------------------------------------------------

_BOT = re.compile(
    r"\[bot\]|\b(dependabot|renovate|renovate-bot|greenkeeper|github-actions|pre-commit-ci|"
    r"mergify|imgbot|allcontributors|all-contributors|semantic-release-bot|pyup-bot|snyk-bot|"
    r"depfu|whitesource|deepsource-autofix|codecov-io|gitter-badger|fossabot|weblate)\b|"
    r"(^|[\s._-])(ro)?bot(\s*<|$)|action@github\.com|bot@renovateapp\.com|"
    r"noreply@weblate\.org",
    re.IGNORECASE)


def is_bot(author: str) -> bool:
    """`name <email>` of a dependency, CI or translation bot."""
    return bool(_BOT.search(author))


# Lines that are bookkeeping, not explanation, wherever they stand in a body.
_TRAILER = re.compile(
    r"^\s*(signed-off-by|co-authored-by|co-developed-by|change-id|reviewed-by|reviewed-on|"
    r"acked-by|tested-by|reported-by|suggested-by|helped-by|requested-by|approved-by|"
    r"original-author|cc|bug|bugs|issue|issues|fixes|closes|resolves|refs?|see-also|link|"
    r"piperorigin-revid|differential revision|git-svn-id|original-commit-id|"
    r"cherry-picked-from|backport-of|upstream-commit|pr-url|pull-request|release-notes?|"
    r"jira|ticket|x-[\w-]+)\s*:", re.IGNORECASE)
_TRAILER_LIKE = re.compile(r"^[A-Za-z]+(-[A-Za-z]+)+:\s+\S")  # Acked-by:, Bug-Url:, ...
_RULE = re.compile(r"^\s*([-=*_.]\s*){3,}$")
_REF = r"(#\d+|[\w.-]+/[\w.-]+#\d+|gh-\d+|[A-Z][A-Z0-9]+-\d+|https?://\S+)"
_NOISE_LINE = re.compile(
    r"^\s*(\(cherry picked from commit [0-9a-f]+\)|this reverts commit [0-9a-f]+\.?.*|"
    r"<?https?://\S+>?|\[?(skip ci|ci skip|skip-ci|no ci)\]?|"
    r"merge (branch|pull request|remote-tracking branch|tag) .*|merged in .*|"
    rf"((fix(es|ed)?|close[sd]?|resolve[sd]?|refs?|see|related( to)?|part of|addresse[sd]|"
    rf"issue|for)\s*:?\s*)?{_REF}([\s,]+(and\s+)?{_REF})*\.?)\s*$",
    re.IGNORECASE)
_BULLET = re.compile(r"^\s*[*-]\s+(.*)$")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_CI_TAG = re.compile(r"\s*\[(skip ci|ci skip|skip-ci|no ci)\]", re.IGNORECASE)
_PR_SUFFIX = re.compile(r"\s*\((#\d+|gh-\d+)\)\s*$", re.IGNORECASE)
_CONVENTIONAL = re.compile(r"^\w+(\([^)]*\))?!?:\s+")
_REVERT = re.compile(r"^(revert\b|this reverts commit)", re.IGNORECASE)

# Whole messages that say nothing a diff would not (normalised: lower case, punctuation out).
_TRIVIAL = re.compile(
    r"^(wip|work in progress|(minor |small |tiny |quick |some |more |few )*"
    r"(fix(es|ed)?|updates?|updated|changes?|tweaks?|cleanup|clean up|edits?|improvements?|"
    r"refactor(ing)?|stuff|misc|typos?|formatting|format|lint(ing)?|style|tests?|testing)"
    r"( (fix|fixes|update|updates|change|changes))?|"
    r"(fix(es|ed)?|correct(ed)?) (an? |some |the |small |minor |more )?typos?( in \S+( \S+)?)?|"
    r"(initial|first|1st) (commit|import|version|release)|init|temp|tmp|save|commit|oops|"
    r"asdf+|test commit|update readme( md)?|update docs|update changelog( md)?|"
    r"update (dependencies|deps|version)|bump (version|deps|dependencies)|version bump|"
    r"address(ed)? (review )?(comments|feedback)|review (comments|feedback)|pr feedback|"
    r"apply suggestions from code review|code review|fix (build|tests?|ci|lint|linting)|"
    r"fix merge conflicts?|resolve (merge )?conflicts?|merge|"
    r"merge (branch|pull request|remote tracking branch|tag|remote branch) .*|"
    r"add files via upload|"
    r"(update|add|fix|improve|clean ?up|change|edit|remove|tidy|tweak|rework|adjust|bump)(e?d|s)?"
    r"( the| some| more| a| an)? (docs?|documentation|readme|requirements|deps|dependencies|"
    r"metadata|tests?|gitignore|makefile|config|configuration|setup( py)?|build|ci|changelog|"
    r"version|license|examples?|comments?|code|files?|stuff|things|style|formatting|imports|"
    r"spacing|whitespace|typos?|links?|badges?|todo|notes)|"
    r"(release|releasing|prepare|preparing|bump|bumped|version|bump version( to)?|"
    r"prepare (for )?release|release version)( v)? ?\d+( \d+)*( \w+)?( release)?|"
    r"v ?\d+( \d+)*( \w+)?|(fixup|squash|amend) .*)$")
# GitHub's web editor: "Update README.md", "Create main.py", "Delete old/setup.cfg"
_FILE_ONLY = re.compile(r"^(update|create|delete|add|rename|remove|upload)d?\s+[\w./-]+\.\w{1,6}$",
                        re.IGNORECASE)
_WORD = re.compile(r"\w+")


def decode_message(raw: bytes, out: Extraction) -> str:
    """UTF-8, else Windows-1252 (what old SVN and CVS imports hold), noted."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        out.note("message_reencoded")
        return raw.decode("cp1252", "replace")


def _normal(text: str) -> str:
    return " ".join(_WORD.findall(_CONVENTIONAL.sub("", text.strip()).lower().replace("_", " ")))


def is_trivial(text: str) -> bool:
    """A message that says nothing a reader could match to a diff ("wip", "fix typo",
    "Update README.md", "v1.2.0")."""
    return bool(_TRIVIAL.match(_normal(text)) or _FILE_ONLY.match(text.strip()))


def message_words(text: str) -> int:
    return len(_WORD.findall(_CONVENTIONAL.sub("", text.strip())))


def clean_message(message: str, *, subject_only: bool = False, max_chars: int = 2000) -> str:
    """The subject (its first paragraph, on one line) and the body paragraphs that explain."""
    text = _HTML_COMMENT.sub("", message.replace("\r\n", "\n").replace("\r", "\n"))
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    if not paragraphs:
        return ""
    subject = " ".join(line.strip() for line in paragraphs[0].splitlines() if line.strip())
    subject = _PR_SUFFIX.sub("", _CI_TAG.sub("", subject)).strip()
    if subject_only:
        return subject[:max_chars]
    body = []
    for paragraph in paragraphs[1:]:
        lines = [line.rstrip() for line in paragraph.splitlines()]
        if lines[0].lstrip("# ").lower().startswith("conflicts:"):
            continue  # git's old list of conflicted files
        kept = [line for line in lines
                if not _TRAILER.match(line) and not _NOISE_LINE.match(line)
                and not _is_trivial_bullet(line) and not _RULE.match(line)]
        if kept:
            body.append(kept)
    while body and all(_TRAILER_LIKE.match(line) for line in body[-1]):
        body.pop()  # a closing block of `Some-Key: value` trailers
    out = subject
    for lines in body:
        paragraph = "\n".join(lines).strip("\n")
        if len(out) + 2 + len(paragraph) > max_chars:
            break
        out += "\n\n" + paragraph
    return out[:max_chars] if len(out) > max_chars else out


def _is_trivial_bullet(line: str) -> bool:
    """`* wip` in a squashed pull request's list of commits."""
    bullet = _BULLET.match(line)
    return bool(bullet) and (is_trivial(bullet.group(1)) or message_words(bullet.group(1)) < 2)


# --- files -------------------------------------------------------------------------------------

_LOCK_NAMES = frozenset({
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lock",
    "bun.lockb", "cargo.lock", "gemfile.lock", "composer.lock", "poetry.lock", "pipfile.lock",
    "pdm.lock", "uv.lock", "go.sum", "go.work.sum", "mix.lock", "pubspec.lock", "podfile.lock",
    "package.resolved", "packages.lock.json", "flake.lock", "gradle.lockfile", "deno.lock",
    "cartfile.resolved", "manifest.toml", "conda-lock.yml", "shard.lock", "paket.lock"})
_VENDORED = re.compile(
    r"(^|/)(vendor|vendored|_vendor|third_party|third-party|thirdparty|node_modules|"
    r"bower_components|jspm_packages|\.yarn/(releases|cache|plugins)|Godeps/_workspace)/")
_GENERATED_NAME = re.compile(
    r"_pb2(_grpc)?\.pyi?$|\.pb\.(go|cc|h|swift|dart)$|_pb\.(js|d\.ts)$|\.pb\.gw\.go$|"
    r"_generated\.\w+$|(^|/)zz_generated[^/]*$|\.g\.dart$|\.freezed\.dart$|\.designer\.cs$|"
    r"\.js\.map$|\.css\.map$|(^|/)(dist|__generated__|generated)/|(^|/)\.pnp\.c?js$",
    re.IGNORECASE)
_MINIFIED_NAME = re.compile(r"[.-]min\.(js|css|mjs)$|\.bundle\.js$|\.chunk\.js$", re.IGNORECASE)
_DATA_EXT = frozenset({"csv", "tsv", "psv", "svg", "ipynb", "snap", "geojson", "ndjson", "jsonl",
                       "pbxproj", "xcscheme", "storyboard", "xib", "resx", "po", "pot", "mo", "ics",
                       "vcf", "log", "dat", "sql"})
_BINARY_EXT = frozenset({"png", "jpg", "jpeg", "gif", "bmp", "ico", "icns", "webp", "tiff", "psd",
                         "pdf", "zip", "gz", "tgz", "bz2", "xz", "7z", "rar", "jar", "war", "class",
                         "so", "dll", "dylib", "exe", "o", "a", "lib", "pyc", "whl", "woff",
                         "woff2", "ttf", "otf", "eot", "mp3", "mp4", "wav", "ogg", "mov", "avi",
                         "bin", "db", "sqlite", "parquet", "npy", "npz", "pkl", "h5", "onnx", "pt"})
_CHANGELOG = re.compile(r"(^|/)(changelog|changes|history|news|release[-_ ]?notes|whatsnew)"
                        r"(\.[\w]+)?$|(^|/)(changelog|changes|newsfragments|changelog\.d)/",
                        re.IGNORECASE)


def path_exclusion(path: str) -> str | None:
    """Why a file is taken out of a commit's diff from its path alone, or None."""
    name = path.rsplit("/", 1)[-1]
    lower = name.lower()
    ext = lower.rsplit(".", 1)[-1] if "." in lower else ""
    if lower in _LOCK_NAMES or ext == "lock" or lower.endswith((".lock.json", "-lock.yaml",
                                                                "-lock.json")):
        return "lock_file"
    if _VENDORED.search(path):
        return "vendored_file"
    if _GENERATED_NAME.search(path):
        return "generated_file"
    if _MINIFIED_NAME.search(name):
        return "minified_file"
    if ext in _BINARY_EXT:
        return "binary_file"
    if ext in _DATA_EXT:
        return "data_file"
    if _CHANGELOG.search(path):
        return "changelog_file"
    return None


def file_exclusion(diff: FileDiff) -> str | None:
    """Why a file is taken out of a commit's diff, or None when it stays."""
    reason = path_exclusion(diff.path) or (path_exclusion(diff.old_path) if diff.old_path else None)
    if reason:
        return reason
    if diff.binary:
        return "binary_file"
    if diff.mode_only:
        return "mode_change"
    head = _new_file_head(diff.hunks)
    if head:
        reason = content_skip_reason(head, max_bytes=len(head) + 1)
        if reason in ("generated_file", "minified_file"):
            return reason
    if any(len(line) > 1000 for line in diff.hunks.split(b"\n") if line[:1] == b"+"):
        return "minified_file"
    return None


def _new_file_head(hunks: bytes) -> bytes:
    """The first lines of the file after the commit, when its first hunk starts at line 1."""
    lines = hunks[:16384].split(b"\n")
    if not lines or not re.match(rb"@@ -\d+(,\d+)? \+1(,\d+)? @@", lines[0]):
        return b""
    return b"\n".join(line[1:] for line in lines[1:] if line[:1] in (b" ", b"+"))


# Programming (or markup) language of a path, beyond the seven the code source parses.
_EXTRA_LANGUAGES = {
    "c": "c", "h": "c", "cc": "cpp", "cpp": "cpp", "cxx": "cpp", "hpp": "cpp", "hh": "cpp",
    "cs": "csharp", "rs": "rust", "kt": "kotlin", "kts": "kotlin", "swift": "swift",
    "scala": "scala", "m": "objective-c", "mm": "objective-c", "dart": "dart", "lua": "lua",
    "pl": "perl", "pm": "perl", "r": "r", "jl": "julia", "hs": "haskell", "ex": "elixir",
    "exs": "elixir", "erl": "erlang", "clj": "clojure", "ml": "ocaml", "fs": "fsharp",
    "zig": "zig", "nim": "nim", "vue": "vue", "svelte": "svelte", "tsx": "typescript",
    "sh": "shell", "bash": "shell", "zsh": "shell", "ps1": "powershell", "sql": "sql",
    "html": "html", "htm": "html", "css": "css", "scss": "scss", "less": "less",
    "md": "markdown", "rst": "restructuredtext", "txt": "text", "tex": "tex",
    "json": "json", "yaml": "yaml", "yml": "yaml", "toml": "toml", "xml": "xml", "ini": "ini",
    "cfg": "ini", "gradle": "gradle", "cmake": "cmake", "proto": "protobuf", "tf": "hcl",
}
_SPECIAL_NAMES = {"dockerfile": "dockerfile", "makefile": "makefile", "cmakelists.txt": "cmake",
                  "gemfile": "ruby", "rakefile": "ruby", "jenkinsfile": "groovy"}
_PROSE = frozenset({"markdown", "restructuredtext", "text", "json", "yaml", "toml", "xml", "ini"})


def path_language(path: str) -> str:
    spec = language_for_path(path)
    if spec is not None:
        return spec.name
    name = path.rsplit("/", 1)[-1].lower()
    if name in _SPECIAL_NAMES:
        return _SPECIAL_NAMES[name]
    return _EXTRA_LANGUAGES.get(name.rsplit(".", 1)[-1], "") if "." in name else ""


# --- the diff ----------------------------------------------------------------------------------

def decode_hunks(raw: bytes, out: Extraction) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        out.note("file_reencoded")  # Latin-1 sources: kept, read as Windows-1252
        return raw.decode("cp1252", "replace")


def render_file(diff: FileDiff, hunks: str) -> str:
    """One file as a unified diff: `---`/`+++` (and `rename from/to`), then its hunks."""
    head = []
    if diff.status in ("renamed", "copied"):
        verb = "rename" if diff.status == "renamed" else "copy"
        head += [f"{verb} from {diff.old_path}", f"{verb} to {diff.path}"]
    if hunks or diff.status in ("added", "deleted"):
        old = "/dev/null" if diff.status == "added" else f"a/{diff.old_path or diff.path}"
        new = "/dev/null" if diff.status == "deleted" else f"b/{diff.path}"
        head += [f"--- {old}", f"+++ {new}"]
    text = "\n".join(head)
    if hunks:
        text += "\n" + hunks.rstrip("\n")
    return text


def cut_diff(parts: list[str], limit: int) -> str:
    """Whole files while they fit; then the next file's whole hunks that fit; lines only when
    not even the first file's first hunk fits."""
    out = ""
    for part in parts:
        joined = part if not out else out + "\n" + part
        if len(joined.encode("utf-8")) <= limit:
            out = joined
            continue
        room = limit - len(out.encode("utf-8")) - (1 if out else 0)
        kept = _head_that_fits(re.split(r"\n(?=@@ )", part), room, minimum=2)
        if not kept and not out:
            kept = _head_that_fits(part.split("\n"), room, minimum=4)
        if kept:
            out = kept if not out else out + "\n" + kept
        break
    return out


def _head_that_fits(chunks: list[str], room: int, minimum: int) -> str:
    """The first chunks that fit in `room` bytes, "" when fewer than `minimum` do."""
    kept, size = [], 0
    for chunk in chunks:
        add = len(chunk.encode("utf-8")) + (1 if kept else 0)
        if size + add > room:
            break
        kept.append(chunk)
        size += add
    return "\n".join(kept) if len(kept) >= min(minimum, len(chunks)) else ""


# --- the extractor -----------------------------------------------------------------------------

def extract_commit_pair(commit: Commit, origin: str = "",
                        options: CommitOptions = DEFAULT_OPTIONS) -> Extraction:
    """The (message, diff) pair of one commit, or the reason it has none."""
    out = Extraction()
    origin = origin or f"{commit.source}@{commit.sha}"
    if len(commit.parents) > 1:
        out.drop("merge_commit")
        return out
    if commit.shallow:
        out.drop("shallow_boundary")
        return out
    if is_bot(commit.author):
        out.drop("bot_author")
        return out
    message = decode_message(commit.message, out)
    if _REVERT.match(message.strip()) or "\nThis reverts commit " in message:
        out.drop("revert_commit")
        return out
    query = clean_message(message, subject_only=options.subject_only,
                          max_chars=options.max_message_chars)
    if query and is_trivial(query):
        out.drop("trivial_message")
        return out
    if message_words(query) < options.min_message_words:
        out.drop("short_message")
        return out
    document, languages, cut, reason = _document(commit, options, out)
    if reason:
        out.drop(reason)
        return out
    meta = {"files": str(len(languages)),
            "date": time.strftime("%Y-%m-%d", time.gmtime(commit.time))}
    if commit.license:
        meta["license"] = commit.license
    if cut:
        meta["diff_cut"] = "true"
        out.note("diff_cut")
    out.pairs.append(make_pair(TASK, query, document, commit.source, origin,
                               lang=_main_language(languages) or None, meta=meta))
    return out


def _document(commit: Commit, options: CommitOptions, out: Extraction
              ) -> tuple[str, list[tuple[str, int]], bool, str | None]:
    """(diff, [(language, changed lines)] per kept file, cut?, drop reason)."""
    parts: list[str] = []
    languages: list[tuple[str, int]] = []
    excluded: Counter = Counter()
    unread = False
    for diff in commit.files:
        reason = file_exclusion(diff)
        if reason:
            excluded[reason] += 1
            out.note(f"excluded_{reason}")
            continue
        unread = unread or diff.unread
        hunks = decode_hunks(diff.hunks, out)
        part = render_file(diff, hunks)
        if not part.strip():
            continue
        parts.append(part)
        changed = sum(1 for line in hunks.split("\n") if line[:1] in ("+", "-"))
        languages.append((path_language(diff.path), changed))
    if not parts:
        if not excluded or set(excluded) == {"mode_change"}:
            return "", [], False, "empty_diff"
        kinds = set(excluded) - {"mode_change"}
        kind = next(iter(kinds)) if len(kinds) == 1 else "excluded"
        return "", [], False, f"only_{kind.removesuffix('_file')}_files"
    document = "\n".join(parts)
    too_large = unread or len(document.encode("utf-8")) > options.max_diff_bytes
    if not too_large:
        return document, languages, False, None
    if options.oversized_diff == "drop":
        return "", [], False, "diff_too_large"
    document = cut_diff(parts, options.max_diff_bytes)
    if not document.strip():
        return "", [], False, "diff_too_large"
    return document, languages, True, None


def _main_language(languages: list[tuple[str, int]]) -> str:
    """The language with the most changed lines, programming languages before prose and
    configuration."""
    weights: Counter = Counter()
    for language, changed in languages:
        if language:
            weights[language] += changed + 1
    code = {k: v for k, v in weights.items() if k not in _PROSE}
    pool = code or weights
    return max(sorted(pool), key=lambda k: pool[k]) if pool else ""


# --- the source --------------------------------------------------------------------------------

def _units(path: str, options: CommitOptions):
    return repository_units(path, all_refs=options.all_refs, max_commits=options.max_commits,
                            per_unit=options.commits_per_unit)


def _skip_hunks(path: str) -> bool:
    return path_exclusion(path) is not None


def _read(unit: CommitUnit, options: CommitOptions):
    return read_commits(unit, read_limit=max(DEFAULT_READ_LIMIT, 4 * options.max_diff_bytes),
                        all_refs=options.all_refs, max_commits=options.max_commits,
                        skip_hunks=_skip_hunks)


def _extract(record: Commit, origin: str, options: CommitOptions) -> Extraction:
    return extract_commit_pair(record, origin, options)


def _prepare(options: CommitOptions, inputs: Mapping[str, list[str]]) -> CommitOptions:
    """git must be here before any work (workers check again, see git_history.GitMissing)."""
    try:
        git_binary()
    except RuntimeError as exc:
        raise ValueError(str(exc)) from None
    return options


def _check(path: str) -> None:
    input_kind(path)


SPEC = SourceSpec(
    name="commits",
    help="(commit message, diff) pairs from git histories",
    description="Mine (commit message, unified diff) pairs from git working trees, bare "
                "repositories and .tar.gz archives of either, offline, with the git command. "
                "Merges, bots, reverts, trivial messages and commits that only touch lock, "
                "vendored, generated or binary files are counted and skipped.",
    tasks=(Task(TASK, "commit message (subject and explaining body)",
                "unified diff of the files a person would read"),),
    options=CommitOptions,
    inputs=(InputKind("input", "git working trees (their top folder), bare repositories, or "
                               ".tar.gz archives of either (local paths)",
                      lambda options: functools.partial(_extract, options=options),
                      units=_units, read=_read, check=_check, metavar="REPO"),),
    prepare=_prepare,
    language_of="query",
)
