"""Idempotency-Key on creates: a retried POST returns the first response, never a duplicate."""

import asyncio

import httpx

from tests.conftest import Backend, snapshot
from tests.helpers import assert_problem, create_organisation

BODY = {"name": "Retry Trust", "organisationType": "trust", "odsCode": "RX1"}


async def count_organisations(client: httpx.AsyncClient) -> int:
    return len((await client.get("/v1/organisations")).json()["items"])


async def test_a_retry_replays_the_first_response(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "5e0b7f1a-retry-1"}
    first = await client.post("/v1/organisations", json=BODY, headers=headers)
    again = await client.post("/v1/organisations", json=BODY, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await count_organisations(client) == 1


async def test_a_key_reused_with_another_body_is_refused(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    headers = {"Idempotency-Key": "k-2"}
    await client.post("/v1/organisations", json=BODY, headers=headers)
    before = await snapshot(backend.engine)
    other = await client.post("/v1/organisations", json=BODY | {"name": "Another"}, headers=headers)
    problem = assert_problem(other, 422, "VALIDATION_FAILED")
    assert problem["errors"][0]["pointer"] == "Idempotency-Key"
    assert await snapshot(backend.engine) == before


async def test_a_failed_create_releases_its_key(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client)
    url = f"/v1/organisations/{trust['id']}/assets"
    headers = {"Idempotency-Key": "asset-attempt"}
    wrong = {"area": "data", "name": "Platform", "maturity": 3, "capabilityKey": "no-such-key"}
    assert_problem(await client.post(url, json=wrong, headers=headers), 422, "VALIDATION_FAILED")
    right = wrong | {"capabilityKey": "data-platform"}
    created = await client.post(url, json=right, headers=headers)
    assert created.status_code == 201
    replayed = await client.post(url, json=right, headers=headers)
    assert replayed.json()["id"] == created.json()["id"]
    assets = (await client.get(url)).json()["items"]
    assert [a["id"] for a in assets] == [created.json()["id"]]


async def test_concurrent_requests_with_one_key_create_once(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *(client.post("/v1/organisations", json=BODY, headers=headers) for _ in range(6))
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}
    assert statuses.count(201) >= 1
    ids = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(ids) == 1
    for response in responses:
        if response.status_code == 409:
            assert response.headers["retry-after"] == "1"
    assert await count_organisations(client) == 1


async def test_keys_are_per_endpoint_and_optional(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "shared-key"}
    org = await client.post("/v1/organisations", json=BODY, headers=headers)
    asset = await client.post(
        f"/v1/organisations/{org.json()['id']}/assets",
        json={"area": "data", "name": "Platform", "maturity": 1},
        headers=headers,
    )
    assert asset.status_code == 201
    assert "idempotent-replayed" not in asset.headers
    plain = [
        await client.post("/v1/organisations", json={"name": "Twin", "organisationType": "trust"})
        for _ in range(2)
    ]
    assert plain[0].json()["id"] != plain[1].json()["id"]
    bad = await client.post("/v1/organisations", json=BODY, headers={"Idempotency-Key": ""})
    assert_problem(bad, 422, "VALIDATION_FAILED")
