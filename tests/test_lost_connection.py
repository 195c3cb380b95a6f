"""The hot reads run on a pooled driver connection without SQLAlchemy's execution: when the
database ends that connection (a failover, a restart, an administrator), the read is a 503
problem, as on every other path, and the connection is not handed to the next request."""

import asyncpg
import httpx
import pytest

from tests.conftest import Backend
from tests.helpers import create_asset, create_organisation

TERMINATE_OTHERS = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


async def test_a_read_on_a_lost_connection_is_a_503_and_the_next_read_is_served(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    if backend.name != "postgresql":
        pytest.skip("SQLite is a file: there is no server to end a connection")
    trust = await create_organisation(client)
    asset = await create_asset(client, trust["id"])
    url = f"/v1/assets/{asset['id']}"
    await backend.engine.dispose()  # an empty pool: the next read opens the one connection
    assert (await client.get(url)).status_code == 200

    admin = await asyncpg.connect(backend.url.replace("+asyncpg", ""))
    try:
        assert await admin.fetchval(TERMINATE_OTHERS) >= 1
    finally:
        await admin.close()

    lost = await client.get(url)
    assert lost.status_code == 503, lost.text
    assert lost.headers["content-type"] == "application/problem+json"
    assert lost.headers["retry-after"]
    assert lost.json()["code"] == "SERVICE_UNAVAILABLE"
    # The dead connection was dropped, not pooled: the next read gets a new one.
    again = await client.get(url)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == asset["id"]
