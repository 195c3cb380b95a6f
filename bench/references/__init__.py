"""Reference apps the benchmark measures beside the service, on the same machine, the same
data and the same uvicorn flags, so that results are ratios that survive a noisy machine.

The database comes from BENCH_REF_DATABASE_URL (the service's own URL form)."""

import os

ENV = "BENCH_REF_DATABASE_URL"


def database_url() -> str:
    return os.environ[ENV]
