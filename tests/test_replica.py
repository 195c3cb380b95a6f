"""Reads from a real streaming replica: a primary and a standby started for these tests alone
(tests/replica_cluster.py), the app configured with LHS_DATABASE_REPLICA_URL.

What proves a read came from the replica: replay is paused on the standby, so it holds the
state before a write while the primary has the write. Another caller then reads the old state
(the replica), while the writer reads its own write (the primary, once the replica has not
caught up within LHS_REPLICA_WAIT_SECONDS).
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis.asyncio
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from app import caches
from app.config import Settings
from app.http import replica
from app.http.replica import READS
from app.main import create_app
from tests import replica_cluster
from tests.auth_helpers import make_key
from tests.conftest import migrate, settings_for
from tests.helpers import create_asset, create_organisation, wait_for
from tests.test_ratelimit import REDIS_URL, redis_prefix  # noqa: F401 (a fixture)

# One pair of clusters for the module: its tests stay on one worker.
pytestmark = [
    pytest.mark.replica,
    pytest.mark.real_server,
    pytest.mark.slow,
    pytest.mark.xdist_group("replica"),
]


@dataclass
class Pair:
    primary_url: str
    standby_url: str
    standby: replica_cluster.Cluster
    primary_sql: AsyncEngine
    standby_sql: AsyncEngine

    async def caught_up(self) -> bool:
        """The standby has replayed everything the primary has written so far."""
        position = "(pg_{}_lsn() - '0/0'::pg_lsn)::bigint"
        async with self.primary_sql.connect() as connection:
            written = await connection.execute(text("SELECT " + position.format("current_wal")))
            target = written.scalar_one()
        async with self.standby_sql.connect() as connection:
            replayed = await connection.execute(
                text("SELECT " + position.format("last_wal_replay"))
            )
            return bool(replayed.scalar_one() >= target)

    async def replay(self, on: bool) -> None:
        call = "pg_wal_replay_resume()" if on else "pg_wal_replay_pause()"
        async with self.standby_sql.connect() as connection:
            await connection.execute(text(f"SELECT {call}"))

        async def settled() -> bool:
            async with self.standby_sql.connect() as connection:
                state = await connection.execute(text("SELECT pg_get_wal_replay_pause_state()"))
                return (state.scalar() == "not paused") == on

        await wait_for(settled, 10, message="replay did not pause or resume")


@pytest.fixture(scope="session")
async def pair() -> AsyncIterator[Pair]:
    if not replica_cluster.available():
        if os.environ.get("LHS_REQUIRE_REPLICA") == "1":
            pytest.fail(
                f"LHS_REQUIRE_REPLICA=1 but PostgreSQL's binaries are not in {replica_cluster.BIN}"
            )
        pytest.skip(f"no PostgreSQL binaries in {replica_cluster.BIN} to start a replica with")
    with replica_cluster.primary_and_standby() as (primary, standby):
        urls = (primary.url(), standby.url())
        await migrate(Settings(database_url=urls[0]).database_url)
        engines = [
            # No pool: a test stops and starts the standby, which ends pooled connections.
            create_async_engine(
                Settings(database_url=url).database_url,
                isolation_level="AUTOCOMMIT",
                poolclass=NullPool,
            )
            for url in urls
        ]
        found = Pair(*urls, standby, *engines)
        try:
            await wait_for(found.caught_up, 20, message="the standby never caught up")
            yield found
        finally:
            for engine in engines:
                await engine.dispose()


@asynccontextmanager
async def running(pair: Pair, **overrides: Any) -> AsyncIterator[FastAPI]:
    settings = settings_for(pair.primary_url, database_replica_url=pair.standby_url, **overrides)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def client_of(app: FastAPI) -> httpx.AsyncClient:
    _, key = await make_key(app.state.sessions, "admin", name="replica test")
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://localhost",
        headers={"Authorization": f"Bearer {key}"},
    )


def counted(served_by: str, reason: str) -> float:
    value = READS.labels(served_by, reason)._value.get()
    return float(value)


async def asset_names(client: httpx.AsyncClient, organisation_id: str) -> list[str]:
    """The organisation's assets as its CSV export lists them (an export: replica reads)."""
    response = await client.get(f"/v1/organisations/{organisation_id}/assets?format=csv")
    assert response.status_code == 200, response.text
    lines = response.text.splitlines()
    column = lines[0].split(",").index("name")
    return sorted(line.split(",")[column] for line in lines[1:])


async def met(client: httpx.AsyncClient, organisation_id: str) -> bool:
    """Whether the gap analysis finds digital infrastructure met."""
    response = await client.get(f"/v1/organisations/{organisation_id}/gap-analysis")
    assert response.status_code == 200, response.text
    gaps = response.json()["gaps"]
    return bool(
        next(g for g in gaps if g["capabilityKey"] == "digital-infrastructure")["status"] == "met"
    )


INFRASTRUCTURE = {
    "area": "technology",
    "capabilityKey": "digital-infrastructure",
    "maturity": 4,
    "name": "Infrastructure",
    "confidence": "peer_reviewed",
    "reviewedBy": "QI team",
    "reviewedAt": "2026-01-10T09:00:00Z",
}


async def test_another_caller_reads_the_replica_while_the_writer_reads_its_own_write(
    pair: Pair,
) -> None:
    async with running(pair) as app:
        writer, other = await client_of(app), await client_of(app)
        async with writer, other:
            trust = await create_organisation(writer)
            await create_asset(writer, trust["id"], name="First")
            await wait_for(pair.caught_up, 10)
            assert await met(other, trust["id"]) is False
            await pair.replay(on=False)
            try:
                await create_asset(writer, trust["id"], **INFRASTRUCTURE)
                from_replica = counted("replica", "caught_up")
                # The other caller wrote nothing: the paused replica answers, without the write.
                assert await asset_names(other, trust["id"]) == ["First"]
                assert await met(other, trust["id"]) is False
                assert counted("replica", "caught_up") == from_replica + 2
                # Its reads that never use the replica see the write already.
                listed = await other.get(f"/v1/organisations/{trust['id']}/assets")
                assert len(listed.json()["items"]) == 2
                # The writer reads its own write: from the primary, the replica being behind.
                own = counted("primary", "own_write")
                assert await asset_names(writer, trust["id"]) == ["First", "Infrastructure"]
                assert await met(writer, trust["id"]) is True
                assert counted("primary", "own_write") == own + 2
            finally:
                await pair.replay(on=True)
            # Replayed: the other caller's next reads show the write.
            await wait_for(pair.caught_up, 10)
            assert await asset_names(other, trust["id"]) == ["First", "Infrastructure"]
            assert await met(other, trust["id"]) is True
            # ... and so does the writer's, now from the replica.
            before = counted("replica", "caught_up")
            assert await met(writer, trust["id"]) is True
            assert counted("replica", "caught_up") == before + 1


async def test_a_write_through_one_instance_is_waited_for_by_another(
    pair: Pair,
    redis_prefix: str,  # noqa: F811 (the fixture)
) -> None:
    shared = {"redis_url": REDIS_URL, "rate_limit_key_prefix": redis_prefix}
    async with running(pair, **shared) as one, running(pair, **shared) as two:
        _, key = await make_key(one.state.sessions, "admin", name="one caller, two instances")
        headers = {"Authorization": f"Bearer {key}"}
        first = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=one), base_url="http://localhost", headers=headers
        )
        second = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=two), base_url="http://localhost", headers=headers
        )
        async with first, second:
            trust = await create_organisation(first)
            await wait_for(pair.caught_up, 10)
            await pair.replay(on=False)
            try:
                await create_asset(first, trust["id"], name="Written through one")
                assert await asset_names(second, trust["id"]) == ["Written through one"]
            finally:
                await pair.replay(on=True)
        connection = redis.asyncio.Redis.from_url(REDIS_URL)
        try:
            assert [k async for k in connection.scan_iter(match=f"{redis_prefix}:replica-lsn:*")]
        finally:
            await connection.aclose()


async def test_with_the_replica_stopped_reads_answer_from_the_primary(pair: Pair) -> None:
    async with running(pair) as app:
        client = await client_of(app)
        async with client:
            trust = await create_organisation(client)
            await wait_for(pair.caught_up, 10)
            pair.standby.stop()
            try:
                await create_asset(client, trust["id"], **INFRASTRUCTURE)
                caches.clear_all()
                down = counted("primary", "down") + counted("primary", "retried")
                assert await met(client, trust["id"]) is True
                assert await asset_names(client, trust["id"]) == ["Infrastructure"]
                benchmark = await client.get(f"/v1/organisations/{trust['id']}/benchmark")
                assert benchmark.status_code == 200, benchmark.text
                assert counted("primary", "down") + counted("primary", "retried") == down + 3
            finally:
                pair.standby.start()


async def test_a_read_the_replica_fails_midway_is_answered_again_from_the_primary(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The replica's last good check stays trusted while it goes away: the next read is sent
    # to it, and fails there.
    monkeypatch.setattr(replica, "STATUS_SECONDS", 3600.0)
    async with running(pair) as app:
        client = await client_of(app)
        async with client:
            trust = await create_organisation(client)
            await create_asset(client, trust["id"], name="Kept")
            await wait_for(pair.caught_up, 10)
            assert await asset_names(client, trust["id"]) == ["Kept"]
            pair.standby.stop()
            try:
                retried = counted("primary", "retried")
                caches.clear_all()
                assert await asset_names(client, trust["id"]) == ["Kept"]
                assert await met(client, trust["id"]) is False
                assert counted("primary", "retried") >= retried + 1
            finally:
                pair.standby.start()
