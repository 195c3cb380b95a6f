"""Overload: each process works on a bounded number of requests; the rest wait briefly in a
bounded queue, or are refused at once with a 503 problem and Retry-After.

Deterministic: a test route holds its slot until the test lets it go, so "the bound is
reached" is a fact, not a race."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from app.http.overload import ConcurrencyLimitMiddleware
from app.main import create_app
from tests.conftest import Backend, admin_headers, settings_for, snapshot
from tests.helpers import wait_for

SLOW = "/v1/test-slow"


@dataclass
class Gate:
    started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@asynccontextmanager
async def bounded_app(
    backend: Backend, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Gate, FastAPI]]:
    app = create_app(settings_for(backend.url, **overrides))
    gate = Gate()

    async def slow() -> dict[str, str]:
        gate.started.set()
        await gate.release.wait()
        return {"status": "done"}

    app.add_api_route(SLOW, slow, methods=["GET", "POST"])
    async with app.router.lifespan_context(app):
        headers = await admin_headers(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost", headers=headers, timeout=30
        ) as http:
            try:
                yield http, gate, app
            finally:
                gate.release.set()


def limiter(app: FastAPI) -> ConcurrencyLimitMiddleware:
    layer: Any = app.middleware_stack
    while not isinstance(layer, ConcurrencyLimitMiddleware):
        layer = layer.app
    return layer


async def until_queued(app: FastAPI, count: int) -> None:
    await wait_for(
        lambda: limiter(app).waiting == count, 5, message=f"{count} request(s) never queued"
    )


def assert_overloaded(response: httpx.Response, retry_after: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "OVERLOADED"
    assert body["type"] == "/problems/overloaded"
    assert body["traceId"] == response.headers["x-request-id"]
    assert response.headers["retry-after"] == retry_after


async def test_beyond_the_bound_with_no_queue_a_request_is_refused_at_once(
    backend: Backend,
) -> None:
    async with bounded_app(
        backend, max_requests_in_flight=1, overload_queue=0, overload_wait_seconds=5
    ) as (http, gate, _):
        held = asyncio.create_task(http.get(SLOW))
        await gate.started.wait()

        began = time.perf_counter()
        refused = await http.get("/v1/organisations")
        assert time.perf_counter() - began < 1.0  # not after the 5 s a queued one may wait
        assert_overloaded(refused, retry_after="5")
        # Probes are exempt: a busy instance is alive and ready.
        assert (await http.get("/_ping")).status_code == 200
        assert (await http.get("/_status")).status_code == 200

        gate.release.set()
        assert (await held).json() == {"status": "done"}
        assert (await http.get("/v1/organisations")).status_code == 200


async def test_a_queued_request_is_served_when_a_slot_frees_and_a_full_queue_refuses(
    backend: Backend,
) -> None:
    async with bounded_app(
        backend, max_requests_in_flight=1, overload_queue=1, overload_wait_seconds=30
    ) as (http, gate, app):
        held = asyncio.create_task(http.get(SLOW))
        await gate.started.wait()
        queued = asyncio.create_task(http.get("/v1/organisations"))
        await until_queued(app, 1)

        assert_overloaded(await http.get("/v1/organisations"), retry_after="30")
        assert not queued.done()

        gate.release.set()
        assert (await held).status_code == 200
        served = await queued
        assert served.status_code == 200, served.text
        assert served.json()["items"] == []
        assert limiter(app).waiting == 0


async def test_a_request_that_waits_too_long_is_refused_and_the_slot_holder_finishes(
    backend: Backend,
) -> None:
    async with bounded_app(
        backend, max_requests_in_flight=1, overload_queue=5, overload_wait_seconds=0.1
    ) as (http, gate, app):
        held = asyncio.create_task(http.get(SLOW))
        await gate.started.wait()

        began = time.perf_counter()
        refused = await http.get("/v1/organisations")
        waited = time.perf_counter() - began
        assert_overloaded(refused, retry_after="1")
        assert 0.1 <= waited < 2.0
        assert limiter(app).waiting == 0

        gate.release.set()
        assert (await held).status_code == 200


async def test_a_refused_create_writes_nothing(backend: Backend) -> None:
    # A write holds the slot: on SQLite writes have slots of their own (see the next test).
    async with bounded_app(
        backend,
        max_requests_in_flight=1,
        overload_queue=0,
        overload_wait_seconds=1,
        sqlite_write_timeout_seconds=1,
    ) as (http, gate, _):
        held = asyncio.create_task(http.post(SLOW))
        await gate.started.wait()
        before = await snapshot(backend.engine)

        refused = await http.post(
            "/v1/organisations", json={"name": "Refused Trust", "organisationType": "trust"}
        )
        assert_overloaded(refused, retry_after="1")
        assert await snapshot(backend.engine) == before

        gate.release.set()
        await held


async def test_on_sqlite_writes_queue_apart_from_reads(backend: Backend) -> None:
    """SQLite takes one write at a time, so writes queue for their turn (up to
    sqlite_write_timeout_seconds), in slots of their own: a queue of writes never takes the
    slots reads need, and reads never make a write wait."""
    if backend.name != "sqlite":
        return  # one set of slots for every request on PostgreSQL
    async with bounded_app(backend, max_requests_in_flight=1, overload_queue=0) as (http, gate, _):
        held = asyncio.create_task(http.get(SLOW))
        await gate.started.wait()
        created = await http.post(
            "/v1/organisations", json={"name": "Served Trust", "organisationType": "trust"}
        )
        assert created.status_code == 201, created.text
        gate.release.set()
        await held


async def test_with_no_bound_every_concurrent_request_is_served(backend: Backend) -> None:
    async with bounded_app(backend, max_requests_in_flight=0) as (http, gate, _):
        held = asyncio.create_task(http.get(SLOW))
        await gate.started.wait()
        assert (await http.get("/v1/organisations")).status_code == 200
        gate.release.set()
        await held


async def test_a_request_that_cannot_expect_a_slot_in_time_is_refused_without_waiting(
    backend: Backend,
) -> None:
    """Requests have been holding their slot for about a second: with 0.5 s allowed, the next
    one cannot expect a slot in time, so it is refused at once rather than after 0.5 s."""
    async with bounded_app(
        backend, max_requests_in_flight=1, overload_queue=10, overload_wait_seconds=0.5
    ) as (http, gate, app):
        first = asyncio.create_task(http.get(SLOW))
        await gate.started.wait()
        await asyncio.sleep(1.0)
        gate.release.set()
        assert (await first).status_code == 200
        assert limiter(app).holding_seconds >= 1.0

        gate.started.clear()
        gate.release.clear()
        held = asyncio.create_task(http.get(SLOW))
        await gate.started.wait()
        began = time.perf_counter()
        refused = await http.get("/v1/organisations")
        assert time.perf_counter() - began < 0.4
        assert_overloaded(refused, retry_after="1")

        gate.release.set()
        assert (await held).status_code == 200
