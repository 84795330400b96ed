"""Resumable mining: input shards finish on their own; after `kill -9` the same command redoes
only the unfinished shards, and the merged dataset is byte-identical to one uninterrupted run
(joins across shards included)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pairmill.cli import main

from . import hostile


def _data_files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted(out.rglob("*.parquet")) if "_work" not in p.parts}


def _dumps(folder: Path) -> list[str]:
    """Eight submission files and two comment files: the post/comment join spans shards."""
    folder.mkdir()
    for i in range(8):
        (folder / f"RS_{i}.zst").write_bytes(hostile.zst(hostile.submissions(40, start=40 * i)))
    comments = [json.dumps({"id": f"c{i}", "link_id": f"t3_s{i}", "parent_id": f"t3_s{i}",
                            "body": f"A helpful answer to question number {i} here.",
                            "score": 3, "author": f"a{i}"}).encode() for i in range(0, 320, 3)]
    for j in range(2):
        (folder / f"RC_{j}.zst").write_bytes(hostile.zst(comments[j::2]))
    return ["--submissions", str(folder / "RS_*.zst"), "--comments", str(folder / "RC_*.zst")]


def test_a_sharded_run_gives_the_same_bytes_as_one_run(tmp_path, capsys):
    args = _dumps(tmp_path / "dumps")
    assert main(["mine", "reddit", *args, "--output", str(tmp_path / "one")]) == 0
    assert main(["mine", "reddit", *args, "--output", str(tmp_path / "sharded"),
                 "--input-shards", "4"]) == 0
    one, sharded = _data_files(tmp_path / "one"), _data_files(tmp_path / "sharded")
    assert "data/reddit_post_comment/part-00000.parquet" in one  # the join worked
    assert one == sharded
    first = json.loads((tmp_path / "one" / "manifest.json").read_text())
    second = json.loads((tmp_path / "sharded" / "manifest.json").read_text())
    assert first["counters"] == second["counters"] and first["counts"] == second["counts"]
    assert not (tmp_path / "sharded" / "_work").exists()  # cleaned once merged


def test_after_kill_9_only_unfinished_shards_run_again(tmp_path):
    args = _dumps(tmp_path / "dumps")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "pairmill", "mine", "reddit", *args, "--output", str(out),
               "--input-shards", "5"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    markers = out / "_work"
    deadline = time.time() + 240
    while time.time() < deadline and len(list(markers.glob("shard-*/_SUCCESS"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = sorted(p.parent.name for p in markers.glob("shard-*/_SUCCESS"))
    assert 2 <= len(done) < 5 and not (out / "manifest.json").exists()
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stderr.count("finished earlier, kept") == len(done)
    assert main(["mine", "reddit", *args, "--output", str(tmp_path / "whole")]) == 0
    assert _data_files(out) == _data_files(tmp_path / "whole")


def test_a_recipe_resumes_a_stopped_sharded_mine_stage(tmp_path):
    """`pairmill run` continues a mine stage from its finished shards instead of starting over."""
    from pairmill.recipe import load_recipe
    from pairmill.run import RunState, plan_stages

    args = _dumps(tmp_path / "dumps")
    recipe = load_recipe({"output": str(tmp_path / "run"), "report": False, "sources": {"r": {
        "source": "reddit", "submissions": [args[1]], "input-shards": 3}}})
    (stage,) = recipe.stages
    state = RunState(str(tmp_path / "run"))
    state.stages[stage.name] = {"argv": stage.argv, "inputs": {}, "done": False}
    assert plan_stages(recipe, state, set()) == [(stage, "run")]
    (Path(stage.output) / "_work" / "shard-00000").mkdir(parents=True)
    assert plan_stages(recipe, state, set()) == [(stage, "resume")]
    assert plan_stages(recipe, state, {stage.name}) == [(stage, "run")]  # --redo starts over
