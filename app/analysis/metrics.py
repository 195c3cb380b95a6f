"""How many gap analyses are computed, and how long they take, by scope (served at /metrics)."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

from app.vocabulary import Scope

ANALYSES = Counter(
    "lhs_gap_analyses",
    "Gap analyses computed (for the API, an assessment or a report), by scope.",
    ("scope",),
)
DURATION = Histogram(
    "lhs_gap_analysis_duration_seconds",
    "Time to read an analysis's inputs and compute it, by scope.",
    ("scope",),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


@contextmanager
def timed(scope: Scope) -> Iterator[None]:
    """Count an analysis that completes (one refused, e.g. a system with no members, is not)."""
    began = time.perf_counter()
    yield
    DURATION.labels(scope.value).observe(time.perf_counter() - began)
    ANALYSES.labels(scope.value).inc()
