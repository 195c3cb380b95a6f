"""`lhs-map migrate` and `lhs-map serve`: a database from nothing, then the service on it, as
an operator runs them (subprocesses, a real uvicorn)."""

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_until_live
from tests.test_auth_cli import lhs_map
from tests.test_transport import allowances_left

pytestmark = pytest.mark.slow


@pytest.mark.real_server
async def test_migrate_then_serve(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    migrated = await lhs_map(url, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert f"The database {url} is at" in migrated.stderr
    assert migrated.stdout == ""
    again = await lhs_map(url, "migrate")  # already at head: nothing to do, still fine
    assert again.returncode == 0, again.stderr

    port = free_port()
    log = tmp_path / "serve.log"
    lhs = Path(sys.executable).parent / "lhs-map"
    environment = os.environ | {"LHS_DATABASE_URL": url}
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            str(lhs),
            "serve",
            "--port",
            str(port),
            "--metrics-dir",
            str(tmp_path / "metrics"),
            env=environment,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_until_live(base, process, log)
        async with httpx.AsyncClient(base_url=base) as http:
            ready = await http.get("/_status")
            assert ready.status_code == 200, ready.text  # migrated, with its reference models
            assert "server" not in ready.headers
            refused = await http.get("/v1/organisations")
            assert refused.status_code == 401
            # No proxy configured: X-Forwarded-For from loopback names no one, and a client
            # that rotates it keeps spending its own address's allowance.
            left = await allowances_left(http, ["198.51.100.1", "198.51.100.2"])
            assert left == [left[0], left[0] - 1]
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=15)


async def test_a_failing_migration_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'x.db'}"
    failed = await lhs_map(url, "migrate")
    assert failed.returncode != 0
    assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr
    assert failed.stderr.startswith("lhs-map: cannot migrate the database: the folder")
