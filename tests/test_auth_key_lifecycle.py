"""API keys over HTTP, as an admin uses them: a key is revoked once however many revocations
race, and a key made through the API always expires, within the configured maximum."""

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from app.main import create_app
from tests.auth_helpers import make_key
from tests.conftest import Backend, ServerUrl, admin_headers, settings_for, snapshot
from tests.helpers import assert_problem, create_organisation

RACERS = 8


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def revocation_events(http: httpx.AsyncClient, key_id: str) -> list[dict[str, Any]]:
    response = await http.get(
        "/v1/audit-events",
        params={"resourceType": "api_key", "resourceId": key_id, "action": "update"},
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


@pytest.fixture
def server(shared_server: ServerUrl) -> ServerUrl:
    """A real server, none of this module's own (no settings, no measure of its process): the
    one the worker shares (tests/conftest.py)."""
    return shared_server


async def test_concurrent_revocations_revoke_once_and_keep_the_first_time(
    backend: Backend, client: httpx.AsyncClient, server: str
) -> None:
    """Several admins (or one retrying client) revoke the same key at the same moment, through
    a real server: every answer is 204, one audit event is written, and the key's revokedAt
    is the time that event recorded, not overwritten by the later ones."""
    row, _ = await make_key(backend.app.state.sessions, "reader", name="leaked")
    url = f"/v1/api-keys/{row.id}"
    headers = {"Authorization": client.headers["Authorization"]}
    # One connection each, so the requests reach the server together rather than in turn.
    limits = httpx.Limits(max_connections=RACERS, max_keepalive_connections=RACERS)
    async with httpx.AsyncClient(
        base_url=server, headers=headers, limits=limits, timeout=30
    ) as http:
        answers = await asyncio.gather(*(http.delete(url) for _ in range(RACERS)))
        assert [a.status_code for a in answers] == [204] * RACERS, [a.text for a in answers]

        events = await revocation_events(http, str(row.id))
        assert len(events) == 1, events
        (change,) = events[0]["changes"]
        assert (change["field"], change["before"]) == ("revoked_at", None)
        revoked_at = (await http.get(url)).json()["revokedAt"]
        assert moment(revoked_at) == moment(change["after"])

        # Later, revoking again is the same 204 and writes nothing.
        before = await snapshot(backend.engine)
        again = await http.delete(url)
        assert again.status_code == 204, again.text
        assert await snapshot(backend.engine) == before
        assert (await http.get(url)).json()["revokedAt"] == revoked_at


async def test_a_key_made_through_the_api_expires_at_the_maximum_by_default(
    client: httpx.AsyncClient,
) -> None:
    for body in ({"name": "omitted", "role": "reader"}, {"name": "null", "expiresAt": None}):
        created = await client.post("/v1/api-keys", json={"role": "reader"} | body)
        assert created.status_code == 201, created.text
        key = created.json()
        assert moment(key["expiresAt"]) - moment(key["createdAt"]) == timedelta(days=365)
        stored = (await client.get(created.headers["location"])).json()
        assert stored["expiresAt"] == key["expiresAt"]


async def test_an_expiry_beyond_the_maximum_is_refused(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics = await create_organisation(client, name="WY ICS", organisationType="ics")
    too_late = datetime.now().astimezone() + timedelta(days=365, minutes=5)
    before = await snapshot(backend.engine)

    refused = await client.post(
        "/v1/api-keys",
        json={
            "name": "portal",
            "role": "editor",
            "organisationId": ics["id"],
            "expiresAt": too_late.isoformat(),
        },
    )

    problem = assert_problem(refused, 422, "VALIDATION_FAILED")
    assert "365 days" in problem["detail"]
    (issue,) = problem["errors"]
    assert issue["pointer"] == "#/expiresAt"
    assert "365 days" in issue["message"]
    assert await snapshot(backend.engine) == before

    within = too_late - timedelta(minutes=10)
    created = await client.post(
        "/v1/api-keys",
        json={"name": "portal", "role": "editor", "expiresAt": within.isoformat()},
    )
    assert created.status_code == 201, created.text
    assert moment(created.json()["expiresAt"]) == within


async def test_the_maximum_lifetime_is_a_setting(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    app = create_app(settings_for(backend.url, api_key_max_lifetime_days=30))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost", headers=await admin_headers(app)
        ) as http:
            created = await http.post("/v1/api-keys", json={"name": "short", "role": "reader"})
            assert created.status_code == 201, created.text
            key = created.json()
            assert moment(key["expiresAt"]) - moment(key["createdAt"]) == timedelta(days=30)
            later = datetime.now().astimezone() + timedelta(days=31)
            refused = await http.post(
                "/v1/api-keys",
                json={"name": "long", "role": "reader", "expiresAt": later.isoformat()},
            )
            problem = assert_problem(refused, 422, "VALIDATION_FAILED")
            assert "30 days" in problem["errors"][0]["message"]
