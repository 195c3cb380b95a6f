"""Organisations: the hierarchy, filters, concurrency control and deletion rules."""

import asyncio

import httpx

from tests.conftest import Backend, snapshot
from tests.helpers import assert_problem, create_activity, create_asset, create_organisation


async def test_create_read_and_normalise_ods_code(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/organisations",
        json={"name": " Leeds Teaching Hospitals ", "odsCode": "rr8", "organisationType": "trust"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["odsCode"] == "RR8"
    assert body["name"] == "Leeds Teaching Hospitals"
    assert body["version"] == 1
    assert body["createdAt"].endswith("Z")
    assert response.headers["etag"] == 'W/"1"'
    location = response.headers["location"]
    assert location.endswith(f"/v1/organisations/{body['id']}")
    fetched = await client.get(location)
    assert fetched.json() == body
    assert fetched.headers["etag"] == 'W/"1"'


async def test_duplicate_ods_code_is_a_conflict_and_writes_nothing(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    await create_organisation(client, odsCode="RR8")
    before = await snapshot(backend.engine)
    response = await client.post(
        "/v1/organisations", json={"name": "Other", "odsCode": "rr8", "organisationType": "trust"}
    )
    problem = assert_problem(response, 409, "CONFLICT")
    assert problem["errors"][0]["pointer"] == "#/odsCode"
    assert await snapshot(backend.engine) == before


async def test_members_direct_and_whole_subtree(client: httpx.AsyncClient) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    trust = await create_organisation(client, name="Trust", parentId=ics["id"])
    site = await create_organisation(
        client, name="Site", organisationType="other", parentId=trust["id"]
    )
    direct = (await client.get(f"/v1/organisations/{ics['id']}/members")).json()
    assert [o["id"] for o in direct["items"]] == [trust["id"]]
    everything = (await client.get(f"/v1/organisations/{ics['id']}/members?depth=all")).json()
    assert {o["id"] for o in everything["items"]} == {trust["id"], site["id"]}


async def test_cycle_is_refused(client: httpx.AsyncClient, backend: Backend) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    trust = await create_organisation(client, name="Trust", parentId=ics["id"])
    before = await snapshot(backend.engine)
    response = await client.patch(
        f"/v1/organisations/{ics['id']}",
        json={"parentId": trust["id"]},
        headers={"If-Match": 'W/"1"'},
    )
    assert_problem(response, 409, "CONFLICT")
    own = await client.patch(
        f"/v1/organisations/{ics['id']}", json={"parentId": ics["id"]}, headers={"If-Match": "*"}
    )
    assert_problem(own, 409, "CONFLICT")
    assert await snapshot(backend.engine) == before


async def test_patch_needs_if_match_and_refuses_stale_versions(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    org = await create_organisation(client, name="Before")
    url = f"/v1/organisations/{org['id']}"
    before = await snapshot(backend.engine)
    assert_problem(await client.patch(url, json={"name": "x"}), 428, "PRECONDITION_REQUIRED")
    stale = await client.patch(url, json={"name": "x"}, headers={"If-Match": 'W/"7"'})
    assert_problem(stale, 412, "PRECONDITION_FAILED")
    assert stale.headers["etag"] == 'W/"1"'
    assert await snapshot(backend.engine) == before
    updated = await client.patch(
        url, json={"name": "After", "region": "London"}, headers={"If-Match": 'W/"1"'}
    )
    assert updated.status_code == 200
    assert updated.json()["name"] == "After"
    assert updated.json()["version"] == 2
    assert updated.headers["etag"] == 'W/"2"'
    cleared = await client.patch(url, json={"region": None}, headers={"If-Match": 'W/"2"'})
    assert cleared.json()["region"] is None


async def test_delete_with_members_is_refused(client: httpx.AsyncClient) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    await create_organisation(client, name="Trust", parentId=ics["id"])
    response = await client.delete(f"/v1/organisations/{ics['id']}", headers={"If-Match": 'W/"1"'})
    assert_problem(response, 409, "CONFLICT")
    assert (await client.get(f"/v1/organisations/{ics['id']}")).status_code == 200


async def test_delete_removes_assets_and_activities(client: httpx.AsyncClient) -> None:
    org = await create_organisation(client)
    asset = await create_asset(client, org["id"], tags=["x"])
    activity = await create_activity(client, org["id"], assetIds=[asset["id"]])
    response = await client.delete(f"/v1/organisations/{org['id']}", headers={"If-Match": 'W/"1"'})
    assert response.status_code == 204
    assert "content-type" not in response.headers
    assert (await client.get(f"/v1/assets/{asset['id']}")).status_code == 404
    assert (await client.get(f"/v1/activities/{activity['id']}")).status_code == 404


async def test_list_filters(client: httpx.AsyncClient) -> None:
    ics = await create_organisation(client, name="North ICS", organisationType="ics")
    leeds = await create_organisation(client, name="Leeds Trust", parentId=ics["id"], odsCode="RR8")
    await create_organisation(client, name="Bradford Practice", organisationType="gp_practice")

    async def ids(query: str) -> set[str]:
        response = await client.get(f"/v1/organisations?{query}")
        assert response.status_code == 200
        return {o["id"] for o in response.json()["items"]}

    assert await ids(f"parentId={ics['id']}") == {leeds["id"]}
    assert await ids("organisationType=ics") == {ics["id"]}
    assert await ids("odsCode=rr8") == {leeds["id"]}
    assert await ids("q=LEEDS") == {leeds["id"]}
    assert await ids("q=%25") == set()


async def test_pagination_walks_every_row_once(client: httpx.AsyncClient) -> None:
    created = [(await create_organisation(client, name=f"Org {i}"))["id"] for i in range(7)]
    seen: list[str] = []
    url: str | None = "/v1/organisations?limit=3"
    pages = 0
    while url:
        response = await client.get(url)
        body = response.json()
        seen += [o["id"] for o in body["items"]]
        url = body["links"]["next"]
        if url:
            assert response.headers["link"] == f'<{url}>; rel="next"'
            # an insert in the middle of the walk must not disturb it
            await create_organisation(client, name=f"Late {pages}")
        pages += 1
    assert seen[:7] == created
    assert len(seen) == len(set(seen))
    assert pages >= 3


async def test_invalid_cursor_and_limits_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/organisations?cursor=not-a-cursor"), 400, "INVALID_CURSOR")
    too_big = assert_problem(
        await client.get("/v1/organisations?limit=501"), 422, "VALIDATION_FAILED"
    )
    assert too_big["errors"][0]["pointer"] == "limit"


async def test_patch_to_a_taken_ods_code_is_a_conflict(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    await create_organisation(client, name="Leeds", odsCode="RR8")
    other = await create_organisation(client, name="Bradford", odsCode="RAE")
    before = await snapshot(backend.engine)
    response = await client.patch(
        f"/v1/organisations/{other['id']}", json={"odsCode": "rr8"}, headers={"If-Match": "*"}
    )
    problem = assert_problem(response, 409, "CONFLICT")
    assert problem["errors"] == [{"pointer": "#/odsCode", "message": "Already in use."}]
    assert await snapshot(backend.engine) == before


async def test_an_empty_or_unchanged_patch_keeps_the_version(client: httpx.AsyncClient) -> None:
    org = await create_organisation(client, name="Same")
    url = f"/v1/organisations/{org['id']}"
    for body in ({}, {"name": "Same"}):
        response = await client.patch(url, json=body, headers={"If-Match": 'W/"1"'})
        assert response.status_code == 200
        assert response.json()["version"] == 1
        assert response.json()["updatedAt"] == org["updatedAt"]


async def test_a_move_that_strands_linked_assets_is_refused(client: httpx.AsyncClient) -> None:
    first = await create_organisation(client, name="First ICS", organisationType="ics")
    second = await create_organisation(client, name="Second ICS", organisationType="ics")
    trust = await create_organisation(client, name="Trust", parentId=first["id"])
    platform = await create_asset(client, first["id"], sharedWithMembers=True)
    await create_activity(client, trust["id"], assetIds=[platform["id"]])
    response = await client.patch(
        f"/v1/organisations/{trust['id']}",
        json={"parentId": second["id"]},
        headers={"If-Match": 'W/"1"'},
    )
    assert_problem(response, 409, "CONFLICT")
    assert (await client.get(f"/v1/organisations/{trust['id']}")).json()["parentId"] == first["id"]


async def test_opposite_moves_at_once_never_make_a_cycle(client: httpx.AsyncClient) -> None:
    a = await create_organisation(client, name="A", organisationType="network")
    b = await create_organisation(client, name="B", organisationType="network")
    responses = await asyncio.gather(
        client.patch(
            f"/v1/organisations/{a['id']}", json={"parentId": b["id"]}, headers={"If-Match": "*"}
        ),
        client.patch(
            f"/v1/organisations/{b['id']}", json={"parentId": a["id"]}, headers={"If-Match": "*"}
        ),
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    parents = {
        o["id"]: o["parentId"] for o in (await client.get("/v1/organisations")).json()["items"]
    }
    assert not (parents[a["id"]] == b["id"] and parents[b["id"]] == a["id"])
