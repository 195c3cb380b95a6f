"""The suite itself: parallel workers never share a database, and waiting is on a condition."""

import os
import time

import pytest
from sqlalchemy import make_url, text

from tests.conftest import Backend
from tests.helpers import wait_for


async def test_each_worker_has_a_database_of_its_own(backend: Backend) -> None:
    """Under pytest-xdist, rows one worker writes can never appear in another's test: each
    worker's PostgreSQL database is named after it (SQLite files live in a per-process
    directory)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        pytest.skip("not running under pytest-xdist")
    if backend.name == "postgresql":
        async with backend.engine.connect() as connection:
            name = (await connection.execute(text("SELECT current_database()"))).scalar_one()
        assert name == f"{make_url(os.environ['LHS_TEST_DATABASE_URL']).database}_{worker}"


async def test_wait_for_returns_as_soon_as_the_condition_holds() -> None:
    ready_at = time.monotonic() + 0.1
    began = time.monotonic()
    await wait_for(lambda: time.monotonic() >= ready_at, 5)
    assert time.monotonic() - began < 1


async def test_wait_for_fails_with_its_message_when_the_condition_never_holds() -> None:
    with pytest.raises(AssertionError, match=r"never ready within 0\.05 s"):
        await wait_for(lambda: False, 0.05, message="never ready")
