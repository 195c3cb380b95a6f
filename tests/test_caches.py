"""The process's named caches (app.caches) and the work callers share (app.singleflight)."""

import asyncio

import httpx
import pytest
from cachetools import LRUCache
from sqlalchemy import text

from app import caches
from app.singleflight import SingleFlight
from tests.conftest import Backend


async def test_clear_all_forgets_a_key_the_database_no_longer_has(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """A verified key is remembered for its time to live; clear_all empties that memory too, so
    a key deleted behind the service's back is refused at once after it."""
    assert (await client.get("/v1/organisations")).status_code == 200
    async with backend.engine.begin() as connection:
        await connection.execute(text("DELETE FROM api_key"))
    assert (await client.get("/v1/organisations")).status_code == 200  # remembered

    caches.clear_all()

    assert (await client.get("/v1/organisations")).status_code == 401


def test_a_named_cache_keeps_its_bound_least_recently_used_out_first() -> None:
    cache: LRUCache[str, int] = caches.lru(caches.Named("test.small", 2))
    cache["a"], cache["b"] = 1, 2
    assert cache.get("a") == 1  # a is now the more recent
    cache["c"] = 3
    assert sorted(cache) == ["a", "c"]
    caches.clear_all()
    assert len(cache) == 0


def test_a_named_cache_without_a_time_to_live_cannot_be_timed() -> None:
    with pytest.raises(ValueError, match=r"test\.untimed"):
        caches.timed(caches.Named("test.untimed", 2))


async def test_callers_asking_at_once_share_one_run_and_one_leaving_stops_nothing() -> None:
    flights: SingleFlight[int] = SingleFlight()
    runs = 0
    started, release = asyncio.Event(), asyncio.Event()

    async def work() -> int:
        nonlocal runs
        runs += 1
        started.set()
        await release.wait()
        return 42

    waiters = [asyncio.create_task(flights.do("k", work)) for _ in range(5)]
    await started.wait()  # every caller has asked by now: the tasks run in order
    waiters[0].cancel()  # one caller goes away
    release.set()

    assert await asyncio.gather(*waiters[1:]) == [42] * 4
    assert runs == 1
    assert flights.running("k") is None  # done: the next caller starts afresh
    assert await flights.do("k", work) == 42
    assert runs == 2


async def test_a_failure_reaches_every_waiter_and_frees_the_key() -> None:
    flights: SingleFlight[int] = SingleFlight()
    started, release = asyncio.Event(), asyncio.Event()

    async def failing() -> int:
        started.set()
        await release.wait()
        raise RuntimeError("no")

    waiters = [asyncio.create_task(flights.do("k", failing)) for _ in range(3)]
    await started.wait()
    release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)

    assert [type(r) for r in results] == [RuntimeError] * 3
    assert flights.running("k") is None
