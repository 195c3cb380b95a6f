"""Prometheus metrics at ``/metrics``: requests by route template and status, the database
pool, each worker process's memory and CPU, and (from the domains) gap analyses.

With several uvicorn workers each process keeps its own numbers, and a scrape reaches one of
them. prometheus_client's multiprocess mode makes them add up: when PROMETHEUS_MULTIPROC_DIR is
set (before the app is imported), every process writes its values to files in that directory
and ``/metrics`` sums the files. The directory must be emptied before the workers start, or the
counters carry on from the last run: ``python -m app.http.metrics prepare DIR`` does that, and
``make run`` and the Dockerfile call it.
"""

import asyncio
import functools
import os
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from app.config import prometheus_multiproc_dir

# Anything else a client sends as a method is one label, so no one can mint time series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds: from a cached read (a few ms) to a large system roll-up.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "lhs_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ("method", "route", "status"),
)
DURATION = Histogram(
    "lhs_http_request_duration_seconds",
    "Time from receiving a request to the end of its response, by method, route template "
    "and status.",
    ("method", "route", "status"),
    buckets=LATENCY_BUCKETS,
)
# How often each worker writes its pool's numbers when several workers share the metrics
# directory (the worker answering a scrape writes its own first).
POOL_SAMPLE_SECONDS = 5.0


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    count, duration = _series(method if method in _METHODS else "other", route, status)
    count.inc()
    duration.observe(seconds)


@functools.lru_cache(maxsize=4096)
def _series(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The labelled series of one kind of request, looked up once: ``labels()`` takes a lock
    and checks its arguments on every call (a few µs a request). The labels are bounded
    (methods, route templates, statuses), so the cache holds every series there is."""
    labels = (method, route, str(status))
    return REQUESTS.labels(*labels), DURATION.labels(*labels)


@functools.cache
def _pool_gauges() -> tuple[Gauge, Gauge, Gauge]:
    # Created on first use, not at import: in multiprocess mode a gauge opens its file at
    # creation, and the directory is made by install(). livesum: the sum over live workers.
    return (
        Gauge(
            "lhs_db_pool_checked_out",
            "Database connections in use by requests now.",
            multiprocess_mode="livesum",
        ),
        Gauge(
            "lhs_db_pool_size",
            "Connections the pool keeps open (LHS_DB_POOL_SIZE; per worker, summed).",
            multiprocess_mode="livesum",
        ),
        Gauge(
            "lhs_db_pool_overflow",
            "Connections open beyond the pool size now (at most LHS_DB_MAX_OVERFLOW).",
            multiprocess_mode="livesum",
        ),
    )


def sample_pool(engine: AsyncEngine) -> None:
    """Read the pool's numbers into the gauges (cheap: three counters the pool keeps)."""
    pool = engine.sync_engine.pool
    if not isinstance(pool, QueuePool):
        return
    checked_out, size, overflow = _pool_gauges()
    checked_out.set(pool.checkedout())
    size.set(pool.size())
    overflow.set(max(pool.overflow(), 0))  # negative while fewer than `size` are open


# prometheus_client's process collector (process_cpu_seconds_total and the rest) reports the
# process that answers the scrape, and is not served in multiprocess mode: a scrape would
# describe one worker picked at random as if it were the service. There, each worker writes
# its own numbers instead, labelled with its pid (prometheus_client adds it: "liveall" keeps
# the live workers only), and sums are left to the query: sum(lhs_worker_resident_memory_bytes).
_WORKER = {
    "process_resident_memory_bytes": ("lhs_worker_resident_memory_bytes", "Resident memory."),
    "process_virtual_memory_bytes": ("lhs_worker_virtual_memory_bytes", "Virtual memory."),
    "process_cpu_seconds_total": ("lhs_worker_cpu_seconds", "CPU time used, user and system."),
    "process_open_fds": ("lhs_worker_open_fds", "Open file descriptors (sockets included)."),
    "process_start_time_seconds": ("lhs_worker_start_time_seconds", "When it started (Unix)."),
}


@functools.cache
def _worker_gauges() -> dict[str, Gauge]:
    # Not in the default registry, which serves the process collector's own names when there
    # is one process: in multiprocess mode the files are what is scraped.
    return {
        source: Gauge(
            name, f"Per worker process (pid): {text}", multiprocess_mode="liveall", registry=None
        )
        for source, (name, text) in _WORKER.items()
    }


@functools.cache
def _this_process() -> ProcessCollector:
    return ProcessCollector(registry=None)


def sample_process() -> None:
    """This worker's memory, CPU time and descriptors into its per-worker gauges (where
    /proc exists; elsewhere the collector reads nothing and nothing is written)."""
    gauges = _worker_gauges()
    for family in _this_process().collect():
        for sample in family.samples:
            gauge = gauges.get(sample.name)
            if gauge is not None:
                gauge.set(sample.value)


async def sample_pool_forever(engine: AsyncEngine) -> None:
    """Keep this worker's share of the summed pool gauges, and its own process gauges,
    current between scrapes."""
    while True:
        sample_pool(engine)
        sample_process()
        await asyncio.sleep(POOL_SAMPLE_SECONDS)


def forget_this_process() -> None:
    """A worker that stops takes its pool gauges out of the sum."""
    directory = prometheus_multiproc_dir()
    if directory is not None:
        multiprocess.mark_process_dead(os.getpid(), str(directory))  # type: ignore[no-untyped-call]


def _registry() -> Collector:
    directory = prometheus_multiproc_dir()
    if directory is None:
        return REGISTRY
    directory.mkdir(parents=True, exist_ok=True)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return registry


def install(app: FastAPI) -> None:
    """Serve /metrics. It is left out of the OpenAPI document: it is for Prometheus, whose
    format is its own, not for the API's clients (a generated client has no use for it)."""
    registry = _registry()

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        sample_pool(request.app.state.engine)
        if registry is not REGISTRY:
            sample_process()
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(registry), headers={"Content-Type": content_type})


def prepare(directory: Path) -> None:
    """Make the multiprocess directory and empty it of the last run's files."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] != "prepare" or not argv[2]:
        print("usage: python -m app.http.metrics prepare DIRECTORY", file=sys.stderr)
        return 2
    prepare(Path(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
