"""No list's query count grows with its page size: a page of ten costs the database what a page
of two costs (tags, links and the like are read for the whole page at once, never per row).

Counted with the engine's statement events, which the hot reads that bypass SQLAlchemy's
execution (app.db.fetch) report too."""

import csv
import io
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from app import caches
from tests.conftest import QueryCounter
from tests.helpers import create_activity, create_asset, create_organisation

ROWS = 12

Seed = Callable[[httpx.AsyncClient], Awaitable[str]]


async def _assets(client: httpx.AsyncClient) -> str:
    org = await create_organisation(client)
    for n in range(ROWS):
        await create_asset(client, org["id"], name=f"Asset {n}", tags=[f"t{n}", "shared"])
    return f"/v1/organisations/{org['id']}/assets"


async def _activities(client: httpx.AsyncClient) -> str:
    org = await create_organisation(client)
    asset = await create_asset(client, org["id"])
    for n in range(ROWS):
        await create_activity(client, org["id"], title=f"Activity {n}", assetIds=[asset["id"]])
    return f"/v1/organisations/{org['id']}/activities"


async def _create_plan_item(client: httpx.AsyncClient, organisation_id: str, **body: Any) -> None:
    url = f"/v1/organisations/{organisation_id}/plan-items"
    made = await client.post(url, json={"capabilityKey": "learning-culture", "title": "P"} | body)
    assert made.status_code == 201, made.text


async def _plan_items(client: httpx.AsyncClient) -> str:
    org = await create_organisation(client)
    asset = await create_asset(client, org["id"])
    activity = await create_activity(client, org["id"])
    for n in range(ROWS):
        links = {"assetIds": [asset["id"]], "activityIds": [activity["id"]]}
        await _create_plan_item(client, org["id"], title=f"Item {n}", **links)
    return f"/v1/organisations/{org['id']}/plan-items"


async def _members(client: httpx.AsyncClient) -> str:
    ics = await create_organisation(client, name="An ICS", organisationType="ics")
    for n in range(ROWS):
        await create_organisation(client, name=f"Member {n}", parentId=ics["id"])
    return f"/v1/organisations/{ics['id']}/members"


async def _organisations(client: httpx.AsyncClient) -> str:
    await _members(client)
    return "/v1/organisations"


async def _audit_events(client: httpx.AsyncClient) -> str:
    await _members(client)  # each create is an audit event
    return "/v1/audit-events"


async def _api_keys(client: httpx.AsyncClient) -> str:
    for n in range(ROWS):
        response = await client.post("/v1/api-keys", json={"name": f"k{n}", "role": "reader"})
        assert response.status_code == 201, response.text
    return "/v1/api-keys"


async def _assessments(client: httpx.AsyncClient) -> str:
    org = await create_organisation(client)
    await create_asset(client, org["id"], capabilityKey=None)
    for n in range(ROWS):
        response = await client.post(
            f"/v1/organisations/{org['id']}/assessments", json={"label": f"Q{n}"}
        )
        assert response.status_code == 201, response.text
    return f"/v1/organisations/{org['id']}/assessments"


SEEDS: dict[str, Seed] = {
    "assets": _assets,
    "activities": _activities,
    "plan-items": _plan_items,
    "members": _members,
    "organisations": _organisations,
    "audit-events": _audit_events,
    "api-keys": _api_keys,
    "assessments": _assessments,
}


async def _count(client: httpx.AsyncClient, queries: QueryCounter, path: str, limit: int) -> Any:
    await client.get(path, params={"limit": limit})  # warm caches (the key, the model)
    before = queries.count
    response = await client.get(path, params={"limit": limit})
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == limit
    return queries.count - before


@pytest.mark.parametrize("name", SEEDS)
async def test_a_bigger_page_costs_no_more_queries(
    client: httpx.AsyncClient, queries: QueryCounter, name: str
) -> None:
    path = await SEEDS[name](client)
    small = await _count(client, queries, path, 2)
    large = await _count(client, queries, path, 10)
    assert small > 0, "the counter saw no statement: it is not counting this list's reads"
    assert large == small, f"{name}: {small} queries for a page of 2, {large} for 10"


@pytest.mark.parametrize("what", ["assets", "activities", "plan-items"])
async def test_an_exports_query_count_does_not_grow_with_its_rows(
    client: httpx.AsyncClient, queries: QueryCounter, what: str
) -> None:
    """A CSV export of the whole subtree reads each organisation's ODS code and name once, not
    per row or per batch: 12 rows cost the queries of 2."""
    ics = await create_organisation(client, name="ICS", organisationType="ics", odsCode="QWO")
    url = f"/v1/organisations/{ics['id']}/{what}?format=csv&depth=all"
    counts = []
    for more in (2, 10):  # rows of 2, then of 12 members
        for n in range(more):
            member = await create_organisation(client, name=f"M{more}-{n}", parentId=ics["id"])
            if what == "assets":
                await create_asset(client, member["id"])
            elif what == "plan-items":
                await _create_plan_item(client, member["id"])
            else:
                await create_activity(client, member["id"])
        await client.get(url)  # warm caches (the key)
        start = queries.count
        rows = list(csv.DictReader(io.StringIO((await client.get(url)).text.lstrip("\ufeff"))))
        counts.append(queries.count - start)
        assert len({row["organisationName"] for row in rows}) == len(rows)
    assert counts[0] == counts[1], counts


@pytest.mark.parametrize("scope", ["organisation", "system"])
async def test_an_analysis_reads_plan_items_in_one_query_however_many(
    client: httpx.AsyncClient, queries: QueryCounter, scope: str
) -> None:
    """The plan items of an organisation (or of every member of a system) are read at once:
    an analysis costs the same queries with one item a member as with six."""
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    members = [await create_organisation(client, name=f"M{n}", parentId=ics["id"]) for n in (1, 2)]
    target = members[0]["id"] if scope == "organisation" else ics["id"]
    counts, made = [], 0
    for more in (1, 5):  # one item a member, then six
        made += more
        for member in members:
            for n in range(more):
                response = await client.post(
                    f"/v1/organisations/{member['id']}/plan-items",
                    json={"capabilityKey": "learning-culture", "title": f"Item {made}-{n}"},
                )
                assert response.status_code == 201, response.text
        # Cold each time: a new plan item bumps the revision a remembered analysis is keyed by;
        # and from empty caches, so both counts are of the same work (what is remembered of an
        # unchanged organisation is not read again the second time).
        caches.clear_all()
        start = queries.count
        response = await client.get(
            f"/v1/organisations/{target}/gap-analysis", params={"scope": scope}
        )
        assert response.status_code == 200, response.text
        counts.append(queries.count - start)
        body = response.json()
        if scope == "organisation":
            assert len(body["plan"]["items"]) == made
        else:
            assert [m["topFivePlanned"]["of"] for m in body["members"]] == [5, 5]
    assert counts[0] == counts[1], counts
