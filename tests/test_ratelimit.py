"""Rate limits per credential: counted in memory, or in the real Redis on 127.0.0.1:6379 where
two instances share one allowance. Each Redis test uses key names of its own and removes them."""

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import redis.asyncio

from app.auth.ratelimit import RateLimiter
from tests.auth_app import build_app
from tests.auth_helpers import make_key
from tests.conftest import Backend
from tests.helpers import assert_problem
from tests.test_auth_http import bearer, http
from tests.test_auth_keys import sessions_of

REDIS_URL = os.environ.get("LHS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@asynccontextmanager
async def own_redis_prefix(label: str) -> AsyncIterator[str]:
    """A key prefix of its own in the shared Redis (skipped when Redis is not answering, and
    failed under CI); every key under it is deleted afterwards."""
    connection = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        await connection.ping()
    except (redis.RedisError, OSError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not answering at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis is not answering at {REDIS_URL}")
    prefix = f"lhs-test-{label}{uuid.uuid4().hex}"
    yield prefix
    keys = [key async for key in connection.scan_iter(match=f"{prefix}*")]
    if keys:
        await connection.delete(*keys)
    assert [key async for key in connection.scan_iter(match=f"{prefix}*")] == []
    await connection.aclose()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix for this test alone."""
    async with own_redis_prefix("") as prefix:
        yield prefix


async def test_the_allowance_counts_down_then_refuses() -> None:
    limiter = RateLimiter("3/hour", redis_url=None)
    decisions = [await limiter.hit("api_key:a") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert all(d.limit == 3 for d in decisions)
    assert 3500 < decisions[-1].reset_seconds <= 3600
    assert (await limiter.hit("api_key:b")).allowed  # another credential, its own allowance


async def test_with_several_limits_the_tightest_decides() -> None:
    limiter = RateLimiter("2/minute;100/hour", redis_url=None)
    first, second, third = [await limiter.hit("k") for _ in range(3)]
    assert (first.limit, first.remaining) == (2, 1)
    assert (second.limit, second.remaining) == (2, 0)
    assert not third.allowed
    assert third.limit == 2


async def test_over_http_each_credential_has_its_own_allowance(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    _, first_key = await make_key(sessions_of(backend), "reader")
    _, second_key = await make_key(sessions_of(backend), "reader")
    async with http(build_app(backend, rate_limit="2/hour")) as api:
        answers = [await api.get("/v1/whoami", headers=bearer(first_key)) for _ in range(3)]
        assert [r.status_code for r in answers[:2]] == [200, 200]
        assert [r.headers["ratelimit-remaining"] for r in answers] == ["1", "0", "0"]
        assert all(r.headers["ratelimit-limit"] == "2" for r in answers)
        limited = assert_problem(answers[2], 429, "RATE_LIMITED")
        assert "2 per window" in limited["detail"]
        assert 0 < int(answers[2].headers["retry-after"]) <= 3600
        assert int(answers[2].headers["ratelimit-reset"]) <= 3600
        assert answers[2].headers["x-content-type-options"] == "nosniff"
        assert (await api.get("/v1/whoami", headers=bearer(second_key))).status_code == 200
        # No credential: counted by address, apart from the keys; health checks not at all.
        assert (await api.get("/v1/whoami")).status_code == 401
        assert (await api.get("/v1/whoami")).status_code == 401
        assert (await api.get("/v1/whoami")).status_code == 429
        for _ in range(5):
            response = await api.get("/_ping")
            assert response.status_code == 200
            assert "ratelimit-limit" not in response.headers


async def test_two_limiters_share_one_allowance_in_redis(redis_prefix: str) -> None:
    first = RateLimiter("5/hour", redis_url=REDIS_URL, key_prefix=redis_prefix)
    second = RateLimiter("5/hour", redis_url=REDIS_URL, key_prefix=redis_prefix)
    decisions = await asyncio.gather(
        *(limiter.hit("api_key:shared") for limiter in [first, second] * 4)
    )
    assert sum(d.allowed for d in decisions) == 5
    assert sorted(d.remaining for d in decisions if d.allowed) == [0, 1, 2, 3, 4]


async def test_two_app_instances_share_one_limit_through_redis(
    backend: Backend, client: httpx.AsyncClient, redis_prefix: str
) -> None:
    _, key = await make_key(sessions_of(backend), "reader")
    shared = {"rate_limit": "4/hour", "redis_url": REDIS_URL, "rate_limit_key_prefix": redis_prefix}
    async with http(build_app(backend, **shared)) as one, http(build_app(backend, **shared)) as two:
        statuses = [
            (await instance.get("/v1/whoami", headers=bearer(key))).status_code
            for instance in (one, two, one, two, one, two)
        ]
    assert statuses == [200, 200, 200, 200, 429, 429]


async def test_an_unreachable_redis_lets_requests_through_and_says_so(
    backend: Backend, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    _, key = await make_key(sessions_of(backend), "reader")
    app = build_app(backend, rate_limit="1/hour", redis_url="redis://127.0.0.1:1/0")
    with caplog.at_level(logging.WARNING, logger="app.auth"):
        async with http(app) as api:
            for _ in range(2):
                response = await api.get("/v1/whoami", headers=bearer(key))
                assert response.status_code == 200
                assert "ratelimit-limit" not in response.headers
    assert "rate limiter unavailable" in caplog.text
