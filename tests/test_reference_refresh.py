"""A shipped model stored by an earlier release is brought up to this release's file at start-up
(nobody can PUT over a shipped version, so only an earlier release can have written it), unless
stored assessments pin it: then it stays as stored, as a PUT's rule says, and the log says so."""

import copy
import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import delete
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import Assessment, ReferenceModel
from app.reference.gate import install_shipped
from tests.conftest import Backend
from tests.helpers import create_organisation

VERSION = "2026.2"


async def stored(backend: Backend) -> ReferenceModel:
    async with AsyncSession(backend.engine) as session:
        query = select(ReferenceModel).where(ReferenceModel.version == VERSION)
        return (await session.exec(query)).one()


async def as_an_earlier_release_stored_it(backend: Backend) -> dict[str, Any]:
    """2026.2 as it was before its help resources: the copy an earlier release installed."""
    async with AsyncSession(backend.engine) as session:
        query = select(ReferenceModel).where(ReferenceModel.version == VERSION)
        row = (await session.exec(query)).one()
        older = copy.deepcopy(row.document)
        for capability in older["capabilities"]:
            capability.pop("help", None)
        row.document = older
        session.add(row)
        await session.commit()
        return older


async def start_up(backend: Backend) -> None:
    async with AsyncSession(backend.engine) as session:
        await install_shipped(session)


async def reference_model_updates(client: httpx.AsyncClient) -> int:
    events = await client.get(
        "/v1/audit-events", params={"resourceType": "reference_model", "action": "update"}
    )
    assert events.status_code == 200, events.text
    return len(events.json()["items"])


async def test_an_earlier_release_s_copy_is_brought_up_to_date_once(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    before = (await stored(backend)).row_version
    await as_an_earlier_release_stored_it(backend)
    await start_up(backend)
    row = await stored(backend)
    assert any(c.get("help") for c in row.document["capabilities"])
    assert row.row_version == before + 1
    assert await reference_model_updates(client) == 1
    # The next start finds nothing to do: no second update, no new version.
    await start_up(backend)
    assert (await stored(backend)).row_version == before + 1
    assert await reference_model_updates(client) == 1
    model = (await client.get(f"/v1/reference-models/{VERSION}")).json()
    assert any(c.get("help") for c in model["capabilities"])


async def test_a_copy_that_assessments_pin_is_left_as_stored(
    backend: Backend, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    trust = await create_organisation(client, name="Pinned Trust")
    made = await client.post(
        f"/v1/organisations/{trust['id']}/assessments", json={"referenceModel": VERSION}
    )
    assert made.status_code == 201, made.text
    older = await as_an_earlier_release_stored_it(backend)
    try:
        with caplog.at_level(logging.WARNING, logger="app.reference"):
            await start_up(backend)
        assert (await stored(backend)).document == older
        assert f"reference model {VERSION} differs from this release's" in caplog.text
        assert "1 stored assessment(s) pin it" in caplog.text
    finally:
        # Put the shipped copy back for the tests after this one (tables are emptied, models kept).
        async with backend.engine.begin() as connection:
            await connection.execute(delete(Assessment))
        await start_up(backend)
    assert any(c.get("help") for c in (await stored(backend)).document["capabilities"])
