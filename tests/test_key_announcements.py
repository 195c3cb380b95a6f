"""Key changes reach every instance at once through the real Redis on 127.0.0.1:6379: an app
instance listening on the channel forgets a key another process (the installed command line)
revoked or rotated, where without the announcement its cache would go on accepting it."""

import asyncio
import os
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col

from app.main import create_app
from app.models import ApiKey
from tests.auth_app import build_app
from tests.auth_helpers import make_key
from tests.conftest import Backend, running_server, settings_for
from tests.test_auth_cli import LHS_MAP
from tests.test_auth_http import bearer, http
from tests.test_auth_keys import sessions_of
from tests.test_ratelimit import REDIS_URL, redis_prefix  # noqa: F401 (a fixture)

# Each test starts another process (the command line, or uvicorn): seconds each.
pytestmark = pytest.mark.slow


async def status_until(api: httpx.AsyncClient, key: str, wanted: int) -> int:
    """The key's answer, asked again for a few seconds until it is ``wanted``."""
    for _ in range(50):
        status = (await api.get("/v1/whoami", headers=bearer(key))).status_code
        if status == wanted:
            return status
        await asyncio.sleep(0.1)
    return status


async def lhs_map(backend: Backend, prefix: str, *args: str) -> tuple[str, str]:
    """The installed command, in a process of its own, told of the same Redis channel."""
    environment = os.environ | {
        "LHS_DATABASE_URL": backend.url,
        "LHS_REDIS_URL": REDIS_URL,
        "LHS_RATE_LIMIT_KEY_PREFIX": prefix,
    }
    process = await asyncio.create_subprocess_exec(
        LHS_MAP,
        *args,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    return out.decode().strip(), err.decode()


async def test_a_revocation_by_another_process_reaches_a_listening_instance_at_once(
    backend: Backend,
    client: httpx.AsyncClient,
    redis_prefix: str,  # noqa: F811
) -> None:
    sessions = sessions_of(backend)
    control, control_key = await make_key(sessions, "reader", name="revoked unannounced")
    revoked, revoked_key = await make_key(sessions, "reader", name="revoked by the CLI")
    app = build_app(
        backend,
        redis_url=REDIS_URL,
        rate_limit_key_prefix=redis_prefix,
        api_key_cache_seconds=600,
    )
    ready = asyncio.Event()
    listening = asyncio.create_task(app.state.key_changes.listen(ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), timeout=10)
        async with http(app) as api:
            for key in (control_key, revoked_key):
                assert (await api.get("/v1/whoami", headers=bearer(key))).status_code == 200

            # Revoked behind the service's back, unannounced: the cache goes on vouching.
            async with backend.engine.begin() as connection:
                await connection.execute(
                    update(ApiKey)
                    .where(col(ApiKey.id) == control.id)
                    .values(revoked_at=ApiKey.created_at)
                )
            assert (await api.get("/v1/whoami", headers=bearer(control_key))).status_code == 200

            _, said = await lhs_map(backend, redis_prefix, "revoke-api-key", revoked.prefix)
            assert "Running instances were told" in said
            assert await status_until(api, revoked_key, 401) == 401
            assert (await api.get("/v1/whoami", headers=bearer(control_key))).status_code == 200
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await app.state.key_changes.close()


async def test_a_rotation_without_grace_by_another_process_ends_the_old_secret_at_once(
    backend: Backend,
    client: httpx.AsyncClient,
    redis_prefix: str,  # noqa: F811
) -> None:
    row, old_key = await make_key(sessions_of(backend), "reader", name="rotated by the CLI")
    app = build_app(
        backend, redis_url=REDIS_URL, rate_limit_key_prefix=redis_prefix, api_key_cache_seconds=600
    )
    ready = asyncio.Event()
    listening = asyncio.create_task(app.state.key_changes.listen(ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), timeout=10)
        async with http(app) as api:
            assert (await api.get("/v1/whoami", headers=bearer(old_key))).status_code == 200
            new_key, _ = await lhs_map(
                backend, redis_prefix, "rotate-api-key", row.prefix, "--grace-period", "0"
            )
            assert await status_until(api, old_key, 401) == 401
            assert (await api.get("/v1/whoami", headers=bearer(new_key))).status_code == 200
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await app.state.key_changes.close()


@pytest.mark.real_server
async def test_two_instances_on_one_redis_a_revocation_through_the_api_reaches_the_other(
    backend: Backend,
    client: httpx.AsyncClient,
    api_key: str,
    redis_prefix: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Instance one (in this process) revokes through the API; instance two (a uvicorn process
    of its own, trusting keys for ten minutes) stops accepting the key at once."""
    sessions = sessions_of(backend)
    control, control_key = await make_key(sessions, "reader", name="revoked unannounced")
    revoked, revoked_key = await make_key(sessions, "reader", name="revoked through the API")
    shared = {"redis_url": REDIS_URL, "rate_limit_key_prefix": redis_prefix}
    one = create_app(settings_for(backend.url, api_key_cache_seconds=600, **shared))
    environment = {
        "LHS_REDIS_URL": REDIS_URL,
        "LHS_RATE_LIMIT_KEY_PREFIX": redis_prefix,
        "LHS_API_KEY_CACHE_SECONDS": "600",
    }
    async with (
        one.router.lifespan_context(one),
        http(one) as first,
        running_server(backend.url, tmp_path / "two.log", **environment) as url,
        httpx.AsyncClient(base_url=url) as second,
    ):
        for key in (control_key, revoked_key):
            assert (await second.get("/v1/organisations", headers=bearer(key))).status_code == 200
        async with backend.engine.begin() as connection:
            await connection.execute(
                update(ApiKey)
                .where(col(ApiKey.id) == control.id)
                .values(revoked_at=ApiKey.created_at)
            )
        assert (
            await second.get("/v1/organisations", headers=bearer(control_key))
        ).status_code == 200

        answer = await first.delete(f"/v1/api-keys/{revoked.id}", headers=bearer(api_key))
        assert answer.status_code == 204
        assert "LHS-Propagation-Delay" not in answer.headers  # announced: nothing to wait for
        assert await until_refused(second, revoked_key) == 401
        assert (
            await second.get("/v1/organisations", headers=bearer(control_key))
        ).status_code == 200


async def until_refused(api: httpx.AsyncClient, key: str) -> int:
    for _ in range(50):
        status = (await api.get("/v1/organisations", headers=bearer(key))).status_code
        if status == 401:
            return status
        await asyncio.sleep(0.1)
    return status
