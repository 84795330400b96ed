"""Decontamination by n-gram overlap (issue 31): code compared as code, containment both ways,
and a report per benchmark (texts read, n-grams held, pairs removed, examples) in the summary,
the manifest and the dataset card, zero included."""

from __future__ import annotations

import ast
import json
import random
import sysconfig
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from pairmill.cli import main
from pairmill.dataset.contamination import (
    DiskNgramIndex,
    NgramIndex,
    benchmark_grams,
    build_index,
    build_index_on_disk,
    comparable_texts,
    fits_in_memory,
    load_index,
    overlap_words,
    split_code,
    words,
)
from pairmill.schemas import make_pair

from .test_beir import write_beir
from .test_dedup import read_rows, write_dataset

# a benchmark function as CoSQA holds it: the docstring inside the function text
BENCH_FUNCTION = '''def localize(self, dt, is_dst=False):
    """Convert naive time to local time.

    This method should be used to construct localtimes, rather than passing
    a tzinfo argument to a datetime constructor.
    """
    if dt.tzinfo is not None:
        raise ValueError('Not naive datetime (tzinfo is already set)')
    # find the two best possible transitions
    possible_loc_dt = set()
    for delta in [timedelta(days=-1), timedelta(days=1)]:
        loc_dt = dt + delta
        idx = max(0, bisect_right(self._utc_transition_times, loc_dt) - 1)
        inf = self._transition_info[idx]
        tzinfo = self._tzinfos[inf]
        loc_dt = tzinfo.normalize(dt.replace(tzinfo=tzinfo))
        if loc_dt.replace(tzinfo=None) == dt:
            possible_loc_dt.add(loc_dt)
    return possible_loc_dt
'''
# the same function as mining leaves it: docstring stripped, other layout and comments
MINED_FUNCTION = '''def localize(self, dt, is_dst = False):
  if dt.tzinfo is not None:
      raise ValueError('Not naive datetime (tzinfo is already set)')
  possible_loc_dt = set()   # candidates, a comment the benchmark does not have
  for delta in [timedelta(days=-1),
                timedelta(days=1)]:
      loc_dt = dt + delta
      idx = max(0, bisect_right(self._utc_transition_times, loc_dt) - 1)
      inf = self._transition_info[idx]
      tzinfo = self._tzinfos[inf]
      loc_dt = tzinfo.normalize(dt.replace(tzinfo=tzinfo))
      if loc_dt.replace(tzinfo=None) == dt:
          possible_loc_dt.add(loc_dt)
  return possible_loc_dt
'''
# unrelated code sharing only short common runs (`for i in range(len(x)):`)
UNRELATED_FUNCTION = '''def total(x):
    result = 0
    for i in range(len(x)):
        if x[i] is not None:
            result += x[i] * weights[i]
    return result
'''
OTHER_BENCH_FUNCTION = '''def mean(values):
    """Average of the values."""
    count = 0
    for i in range(len(values)):
        count += values[i]
    return count / len(values)
'''


def test_code_is_compared_without_docstrings_comments_and_layout():
    code, prose = split_code(BENCH_FUNCTION)  # the language found by parsing
    assert "Convert naive time" not in code and "two best" not in code
    assert "convert naive time" in " ".join(words(prose))
    mined_code = comparable_texts(MINED_FUNCTION, "python")[0]
    assert words(code) == words(mined_code)
    assert split_code("How do I convert a naive datetime to local time in python?") is None
    # JavaScript and Java comments too, with the extractor's grammars
    js = "function add(a, b) {\n  // sum them\n  return a + b; /* done */\n}\n"
    assert words(comparable_texts(js)[0]) == ["function", "add", "a", "b", "return", "a", "b"]
    java = "public int add(int a, int b) {\n  /** the sum */\n  return a + b;\n}\n"
    assert "sum" not in words(comparable_texts(java, "java")[0])
    # a language without a grammar here: the regex fallback
    assert words(comparable_texts("int f() { // note\n return 1; }", "c")[0]) == [
        "int", "f", "return", "1"]


def _index(texts, ngram=13, min_tokens=8):
    return build_index([benchmark_grams(texts, ngram, min_tokens)], ngram, min_tokens)


def test_overlap_shared_run_containment_and_short_texts():
    index = _index([BENCH_FUNCTION, "how to sort a dict by value in python"])
    found = index.matches(comparable_texts(MINED_FUNCTION, "python"))
    assert found[0] is not None
    assert overlap_words(comparable_texts(MINED_FUNCTION, "python")[0], found[0]).startswith(
        "def localize self dt is_dst false")
    assert index.matches(comparable_texts(UNRELATED_FUNCTION, "python")) == [None]
    # a text containing a whole benchmark text shorter than 13 tokens (9 here)
    assert index.matches(["so: how to sort a dict by value in python, fast?"])[0] == (1, 9)
    # a text of 8 to 12 tokens inside a benchmark text (here, inside its docstring's prose)
    assert index.matches(["this method should be used to construct localtimes"])[0] == (0, 8)
    # under 8 tokens nothing matches by containment: "convert naive time" says nothing
    assert index.matches(["Convert naive time to local time."]) == [None]
    # 12 of the 13 tokens in a row are not enough
    assert index.matches(["sort a dict by value in python"]) == [None]
    assert _index([]).matches(["anything at all here"]) == [None]


def _code_pair(query, document, origin):
    return make_pair("code_docstring_code", query, document, "pkg", origin, lang="python")


@pytest.fixture
def scenario(tmp_path):
    bench = write_beir(tmp_path / "cosqa", {"d1": {"title": "", "text": BENCH_FUNCTION},
                                            "d2": {"title": "", "text": OTHER_BENCH_FUNCTION}},
                       {"q1": "python convert naive datetime to local time",
                        "q2": "python average of a list"}, {"q1": {"d1": 1}, "q2": {"d2": 1}})
    clean = tmp_path / "clean.jsonl"  # a benchmark that matches nothing
    clean.write_text(json.dumps({"text": "a sentence about gardening and the weather in May, "
                                         "long enough to hold a few thirteen word runs of text"})
                     + "\n")
    data = write_dataset(tmp_path / "mined", [
        _code_pair("Localize a naive datetime.", MINED_FUNCTION, "tzinfo.py:121"),
        _code_pair("Weighted total of the values.", UNRELATED_FUNCTION, "stats.py:3")])
    return tmp_path, data, bench, clean


def test_the_issue_scenario_is_removed_and_reported(scenario, capsys):
    tmp_path, data, bench, clean = scenario
    out = tmp_path / "out"
    assert main(["dedup", "--input", str(data), "--output", str(out),
                 "--decontaminate", str(bench), str(clean)]) == 0
    assert [r["origin"] for r in read_rows(out)] == ["stats.py:3"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dedup"]["tasks"]["code_docstring_code"]["removed"] == {
        "decontaminated:cosqa": 1}
    report = manifest["dedup"]["decontamination"]
    assert (report["mode"], report["ngram"], report["min_tokens"]) == ("ngram", 13, 8)
    cosqa, zero = report["benchmarks"]["cosqa"], report["benchmarks"]["clean.jsonl"]
    assert cosqa["texts"] == 4 and cosqa["ngrams"] > 100 and cosqa["removed"] == 1
    [example] = cosqa["examples"]
    assert example["origin"] == "pkg/tzinfo.py:121" and example["field"] == "document"
    assert example["overlap"].startswith("def localize self dt is_dst false if dt tzinfo")
    assert zero["texts"] == 1 and zero["ngrams"] > 0 and zero["removed"] == 0
    assert zero["examples"] == []
    summary = capsys.readouterr().out
    assert "decontamination: query or document shares a run of 13 tokens" in summary
    lines = {line.split()[0]: line.split()[1:] for line in summary.splitlines() if line.strip()}
    assert lines["cosqa"][:1] == ["4"] and lines["cosqa"][-1] == "1"
    assert lines["clean.jsonl"][0] == "1" and lines["clean.jsonl"][-1] == "0"
    assert "pkg/tzinfo.py:121 document" in summary

    from pairmill.publish import build_dataset_folder

    card = (build_dataset_folder(str(out), str(tmp_path / "hub"), "me/pairs", "mit")
            / "README.md").read_text()
    assert "| `cosqa` | 4 |" in card and card.count("| 1 |") >= 1
    assert "| `clean.jsonl` | 1 |" in card and "| 0 |" in card
    assert "pkg/tzinfo.py:121" in card


def test_minhash_mode_stays_available(scenario):
    """The near-duplicate test misses the scenario (the docstring makes the texts unlike); it
    stays a mode of its own and reports what it read."""
    tmp_path, data, bench, clean = scenario
    out = tmp_path / "out"
    assert main(["dedup", "--input", str(data), "--output", str(out), "--decontaminate",
                 str(bench), "--decontamination-mode", "minhash"]) == 0
    report = json.loads((out / "manifest.json").read_text())["dedup"]["decontamination"]
    assert report["mode"] == "minhash"
    assert report["benchmarks"] == {"cosqa": {"texts": 4, "removed": 0, "examples": []}}
    assert len(read_rows(out)) == 2


def test_a_bad_ngram_size_is_refused(scenario, capsys):
    tmp_path, data, bench, _ = scenario
    assert main(["dedup", "--input", str(data), "--output", str(tmp_path / "o"),
                 "--decontaminate", str(bench), "--decontamination-ngram", "65"]) == 2
    assert "--decontamination-ngram" in capsys.readouterr().err


SITE = Path(sysconfig.get_paths()["purelib"])


@pytest.mark.skipif(not (SITE / "pytz" / "tzinfo.py").exists() or not (SITE / "dns").is_dir(),
                    reason="pytz and dnspython are not installed")
def test_mined_packages_against_a_benchmark_of_their_functions(tmp_path):
    """Issue 31 at small scale: mine pytz and dns/set.py, build a BEIR folder of some of the
    mined functions with their docstrings kept, and every one of them is removed."""
    dns = tmp_path / "dns"
    dns.mkdir()
    (dns / "set.py").write_bytes((SITE / "dns" / "set.py").read_bytes())
    mined = tmp_path / "mined"
    assert main(["mine", "code", "--input", str(SITE / "pytz"), str(dns),
                 "--output", str(mined)]) == 0
    rows = read_rows(mined)
    picked = sorted((r for r in rows if r["origin"].split(":")[0] in ("tzinfo.py", "set.py")),
                    key=lambda r: r["id"])[:8]
    corpus = {}
    for n, row in enumerate(picked):
        path, line = row["origin"].rsplit(":", 1)
        source = (SITE / "pytz" / path if path == "tzinfo.py" else dns / path).read_text()
        node = next(x for x in ast.walk(ast.parse(source))
                    if isinstance(x, ast.FunctionDef) and x.lineno == int(line))
        text = textwrap.dedent(ast.get_source_segment(source, node, padded=True))
        assert ast.get_docstring(node).split()[0] in text  # the benchmark keeps the docstring
        corpus[f"d{n}"] = {"title": "", "text": text}
    bench = write_beir(tmp_path / "bench", corpus, {f"q{n}": f"query {n}" for n in corpus},
                       {f"q{n}": {f"d{n}": 1} for n in range(len(corpus))})
    out = tmp_path / "out"
    assert main(["dedup", "--input", str(mined), "--output", str(out),
                 "--decontaminate", str(bench)]) == 0
    kept = {r["id"] for r in read_rows(out)}
    assert len(picked) == 8 and not kept & {r["id"] for r in picked}
    report = json.loads((out / "manifest.json").read_text())["dedup"]["decontamination"]
    entry = report["benchmarks"]["bench"]
    # the 8 and the few functions that share a docstring sentence or code with one of them
    assert 8 <= entry["removed"] <= 16 and len(entry["examples"]) == 5
    assert len(kept) >= len(rows) - 16


# --- past memory -------------------------------------------------------------------------------

def _prose(rng: random.Random, n: int, vocabulary: int = 3000) -> list[str]:
    """`n` texts of random words, 8 to 150 of them (short texts included)."""
    return [" ".join(f"w{rng.randrange(vocabulary)}" for _ in range(rng.choice((8, 10, 12, 40, 90, 150))))
            for _ in range(n)]


def _probes(rng: random.Random, bench: list[str], n: int) -> list[str]:
    """Texts that share a run with a benchmark text, hold a short one, sit inside one, share
    only 12 tokens, or share nothing."""
    out = []
    for i in range(n):
        text = bench[rng.randrange(len(bench))].split()
        start = rng.randrange(max(1, len(text) - 13))
        noise = _prose(rng, 1, 100_000)[0]
        out.append([f"{noise} {' '.join(text[start:start + 13])} {noise}",
                    f"x y {' '.join(text)} z", " ".join(text[start:start + 9]),
                    f"{noise} {' '.join(text[start:start + 12])}", noise][i % 5])
    return out


def _parts(tmp_path, texts: list[str], per_part: int = 100) -> tuple[list, set, NgramIndex]:
    """The benchmark's parts as the pipeline spills them (files of sorted hashes), and the
    in-memory index of the same parts."""
    batches = [benchmark_grams(texts[i:i + per_part]) for i in range(0, len(texts), per_part)]
    parts = []
    for n, (grams, _) in enumerate(batches):
        path = tmp_path / f"part{n}.u64"
        grams.tofile(path)
        parts.append((str(path), len(grams)))
    return parts, set().union(*(s for _, s in batches)), build_index(batches)


@pytest.mark.parametrize("memory", [48 << 10, 256 << 10, 1 << 20])
def test_an_index_past_its_memory_removes_exactly_what_the_in_memory_one_removes(tmp_path, memory):
    """Forced past a tiny budget, the benchmark is merged on disk in runs and looked up through
    a Bloom filter (or, at 1 MiB, merged on disk and read whole): every match is the same."""
    rng = random.Random(7)
    bench = _prose(rng, 800)
    parts, short, in_memory = _parts(tmp_path, bench)
    assert not fits_in_memory(sum(n for _, n in parts), memory)
    head, ngrams = build_index_on_disk(parts, short, str(tmp_path / "index"), memory)
    index = load_index(head)
    assert ngrams == len(in_memory.grams) > 50_000
    assert np.array_equal(np.asarray(index.grams), in_memory.grams)
    assert index.short_lengths == in_memory.short_lengths
    if memory < ngrams * 8:  # the array does not fit: a memmap behind a filter and fences
        assert isinstance(index, DiskNgramIndex) and index.bloom is not None
        assert index.held_bytes() <= memory
    else:
        assert type(index) is NgramIndex
    probes = _probes(rng, bench, 2000)
    expected = in_memory.matches(probes)
    assert index.matches(probes) == expected
    found = sum(m is not None for m in expected)
    assert 1000 < found < 2000  # the probes that share only 12 tokens or nothing stay


def test_the_build_past_memory_holds_no_more_than_its_budget(tmp_path):
    """tracemalloc sees numpy's buffers: building 400,000 n-grams (3.2 MB as an array, 6.8 MB
    at the in-memory merge's peak) within 64 KiB never holds more than a few times 64 KiB, the
    floors of its buffers included; the lookup holds its filter and fences within the budget."""
    rng = np.random.default_rng(3)
    parts = []
    for n in range(80):
        grams = np.unique(rng.integers(0, 2**64, size=int(rng.integers(500, 9500)), dtype=np.uint64))
        grams.tofile(tmp_path / f"p{n}.u64")
        parts.append((str(tmp_path / f"p{n}.u64"), len(grams)))
    total = sum(n for _, n in parts)
    memory = 64 << 10
    build_index_on_disk(parts[:3], set(), str(tmp_path / "warm"), memory)  # imports, caches
    tracemalloc.start()
    try:
        head, ngrams = build_index_on_disk(parts, set(), str(tmp_path / "index"), memory)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ngrams == total > 300_000
    assert peak < 4 * memory < total * 8 / 10
    index = load_index(head)
    assert isinstance(index, DiskNgramIndex) and index.held_bytes() <= memory


def test_an_index_past_memory_on_remote_storage(tmp_path):
    """Parts and index on a remote store (fsspec's memory://, as gs:// or s3://): runs are read
    in slices from it, and the file is copied to local disk once for the memmap."""
    from pairmill.schemas import storage

    rng = random.Random(5)
    bench = _prose(rng, 400)
    batches = [benchmark_grams(bench[i:i + 50]) for i in range(0, len(bench), 50)]
    parts = []
    for n, (grams, _) in enumerate(batches):
        storage.write_bytes(f"memory://decontamination/{tmp_path.name}/p{n}.u64", grams.tobytes())
        parts.append((f"memory://decontamination/{tmp_path.name}/p{n}.u64", len(grams)))
    head, _ = build_index_on_disk(parts, set().union(*(s for _, s in batches)),
                                  f"memory://decontamination/{tmp_path.name}/index", 32 << 10)
    index = load_index(head)
    assert isinstance(index, DiskNgramIndex) and "://" not in index.grams.filename
    probes = _probes(rng, bench, 500)
    assert index.matches(probes) == build_index(batches).matches(probes)


def _bench_and_pairs(tmp_path):
    """A JSON lines benchmark of 155,000 n-grams (past 1 MiB both to merge and to hold) and
    a pairs dataset of 40 texts that share runs with it, hold or sit inside its texts, or not."""
    rng = random.Random(11)
    bench = _prose(rng, 1800)
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in bench))
    probes = _probes(rng, bench, 40)
    pairs = [make_pair("web_title_body", f"title {n}", text, "web", f"page{n}")
             for n, text in enumerate(probes)]
    return path, write_dataset(tmp_path / "mined", pairs)


def test_dedup_past_its_memory_gives_the_same_removals_and_report(tmp_path):
    bench, data = _bench_and_pairs(tmp_path)
    runs = {}
    for name, extra in (("memory", []), ("disk", ["--decontamination-memory-mb", "1"])):
        out = tmp_path / name
        assert main(["dedup", "--input", str(data), "--output", str(out),
                     "--decontaminate", str(bench), *extra]) == 0
        manifest = json.loads((out / "manifest.json").read_text())
        runs[name] = (sorted(r["id"] for r in read_rows(out)), manifest["dedup"])
    (kept, report), (kept_disk, report_disk) = runs["memory"], runs["disk"]
    assert kept == kept_disk and report == report_disk
    entry = report["decontamination"]["benchmarks"]["big.jsonl"]
    # past 1 MiB at the lookup's 8 bytes a hash too: the Bloom filter and the memmap answered
    assert entry["ngrams"] * 8 > 1 << 20 and entry["texts"] == 1800
    assert 20 <= entry["removed"] < 40 and len(entry["examples"]) == 5


@pytest.mark.parametrize("value", ["0", "-5", "lots", "0.5"])
def test_a_bad_memory_setting_is_refused(scenario, capsys, value):
    """A usage error (argparse's exit status 2), naming the flag and the value, before any
    work; a config built in code is refused by `dedup` itself."""
    tmp_path, data, bench, _ = scenario
    with pytest.raises(SystemExit) as refused:
        main(["dedup", "--input", str(data), "--output", str(tmp_path / "o"),
              "--decontaminate", str(bench), "--decontamination-memory-mb", value])
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert "--decontamination-memory-mb" in err and repr(value) in err
    assert not (tmp_path / "o").exists()


def test_a_bad_memory_setting_in_a_config_is_refused(tmp_path, scenario):
    from pairmill.dataset.settings import DedupConfig, WriteSettings
    from pairmill.pipelines.dedup import dedup

    _, data, bench, _ = scenario
    config = DedupConfig(input=[str(data)], decontaminate=[str(bench)],
                         decontamination_memory_mb=0,
                         write=WriteSettings(output=str(tmp_path / "o")))
    with pytest.raises(ValueError, match="--decontamination-memory-mb"):
        dedup(config)
