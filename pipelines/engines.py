"""Flink and Spark without downloads: `--runner=FlinkRunner` or `--runner=SparkRunner` runs
through Beam's job server for that engine, started here from the classpath `make engines`
fetched (engines/engines.sh), never from a jar Beam would download at run time.

Beam's Python FlinkRunner and SparkRunner start a job-server jar themselves, downloading it from
Maven when none is given. The job-server jars do not resolve from the registries these machines
reach, so `make engines` assembles each job server's classpath from Beam's runner modules; here
that job server is started with `java -cp` against the user's cluster (`--flink_master`,
`--spark_master_url`), and the pipeline is submitted to it through Beam's PortableRunner, which
is what FlinkRunner and SparkRunner do underneath. A user who passes `--flink_job_server_jar` or
`--spark_job_server_jar` gets Beam's own behaviour unchanged.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import tempfile
import time

from apache_beam.options.pipeline_options import (
    FlinkRunnerOptions,
    PipelineOptions,
    PortableOptions,
    SparkRunnerOptions,
    StandardOptions,
)

SPARK_JAVA_OPENS = [f"--add-opens=java.base/{p}=ALL-UNNAMED" for p in
                    ("sun.nio.ch", "java.nio", "java.lang", "java.util", "java.lang.invoke",
                     "java.util.concurrent", "sun.security.action")]
_started: dict[tuple, str] = {}  # (engine, master) -> job endpoint, one job server per process


def engines_home() -> str:
    """Where `make engines` put the engines (engines/engines.sh uses the same default)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.environ.get("PAIRMILL_ENGINES") or os.path.join(cache, "pairmill", "engines")


def engine_of(options: PipelineOptions) -> str | None:
    runner = (options.view_as(StandardOptions).runner or "").lower()
    return {"flinkrunner": "flink", "sparkrunner": "spark"}.get(runner)


def use_cached_job_server(options: PipelineOptions) -> PipelineOptions:
    """Options that submit to a job server started from the engines cache, for FlinkRunner and
    SparkRunner given without a job-server jar; other options come back unchanged."""
    engine = engine_of(options)
    if engine is None:
        return options
    if engine == "flink" and options.view_as(FlinkRunnerOptions).flink_job_server_jar:
        return options
    if engine == "spark" and options.view_as(SparkRunnerOptions).spark_job_server_jar:
        return options
    portable = options.view_as(PortableOptions)
    if not portable.environment_type or portable.environment_type.upper() == "DOCKER":
        raise ValueError(  # a usage error: one line, exit code 2
            "a cluster engine needs SDK workers it can reach: add --environment_type=EXTERNAL "
            "--environment_config=localhost:50000 (`make flink-up` and `make spark-up` start a "
            "worker pool there), or --environment_type=LOOPBACK on this machine")
    if engine == "flink":
        master = options.view_as(FlinkRunnerOptions).flink_master or "[auto]"
    else:
        master = options.view_as(SparkRunnerOptions).spark_master_url or "local[4]"
    endpoint = _started.get((engine, master)) or _start_job_server(engine, master)
    options.view_as(StandardOptions).runner = "PortableRunner"
    portable.job_endpoint = endpoint
    return options


def _classpath(engine: str) -> list[str]:
    home = engines_home()
    lib = os.path.join(home, "jobserver", engine, "lib")
    if not os.path.isfile(os.path.join(lib, ".complete")):
        raise ValueError(f"--runner={engine.capitalize()}Runner needs Beam's {engine} job server: "
                         f"run `make engines` (it fetches into {home}; set PAIRMILL_ENGINES to "
                         "use another folder)")
    path = [os.path.join(lib, "*")]
    if engine == "spark":
        spark = [d for d in os.listdir(home) if d.startswith("spark-")]
        if spark:  # Beam's jars first: Spark's older guava must not shadow them
            path.append(os.path.join(home, sorted(spark)[-1], "jars", "*"))
    return path


def _spark_executor_guava() -> list[str]:
    """Beam's Guava ahead of Spark's on the executors. An executor loads Spark's Guava 14
    before the jars the job adds, and Beam's GCS options (always on the job server's classpath:
    it needs them to start) call a Guava 33 method, so the first task on every executor failed
    with NoSuchMethodError and was retried. Paths that an executor lacks are ignored."""
    lib = os.path.join(engines_home(), "jobserver", "spark", "lib")
    jars = sorted(os.path.join(lib, name) for name in os.listdir(lib)
                  if name.startswith(("guava-", "failureaccess-")))
    return [f"-Dspark.executor.extraClassPath={os.pathsep.join(jars)}"] if jars else []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _start_job_server(engine: str, master: str) -> str:
    classpath = _classpath(engine)
    job, artifact, expansion = _free_port(), _free_port(), _free_port()
    if engine == "flink":
        command = ["java", "-cp", os.pathsep.join(classpath),
                   "org.apache.beam.runners.flink.FlinkJobServerDriver", f"--flink-master={master}"]
    else:
        command = ["java", *SPARK_JAVA_OPENS, *_spark_executor_guava(), "-cp",
                   os.pathsep.join(classpath),
                   "org.apache.beam.runners.spark.SparkJobServerDriver",
                   f"--spark-master-url={master}"]
    command += [f"--job-port={job}", f"--artifact-port={artifact}",
                f"--expansion-port={expansion}"]
    log = tempfile.NamedTemporaryFile(prefix=f"pairmill-{engine}-job-server-", suffix=".log",
                                      delete=False)
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True,
                               preexec_fn=_die_with_parent)
    atexit.register(_stop, process)
    deadline = time.time() + 120
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Beam's {engine} job server exited at start; see {log.name}")
        with socket.socket() as s:
            if s.connect_ex(("localhost", job)) == 0:
                break
        time.sleep(0.5)
    else:
        _stop(process)
        raise RuntimeError(f"Beam's {engine} job server did not start in 120 s; see {log.name}")
    print(f"pairmill: {engine} job server for {master} on localhost:{job} (log {log.name})",
          file=sys.stderr)
    endpoint = f"localhost:{job}"
    _started[(engine, master)] = endpoint
    return endpoint


def _die_with_parent() -> None:
    """In the job server's process before exec: the kernel stops it when pairmill dies, even by
    SIGKILL, when no atexit handler runs (Linux; elsewhere atexit alone)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
