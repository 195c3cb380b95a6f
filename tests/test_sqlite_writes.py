"""The embedded default under concurrent writes: SQLite takes one write at a time, so writers
wait their turn, and only a write that waited past sqlite_write_timeout_seconds is refused,
with a 503 problem and Retry-After, having written nothing.

SQLite only: PostgreSQL has no single writer (its concurrency has its own tests)."""

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url, text

from app.config import Settings
from app.main import create_app
from tests.conftest import Backend, admin_headers, running_server, settings_for, snapshot
from tests.helpers import create_organisation

CLIENTS = 32
ASSET = {"area": "data", "name": "Concurrent asset", "maturity": 2}
# As deployed: the overload bound at its defaults, not the suite's patient ones.
DEFAULT_OVERLOAD = {
    "LHS_OVERLOAD_QUEUE": str(Settings.model_fields["overload_queue"].default),
    "LHS_OVERLOAD_WAIT_SECONDS": str(Settings.model_fields["overload_wait_seconds"].default),
}


@pytest.fixture
def sqlite_backend(backend: Backend) -> Backend:
    if backend.name != "sqlite":
        pytest.skip("SQLite's single writer")
    return backend


async def asset_rows(backend: Backend, organisation_id: str) -> int:
    async with backend.engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM asset WHERE organisation_id = :id"),
            {"id": organisation_id.replace("-", "")},
        )
    return int(count or 0)


@pytest.mark.real_server
async def test_32_clients_creating_at_once_on_one_worker_are_all_served(
    sqlite_backend: Backend, client: httpx.AsyncClient, api_key: str, tmp_path: Path
) -> None:
    """32 connections through a real uvicorn (one worker, the default overload settings),
    each creating assets back to back as the benchmark's clients do. Today a write waited
    for the lock in SQLite's busy handler (sleeping up to 100 ms between tries), so creates
    held their slots so long that the overload bound refused most of them at once."""
    organisation = await create_organisation(client)
    rounds = 4
    log = tmp_path / "uvicorn.log"
    async with running_server(sqlite_backend.url, log, **DEFAULT_OVERLOAD) as base_url:
        limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
        async with httpx.AsyncClient(
            base_url=base_url,
            limits=limits,
            timeout=httpx.Timeout(60.0),
            headers={"Authorization": f"Bearer {api_key}"},
        ) as http:

            async def creates() -> list[int]:
                path = f"/v1/organisations/{organisation['id']}/assets"
                return [(await http.post(path, json=ASSET)).status_code for _ in range(rounds)]

            answers = await asyncio.gather(*(creates() for _ in range(CLIENTS)))
    statuses = [status for per_client in answers for status in per_client]
    assert statuses == [201] * CLIENTS * rounds, (
        f"{sum(s != 201 for s in statuses)} of {len(statuses)} not created: {sorted(set(statuses))}"
    )
    assert await asset_rows(sqlite_backend, organisation["id"]) == CLIENTS * rounds


@asynccontextmanager
async def writer_held_by_this_process(backend: Backend, app: Any) -> AsyncIterator[None]:
    """Another request's write transaction, still open."""
    async with app.state.sessions.write() as session:
        await session.connection()  # BEGIN IMMEDIATE: SQLite's write lock, taken
        yield


@asynccontextmanager
async def writer_held_by_another_process(backend: Backend, app: Any) -> AsyncIterator[None]:
    """Another process's write transaction (another worker, the CLI), still open."""
    other = sqlite3.connect(str(make_url(backend.url).database), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


@pytest.mark.parametrize(
    "holder",
    [writer_held_by_this_process, writer_held_by_another_process],
    ids=["this-process", "another-process"],
)
async def test_a_write_that_waits_past_the_bound_is_503_with_retry_after_and_writes_nothing(
    sqlite_backend: Backend, client: httpx.AsyncClient, holder: Any
) -> None:
    """Today the write waited SQLite's hard-coded 30 s busy timeout, then answered 409
    "clashed with another change" though nothing had clashed."""
    organisation = await create_organisation(client)
    app = create_app(settings_for(sqlite_backend.url, sqlite_write_timeout_seconds=0.2))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://localhost",
            headers=await admin_headers(app),
            timeout=httpx.Timeout(60.0),
        ) as http:
            path = f"/v1/organisations/{organisation['id']}/assets"
            before = await snapshot(sqlite_backend.engine)
            async with holder(sqlite_backend, app):
                refused = await http.post(path, json=ASSET)
                assert refused.status_code == 503, refused.text
                assert refused.headers["content-type"] == "application/problem+json"
                assert int(refused.headers["retry-after"]) >= 1
                assert "retry" in refused.json()["detail"].lower()
            assert await snapshot(sqlite_backend.engine) == before
            # Its turn came once the writer was free.
            assert (await http.post(path, json=ASSET)).status_code == 201
