"""A failure of the BEGIN the driver shortcut sends itself (app.db._begun)."""

from typing import Any

import asyncpg
import httpx
import pytest
from asyncpg.transaction import Transaction

from tests.conftest import Backend
from tests.helpers import create_asset, create_organisation


async def test_a_connection_lost_at_the_snapshots_begin_is_a_503(
    client: httpx.AsyncClient, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend.name != "postgresql":
        pytest.skip("the driver shortcut is PostgreSQL's")
    trust = await create_organisation(client, name="Begin Trust")
    await create_asset(client, trust["id"])
    original = Transaction.start
    failed: list[bool] = []

    async def start(self: Transaction, *args: Any, **kwargs: Any) -> Any:
        if self._readonly and not failed:  # the analysis's snapshot
            failed.append(True)
            self._connection.terminate()  # the server or the network ended it
            raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(Transaction, "start", start)
    answer = await client.get(f"/v1/organisations/{trust['id']}/gap-analysis")
    assert failed
    # As when SQLAlchemy's execution sends the BEGIN: the database unreachable, retry (503).
    assert answer.status_code == 503, answer.text
