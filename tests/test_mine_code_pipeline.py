"""`pairmill mine code` end to end: Beam pipeline, dataset contract, determinism, CLI errors."""

import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pairmill.cli import main
from pairmill.extractors.code import CodeOptions
from pairmill.extractors.code.trees import expand_input
from pairmill.pipelines.mine import COUNTS, DEAD_LETTERS, PARTS, MineInputs
from pairmill.schemas import read_manifest, validate_dataset
from pairmill.schemas.pairs import meta_dict

from .conftest import SOURCES, write_tree

EXPECTED = {("python", "distance"), ("python", "area"), ("python", "fetch"),
            ("go", "Serve"), ("javascript", "formatBytes"), ("java", "parse"),
            ("ruby", "greet"), ("php", "add")}


def read_pairs(dataset: Path) -> list[dict]:
    rows = []
    for f in sorted(dataset.glob("data/*/*.parquet")):
        rows.extend(pq.read_table(f).to_pylist())
    return rows


def mine(*args) -> int:
    return main(["mine", "code", *map(str, args)])


def test_extract_step_with_assert_that(source_tree):
    options = CodeOptions()
    with BeamTestPipeline(runner="FnApiRunner") as p:
        outputs = (p | beam.Create([str(source_tree)])
                   | beam.FlatMap(expand_input, options.programming_languages)
                   | beam.Map(lambda unit: ("input", unit))
                   | beam.ParDo(MineInputs("code", options)).with_outputs(
                       COUNTS, DEAD_LETTERS, PARTS, main="pairs"))
        names = outputs.pairs | beam.Map(lambda r: (r["lang"], meta_dict(r["meta"])["function"]))
        assert_that(names, equal_to(sorted(EXPECTED)))
        read = (outputs[COUNTS]
                | beam.Map(lambda counts: ("records_read", counts.get("total", "records_read")))
                | beam.CombinePerKey(sum))
        assert_that(read, equal_to([("records_read", len(SOURCES))]), label="files read")


def test_cli_writes_a_valid_dataset(source_tree, tmp_path, capsys):
    out = tmp_path / "out"
    assert mine("--input", source_tree, "--output", out) == 0
    assert validate_dataset(out) == []
    manifest = read_manifest(out)
    assert list(manifest.tasks) == ["code_docstring_code"]
    assert manifest.counters["records_read"] == len(SOURCES)
    assert manifest.counters["pairs_kept"] == len(EXPECTED)
    assert manifest.counters["drops"]["test_file"] == 1
    assert manifest.counters["drops"]["undocumented"] >= 1
    assert manifest.command[:3] == ["pairmill", "mine", "code"]
    rows = read_pairs(out)
    assert {(r["lang"], meta_dict(r["meta"])["function"]) for r in rows} == EXPECTED
    assert all(r["source"] == "repo" and ":" in r["origin"] for r in rows)
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    printed = capsys.readouterr().out
    assert "code_docstring_code" in printed and "pairs kept: 8" in printed


def test_row_groups_and_files_have_fixed_sizes(tmp_path):
    func = 'def f{i}(a):\n    """Return the value {i} for a."""\n    b = a + {i}\n    return b\n\n'
    files = {f"m{j}.py": "".join(func.format(i=j * 100 + i) for i in range(100))
             for j in range(5)}
    tree = write_tree(tmp_path / "many", files)
    out = tmp_path / "out"
    assert mine("--input", tree, "--output", out, "--row-group-size", 40,
                "--rows-per-file", 200) == 0
    manifest = read_manifest(out)
    files = manifest.tasks["code_docstring_code"]
    assert manifest.rows("code_docstring_code") == 500 and len(files) == 3
    for entry in files:
        meta = pq.ParquetFile(out / entry.path).metadata
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        assert all(s == 40 for s in sizes[:-1]) and sizes[-1] <= 40


def test_same_input_gives_byte_identical_files(source_tree, tmp_path):
    write_tree(source_tree, {"copy/geometry.py": SOURCES["pkg/geometry.py"]})
    a, b = tmp_path / "a", tmp_path / "b"
    assert mine("--input", source_tree, "--output", a) == 0
    assert mine("--input", source_tree, "--output", b, "--direct_num_workers=2",
                "--direct_running_mode=multi_threading") == 0
    files_a = sorted(p.relative_to(a) for p in a.rglob("*.parquet"))
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*.parquet"))
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
    # the copied file's pairs are exact duplicates: kept once, counted
    assert read_manifest(a).counters["drops"]["exact_duplicate"] == 3
    assert read_manifest(a).counters["pairs_kept"] == len(EXPECTED)


def test_archives_and_truncated_archives(source_tree, tmp_path):
    tgz = tmp_path / "repo-1.0.tar.gz"
    with tarfile.open(tgz, "w:gz") as archive:
        archive.add(source_tree, arcname="repo-1.0")
    zipped = tmp_path / "repo.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        for path in sorted(source_tree.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(source_tree).as_posix())
    for archive, name in ((tgz, "repo-1.0"), (zipped, "repo")):
        out = tmp_path / f"out-{name}"
        assert mine("--input", archive, "--output", out) == 0
        rows = read_pairs(out)
        assert {(r["lang"], meta_dict(r["meta"])["function"]) for r in rows} == EXPECTED
        assert {r["source"] for r in rows} == {name}

    # a tarball of many files cut in half: complete members first, then one dead letter
    many = write_tree(tmp_path / "many", {
        f"m{i:03d}.py": f'def f(a):\n    """Return the number {i} to the caller."""\n'
                        f'    b = a + {i}\n    return b\n' for i in range(200)})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as archive:
        archive.add(many, arcname="many")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    out = tmp_path / "out-cut"
    assert mine("--input", cut, "--output", out) == 0
    manifest = read_manifest(out)
    assert 20 < manifest.rows("code_docstring_code") < 200
    errors = pq.read_table(out / manifest.errors[0].path).to_pylist()
    assert [e["reason"] for e in errors] == ["truncated_archive"]


def test_bad_files_go_to_errors_and_good_ones_survive(tmp_path):
    tree = write_tree(tmp_path / "r", {
        "good.py": SOURCES["pkg/geometry.py"],
        "binary.py": b"\x00\x01\x02 ELF",
        "latin.py": 'def f(a):\n    """Gibt den Wert f\xfcr a zur\xfcck."""\n    return a\n'
                    .encode("latin-1"),
        "broken.py": "def ok(a):\n    \"\"\"Return a unchanged for now.\"\"\"\n    b = a\n"
                     "    return b\n\ndef bad(:\n",
    })
    out = tmp_path / "out"
    assert mine("--input", tree, "--output", out) == 0
    manifest = read_manifest(out)
    errors = pq.read_table(out / manifest.errors[0].path).to_pylist()
    assert sorted((Path(e["origin"]).name, e["reason"]) for e in errors) == [
        ("binary.py", "binary_file"), ("broken.py", "syntax_error"),
        ("latin.py", "decode_error")]
    names = {meta_dict(r["meta"])["function"] for r in read_pairs(out)}
    assert names == {"distance", "area", "fetch", "ok"}
    assert manifest.counters["dead_letters"] == 3


def test_git_checkout_origin_names_repo_and_commit(source_tree, tmp_path):
    git = ["git", "-C", str(source_tree), "-c", "user.name=t", "-c", "user.email=t@e"]
    subprocess.run(git[:3] + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "x"], check=True)
    commit = subprocess.run(git[:3] + ["rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    out = tmp_path / "out"
    assert mine("--input", source_tree, "--output", out, "--programming-languages", "go") == 0
    [row] = read_pairs(out)
    assert row["origin"] == f"repo@{commit}:cmd/server.go:5"


def test_portable_runner_loopback(source_tree, tmp_path):
    out = tmp_path / "out"
    assert mine("--input", source_tree, "--output", out, "--runner=PortableRunner",
                "--job_endpoint=embed", "--environment_type=LOOPBACK") == 0
    assert validate_dataset(out) == []
    assert read_manifest(out).rows("code_docstring_code") == len(EXPECTED)


@pytest.mark.parametrize("args,message", [
    (["--input", "/no/such/dir", "--output", "{out}"], "no such file or directory"),
    (["--input", "{tree}", "--output", "{out}", "--programming-languages", "cobol"], "unknown language"),
    (["--input", "{tree}", "--output", "{out}", "--no_such_flag=1"], "unknown flag --no_such_flag"),
    (["--input", "{tree}/pkg/geometry.py", "--output", "{out}"], "not a directory, .tar.gz"),
])
def test_cli_errors_are_one_clear_line(source_tree, tmp_path, capsys, args, message):
    args = [a.format(tree=source_tree, out=tmp_path / "o") for a in args]
    assert mine(*args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_cli_usage_errors_and_existing_output(source_tree, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["mine", "code", "--output", str(tmp_path / "o")])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        main(["mine", "code", "--input", str(source_tree), "--output", "x", "--max-files", "-3"])
    out = tmp_path / "o"
    assert mine("--input", source_tree, "--output", out) == 0
    assert mine("--input", source_tree, "--output", out) == 2
    assert "use --overwrite" in capsys.readouterr().err
    assert mine("--input", source_tree, "--output", out, "--overwrite") == 0


def test_stats_command(source_tree, tmp_path, capsys):
    out = tmp_path / "out"
    assert mine("--input", source_tree, "--output", out) == 0
    capsys.readouterr()
    assert main(["stats", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tasks"] == {"code_docstring_code": 8}
    assert summary["languages"]["code_docstring_code"]["python"] == 3
    # a damaged file is reported and the exit code says so
    part = next(out.glob("data/*/*.parquet"))
    part.write_bytes(part.read_bytes() + b"x")
    assert main(["stats", str(out)]) == 1
    assert "PROBLEMS" in capsys.readouterr().out


def test_console_script_runs(source_tree, tmp_path):
    exe = Path(sys.executable).with_name("pairmill")
    proc = subprocess.run([str(exe), "mine", "code", "--input", str(source_tree), "--output",
                           str(tmp_path / "o"), "--programming-languages", "ruby"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "ruby" in proc.stdout
    bad = subprocess.run([str(exe), "stats", str(tmp_path / "nothing")], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "no such directory" in bad.stderr
