"""Overload: 256 connections against 2 workers on PostgreSQL. The Python generator reports
served and refused requests separately; meanwhile pg_stat_activity is sampled to see whether
any session sits idle in a transaction while the app computes."""

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

import asyncpg

from bench import load, server
from bench.dataset import Dataset

CONNECTIONS = 256
SAMPLE_SECONDS = 0.1
STATES = """
SELECT coalesce(state, 'none') AS state, count(*) AS n FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1
"""


async def _sample(dsn: str, process: subprocess.Popen[str]) -> dict[str, int]:
    """The most sessions seen in each state while the load ran."""
    peak: dict[str, int] = {}
    connection = await asyncpg.connect(dsn)
    try:
        while process.poll() is None:
            for row in await connection.fetch(STATES):
                peak[row["state"]] = max(peak.get(row["state"], 0), row["n"])
            await asyncio.sleep(SAMPLE_SECONDS)
    finally:
        await connection.close()
    return peak


def _drive_and_sample(url: str, auth: str, seconds: float, dsn: str) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "bench.loadgen",
        url,
        "--connections",
        str(CONNECTIONS),
        "--duration",
        str(seconds),
        "--header",
        f"Authorization: {auth}",
        "--max-requests",
        str(load.MAX_REQUESTS),
    ]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, stdout=subprocess.PIPE, text=True
    )
    started = time.monotonic()
    peak = asyncio.run(_sample(dsn, process))
    stdout, _ = process.communicate(timeout=seconds + 90)
    if process.returncode:
        raise RuntimeError(f"load generator failed ({process.returncode})")
    result: dict[str, Any] = json.loads(stdout)
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    result["pg_sessions_peak"] = peak
    return result


def run(data: Dataset, *, env: dict[str, str], database_url: str, seconds: float) -> dict[str, Any]:
    dsn = database_url.replace("+asyncpg", "")
    auth = f"Bearer {data.key}"
    out: dict[str, Any] = {"connections": CONNECTIONS, "workers": 2}
    extra = ("--no-server-header",)
    with server.serve(
        "app.main:app", workers=2, env=env, ready_path="/_ping", extra=extra
    ) as running:
        for name, path in (
            ("org_get", f"/v1/organisations/{data.member}"),
            ("gap_member", f"/v1/organisations/{data.member}/gap-analysis"),
        ):
            running.drain()
            out[name] = _drive_and_sample(running.base + path, auth, seconds, dsn)
    return out
