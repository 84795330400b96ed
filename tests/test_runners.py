"""What remote runners need, tried here: workers in other processes (an EXTERNAL worker pool on
127.0.0.1, as Flink's worker-pool environment runs them) and the package `--setup_file` ships."""

import os
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from pairmill.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def worker_pool():
    """A Beam worker pool in its own process; its SDK workers are separate Python processes, so
    everything a pipeline ships to them must pickle and import there."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    pool = subprocess.Popen([sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
                             f"--service_port={port}"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    try:
        yield ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=EXTERNAL",
               f"--environment_config=127.0.0.1:{port}"]
    finally:
        pool.terminate()
        pool.wait(timeout=10)


def _parquet_bytes(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*.parquet"))}


def test_external_worker_pool_mines_and_dedups_like_the_local_runner(source_tree, tmp_path,
                                                                     worker_pool):
    outputs = {}
    for name, flags in (("local", []), ("pool", worker_pool)):
        mined, deduped = tmp_path / name / "mined", tmp_path / name / "dedup"
        assert main(["mine", "code", "--input", str(source_tree), "--output", str(mined),
                     *flags]) == 0
        assert main(["dedup", "--input", str(mined), "--output", str(deduped), *flags]) == 0
        outputs[name] = (_parquet_bytes(mined), _parquet_bytes(deduped))
    assert outputs["local"][0] and outputs["local"][1]
    assert outputs["pool"] == outputs["local"]


def test_the_setup_file_package_holds_every_module(tmp_path):
    """`--setup_file pyproject.toml` makes Beam build an sdist this way and pip-install it on
    each worker; a module missing from it fails only there, so build and install it here."""
    from apache_beam.runners.portability.stager import Stager

    sdist = Stager._build_setup_package(str(REPO / "pyproject.toml"), str(tmp_path))
    with tarfile.open(sdist) as tar:
        assert any(n.endswith("/pyproject.toml") for n in tar.getnames())
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(target), sdist], check=True)
    folders = {"pairmill": "pairmill", "schemas": "pairmill/schemas",
               "extractors": "pairmill/extractors", "pipelines": "pairmill/pipelines",
               "trainer": "pairmill/trainer"}
    expected = {f"{installed}/{p.relative_to(REPO / source)}"
                for source, installed in folders.items()
                for p in (REPO / source).rglob("*.py")}
    shipped = {str(p.relative_to(target)) for p in target.rglob("*.py")}
    assert expected - shipped == set()
