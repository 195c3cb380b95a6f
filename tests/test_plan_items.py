"""Plan items: the full contract, the capability rule, links up the hierarchy, overdue, filters,
concurrency and the audit trail."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import Backend, snapshot
from tests.helpers import assert_problem, create_activity, create_asset, create_organisation

YESTERDAY = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
NEXT_YEAR = (datetime.now(UTC).date() + timedelta(days=365)).isoformat()


async def create_plan_item(
    client: httpx.AsyncClient, organisation_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"capabilityKey": "learning-culture", "title": "A plan item"} | fields
    response = await client.post(f"/v1/organisations/{organisation_id}/plan-items", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def pointers(response: httpx.Response) -> list[str]:
    problem = assert_problem(response, 422, "VALIDATION_FAILED")
    return [issue["pointer"] for issue in problem["errors"]]


async def test_create_read_list_every_field(client: httpx.AsyncClient) -> None:
    ics = await create_organisation(client, name="Plan ICS", organisationType="ics")
    trust = await create_organisation(client, name="Plan Trust", parentId=ics["id"])
    shared = await create_asset(client, ics["id"], name="ICS platform")
    activity = await create_activity(client, trust["id"])
    body = {
        "capabilityKey": "data-platform",
        "title": " Commission a shared analytics platform ",
        "owner": "Chief Digital Officer",
        "dueDate": NEXT_YEAR,
        "status": "active",
        "rag": "amber",
        "notes": "Business case to the board in January",
        "assetIds": [shared["id"], shared["id"]],
        "activityIds": [activity["id"]],
        "externalId": "PLAN-001",
    }
    url = f"/v1/organisations/{trust['id']}/plan-items"
    response = await client.post(url, json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    expected = body | {
        "title": "Commission a shared analytics platform",
        "assetIds": [shared["id"]],
    }
    assert {key: created[key] for key in body} == expected
    assert created["organisationId"] == trust["id"]
    assert created["overdue"] is False
    assert created["version"] == 1
    assert response.headers["etag"] == 'W/"1"'
    location = response.headers["location"]
    assert location.endswith(f"/v1/plan-items/{created['id']}")
    fetched = await client.get(location)
    assert fetched.json() == created
    assert fetched.headers["etag"] == 'W/"1"'
    assert (await client.get(url)).json()["items"] == [created]
    # The ICS sees its members' items with depth=all, and only its own without.
    assert (await client.get(f"/v1/organisations/{ics['id']}/plan-items")).json()["items"] == []
    everything = await client.get(f"/v1/organisations/{ics['id']}/plan-items?depth=all")
    assert everything.json()["items"] == [created]

    minimal = await create_plan_item(client, trust["id"])
    assert (minimal["status"], minimal["rag"], minimal["owner"], minimal["dueDate"]) == (
        "planned",
        "green",
        None,
        None,
    )
    assert (minimal["assetIds"], minimal["activityIds"], minimal["externalId"]) == ([], [], None)
    again = await client.post(url, json=body)
    assert_problem(again, 409, "CONFLICT")
    # A retried create with its Idempotency-Key gets the first answer, and makes one item.
    key = {"Idempotency-Key": "plan-item-once"}
    once = await client.post(
        url, json={"capabilityKey": "learning-culture", "title": "Once"}, headers=key
    )
    twice = await client.post(
        url, json={"capabilityKey": "learning-culture", "title": "Once"}, headers=key
    )
    assert (once.status_code, twice.status_code) == (201, 201)
    assert twice.json() == once.json()
    assert [i["title"] for i in (await client.get(url)).json()["items"]].count("Once") == 1


async def test_bad_input_is_a_problem_and_writes_nothing(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    practice = await create_organisation(client, name="Practice", organisationType="gp_practice")
    other = await create_organisation(client, name="Elsewhere")
    foreign = await create_asset(client, other["id"])
    foreign_activity = await create_activity(client, other["id"])
    url = f"/v1/organisations/{practice['id']}/plan-items"
    good = {"capabilityKey": "learning-culture", "title": "Fine"}
    before = await snapshot(backend.engine)

    unknown = await client.post(url, json=good | {"capabilityKey": "no-such-thing"})
    assert pointers(unknown) == ["#/capabilityKey"]
    assert "no-such-thing" in unknown.text
    # data-platform exists, but not for a GP practice.
    wrong_type = await client.post(url, json=good | {"capabilityKey": "data-platform"})
    assert pointers(wrong_type) == ["#/capabilityKey"]
    assert "gp_practice" in wrong_type.json()["detail"]
    assert pointers(await client.post(url, json=good | {"dueDate": "2026-02-30"})) == ["#/dueDate"]
    assert pointers(await client.post(url, json=good | {"rag": "blue"})) == ["#/rag"]
    assert pointers(await client.post(url, json=good | {"title": ""})) == ["#/title"]
    assert pointers(await client.post(url, json={"title": "No key"})) == ["#/capabilityKey"]
    assert pointers(await client.post(url, json=good | {"owner": "x" * 201})) == ["#/owner"]
    assert pointers(await client.post(url, json=good | {"notes": "x" * 4001})) == ["#/notes"]
    out_of_scope = await client.post(
        url, json=good | {"assetIds": [foreign["id"]], "activityIds": [foreign_activity["id"]]}
    )
    assert pointers(out_of_scope) == ["#/assetIds/0", "#/activityIds/0"]
    assert await snapshot(backend.engine) == before


async def test_update_delete_concurrency_and_the_audit_trail(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client, name="Audited Trust")
    asset = await create_asset(client, trust["id"])
    item = await create_plan_item(client, trust["id"], title="Start QI training")
    path = f"/v1/plan-items/{item['id']}"

    assert_problem(await client.patch(path, json={"rag": "red"}), 428, "PRECONDITION_REQUIRED")
    changed = await client.patch(
        path,
        json={"rag": "red", "dueDate": YESTERDAY, "assetIds": [asset["id"]]},
        headers={"If-Match": 'W/"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == 'W/"2"'
    updated = changed.json()
    assert (updated["rag"], updated["assetIds"], updated["overdue"]) == ("red", [asset["id"]], True)
    stale = await client.patch(path, json={"title": "Late"}, headers={"If-Match": 'W/"1"'})
    assert_problem(stale, 412, "PRECONDITION_FAILED")
    null_title = await client.patch(path, json={"title": None}, headers={"If-Match": 'W/"2"'})
    assert pointers(null_title) == ["#/title"]
    cleared = await client.patch(
        path, json={"dueDate": None, "status": "completed"}, headers={"If-Match": 'W/"2"'}
    )
    assert (cleared.json()["dueDate"], cleared.json()["overdue"]) == (None, False)

    stale_delete = await client.delete(path, headers={"If-Match": 'W/"2"'})
    assert_problem(stale_delete, 412, "PRECONDITION_FAILED")
    deleted = await client.delete(path, headers={"If-Match": 'W/"3"'})
    assert deleted.status_code == 204
    assert "content-type" not in deleted.headers
    assert_problem(await client.get(path), 404, "NOT_FOUND")

    events = await client.get(
        "/v1/audit-events", params={"resourceType": "plan_item", "resourceId": item["id"]}
    )
    trail = events.json()["items"]
    assert [e["action"] for e in trail] == ["create", "update", "update", "delete"]
    changes = [{c["field"]: (c["before"], c["after"]) for c in e["changes"]} for e in trail]
    assert changes[0]["title"] == (None, "Start QI training")
    assert changes[1]["rag"] == ("green", "red")
    assert changes[1]["asset_ids"] == ([], [asset["id"]])
    assert changes[2]["status"] == ("planned", "completed")
    assert changes[3]["title"] == ("Start QI training", None)


async def test_filters_and_overdue(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client, name="Filtered Trust")
    late = await create_plan_item(client, trust["id"], dueDate=YESTERDAY, status="active")
    done = await create_plan_item(
        client, trust["id"], dueDate=YESTERDAY, status="completed", rag="red"
    )
    later = await create_plan_item(
        client, trust["id"], capabilityKey="data-platform", dueDate=NEXT_YEAR
    )
    undated = await create_plan_item(client, trust["id"], rag="amber")
    url = f"/v1/organisations/{trust['id']}/plan-items"

    async def ids(**query: str) -> list[str]:
        response = await client.get(url, params=query)
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["items"]]

    assert late["overdue"]
    assert not done["overdue"]
    assert await ids(overdue="true") == [late["id"]]
    assert await ids(overdue="false") == [done["id"], later["id"], undated["id"]]
    assert await ids(capabilityKey="data-platform") == [later["id"]]
    assert await ids(status="completed") == [done["id"]]
    assert await ids(rag="amber") == [undated["id"]]
    assert await ids(rag="red", overdue="true") == []
    assert await ids(limit="2") == [late["id"], done["id"]]
    assert pointers(await client.get(url, params={"rag": "blue"})) == ["rag"]


async def test_an_organisation_s_next_review_date(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client, name="Reviewing Trust", nextReviewDue="2027-04-01")
    assert trust["nextReviewDue"] == "2027-04-01"
    path = f"/v1/organisations/{trust['id']}"
    bad = await client.patch(
        path, json={"nextReviewDue": "01/04/2027"}, headers={"If-Match": 'W/"1"'}
    )
    assert pointers(bad) == ["#/nextReviewDue"]
    moved = await client.patch(
        path, json={"nextReviewDue": "2027-10-01"}, headers={"If-Match": 'W/"1"'}
    )
    assert moved.json()["nextReviewDue"] == "2027-10-01"
    cleared = await client.patch(path, json={"nextReviewDue": None}, headers={"If-Match": 'W/"2"'})
    assert cleared.json()["nextReviewDue"] is None
    assert (await client.get(path)).json()["nextReviewDue"] is None
    assert (await create_organisation(client, name="Undated"))["nextReviewDue"] is None


async def test_a_move_that_would_strand_a_plan_item_s_links_is_refused(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics = await create_organisation(client, name="Moving ICS", organisationType="ics")
    trust = await create_organisation(client, name="Moving Trust", parentId=ics["id"])
    programme = await create_activity(client, ics["id"], title="ICS programme")
    item = await create_plan_item(client, trust["id"], activityIds=[programme["id"]])
    before = await snapshot(backend.engine)
    detach = await client.patch(
        f"/v1/organisations/{trust['id']}", json={"parentId": None}, headers={"If-Match": "*"}
    )
    assert "1 link" in assert_problem(detach, 409, "CONFLICT")["detail"]
    assert await snapshot(backend.engine) == before
    unlinked = await client.patch(
        f"/v1/plan-items/{item['id']}", json={"activityIds": []}, headers={"If-Match": 'W/"1"'}
    )
    assert unlinked.status_code == 200, unlinked.text
    detach = await client.patch(
        f"/v1/organisations/{trust['id']}", json={"parentId": None}, headers={"If-Match": "*"}
    )
    assert detach.status_code == 200, detach.text


async def test_deleting_what_an_item_links_or_its_organisation(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client, name="Deleting Trust")
    asset = await create_asset(client, trust["id"])
    activity = await create_activity(client, trust["id"])
    item = await create_plan_item(
        client, trust["id"], assetIds=[asset["id"]], activityIds=[activity["id"]]
    )
    path = f"/v1/plan-items/{item['id']}"
    for gone in (f"/v1/assets/{asset['id']}", f"/v1/activities/{activity['id']}"):
        assert (await client.delete(gone, headers={"If-Match": 'W/"1"'})).status_code == 204
    kept = (await client.get(path)).json()
    assert (kept["assetIds"], kept["activityIds"], kept["version"]) == ([], [], 1)
    deleted = await client.delete(f"/v1/organisations/{trust['id']}", headers={"If-Match": 'W/"1"'})
    assert deleted.status_code == 204, deleted.text
    assert_problem(await client.get(path), 404, "NOT_FOUND")
