"""`mine` and `dedup` on real Apache Flink and Apache Spark clusters (started here with
engines/engines.sh from what `make engines` fetched), byte for byte against the local runner.

What only a cluster shows is checked: workers in other JVMs and Python processes, files written
by workers and committed by the launcher, a job server of its own, Beam options the Java side
parses (it refused `--default_sdk_harness_log_level=WARNING`, which Python accepts).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pairmill.cli import main

from . import hostile

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "engines" / "engines.sh"
POOL = ["--environment_type=EXTERNAL", "--environment_config=localhost:50000"]
ENGINE_FLAGS = {
    "flink": ["--runner=FlinkRunner", "--flink_master=localhost:8081", *POOL],
    "spark": ["--runner=SparkRunner", "--spark_master_url=spark://localhost:7077", *POOL],
}


def _engines(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHON=sys.executable)
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def clusters():
    """Both clusters and the SDK worker pool, for this module; stopped afterwards whatever
    happened. `make test` runs `make engines` first, so their absence is a failure."""
    for engine in ("flink", "spark"):
        started = _engines(f"{engine}-up")
        if started.returncode != 0:
            _engines("down")
            pytest.fail(f"{engine}-up failed (run `make engines`): {started.stderr[-2000:]}")
    yield
    stopped = _engines("down")
    assert stopped.returncode == 0, stopped.stderr


def _dumps(folder: Path) -> list[str]:
    """Reddit submissions and comments over two files each (the join crosses files), with an
    unreadable line (a dead letter) and a removed post (a drop)."""
    folder.mkdir(parents=True)
    subs = hostile.submissions(120)
    subs.insert(7, b"{not json")
    subs.append(json.dumps({"id": "gone", "title": "[removed]", "selftext": "[removed]",
                            "score": 9, "subreddit": "x"}).encode())
    for j in range(2):
        (folder / f"RS_{j}.zst").write_bytes(hostile.zst(subs[j::2]))
    comments = [json.dumps({"id": f"c{i}", "link_id": f"t3_s{i}", "parent_id": f"t3_s{i}",
                            "body": f"An answer to question number {i}, with some detail here.",
                            "score": 3 + i % 5, "author": f"a{i}"}).encode()
                for i in range(0, 120, 2)]
    for j in range(2):
        (folder / f"RC_{j}.zst").write_bytes(hostile.zst(comments[j::2]))
    return ["--submissions", str(folder / "RS_*.zst"), "--comments", str(folder / "RC_*.zst")]


def _files(dataset: Path) -> dict[str, bytes]:
    return {str(p.relative_to(dataset)): p.read_bytes()
            for p in sorted(dataset.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def local_runs(tmp_path_factory):
    """The reference: the same commands on the local runner."""
    root = tmp_path_factory.mktemp("local")
    args = _dumps(root / "dumps")
    assert main(["mine", "reddit", *args, "--output", str(root / "mined")]) == 0
    assert main(["dedup", "--input", str(root / "mined"), "--output", str(root / "dedup")]) == 0
    return args, root


def _equal_to_local_then_dedup(engine: str, mined: Path, stderr: str, local: Path,
                               tmp_path: Path) -> None:
    """The cluster's `mine` output is the local runner's, byte for byte (parts, dead letters,
    counts); then `dedup` of it on the same cluster equals the local dedup."""
    assert f"{engine} job server" in stderr  # started from the cache
    reference = _files(local / "mined")
    assert "data/reddit_post_comment/part-00000.parquet" in reference  # the join ran
    assert any(name.startswith("errors/") for name in reference)  # a dead letter came back
    assert _files(mined) == reference
    ours = json.loads((mined / "manifest.json").read_text())
    theirs = json.loads((local / "mined" / "manifest.json").read_text())
    assert ours["counts"] == theirs["counts"] and ours["tasks"] == theirs["tasks"]
    assert not (mined / "_staging").exists()
    deduped = tmp_path / "dedup"
    # the default shuffle shards follow the row count (16 here): each shard is a task on
    # Spark, and a fixed 1024 of them for 180 pairs took 4 minutes
    assert main(["dedup", "--input", str(mined), "--output", str(deduped),
                 *ENGINE_FLAGS[engine]]) == 0
    assert _files(deduped) == _files(local / "dedup")


def test_a_cluster_runner_without_a_worker_environment_is_a_clear_error(tmp_path, capsys):
    """Beam's default environment is Docker, which these machines cannot run: say what to add."""
    dump = tmp_path / "RS.jsonl"
    dump.write_bytes(b"\n".join(hostile.submissions(3)) + b"\n")
    code = main(["mine", "reddit", "--submissions", str(dump), "--output", str(tmp_path / "o"),
                 "--runner=FlinkRunner", "--flink_master=localhost:8081"])
    assert code == 2
    assert "--environment_type=EXTERNAL" in capsys.readouterr().err
    assert not (tmp_path / "o" / "manifest.json").exists()


def _flink_job_running(deadline: float) -> bool:
    import urllib.request

    while time.time() < deadline:
        try:
            jobs = json.load(urllib.request.urlopen("http://localhost:8081/jobs/overview",
                                                    timeout=5))["jobs"]
        except OSError:
            jobs = []
        if any(j["state"] == "RUNNING" for j in jobs):
            return True
        time.sleep(0.5)
    return False


def _flink_restarts() -> int:
    """Failures the newest Flink job recovered from (its exception history)."""
    import urllib.request

    def get(path: str) -> dict:
        return json.load(urllib.request.urlopen(f"http://localhost:8081{path}", timeout=5))

    newest = max(get("/jobs/overview")["jobs"], key=lambda j: j["start-time"])
    return len(get(f"/jobs/{newest['jid']}/exceptions")["exceptionHistory"]["entries"])


def _pids(pattern: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


def test_a_lost_flink_taskmanager_loses_and_duplicates_nothing(clusters, local_runs, tmp_path):
    """`mine` on Flink while a TaskManager is killed (parallelism 2): the job restarts under
    the restart strategy flink-up configures, on a replacement TaskManager, and the run
    completes with exactly the local runner's files, nothing lost or repeated (writes commit
    once); `dedup` of it on Flink equals the local dedup."""
    args, local = local_runs
    out = tmp_path / "mined"
    run = subprocess.Popen([sys.executable, "-m", "pairmill", "mine", "reddit", *args,
                            "--output", str(out), *ENGINE_FLAGS["flink"], "--parallelism=2"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert _flink_job_running(time.time() + 180), "the job never started"
        time.sleep(3)
        victims = _pids("TaskManagerRunner")
        assert len(victims) == 2
        os.kill(victims[0], signal.SIGKILL)
        assert _engines("flink-taskmanager").returncode == 0
        _, stderr = run.communicate(timeout=480)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, stderr
    assert _flink_restarts() > 0  # the kill hit the job: Flink restarted it
    _equal_to_local_then_dedup("flink", out, stderr, local, tmp_path)


def _engine_pid(name: str) -> int:
    """The process group engines.sh started NAME in (a Spark worker and its executors)."""
    run = Path(_engines("home").stdout.strip()) / "run"
    return int((run / f"{name}.pid").read_text())


def _spark_tasks_started(log: Path) -> set[str]:
    """The executors the job server's log shows running a task."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return set(re.findall(r"Starting task \S+ in stage \S+ \(TID \d+\) \(\S+, executor (\d+)",
                          text))


def test_a_lost_spark_worker_loses_and_duplicates_nothing(clusters, local_runs, tmp_path):
    """`mine` on Spark while one of the two workers is killed, with its executor, as both
    executors run tasks of the job: Spark reruns what was lost on the other worker, and the run
    completes with exactly the local runner's files; `dedup` of it on Spark (on the replacement
    worker started meanwhile) equals the local dedup."""
    args, local = local_runs
    out = tmp_path / "mined"
    run = subprocess.Popen([sys.executable, "-m", "pairmill", "mine", "reddit", *args,
                            "--output", str(out), *ENGINE_FLAGS["spark"]],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stderr: list[str] = []
    reader = threading.Thread(target=lambda: stderr.extend(run.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.time() + 240
        log = None
        while time.time() < deadline and run.poll() is None:
            found = re.search(r"\(log (\S+)\)", "".join(stderr))
            log = Path(found.group(1)) if found else None
            if log and len(_spark_tasks_started(log)) == 2:
                break
            time.sleep(0.2)
        assert log and len(_spark_tasks_started(log)) == 2, "the job never ran on both workers"
        os.killpg(_engine_pid("spark-worker-1"), signal.SIGKILL)
        run.wait(timeout=480)
        reader.join(10)
    finally:
        if run.poll() is None:
            run.kill()
        assert _engines("spark-worker").returncode == 0
    assert run.returncode == 0, "".join(stderr)
    job_log = log.read_text(errors="replace")
    assert "worker lost" in job_log  # the kill hit the job: one of its executors was lost
    assert re.search(r"Starting task \d+\.[1-9]", job_log)  # and a task ran again elsewhere
    assert "NoSuchMethodError" not in job_log  # the executors' classpath holds together
    _equal_to_local_then_dedup("spark", out, "".join(stderr), local, tmp_path)
