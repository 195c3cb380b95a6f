"""Idempotency-Key on creates: a retried POST returns the first response, never a duplicate."""

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
from fastapi.routing import APIRoute
from sqlalchemy import event
from starlette.requests import Request

from app.config import Settings
from app.http.content import EARLY_ANSWER, JsonBodyRoute
from app.http.idempotency import Replay, Stored, replay_response
from app.main import create_app
from tests.conftest import Backend, QueryCounter, snapshot
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


# A client library's retries: re-serialised bodies, deleted results, interrupted creates.

RETRY_BODY = {
    "name": "Retry Trust",
    "organisationType": "trust",
    "odsCode": "RX7",
    "region": "North",
}


async def test_the_same_json_with_keys_in_another_order_is_a_replay(
    client: httpx.AsyncClient,
) -> None:
    """A retry may be re-serialised by a client library (keys reordered, spacing changed):
    it is the same request. Today the fingerprint is of the raw bytes: 422 "different body"."""
    headers = {"Idempotency-Key": "reordered-1", "Content-Type": "application/json"}
    first = await client.post(
        "/v1/organisations", content=b'{"name":"Retry Trust","organisationType":"trust"}',
        headers=headers,
    )  # fmt: skip
    again = await client.post(
        "/v1/organisations",
        content=b'{ "organisationType": "trust",\n  "name": "Retry Trust" }',
        headers=headers,
    )
    assert first.status_code == 201, first.text
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()


async def test_a_replay_after_the_resource_was_deleted_says_it_is_gone(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """Expected behaviour, chosen for the client: the retry of a create whose resource has
    since been deleted answers 410 Gone (a problem), and creates nothing.

    Why not forget the key and create again: the client is retrying a request that did
    succeed; someone deleted the result on purpose, and a retry must not bring it back. Why
    not replay the 201: its Location now answers 404, so the client would believe it holds a
    resource that does not exist. Today: 201 with the dead Location."""
    headers = {"Idempotency-Key": "deleted-then-retried"}
    created = await client.post("/v1/organisations", json=RETRY_BODY, headers=headers)
    assert created.status_code == 201, created.text
    deleted = await client.delete(created.headers["location"], headers={"If-Match": "*"})
    assert deleted.status_code == 204, deleted.text
    before = await snapshot(backend.engine)

    retried = await client.post("/v1/organisations", json=RETRY_BODY, headers=headers)

    assert retried.status_code == 410, retried.text
    assert retried.headers["content-type"] == "application/problem+json"
    assert retried.json()["status"] == 410
    assert await snapshot(backend.engine) == before


async def test_an_interrupted_create_releases_its_key_at_once(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """A create cancelled in the middle (a server-side timeout, a shutdown, a client that
    went away under a server that cancels) must release its key, so the client's immediate
    retry proceeds. Today the release runs unshielded inside the cancelled scope, so it is
    cancelled too: the key stays "in progress" and the retry is 409 for two minutes.

    The request runs in this task (ASGITransport awaits the app directly); the listener
    cancels its scope as the organisation's INSERT is sent, i.e. mid-create, after the key
    was claimed. anyio's cancellation is level-triggered, as in Starlette's task groups: every
    later await inside the scope is cancelled as well, unless shielded."""
    headers = {"Idempotency-Key": "interrupted-1"}
    scope = anyio.CancelScope()

    def cancel_mid_create(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO ORGANISATION"):
            scope.cancel()

    for engine in backend.engines:
        event.listen(engine, "before_cursor_execute", cancel_mid_create)
    try:
        with scope:
            await client.post("/v1/organisations", json=RETRY_BODY, headers=headers)
    finally:
        for engine in backend.engines:
            event.remove(engine, "before_cursor_execute", cancel_mid_create)
    assert scope.cancelled_caught, "the create was not interrupted"

    retried = await client.post("/v1/organisations", json=RETRY_BODY, headers=headers)

    assert retried.status_code == 201, retried.text
    listed = (await client.get("/v1/organisations", params={"odsCode": "RX7"})).json()["items"]
    assert [o["id"] for o in listed] == [retried.json()["id"]]


async def test_a_keyed_create_does_not_purge_expired_keys(
    client: httpx.AsyncClient, queries: QueryCounter
) -> None:
    """Clearing expired keys is housekeeping: today every keyed POST also runs a DELETE over
    the whole table, adding a write to each create's path."""
    response = await client.post(
        "/v1/organisations", json=RETRY_BODY, headers={"Idempotency-Key": "no-purge"}
    )
    assert response.status_code == 201, response.text
    deletes = [s for s in queries.statements if s.lstrip().upper().startswith("DELETE")]
    assert deletes == []


async def test_a_replay_is_the_first_answer_byte_for_byte(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "bytes-1"}
    body = BODY | {"name": "Zoë's Trust <Ünïcode>"}
    first = await client.post("/v1/organisations", json=body, headers=headers)
    again = await client.post("/v1/organisations", json=body, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]


async def test_a_replayed_number_is_written_as_pydantic_wrote_it() -> None:
    # The standard library writes 0.00001 as 1e-05; the first answer (pydantic-core) did not.
    stored = Stored(status_code=201, body={"score": 0.00001}, location=None, etag=None)
    answer = await replay_response(Request({"type": "http"}), Replay(stored))
    assert answer.body == b'{"score":0.00001}'
    assert answer.headers["content-type"] == "application/json"


async def test_a_replay_reads_its_key_once_and_writes_nothing(
    client: httpx.AsyncClient, queries: QueryCounter
) -> None:
    """A finished key is replayed from one read of its record (with whether the asset still
    exists), not through the claim's write transaction: that made a replay cost four times a
    GET of the asset."""
    trust = await create_organisation(client)
    url = f"/v1/organisations/{trust['id']}/assets"
    body = {"area": "data", "name": "Replayed", "maturity": 2, "tags": ["b", "a"]}
    headers = {"Idempotency-Key": "one-read"}
    first = await client.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    queries.statements.clear()

    again = await client.post(url, json=body, headers=headers)

    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]
    # One statement (SQLite's reads begin a deferred transaction; no write lock is taken).
    made = [s for s in queries.statements if s != "BEGIN"]
    assert len(made) == 1, made
    assert made[0].lstrip().upper().startswith("SELECT")
    assert "idempotency_record" in made[0]
    listed = (await client.get(url)).json()["items"]
    assert [a["id"] for a in listed] == [first.json()["id"]]


# A replay is answered before FastAPI validates the body (app.http.idempotency.replays), but
# never before the caller is authenticated, nor before the body is checked as JSON.


async def test_a_replay_still_needs_the_callers_credentials(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client)
    url = f"/v1/organisations/{trust['id']}/assets"
    body = {"area": "data", "name": "Once", "maturity": 2}
    headers = {"Idempotency-Key": "credentials-1"}
    first = await client.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    anonymous = client.build_request("POST", url, json=body, headers=headers)
    del anonymous.headers["Authorization"]
    assert_problem(await client.send(anonymous), 401, "UNAUTHENTICATED")
    wrong = await client.post(url, json=body, headers=headers | {"Authorization": "Bearer nope"})
    assert_problem(wrong, 401, "UNAUTHENTICATED")
    again = await client.post(url, json=body, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content


async def test_a_replay_still_needs_a_json_body(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "json-only"}
    first = await client.post("/v1/organisations", json=BODY, headers=headers)
    assert first.status_code == 201, first.text
    as_text = await client.post(
        "/v1/organisations",
        content=json.dumps(BODY).encode(),
        headers=headers | {"Content-Type": "text/plain"},
    )
    assert_problem(as_text, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_every_create_that_takes_a_key_answers_its_replays_early() -> None:
    """A create whose endpoint is not marked (or whose route does not run the mark) would still
    answer its replays, through the unit of work and the body's validation: slower."""
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    keyed = [
        route
        for route in _routes(app.routes)
        if any(p.alias == "Idempotency-Key" for p in route.dependant.header_params)
    ]
    assert len(keyed) >= 6
    for route in keyed:
        assert isinstance(route, JsonBodyRoute), route.operation_id
        assert hasattr(route.endpoint, EARLY_ANSWER), route.operation_id


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router, resolved when served
            yield from _routes(route.original_router.routes)
