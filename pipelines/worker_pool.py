"""The Python SDK worker pool for clusters whose workers share one machine (and one pool).

Beam's pool (`apache_beam.runners.worker.worker_pool_main`) keeps one SDK worker process per
worker id. Executors in different JVMs number their environments alike, so two Spark workers on
one host ask the pool for the same id: the pool forgets the first process, and the first
executor's `StopWorker` then kills the second executor's SDK worker mid-task (its task hangs).
This pool keeps every process, remembers which connection asked for it, and on `StopWorker`
stops the process that connection started; an id it cannot tell apart is left to exit on its
own when its executor closes the control stream. On a real cluster each node has its own pool
and Beam's is enough.

    python -m pairmill.pipelines.worker_pool --service_port=50000
"""

from __future__ import annotations

import argparse
import atexit
import logging
import threading
import time

from apache_beam.portability.api import beam_fn_api_pb2
from apache_beam.runners.worker import worker_pool_main

_LOG = logging.getLogger(__name__)


class SharedHostWorkerPool(worker_pool_main.BeamFnExternalWorkerPoolServicer):
    """Beam's process-mode pool, with workers keyed by (worker id, requesting peer)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._started: dict[str, list[tuple[str, object]]] = {}  # id -> [(peer, process)]
        atexit.register(self._stop_all)

    def _stop_all(self) -> None:
        for workers in self._started.values():
            for _, process in workers:
                worker_pool_main.kill_process_gracefully(process)

    def StartWorker(self, request, context):  # noqa: N802 (gRPC's name)
        with self._lock:
            response = super().StartWorker(request, context)
            process = self._worker_processes.pop(request.worker_id, None)
            if process is not None:
                live = [(p, w) for p, w in self._started.get(request.worker_id, [])
                        if w.poll() is None]
                self._started[request.worker_id] = [*live, (context.peer(), process)]
            return response

    def StopWorker(self, request, context):  # noqa: N802
        with self._lock:
            workers = [(p, w) for p, w in self._started.pop(request.worker_id, [])
                       if w.poll() is None]
            mine = [w for p, w in workers if p == context.peer()]
            if not mine and len(workers) == 1:
                mine = [workers[0][1]]
            kept = [(p, w) for p, w in workers if w not in mine]
            if kept:
                self._started[request.worker_id] = kept
        for process in mine:
            _LOG.info("stopping SDK worker %s", request.worker_id)
            worker_pool_main.kill_process_gracefully(process)
        return beam_fn_api_pb2.StopWorkerResponse()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--service_port", type=int, required=True,
                        help="port the executors' --environment_config names")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    address, server = SharedHostWorkerPool.start(use_process=True, port=args.service_port)
    _LOG.info("SDK worker pool listening at %s", address)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop(0)


if __name__ == "__main__":
    main()
