"""`pairmill mine commits`: (commit message, diff) pairs from histories the tests write with git."""

import shutil
import subprocess
import tarfile
from collections import Counter

import pyarrow.parquet as pq
import pytest

from pairmill.cli import main
from pairmill.extractors.code import commits, git_history
from pairmill.extractors.code.commits import (
    CommitOptions,
    clean_message,
    cut_diff,
    extract_commit_pair,
    is_bot,
    is_trivial,
    path_exclusion,
)
from pairmill.extractors.code.git_history import Commit, FileDiff, spdx_id
from pairmill.extractors.result import Skipped, Unreadable
from pairmill.schemas import read_manifest, validate_dataset
from pairmill.schemas.pairs import meta_dict

from . import hostile

KEPT = {"parser", "license", "docs", "branch", "mixed", "latin1", "raw_bytes", "odd_path",
        "typo", "large", "relicense"}
DROPS = {"merge_commit": 1, "bot_author": 1, "trivial_message": 2, "only_lock_files": 1,
         "only_binary_files": 2, "revert_commit": 1}


def run(path, **settings) -> dict:
    """Every unit of one input read and extracted as the pipeline does, without Beam."""
    options = CommitOptions(**settings)
    found = {"pairs": {}, "drops": Counter(), "notes": Counter(), "letters": [], "units": 0,
             "records": 0}
    for unit in commits._units(str(path), options):
        found["units"] += 1
        for origin, record, _ in commits._read(unit, options):
            if isinstance(record, Skipped):
                found["drops"][record.reason] += 1
            elif isinstance(record, Unreadable):
                found["letters"].append((origin, record))
            else:
                found["records"] += 1
                out = extract_commit_pair(record, origin, options)
                found["drops"].update(out.drops)
                found["notes"].update(out.notes)
                for pair in out.pairs:
                    found["pairs"][pair["origin"].rsplit("@", 1)[1]] = pair
    return found


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    return hostile.git_commit_history(tmp_path_factory.mktemp("history"))


@pytest.fixture(scope="module")
def mined(history):
    return run(history[0])


def names(found, ids) -> set[str]:
    by_sha = {sha: name for name, sha in ids.items()}
    return {by_sha[sha] for sha in found["pairs"]}


def test_a_real_looking_history_keeps_what_a_person_would(history, mined):
    _, ids = history
    assert names(mined, ids) == KEPT
    assert dict(mined["drops"]) == DROPS
    assert mined["records"] == len(ids) and not mined["letters"]
    pair = mined["pairs"][ids["branch"]]  # a merged branch's own commit stays
    assert pair["task"] == "commit_message_diff" and pair["source"] == "project"
    assert pair["origin"] == f"project@{ids['branch']}" and pair["lang"] == "python"


def test_the_query_is_the_subject_and_the_explaining_body(history, mined):
    query = mined["pairs"][history[1]["parser"]]["query"]
    assert query == ("Add a parser for INI configuration files\n\nThe parser reads sections and "
                     "key = value lines and returns a dict of dicts,\nso callers no longer split "
                     "lines by hand.")
    only_subject = run(history[0], subject_only=True)["pairs"][history[1]["parser"]]["query"]
    assert only_subject == "Add a parser for INI configuration files"


def test_lock_vendored_and_binary_files_leave_the_diff(history, mined):
    document = mined["pairs"][history[1]["mixed"]]["document"]
    assert document.startswith("--- /dev/null\n+++ b/src/util.py\n@@ -0,0 +1,3 @@\n+def split")
    assert "left_pad" not in document and "yarn" not in document and "index " not in document
    assert mined["notes"]["excluded_vendored_file"] == 1
    assert mined["notes"]["excluded_lock_file"] == 2
    # a 2 MiB text file is over git's big-file threshold: binary, never read into memory
    assert mined["notes"]["excluded_binary_file"] == 2


def test_the_licence_is_read_at_the_commit_else_at_head(history, mined):
    ids = history[1]
    licence = {name: meta_dict(mined["pairs"][ids[name]]["meta"]).get("license")
               for name in ("parser", "license", "docs", "relicense")}
    # no LICENSE yet at `parser`: HEAD's (Apache after the relicensing); MIT in between
    assert licence == {"parser": "Apache-2.0", "license": "MIT", "docs": "MIT",
                       "relicense": "Apache-2.0"}


def test_messages_and_paths_that_are_not_utf8_are_kept(history, mined):
    ids = history[1]
    assert mined["pairs"][ids["latin1"]]["query"] == "Corrige l'analyse des en-t\xeates accentu\xe9s"
    assert mined["pairs"][ids["raw_bytes"]]["query"] == \
        "G\xe8re les fichiers de configuration vides sans erreur"
    assert mined["notes"]["message_reencoded"] == 1  # the one without an encoding header
    assert "+++ b/src/donn\ufffdes.py" in mined["pairs"][ids["odd_path"]]["document"]


def test_an_oversized_diff_is_cut_at_a_hunk_or_line_by_default(history, mined):
    pair = mined["pairs"][history[1]["large"]]
    assert meta_dict(pair["meta"])["diff_cut"] == "true"
    assert len(pair["document"].encode()) <= CommitOptions().max_diff_bytes
    assert pair["document"].startswith("--- /dev/null\n+++ b/src/handlers.py\n@@ ")
    dropped = run(history[0], oversized_diff="drop")
    assert history[1]["large"] not in dropped["pairs"]
    assert dropped["drops"]["diff_too_large"] == 1


def test_bare_repositories_and_tarballs_give_the_same_pairs(history, mined, tmp_path):
    bare = tmp_path / "project.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(history[0]), str(bare)], check=True)
    archive = tmp_path / "project.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(bare, arcname="project.git")
    expected = {sha: (p["query"], p["document"], p["origin"]) for sha, p in mined["pairs"].items()}
    for path in (bare, archive):
        found = run(path)
        assert {sha: (p["query"], p["document"], p["origin"])
                for sha, p in found["pairs"].items()} == expected, path
        assert dict(found["drops"]) == DROPS


def test_archives_without_a_repository_or_cut_short_are_dead_letters(history, tmp_path):
    plain = tmp_path / "plain.tar.gz"
    with tarfile.open(plain, "w:gz") as tar:
        tar.add(history[0] / "src", arcname="src")
    found = run(plain)
    assert [letter.reason for _, letter in found["letters"]] == ["not_a_repository"]
    whole = tmp_path / "whole.tar.gz"
    with tarfile.open(whole, "w:gz") as tar:
        tar.add(history[0], arcname="project")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    found = run(cut)  # what was unpacked is read as far as git can; nothing raises
    assert "truncated_archive" in [letter.reason for _, letter in found["letters"]]


def test_a_shallow_clone_drops_its_edge_not_the_run(history, tmp_path):
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "3", f"file://{history[0]}", str(shallow)],
                   check=True, capture_output=True)
    found = run(shallow)
    assert found["records"] == 3 and found["drops"]["shallow_boundary"] == 1
    assert set(found["pairs"]) == {history[1]["large"], history[1]["relicense"]}


def test_an_empty_repository_is_a_drop(tmp_path):
    hostile.GitRepo(tmp_path / "empty")
    hostile.GitRepo(tmp_path / "empty.git", bare=True)
    for path in (tmp_path / "empty", tmp_path / "empty.git"):
        found = run(path)
        assert dict(found["drops"]) == {"empty_repository": 1} and not found["letters"]


def test_a_missing_object_costs_its_commit_only(history, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(history[0], broken)
    blob = subprocess.run(["git", "-C", str(broken), "rev-parse",
                           f"{history[1]['latin1']}:src/headers.py"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (broken / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    found = run(broken)
    assert [(origin, letter.reason) for origin, letter in found["letters"]] == \
        [(f"broken@{history[1]['latin1']}", "unreadable_commit")]
    assert names(found, history[1]) == KEPT - {"latin1"}


def test_a_history_cut_by_a_missing_commit_keeps_what_was_listed(history, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(history[0], broken)
    sha = history[1]["mixed"]
    (broken / ".git" / "objects" / sha[:2] / sha[2:]).unlink()
    found = run(broken)
    assert [letter.reason for _, letter in found["letters"]] == ["unreadable_history"]
    # git stops listing at the first commit whose parent is gone; the newer ones are all read
    assert names(found, history[1]) == {"latin1", "raw_bytes", "odd_path", "typo", "large",
                                        "relicense"}


def test_units_split_a_history_and_change_nothing(history, mined):
    split = run(history[0], commits_per_unit=4)
    assert split["units"] == 5 and mined["units"] == 1
    assert {k: p["id"] for k, p in split["pairs"].items()} == \
        {k: p["id"] for k, p in mined["pairs"].items()}
    assert run(history[0], max_commits=5)["records"] == 5


def test_renames_and_paths_with_spaces_quotes_and_tabs(tmp_path):
    repo = hostile.GitRepo(tmp_path / "names")
    lines = "one\ntwo\nthree\nfour\nfive\nsix\n"
    repo.commit("Add the user guide for the configuration parser",
                {"docs/user guide.md": lines, "tab\tname.py": "x = 1\n"})
    repo.git("mv", "docs/user guide.md", 'docs/guide "v2".md')
    renamed = repo.commit("Rename the user guide and fix its last line",
                          {'docs/guide "v2".md': lines.replace("six", "six!")})
    repo.commit("Record the release checklist in this commit only", {})
    found = run(repo.path)
    assert found["pairs"][renamed]["document"] == (
        'rename from docs/user guide.md\nrename to docs/guide "v2".md\n'
        '--- a/docs/user guide.md\n+++ b/docs/guide "v2".md\n@@ -3,4 +3,4 @@ two\n'
        " three\n four\n five\n-six\n+six!")
    first = next(p for sha, p in found["pairs"].items() if sha != renamed)
    assert "+++ b/tab\tname.py\n@@ -0,0 +1 @@\n+x = 1" in first["document"]
    assert found["drops"] == {"empty_diff": 1}


def test_mine_commits_end_to_end(history, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["mine", "commits", "--input", str(history[0]), "--output", str(out),
                 "--commits-per-unit", "6"]) == 0
    assert validate_dataset(out) == []
    manifest = read_manifest(out)
    assert list(manifest.tasks) == ["commit_message_diff"]
    assert manifest.counters["records_read"] == len(history[1])
    assert manifest.counters["pairs_kept"] == len(KEPT)
    assert {k: manifest.counters["drops"][k] for k in DROPS} == DROPS
    rows = [r for f in sorted(out.glob("data/*/*.parquet")) for r in pq.read_table(f).to_pylist()]
    assert {r["origin"] for r in rows} == {f"project@{history[1][name]}" for name in KEPT}
    assert all(str(tmp_path) not in r["origin"] for r in rows)


def test_without_git_the_command_says_so(history, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(git_history.shutil, "which", lambda name: None)
    assert main(["mine", "commits", "--input", str(history[0]),
                 "--output", str(tmp_path / "out")]) == 2
    assert "install it (apt-get install git" in capsys.readouterr().err
    with pytest.raises(git_history.GitMissing):  # what a worker without git raises
        list(commits._units(str(history[0]), CommitOptions()))


def test_what_is_not_a_repository_is_refused_before_any_work(tmp_path, capsys):
    (tmp_path / "plain").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    for path in (tmp_path / "plain", tmp_path / "notes.txt", tmp_path / "missing"):
        assert main(["mine", "commits", "--input", str(path),
                     "--output", str(tmp_path / "out")]) == 2
        assert str(path) in capsys.readouterr().err


# --- the pure parts ----------------------------------------------------------------------------

@pytest.mark.parametrize("message,expected", [
    ("Fix crash on empty input (#123)\n", "Fix crash on empty input"),
    ("Fix crash [skip ci]\n\nThe reader indexed an empty list.\n\nCloses #4, #5\n"
     "Reviewed-on: https://review.example/1\nBug: 1234\n",
     "Fix crash\n\nThe reader indexed an empty list."),
    ("Speed up the tokenizer\n\n* wip\n* fix typo\n* Cache compiled patterns per language\n\n"
     "Co-authored-by: A <a@example.com>",
     "Speed up the tokenizer\n\n* Cache compiled patterns per language"),
    ("Add retries\n\n<!-- Describe your change -->\nRetries use exponential backoff.\n\n"
     "(cherry picked from commit 0123abcd)\n\nConflicts:\n\tsrc/net.py\n",
     "Add retries\n\nRetries use exponential backoff."),
    ("Wrapped subject line that goes\non to a second line\n\nBody.", "Wrapped subject line that "
     "goes on to a second line\n\nBody."),
    ("Squashed title (#7)\n\n* Add the cache\n\n* wip\n\n---------\n\nCo-authored-by: B <b@x>\n",
     "Squashed title\n\n* Add the cache"),
    ("Change the default timeout\n\nNote: callers that relied on no timeout must pass None.\n\n"
     "Acked-by: C <c@x>\nBug-Url: https://bugs.example/1\n",
     "Change the default timeout\n\nNote: callers that relied on no timeout must pass None."),
])
def test_clean_message(message, expected):
    assert clean_message(message) == expected


@pytest.mark.parametrize("message", ["wip", "WIP", "fix typo", "Fixed typos in README",
                                     "Update README.md", "Create main.py", "v1.2.0",
                                     "Release 2.0.1", "Bump version to 3.1", "minor fixes",
                                     "Initial commit", "fix: typo", "address review comments",
                                     "Merge branch 'main'", "fixup! Add parser", "chore: update",
                                     "Updated docs", "update requirements", "Added gitignore"])
def test_trivial_messages(message):
    assert is_trivial(message)


@pytest.mark.parametrize("message", ["Fix crash when the config file is empty",
                                     "Update the retry policy to back off exponentially",
                                     "Add tests for the INI parser", "Release the GIL while hashing",
                                     "fix(parser): handle empty sections", "Add package data",
                                     "remove simplejson", "Updated implementation and added setup.py"])
def test_messages_that_are_not_trivial(message):
    assert not is_trivial(message)


def test_bots_are_told_apart_from_people():
    for bot in ("dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>",
                "renovate[bot] <bot@renovateapp.com>", "github-actions <action@github.com>",
                "pre-commit-ci[bot] <66853113+pre-commit-ci[bot]@users.noreply.github.com>",
                "CodeLingo Bot <bot@codelingo.io>", "k8s-ci-robot <k8s-ci-robot@users.noreply.github.com>"):
        assert is_bot(bot), bot
    for person in ("Amit Botzer <botzer.2002@gmail.com>", "shoma <shoma@catbot.net>",
                   "Abbott Lee <abbott@example.com>"):
        assert not is_bot(person), person


@pytest.mark.parametrize("path,reason", [
    ("package-lock.json", "lock_file"), ("sub/Cargo.lock", "lock_file"), ("go.sum", "lock_file"),
    ("vendor/github.com/x/y.go", "vendored_file"), ("web/node_modules/a/index.js", "vendored_file"),
    ("api/v1/types_pb2.py", "generated_file"), ("dist/app.js", "generated_file"),
    ("static/app.min.js", "minified_file"), ("img/logo.PNG", "binary_file"),
    ("data/cities.csv", "data_file"), ("CHANGELOG.md", "changelog_file"),
    ("changes/1234.bugfix.rst", "changelog_file"), ("src/lock.py", None), ("docs/index.md", None),
    ("src/vendors.py", None),
])
def test_path_exclusions(path, reason):
    assert path_exclusion(path) == reason


def test_generated_files_are_told_by_their_header():
    head = b"@@ -0,0 +1,3 @@\n+// Code generated by stringer. DO NOT EDIT.\n+package x\n+const a = 1\n"
    commit = Commit("r", "a" * 40, ("b" * 40,), "Ann <a@x>", 0,
                    b"Add the generated names of the colour constants",
                    (FileDiff("colour_string.go", "", "added", False, head),))
    out = extract_commit_pair(commit)
    assert out.drops == {"only_generated_files": 1}


def test_a_cut_ends_at_a_whole_file_or_hunk():
    parts = ["--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b", "--- a/y\n+++ b/y\n@@ -1 +1 @@\n-c\n+d\n"
             "@@ -9 +9 @@\n-e\n+f"]
    assert cut_diff(parts, len(parts[0]) + 30) == parts[0]  # no hunk of y fits: y is left out
    assert cut_diff(parts, len(parts[0]) + 40) == parts[0] + "\n--- a/y\n+++ b/y\n@@ -1 +1 @@\n-c\n+d"
    assert cut_diff(parts[1:], 30) == "--- a/y\n+++ b/y\n@@ -1 +1 @@\n-c"  # lines, as a last resort


@pytest.mark.parametrize("text,expected", [
    (hostile.MIT_TEXT, "MIT"), (hostile.APACHE_TEXT, "Apache-2.0"),
    ("GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007", "GPL-3.0"),
    ("GNU LESSER GENERAL PUBLIC LICENSE\nVersion 2.1, February 1999", "LGPL-2.1"),
    ("Redistribution and use in source and binary forms ... Neither the name of the copyright "
     "holder nor ... may be used to endorse or promote products", "BSD-3-Clause"),
    ("SPDX-License-Identifier: MPL-2.0", "MPL-2.0"), ("All rights reserved.", ""),
])
def test_spdx_ids(text, expected):
    assert spdx_id(text) == expected
