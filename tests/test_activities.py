"""Activities: the full contract, dates in order, links to assets up the hierarchy, filters."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from tests.conftest import Backend, snapshot
from tests.helpers import assert_problem, create_activity, create_asset, create_organisation

ACTIVITY_TYPES = ["improvement_project", "evaluation", "training", "learning_community"]
ACTIVITY_TYPES += ["data_collection", "research", "other"]
STATUSES = ["planned", "active", "completed", "stopped"]


@asynccontextmanager
async def writes_nothing(backend: Backend) -> AsyncIterator[None]:
    """Every table is the same after the block as before it."""
    before = await snapshot(backend.engine)
    yield
    assert await snapshot(backend.engine) == before


def pointers(response: httpx.Response) -> list[str]:
    """The errors[] pointers of a 422 problem."""
    problem = assert_problem(response, 422, "VALIDATION_FAILED")
    return [issue["pointer"] for issue in problem["errors"]]


async def tree(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """An ICS with two trusts, and a ward under the first trust."""
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    trust = await create_organisation(client, name="Trust", parentId=ics["id"])
    sibling = await create_organisation(client, name="Sibling", parentId=ics["id"])
    ward = await create_organisation(
        client, name="Ward", organisationType="other", parentId=trust["id"]
    )
    return {"ics": ics, "trust": trust, "sibling": sibling, "ward": ward}


async def test_create_and_read_every_field(client: httpx.AsyncClient) -> None:
    org = await create_organisation(client)
    asset = await create_asset(client, org["id"])
    body = {
        "area": "improvement",
        "capabilityKey": "frontline-improvement-support",
        "title": " Reducing falls on elderly care wards ",
        "activityType": "improvement_project",
        "status": "active",
        "startDate": "2024-04-01",
        "endDate": "2025-03-31",
        "assetIds": [asset["id"], asset["id"]],
        "goal": "Cut inpatient falls with harm by 20% in a year",
        "outcome": "Falls down 24%",
    }
    response = await client.post(f"/v1/organisations/{org['id']}/activities", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    expected = body | {"title": "Reducing falls on elderly care wards", "assetIds": [asset["id"]]}
    assert {key: created[key] for key in body} == expected
    assert created["organisationId"] == org["id"]
    assert created["version"] == 1
    assert created["createdAt"].endswith("Z")
    assert response.headers["etag"] == 'W/"1"'
    location = response.headers["location"]
    assert location.endswith(f"/v1/activities/{created['id']}")
    fetched = await client.get(location)
    assert fetched.json() == created
    assert fetched.headers["etag"] == 'W/"1"'
    listed = (await client.get(f"/v1/organisations/{org['id']}/activities")).json()
    assert listed["items"] == [created]


async def test_defaults_of_a_minimal_activity(client: httpx.AsyncClient) -> None:
    org = await create_organisation(client)
    activity = await create_activity(client, org["id"])
    assert activity["status"] == "planned"
    assert activity["assetIds"] == []
    for optional in ("capabilityKey", "startDate", "endDate", "goal", "outcome"):
        assert activity[optional] is None


async def test_patch_and_delete_need_the_current_version(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    org = await create_organisation(client)
    activity = await create_activity(client, org["id"], goal="g")
    url = f"/v1/activities/{activity['id']}"
    async with writes_nothing(backend):
        assert_problem(await client.patch(url, json={}), 428, "PRECONDITION_REQUIRED")
        stale = await client.patch(url, json={"status": "active"}, headers={"If-Match": 'W/"2"'})
        assert_problem(stale, 412, "PRECONDITION_FAILED")
        assert stale.headers["etag"] == 'W/"1"'
    updated = await client.patch(
        url, json={"status": "completed", "goal": None}, headers={"If-Match": 'W/"1"'}
    )
    assert updated.status_code == 200, updated.text
    assert updated.headers["etag"] == 'W/"2"'
    after = updated.json()
    assert (after["status"], after["goal"], after["version"]) == ("completed", None, 2)
    assert after["title"] == activity["title"]
    assert (await client.get(url)).json() == after
    async with writes_nothing(backend):
        assert_problem(await client.delete(url), 428, "PRECONDITION_REQUIRED")
        stale = await client.delete(url, headers={"If-Match": 'W/"1"'})
        assert_problem(stale, 412, "PRECONDITION_FAILED")
    assert (await client.delete(url, headers={"If-Match": 'W/"2"'})).status_code == 204
    assert_problem(await client.get(url), 404, "NOT_FOUND")


@pytest.mark.parametrize("field", ["area", "title", "activityType", "status", "assetIds"])
async def test_patch_null_on_a_required_field_is_refused(
    client: httpx.AsyncClient, backend: Backend, field: str
) -> None:
    org = await create_organisation(client)
    activity = await create_activity(client, org["id"])
    async with writes_nothing(backend):
        response = await client.patch(
            f"/v1/activities/{activity['id']}", json={field: None}, headers={"If-Match": "*"}
        )
        assert f"#/{field}" in pointers(response)


async def test_end_date_before_start_is_refused_on_create(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    org = await create_organisation(client)
    url = f"/v1/organisations/{org['id']}/activities"
    base = {"area": "improvement", "title": "t", "activityType": "training"}
    async with writes_nothing(backend):
        response = await client.post(
            url, json=base | {"startDate": "2024-04-02", "endDate": "2024-04-01"}
        )
        assert_problem(response, 422, "VALIDATION_FAILED")
    same_day = await client.post(
        url, json=base | {"startDate": "2024-04-01", "endDate": "2024-04-01"}
    )
    assert same_day.status_code == 201, same_day.text


async def test_end_date_before_start_on_create_points_at_end_date(
    client: httpx.AsyncClient,
) -> None:
    org = await create_organisation(client)
    body = {"area": "improvement", "title": "t", "activityType": "training"}
    dates = {"startDate": "2024-04-02", "endDate": "2024-04-01"}
    response = await client.post(f"/v1/organisations/{org['id']}/activities", json=body | dates)
    assert "#/endDate" in pointers(response)


@pytest.mark.parametrize(
    "change",
    [
        {"endDate": "2024-03-31"},
        {"startDate": "2024-07-01"},
        {"startDate": "2024-05-01", "endDate": "2024-04-30"},
    ],
    ids=["end-only", "start-only", "both"],
)
async def test_end_date_before_start_is_refused_on_patch(
    client: httpx.AsyncClient, backend: Backend, change: dict[str, str]
) -> None:
    org = await create_organisation(client)
    activity = await create_activity(
        client, org["id"], startDate="2024-04-01", endDate="2024-06-30"
    )
    url = f"/v1/activities/{activity['id']}"
    async with writes_nothing(backend):
        response = await client.patch(url, json=change, headers={"If-Match": 'W/"1"'})
        assert set(pointers(response)) & {"#/startDate", "#/endDate"}
    moved = await client.patch(
        url, json={"startDate": "2024-07-01", "endDate": None}, headers={"If-Match": 'W/"1"'}
    )
    assert (moved.json()["startDate"], moved.json()["endDate"]) == ("2024-07-01", None)


async def test_asset_ids_may_name_own_and_ancestor_assets(client: httpx.AsyncClient) -> None:
    orgs = await tree(client)
    own = await create_asset(client, orgs["trust"]["id"])
    shared = await create_asset(client, orgs["ics"]["id"], sharedWithMembers=True)
    activity = await create_activity(client, orgs["ward"]["id"], assetIds=[shared["id"]])
    assert activity["assetIds"] == [shared["id"]]
    linked = await create_activity(client, orgs["trust"]["id"], assetIds=[own["id"], shared["id"]])
    assert set(linked["assetIds"]) == {own["id"], shared["id"]}
    url = f"/v1/activities/{linked['id']}"
    assert set((await client.get(url)).json()["assetIds"]) == {own["id"], shared["id"]}
    replaced = await client.patch(url, json={"assetIds": [own["id"]]}, headers={"If-Match": "*"})
    assert replaced.json()["assetIds"] == [own["id"]]
    assert (await client.get(url)).json()["assetIds"] == [own["id"]]


@pytest.mark.parametrize("owner", ["sibling", "ward", "missing"])
async def test_asset_ids_refuse_sibling_child_and_missing_assets(
    client: httpx.AsyncClient, backend: Backend, owner: str
) -> None:
    orgs = await tree(client)
    trust = orgs["trust"]["id"]
    if owner == "missing":
        bad = str(uuid.uuid4())
    else:
        bad = (await create_asset(client, orgs[owner]["id"]))["id"]
    activity = await create_activity(client, trust)
    base = {"area": "data", "title": "t", "activityType": "research"}
    async with writes_nothing(backend):
        created = await client.post(
            f"/v1/organisations/{trust}/activities", json=base | {"assetIds": [bad]}
        )
        assert pointers(created) == ["#/assetIds/0"]
        patched = await client.patch(
            f"/v1/activities/{activity['id']}", json={"assetIds": [bad]}, headers={"If-Match": "*"}
        )
        assert pointers(patched) == ["#/assetIds/0"]


async def test_asset_ids_pointer_indexes_the_request_as_sent(client: httpx.AsyncClient) -> None:
    orgs = await tree(client)
    own = (await create_asset(client, orgs["trust"]["id"]))["id"]
    bad = (await create_asset(client, orgs["sibling"]["id"]))["id"]
    sent = sorted([own, bad], reverse=True)  # the opposite of the service's own order
    body = {"area": "data", "title": "t", "activityType": "research", "assetIds": sent}
    response = await client.post(f"/v1/organisations/{orgs['trust']['id']}/activities", json=body)
    assert pointers(response) == [f"#/assetIds/{sent.index(bad)}"]


async def test_deleting_an_asset_unlinks_it(client: httpx.AsyncClient) -> None:
    org = await create_organisation(client)
    kept = await create_asset(client, org["id"], name="Kept")
    gone = await create_asset(client, org["id"], name="Gone")
    activity = await create_activity(client, org["id"], assetIds=[kept["id"], gone["id"]])
    deleted = await client.delete(f"/v1/assets/{gone['id']}", headers={"If-Match": 'W/"1"'})
    assert deleted.status_code == 204
    assert "content-type" not in deleted.headers
    fetched = await client.get(f"/v1/activities/{activity['id']}")
    assert fetched.json()["assetIds"] == [kept["id"]]
    listed = (await client.get(f"/v1/organisations/{org['id']}/activities")).json()
    assert listed["items"][0]["assetIds"] == [kept["id"]]


async def test_every_activity_type_and_status_is_accepted(client: httpx.AsyncClient) -> None:
    org = await create_organisation(client)
    for activity_type, status in zip(ACTIVITY_TYPES, STATUSES * 2, strict=False):
        created = await create_activity(
            client, org["id"], activityType=activity_type, status=status
        )
        assert (created["activityType"], created["status"]) == (activity_type, status)


async def test_each_filter_returns_exactly_the_matching_activities(
    client: httpx.AsyncClient,
) -> None:
    org = await create_organisation(client)
    other = await create_organisation(client, name="Other")
    falls = await create_activity(client, org["id"], status="active")
    course = await create_activity(client, org["id"], area="data", activityType="training")
    audit = await create_activity(
        client, org["id"], area="data", activityType="data_collection", status="completed"
    )
    await create_activity(client, other["id"], status="active", activityType="training")
    f, c, a = falls["id"], course["id"], audit["id"]

    async def ids(query: str) -> set[str]:
        response = await client.get(f"/v1/organisations/{org['id']}/activities?{query}")
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert await ids("") == {f, c, a}
    assert await ids("area=data") == {c, a}
    assert await ids("area=improvement") == {f}
    assert await ids("area=technology") == set()
    assert await ids("status=active") == {f}
    assert await ids("status=planned") == {c}
    assert await ids("status=stopped") == set()
    assert await ids("activityType=training") == {c}
    assert await ids("activityType=improvement_project") == {f}
    assert await ids("area=data&status=completed&activityType=data_collection") == {a}
    assert await ids("area=data&status=active") == set()


async def test_activities_of_an_unknown_organisation_are_not_found(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    url = f"/v1/organisations/{uuid.uuid4()}/activities"
    body = {"area": "data", "title": "t", "activityType": "research"}
    async with writes_nothing(backend):
        assert_problem(await client.post(url, json=body), 404, "NOT_FOUND")
        assert_problem(await client.get(url), 404, "NOT_FOUND")
        assert_problem(await client.get(f"/v1/activities/{uuid.uuid4()}"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("area", "key"),
    [("improvement", "no-such-capability"), ("improvement", "data-platform")],
    ids=["unknown", "other-area"],
)
async def test_capability_key_must_exist_in_the_activity_area(
    client: httpx.AsyncClient, backend: Backend, area: str, key: str
) -> None:
    org = await create_organisation(client)
    body = {"area": area, "title": "t", "activityType": "training", "capabilityKey": key}
    activity = await create_activity(client, org["id"], capabilityKey="learning-culture")
    async with writes_nothing(backend):
        created = await client.post(f"/v1/organisations/{org['id']}/activities", json=body)
        assert pointers(created)[0] == "#/capabilityKey"
        patched = await client.patch(
            f"/v1/activities/{activity['id']}",
            json={"capabilityKey": key},
            headers={"If-Match": "*"},
        )
        assert pointers(patched)[0] == "#/capabilityKey"
