#!/usr/bin/env bash
# Local Apache Flink and Apache Spark clusters for pairmill's Beam pipelines, fetched at build
# time only (never at run time), from the registries these machines reach: PyPI and Maven Central.
#
#   engines.sh fetch       Flink, Spark and Beam's job servers into $PAIRMILL_ENGINES
#   engines.sh flink-up    JobManager on localhost:8081, two TaskManagers, SDK worker pool :50000
#   engines.sh spark-up    master spark://localhost:7077, two workers, SDK worker pool :50000
#   engines.sh spark-worker        one more Spark worker (a replacement for a lost one)
#   engines.sh flink-taskmanager   one more TaskManager (a replacement for a lost one)
#   engines.sh down        stops everything this script started
#
# Pins, and why:
#   Flink 1.19.3 from PyPI (apache-flink's bin/ and conf/, apache-flink-libraries' jars): the
#     only Flink line with a Beam runner on Maven Central here, still known to Beam 2.77.
#   Spark 3.5.9 from PyPI (pyspark's sdist ships Spark's jars and bin/).
#   Beam's job servers are not published as jars that resolve here (no *-job-server artifact of
#   any recent version), so each is assembled from Beam's runner module (the newest served:
#   2.70.0, built against Flink 1.19.0 and Spark 3.5.0) and the job service (newest: 2.65.0).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
CACHE="${PAIRMILL_ENGINES:-${XDG_CACHE_HOME:-$HOME/.cache}/pairmill/engines}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
PYTHON="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")"  # absolute: steps cd elsewhere
FLINK_VERSION=1.19.3
SPARK_VERSION=3.5.9
BEAM_RUNNERS=2.70.0
BEAM_JOB_SERVICE=2.65.0
WORKER_POOL_PORT=50000
RUN="$CACHE/run"   # pid files and logs of what flink-up / spark-up started

log() { echo "engines: $*" >&2; }

fetch_flink() {
  local home="$CACHE/flink-$FLINK_VERSION"
  [ -x "$home/bin/start-cluster.sh" ] && return
  local dl="$CACHE/downloads" tmp
  mkdir -p "$dl"
  log "Flink $FLINK_VERSION from PyPI"
  "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: -d "$dl" "apache-flink==$FLINK_VERSION"
  "$PYTHON" -m pip download --quiet --no-deps --no-binary=:all: -d "$dl" "apache-flink-libraries==$FLINK_VERSION"
  tmp="$(mktemp -d "$CACHE/.flink.XXXXXX")"
  (cd "$tmp" && "$PYTHON" -m zipfile -e "$dl"/apache_flink-"$FLINK_VERSION"-*.whl wheel \
     && tar xzf "$dl/apache-flink-libraries-$FLINK_VERSION.tar.gz")
  mkdir -p "$tmp/home/log"
  cp -r "$tmp/wheel/pyflink/bin" "$tmp/wheel/pyflink/conf" "$tmp/home/"
  cp -r "$tmp/apache-flink-libraries-$FLINK_VERSION/deps/"{lib,opt,plugins} "$tmp/home/"
  cp "$tmp/apache-flink-libraries-$FLINK_VERSION/deps/bin/bash-java-utils.jar" "$tmp/home/bin/"
  chmod +x "$tmp/home/bin/"*.sh "$tmp/home/bin/flink"
  rm -rf "$home" && mv "$tmp/home" "$home" && rm -rf "$tmp"
}

fetch_spark() {
  local home="$CACHE/spark-$SPARK_VERSION"
  [ -x "$home/bin/spark-class" ] && return
  local dl="$CACHE/downloads" tmp
  mkdir -p "$dl"
  log "Spark $SPARK_VERSION from PyPI (pyspark's sdist)"
  "$PYTHON" -m pip download --quiet --no-deps --no-binary=:all: -d "$dl" "pyspark==$SPARK_VERSION"
  tmp="$(mktemp -d "$CACHE/.spark.XXXXXX")"
  tar xzf "$dl/pyspark-$SPARK_VERSION.tar.gz" -C "$tmp" \
      "pyspark-$SPARK_VERSION/deps/bin" "pyspark-$SPARK_VERSION/deps/sbin" \
      "pyspark-$SPARK_VERSION/deps/jars"
  chmod +x "$tmp/pyspark-$SPARK_VERSION/deps/bin/"*
  rm -rf "$home" && mv "$tmp/pyspark-$SPARK_VERSION/deps" "$home" && rm -rf "$tmp"
}

# the classpath of one Beam job server: the runner module and the job service, with their
# runtime dependencies, copied by Maven into $CACHE/jobserver/NAME/lib
fetch_job_server() {
  local name="$1" artifact="$2" extra="$3" dir="$CACHE/jobserver/$1" pom
  pom="<project xmlns=\"http://maven.apache.org/POM/4.0.0\"><modelVersion>4.0.0</modelVersion>
<groupId>pairmill.engines</groupId><artifactId>$name-job-server</artifactId><version>1</version>
<packaging>pom</packaging><dependencies>
<dependency><groupId>org.apache.beam</groupId><artifactId>$artifact</artifactId><version>$BEAM_RUNNERS</version></dependency>
<dependency><groupId>org.apache.beam</groupId><artifactId>beam-runners-java-job-service</artifactId><version>$BEAM_JOB_SERVICE</version></dependency>
$extra
</dependencies></project>"
  # fetched before from this very pom: nothing to do (a changed pin fetches again)
  [ -f "$dir/lib/.complete" ] && [ "$(cat "$dir/pom.xml" 2>/dev/null)" = "$pom" ] && return
  log "Beam $name job server classpath from Maven Central"
  rm -rf "$dir" && mkdir -p "$dir"
  printf '%s\n' "$pom" > "$dir/pom.xml"
  (cd "$dir" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies -DoutputDirectory=lib -DincludeScope=runtime)
  touch "$dir/lib/.complete"
}

fetch() {
  command -v java >/dev/null || { log "needs a Java runtime (OpenJDK 17)"; exit 2; }
  command -v mvn >/dev/null || { log "needs Maven to fetch Beam's job servers"; exit 2; }
  mkdir -p "$CACHE"
  fetch_flink
  fetch_spark
  # Flink's job server logs through slf4j 2 (the runner's); Spark's uses Spark's own binding
  fetch_job_server flink beam-runners-flink-1.19 \
    '<dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>2.0.16</version></dependency>'
  fetch_job_server spark beam-runners-spark-3 ''
  # Spark's own slf4j must win on the job server's classpath
  rm -f "$CACHE"/jobserver/spark/lib/slf4j-api-*.jar
  log "ready in $CACHE"
}

listening() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() {  # host port seconds what
  local deadline=$((SECONDS + $3))
  until listening "$1" "$2"; do
    [ $SECONDS -lt $deadline ] || { log "$4 did not start on $1:$2 (see $RUN)"; exit 1; }
    sleep 1
  done
}

start_bg() {  # name command...: started detached, its pid kept for `down`
  local name="$1"; shift
  mkdir -p "$RUN"
  setsid "$@" >"$RUN/$name.log" 2>&1 < /dev/null &
  echo $! > "$RUN/$name.pid"
}

worker_pool() {
  # the pool starts each SDK worker as a plain `python`: the project's venv comes first on PATH.
  # pairmill's pool, not Beam's: every worker of both clusters shares this one (see its docstring)
  if ! listening localhost "$WORKER_POOL_PORT"; then
    PATH="$(dirname "$PYTHON"):$PATH" start_bg worker-pool "$PYTHON" -m \
      pairmill.pipelines.worker_pool --service_port="$WORKER_POOL_PORT"
    wait_port localhost "$WORKER_POOL_PORT" 60 "the SDK worker pool"
  fi
}

flink_up() {
  local home="$CACHE/flink-$FLINK_VERSION"
  [ -x "$home/bin/start-cluster.sh" ] || { log "run 'make engines' first"; exit 2; }
  if listening localhost 8081; then log "something already listens on localhost:8081 (a Flink" \
    "JobManager?): not starting another; 'make engines-down' stops the one started here"; worker_pool; return; fi
  export FLINK_LOG_DIR="$RUN/flink" && mkdir -p "$FLINK_LOG_DIR"
  # a job whose TaskManager is lost restarts (batch jobs without checkpoints otherwise fail)
  grep -q "^restart-strategy:" "$home/conf/config.yaml" || cat >> "$home/conf/config.yaml" <<'EOF'
restart-strategy:
  type: fixed-delay
  fixed-delay:
    attempts: 5
    delay: 5 s
EOF
  # jobs with several joins (s2orc with metadata) need more network buffers than the default
  # 128 MB gives ("Insufficient number of network buffers: required 512, but only 506")
  grep -q "^taskmanager.memory.network.min:" "$home/conf/config.yaml" ||
    echo "taskmanager.memory.network.min: 256mb" >> "$home/conf/config.yaml"
  "$home/bin/jobmanager.sh" start >/dev/null
  "$home/bin/taskmanager.sh" start >/dev/null
  "$home/bin/taskmanager.sh" start >/dev/null
  wait_port localhost 8081 120 "the Flink JobManager"
  local deadline=$((SECONDS + 120))
  until "$PYTHON" -c "import json,sys,urllib.request;sys.exit(json.load(urllib.request.urlopen('http://localhost:8081/overview'))['taskmanagers']<2)" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { log "the Flink TaskManagers did not register"; exit 1; }
    sleep 1
  done
  worker_pool
  log "Flink is up: pairmill mine ... --runner=FlinkRunner --flink_master=localhost:8081" \
      "--environment_type=EXTERNAL --environment_config=localhost:$WORKER_POOL_PORT"
}

spark_up() {
  local home="$CACHE/spark-$SPARK_VERSION"
  [ -x "$home/bin/spark-class" ] || { log "run 'make engines' first"; exit 2; }
  if listening localhost 7077; then log "something already listens on localhost:7077 (a Spark" \
    "master?): not starting another; 'make engines-down' stops the one started here"; worker_pool; return; fi
  export SPARK_HOME="$home" SPARK_LOCAL_IP=127.0.0.1 SPARK_LOG_DIR="$RUN/spark"
  mkdir -p "$SPARK_LOG_DIR" "$RUN/spark-work"
  start_bg spark-master "$home/bin/spark-class" org.apache.spark.deploy.master.Master \
    --host localhost --port 7077 --webui-port 8080
  wait_port localhost 7077 120 "the Spark master"
  spark_worker
  spark_worker
  worker_pool
  local deadline=$((SECONDS + 120))
  until "$PYTHON" -c "import json,sys,urllib.request;sys.exit(sum(w['state']=='ALIVE' for w in json.load(urllib.request.urlopen('http://localhost:8080/json/'))['workers'])<2)" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { log "the Spark workers did not register"; exit 1; }
    sleep 1
  done
  log "Spark is up: pairmill mine ... --runner=SparkRunner --spark_master_url=spark://localhost:7077" \
      "--environment_type=EXTERNAL --environment_config=localhost:$WORKER_POOL_PORT"
}

spark_worker() {  # one more one-core worker (also a replacement for a lost one)
  local home="$CACHE/spark-$SPARK_VERSION" n=1
  while [ -e "$RUN/spark-worker-$n.pid" ] && kill -0 "$(cat "$RUN/spark-worker-$n.pid")" 2>/dev/null; do
    n=$((n + 1))
  done
  SPARK_HOME="$home" SPARK_LOCAL_IP=127.0.0.1 SPARK_LOG_DIR="$RUN/spark" \
    start_bg "spark-worker-$n" "$home/bin/spark-class" org.apache.spark.deploy.worker.Worker \
    --host localhost --cores 1 --memory 2g --webui-port $((8180 + n)) \
    --work-dir "$RUN/spark-work" spark://localhost:7077
}

flink_taskmanager() {  # one more TaskManager (a replacement for a lost one)
  FLINK_LOG_DIR="$RUN/flink" "$CACHE/flink-$FLINK_VERSION/bin/taskmanager.sh" start >/dev/null
}

down() {
  local home="$CACHE/flink-$FLINK_VERSION"
  if [ -x "$home/bin/stop-cluster.sh" ]; then
    FLINK_LOG_DIR="$RUN/flink" "$home/bin/taskmanager.sh" stop-all >/dev/null 2>&1 || true
    FLINK_LOG_DIR="$RUN/flink" "$home/bin/jobmanager.sh" stop-all >/dev/null 2>&1 || true
  fi
  for pid in "$RUN"/*.pid; do
    [ -e "$pid" ] || continue
    kill -- "-$(cat "$pid")" 2>/dev/null || kill "$(cat "$pid")" 2>/dev/null || true
    rm -f "$pid"
  done
  log "stopped"
}

case "${1:-}" in
  fetch) fetch ;;
  flink-up) flink_up ;;
  flink-taskmanager) flink_taskmanager ;;
  spark-worker) spark_worker ;;
  spark-up) spark_up ;;
  down) down ;;
  home) echo "$CACHE" ;;
  *) echo "usage: $0 fetch|flink-up|flink-taskmanager|spark-up|spark-worker|down|home" >&2; exit 2 ;;
esac
