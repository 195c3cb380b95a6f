"""Which model is the default, and what a model that cannot be read does to the service.

The default is the operator's setting (LHS_DEFAULT_REFERENCE_MODEL, else the highest shipped
version), never the newest row a caller loaded; a map import is no way around that. A stored
model that cannot be read (a row damaged behind the service's back) is a 503 on the requests
that need it; the readiness probe is 503 only when the default is the damaged one."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.main import create_app
from app.reference.service import DefaultModelMissing, shipped_models
from tests.auth_helpers import make_key
from tests.conftest import Backend, admin_headers, settings_for, snapshot
from tests.helpers import assert_problem, create_asset, create_organisation, one_organisation_map

DEFAULT = "2026.2"
Json = dict[str, Any]


def shipped(version: str = DEFAULT) -> Json:
    model = next(m for m in shipped_models() if m.version == version)
    return model.model_dump(mode="json", by_alias=True)


def zero_targets(version: str, *, based_on: str | None = None) -> Json:
    """The default model with every target 0: every organisation would score 100 %."""
    body = shipped() | {"version": version, "basedOn": based_on, "title": "Everyone passes"}
    body["capabilities"] = [c | {"targetMaturity": 0, "targets": []} for c in body["capabilities"]]
    return body


async def default_of(client: httpx.AsyncClient) -> list[str]:
    items = (await client.get("/v1/reference-models")).json()["items"]
    return [m["version"] for m in items if m["isDefault"]]


async def test_a_map_import_cannot_make_a_model_everyones_default(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics = await create_organisation(client, name="Alpha ICS", organisationType="ics")
    trust = await create_organisation(client, name="Alpha Trust", parentId=ics["id"])
    other = await create_organisation(client, name="Beta ICS", organisationType="ics")
    _, key = await make_key(backend.app.state.sessions, "editor", trust["id"])
    editor = {"Authorization": f"Bearer {key}"}
    attack = one_organisation_map(trust["id"], carried=[zero_targets("2099.1")], pinned="2099.1")
    before = await snapshot(backend.engine)
    response = await client.post("/v1/maps/import", json=attack, headers=editor)
    assert_problem(response, 403, "FORBIDDEN")
    garbage = one_organisation_map(
        trust["id"], carried=[{"garbage": True, "version": "2099.2"}], pinned=None
    )
    assert_problem(await client.post("/v1/maps/import", json=garbage), 422, "VALIDATION_FAILED")
    assert await snapshot(backend.engine) == before

    # A global admin may load a base model that way: validated, the server's timestamps,
    # audited; and still not the default, which only the operator's setting chooses.
    loaded = await client.post(
        "/v1/maps/import",
        json=one_organisation_map(ics["id"], carried=[zero_targets("2099.1")], pinned="2099.1"),
    )
    assert loaded.status_code == 201, loaded.text
    assert await default_of(client) == [DEFAULT]
    events = await client.get("/v1/audit-events", params={"resourceType": "reference_model"})
    assert "2099.1" in [e["resourceId"] for e in events.json()["items"]]
    analysis = (await client.get(f"/v1/organisations/{other['id']}/gap-analysis")).json()
    assert analysis["referenceModel"]["version"] == DEFAULT
    assert analysis["summary"]["overallScore"] < 1


@asynccontextmanager
async def started(backend: Backend, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings_for(backend.url, **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost", headers=await admin_headers(app)
        ) as http:
            yield http


async def test_the_default_is_the_operators_setting(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    organisation = await create_organisation(client)
    async with started(backend, default_reference_model="2026.1") as http:
        assert await default_of(http) == ["2026.1"]
        analysis = (await http.get(f"/v1/organisations/{organisation['id']}/gap-analysis")).json()
        assert analysis["referenceModel"]["version"] == "2026.1"
    assert await default_of(client) == [DEFAULT]  # unset: the highest shipped version


@pytest.mark.parametrize("setting", ["2099.9", "variant", "2024.1"])
async def test_an_instance_refuses_to_start_without_its_default(
    client: httpx.AsyncClient, backend: Backend, setting: str
) -> None:
    if setting == "variant":
        body = shipped() | {"version": "local-variant", "basedOn": DEFAULT}
        made = await client.put("/v1/reference-models/local-variant", json=body)
        assert made.status_code == 201, made.text
        setting = "local-variant"
    app = create_app(settings_for(backend.url, default_reference_model=setting))
    with pytest.raises(DefaultModelMissing, match=setting):
        async with app.router.lifespan_context(app):
            pass


@asynccontextmanager
async def damaged(backend: Backend, version: str) -> AsyncIterator[None]:
    """The row's document replaced behind the service's back (and put back afterwards)."""
    update = text(
        "UPDATE reference_model SET document = :d, row_version = row_version + 1 WHERE version = :v"
    )
    # The service's own writes beside the requests (a key's last use) end first: on SQLite a
    # write behind its back would find the file locked by them.
    await backend.app.state.authenticator.usage.drain()
    async with backend.engine.begin() as connection:
        original = (
            await connection.execute(
                text("SELECT document FROM reference_model WHERE version = :v"), {"v": version}
            )
        ).scalar_one()
        await connection.execute(update, {"d": '{"garbage": true}', "v": version})
    try:
        yield
    finally:
        # The drivers give the JSON text (SQLite) or decoded (asyncpg): put back the text.
        document = original if isinstance(original, str) else json.dumps(original)
        async with backend.engine.begin() as connection:
            await connection.execute(update, {"d": document, "v": version})


async def test_a_damaged_variant_fails_only_the_requests_that_name_it(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    organisation = await create_organisation(client, organisationType="ics")
    _, key = await make_key(backend.app.state.sessions, "admin", organisation["id"])
    body = shipped() | {"version": "broken-variant", "basedOn": DEFAULT}
    made = await client.put(
        "/v1/reference-models/broken-variant", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert made.status_code == 201, made.text
    url = f"/v1/organisations/{organisation['id']}/gap-analysis"
    async with damaged(backend, "broken-variant"):
        named = await client.get(url, params={"referenceModel": "broken-variant"})
        assert_problem(named, 503, "SERVICE_UNAVAILABLE")
        assert "broken-variant" in named.json()["detail"]
        assert (await client.get(url)).status_code == 200
        listed = await client.get("/v1/reference-models")
        assert listed.status_code == 200
        assert "broken-variant" not in [m["version"] for m in listed.json()["items"]]
        status = await client.get("/_status")
        assert status.status_code == 200, status.text
        assert status.json()["status"] == "degraded"
        check = next(c for c in status.json()["checks"] if c["name"] == "referenceModel")
        assert check["ok"] is True
        assert check["degraded"] is True
        assert "broken-variant" not in check["detail"]  # the probe is public; a variant is not
        assert "1 organisation variant(s)" in check["detail"]


async def test_a_damaged_default_is_a_503_and_takes_the_instance_out(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    organisation = await create_organisation(client)
    async with damaged(backend, DEFAULT):
        analysis = await client.get(f"/v1/organisations/{organisation['id']}/gap-analysis")
        assert_problem(analysis, 503, "SERVICE_UNAVAILABLE")
        report = await client.get(f"/v1/organisations/{organisation['id']}/report")
        assert report.status_code == 503, report.text
        created = await client.post(
            f"/v1/organisations/{organisation['id']}/assets",
            json={"area": "data", "name": "X", "maturity": 2, "capabilityKey": "data-platform"},
        )
        assert_problem(created, 503, "SERVICE_UNAVAILABLE")
        listed = await client.get("/v1/reference-models")
        assert listed.status_code == 200
        assert DEFAULT not in [m["version"] for m in listed.json()["items"]]
        status = await client.get("/_status")
        assert status.status_code == 503
        check = next(c for c in status.json()["checks"] if c["name"] == "referenceModel")
        assert check["ok"] is False
        assert "cannot be read" in check["detail"]
    # Repaired (by the operator), it serves again.
    await create_asset(client, organisation["id"], capabilityKey="data-platform")
    assert (await client.get("/_status")).json()["status"] == "ok"
