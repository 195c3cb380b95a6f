"""Assets: the full contract, concurrency control, filters and reference-model keys."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from tests.conftest import Backend, QueryCounter, snapshot
from tests.helpers import assert_problem, create_asset, create_organisation

EVERY_FIELD: dict[str, Any] = {
    "area": "data",
    "capabilityKey": "data-platform",
    "name": " West Yorkshire analytics platform ",
    "description": "Linked primary and acute data, refreshed daily.",
    "maturity": 3,
    "confidence": "peer_reviewed",
    "evidence": [{"title": "Platform DPIA", "url": "https://example.nhs.uk/dpia.pdf"}],
    "owner": "Chief Data Officer",
    "tags": ["Shared-Care", " analytics ", "shared-care", "AI"],
    "sharedWithMembers": True,
    "reviewedBy": "Bradford Teaching Hospitals data team",
    "reviewedAt": "2024-05-01T09:00:00Z",
}


@asynccontextmanager
async def writes_nothing(backend: Backend) -> AsyncIterator[None]:
    """Every table is the same after the block as before it."""
    before = await snapshot(backend.engine)
    yield
    assert await snapshot(backend.engine) == before


def invalid(response: httpx.Response, pointer: str) -> None:
    """A 422 problem whose errors[] names the field at ``pointer``."""
    problem = assert_problem(response, 422, "VALIDATION_FAILED")
    assert pointer in [issue["pointer"] for issue in problem["errors"]], problem


async def asset_ids(client: httpx.AsyncClient, organisation_id: str, query: str) -> set[str]:
    response = await client.get(f"/v1/organisations/{organisation_id}/assets?{query}")
    assert response.status_code == 200, response.text
    return {asset["id"] for asset in response.json()["items"]}


async def test_create_and_read_every_field(client: httpx.AsyncClient) -> None:
    org = await create_organisation(client)
    response = await client.post(f"/v1/organisations/{org['id']}/assets", json=EVERY_FIELD)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["organisationId"] == org["id"]
    assert body["area"] == "data"
    assert body["name"] == "West Yorkshire analytics platform"
    assert body["capabilityKey"] == "data-platform"
    assert body["description"] == EVERY_FIELD["description"]
    assert body["maturity"] == 3
    assert body["confidence"] == "peer_reviewed"
    assert body["evidence"] == EVERY_FIELD["evidence"]
    assert body["owner"] == "Chief Data Officer"
    assert body["tags"] == ["ai", "analytics", "shared-care"]
    assert body["sharedWithMembers"] is True
    assert body["reviewedAt"] == "2024-05-01T09:00:00Z"
    assert body["reviewedBy"] == "Bradford Teaching Hospitals data team"
    assert body["createdAt"].endswith("Z")
    assert body["updatedAt"].endswith("Z")
    assert body["version"] == 1
    assert response.headers["etag"] == 'W/"1"'
    location = response.headers["location"]
    assert location.endswith(f"/v1/assets/{body['id']}")
    fetched = await client.get(location)
    assert fetched.status_code == 200
    assert fetched.json() == body
    assert fetched.headers["etag"] == 'W/"1"'
    listed = (await client.get(f"/v1/organisations/{org['id']}/assets")).json()
    assert listed["items"] == [body]


async def test_defaults_of_a_minimal_asset(client: httpx.AsyncClient) -> None:
    org = await create_organisation(client)
    asset = await create_asset(client, org["id"], area="technology", maturity=0)
    assert asset["confidence"] == "self_assessed"
    assert asset["maturity"] == 0
    assert asset["evidence"] == []
    assert asset["tags"] == []
    assert asset["sharedWithMembers"] is False
    for optional in ("capabilityKey", "description", "owner", "reviewedAt"):
        assert asset[optional] is None


async def test_naive_reviewed_at_is_refused(client: httpx.AsyncClient, backend: Backend) -> None:
    org = await create_organisation(client)
    body = {"area": "data", "name": "x", "maturity": 1, "reviewedAt": "2024-05-01T09:00:00"}
    async with writes_nothing(backend):
        response = await client.post(f"/v1/organisations/{org['id']}/assets", json=body)
        invalid(response, "#/reviewedAt")


async def test_reviewed_at_is_returned_in_utc(client: httpx.AsyncClient) -> None:
    org = await create_organisation(client)
    created = await create_asset(client, org["id"], reviewedAt="2024-05-01T10:00:00+01:00")
    fetched = (await client.get(f"/v1/assets/{created['id']}")).json()
    assert fetched["reviewedAt"] == "2024-05-01T09:00:00Z"
    assert created == fetched


async def test_patch_and_delete_need_the_current_version(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    org = await create_organisation(client)
    asset = await create_asset(client, org["id"], name="Before")
    url = f"/v1/assets/{asset['id']}"
    async with writes_nothing(backend):
        missing = await client.patch(url, json={"name": "x"})
        assert_problem(missing, 428, "PRECONDITION_REQUIRED")
        stale = await client.patch(url, json={"name": "x"}, headers={"If-Match": 'W/"7"'})
        assert_problem(stale, 412, "PRECONDITION_FAILED")
        assert stale.headers["etag"] == 'W/"1"'
    updated = await client.patch(
        url, json={"name": "After", "maturity": 4}, headers={"If-Match": 'W/"1"'}
    )
    assert updated.status_code == 200, updated.text
    assert updated.headers["etag"] == 'W/"2"'
    after = updated.json()
    assert (after["name"], after["maturity"], after["version"]) == ("After", 4, 2)
    assert after["createdAt"] == asset["createdAt"]
    assert after["updatedAt"] > asset["updatedAt"]
    fetched = await client.get(url)
    assert fetched.json() == after
    assert fetched.headers["etag"] == 'W/"2"'
    async with writes_nothing(backend):
        assert_problem(await client.delete(url), 428, "PRECONDITION_REQUIRED")
        stale = await client.delete(url, headers={"If-Match": 'W/"1"'})
        assert_problem(stale, 412, "PRECONDITION_FAILED")
    deleted = await client.delete(url, headers={"If-Match": 'W/"2"'})
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert "content-type" not in deleted.headers  # nothing to describe
    assert_problem(await client.get(url), 404, "NOT_FOUND")
    assert_problem(await client.delete(url, headers={"If-Match": "*"}), 404, "NOT_FOUND")
    assert await asset_ids(client, org["id"], "") == set()


async def test_patch_tags_replaces_the_set_and_null_clears_optional_fields(
    client: httpx.AsyncClient,
) -> None:
    org = await create_organisation(client)
    asset = await create_asset(client, org["id"], tags=["old", "keep"], description="d", owner="o")
    url = f"/v1/assets/{asset['id']}"
    response = await client.patch(
        url,
        json={"tags": ["Keep", "NEW", "new"], "description": None, "owner": None},
        headers={"If-Match": 'W/"1"'},
    )
    assert response.status_code == 200, response.text
    assert response.json()["tags"] == ["keep", "new"]
    fetched = (await client.get(url)).json()
    assert fetched["tags"] == ["keep", "new"]
    assert (fetched["description"], fetched["owner"]) == (None, None)
    untouched = await client.patch(url, json={"maturity": 1}, headers={"If-Match": 'W/"2"'})
    assert untouched.json()["tags"] == ["keep", "new"]
    assert await asset_ids(client, org["id"], "tag=old") == set()
    assert await asset_ids(client, org["id"], "tag=new") == {asset["id"]}
    emptied = await client.patch(url, json={"tags": []}, headers={"If-Match": 'W/"3"'})
    assert emptied.json()["tags"] == []


@pytest.mark.parametrize(
    "field", ["area", "name", "maturity", "confidence", "evidence", "tags", "sharedWithMembers"]
)
async def test_patch_null_on_a_required_field_is_refused(
    client: httpx.AsyncClient, backend: Backend, field: str
) -> None:
    org = await create_organisation(client)
    asset = await create_asset(client, org["id"], tags=["x"])
    async with writes_nothing(backend):
        response = await client.patch(
            f"/v1/assets/{asset['id']}", json={field: None}, headers={"If-Match": 'W/"1"'}
        )
        invalid(response, f"#/{field}")


async def test_each_filter_returns_exactly_the_matching_assets(client: httpx.AsyncClient) -> None:
    org = await create_organisation(client)
    other = await create_organisation(client, name="Other")
    platform = await create_asset(
        client, org["id"], capabilityKey="data-platform", maturity=4, tags=["AI", "core"]
    )
    governance = await create_asset(client, org["id"], maturity=1, tags=["core"])
    servers = await create_asset(client, org["id"], area="technology", maturity=2)
    await create_asset(client, other["id"], capabilityKey="data-platform", tags=["ai"])
    p, g, s = platform["id"], governance["id"], servers["id"]

    async def ids(query: str) -> set[str]:
        return await asset_ids(client, org["id"], query)

    assert await ids("") == {p, g, s}
    assert await ids("area=data") == {p, g}
    assert await ids("area=technology") == {s}
    assert await ids("area=improvement") == set()
    assert await ids("capabilityKey=data-platform") == {p}
    assert await ids("capabilityKey=information-governance") == set()
    assert await ids("minMaturity=2") == {p, s}
    assert await ids("maxMaturity=2") == {g, s}
    assert await ids("minMaturity=2&maxMaturity=2") == {s}
    assert await ids("minMaturity=0&maxMaturity=4") == {p, g, s}
    assert await ids("tag=ai") == {p}
    assert await ids("tag=AI") == {p}
    assert await ids("tag=core") == {p, g}
    assert await ids("tag=none") == set()
    assert await ids("tag=core&area=data&minMaturity=3") == {p}


async def test_min_maturity_above_max_is_refused(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    org = await create_organisation(client)
    async with writes_nothing(backend):
        response = await client.get(
            f"/v1/organisations/{org['id']}/assets?minMaturity=3&maxMaturity=1"
        )
        invalid(response, "minMaturity")


async def test_assets_of_an_unknown_organisation_are_not_found(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    url = f"/v1/organisations/{uuid.uuid4()}/assets"
    async with writes_nothing(backend):
        created = await client.post(url, json={"area": "data", "name": "x", "maturity": 1})
        assert_problem(created, 404, "NOT_FOUND")
        assert_problem(await client.get(url), 404, "NOT_FOUND")
        assert_problem(await client.get(f"/v1/assets/{uuid.uuid4()}"), 404, "NOT_FOUND")
        missing = await client.patch(
            f"/v1/assets/{uuid.uuid4()}", json={"name": "x"}, headers={"If-Match": "*"}
        )
        assert_problem(missing, 404, "NOT_FOUND")


async def test_list_pages_through_every_asset_once(client: httpx.AsyncClient) -> None:
    org = await create_organisation(client)
    created = [(await create_asset(client, org["id"], name=f"A{i}"))["id"] for i in range(5)]
    seen: list[str] = []
    url: str | None = f"/v1/organisations/{org['id']}/assets?limit=2"
    while url:
        response = await client.get(url)
        page = response.json()
        assert len(page["items"]) <= 2
        seen += [asset["id"] for asset in page["items"]]
        url = page["links"]["next"]
        if url:
            assert response.headers["link"] == f'<{url}>; rel="next"'
    assert seen == created


@pytest.mark.parametrize(
    ("area", "key"),
    [
        ("data", "no-such-capability"),
        ("data", "digital-skills"),  # a technology capability
        ("technology", "data-platform"),  # a data capability
        ("improvement", "learning-community"),  # a learning_communities capability
    ],
)
async def test_capability_key_must_exist_in_the_asset_area(
    client: httpx.AsyncClient, backend: Backend, area: str, key: str
) -> None:
    org = await create_organisation(client)
    body = {"area": area, "name": "x", "maturity": 1, "capabilityKey": key}
    async with writes_nothing(backend):
        response = await client.post(f"/v1/organisations/{org['id']}/assets", json=body)
        problem = assert_problem(response, 422, "VALIDATION_FAILED")
        assert problem["errors"][0]["pointer"] == "#/capabilityKey"


async def test_patch_keeps_capability_key_and_area_consistent(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    org = await create_organisation(client)
    asset = await create_asset(client, org["id"], capabilityKey="data-platform")
    url = f"/v1/assets/{asset['id']}"
    async with writes_nothing(backend):
        for change in (
            {"area": "technology"},
            {"capabilityKey": "digital-skills"},
            {"capabilityKey": "no-such-capability"},
        ):
            response = await client.patch(url, json=change, headers={"If-Match": 'W/"1"'})
            problem = assert_problem(response, 422, "VALIDATION_FAILED")
            assert problem["errors"][0]["pointer"] == "#/capabilityKey"
    both = {"area": "technology", "capabilityKey": "digital-skills"}
    moved = await client.patch(url, json=both, headers={"If-Match": 'W/"1"'})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["area"], moved.json()["capabilityKey"]) == ("technology", "digital-skills")
    cleared = await client.patch(
        url, json={"area": "data", "capabilityKey": None}, headers={"If-Match": 'W/"2"'}
    )
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["area"], cleared.json()["capabilityKey"]) == ("data", None)


def _after_the_asset(statements: list[str]) -> list[str]:
    """What a write sent after its statement on the asset row (the one that takes its
    organisation's revision lock until COMMIT)."""
    on_asset = [
        i
        for i, s in enumerate(statements)
        if s.lstrip()
        .upper()
        .startswith(("INSERT INTO ASSET ", "UPDATE ASSET ", "DELETE FROM ASSET "))
    ]
    assert len(on_asset) == 1, statements
    return [
        s.lstrip().split()[0].upper() + " " + s.split()[2] for s in statements[on_asset[0] + 1 :]
    ]


async def test_writes_leave_the_asset_row_until_just_before_commit(
    client: httpx.AsyncClient, queries: QueryCounter
) -> None:
    """The asset's own statement fires the trigger that bumps its organisation's revision and
    holds that row's lock until COMMIT: every other writer of the organisation waits on it.
    Nothing but the write's remaining inserts (its tags, its audit event) follows it."""
    trust = await create_organisation(client)
    queries.statements.clear()
    created = await create_asset(client, trust["id"], tags=["b", "a"])
    assert _after_the_asset(queries.statements) == ["INSERT asset_tag"]

    queries.statements.clear()
    changed = await client.patch(
        f"/v1/assets/{created['id']}",
        json={"name": "Renamed", "tags": ["c"]},
        headers={"If-Match": f'W/"{created["version"]}"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["tags"] == ["c"]
    assert sorted(_after_the_asset(queries.statements)) == [
        "INSERT asset_tag",
        "INSERT audit_event",
    ]

    queries.statements.clear()
    gone = await client.delete(
        f"/v1/assets/{created['id']}", headers={"If-Match": changed.headers["etag"]}
    )
    assert gone.status_code == 204
    assert _after_the_asset(queries.statements) == []
    trail = (await client.get("/v1/audit-events", params={"resourceId": created["id"]})).json()
    assert [e["action"] for e in trail["items"]] == ["create", "update", "delete"]
