"""A client that goes away in the middle of a CSV export leaves nothing behind: the export's
read transaction and its connection are given back as the response ends, not whenever garbage
collection gets to the abandoned stream (meanwhile the connection sat idle in a transaction,
holding a slot of the pool)."""

import gc
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest
from sqlalchemy.pool import QueuePool

from tests.conftest import Backend
from tests.helpers import create_organisation

ROWS = 1500  # more than one batch of the export (1,000 rows)


async def test_an_abandoned_export_gives_its_connection_back_at_once(
    client: httpx.AsyncClient, backend: Backend, api_key: str
) -> None:
    org = await create_organisation(client)
    sheet = "name,area,maturity\n" + "".join(f"Asset {n},data,2\n" for n in range(ROWS))
    imported = await client.post(
        f"/v1/organisations/{org['id']}/assets/import",
        content=sheet.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert imported.status_code == 200, imported.text

    path = f"/v1/organisations/{org['id']}/assets"
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},  # as uvicorn says
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"format=csv",
        "root_path": "",
        "headers": [(b"host", b"localhost"), (b"authorization", f"Bearer {api_key}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message["body"])
            if len(chunks) == 2:  # the header, then the first batch: the client hangs up
                raise OSError("connection reset by peer")

    gc.disable()  # what is left open must be closed by the service, not by the collector
    try:
        with pytest.raises(Exception):  # noqa: B017, PT011 - the server's own disconnect error
            await backend.app(scope, receive, send)
        assert len(chunks) == 2
        pool = backend.engine.pool
        assert isinstance(pool, QueuePool)
        assert pool.checkedout() == 0, "the export still holds its connection"
    finally:
        gc.enable()
