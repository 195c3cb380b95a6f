"""What the rest of a system has is remembered between analyses only while it does not change:
every change to a peer's records, names or place in the tree shows in the very next analysis,
and what is remembered for one caller is never shown to a caller with a narrower scope."""

from typing import Any

import httpx

from tests.auth_helpers import make_key
from tests.conftest import Backend
from tests.helpers import EVIDENCED, create_asset, create_organisation

CAPABILITY = "improvement-capability"


async def spread_from(client: httpx.AsyncClient, organisation_id: str) -> list[str]:
    """Who the analysis offers to spread the capability from, in its order."""
    response = await client.get(f"/v1/organisations/{organisation_id}/gap-analysis")
    assert response.status_code == 200, response.text
    recommendation = next(
        r for r in response.json()["recommendations"] if r["capabilityKey"] == CAPABILITY
    )
    return [peer["name"] for peer in recommendation["availableInSystem"]]


async def system_coverage(client: httpx.AsyncClient, ics_id: str) -> Any:
    response = await client.get(f"/v1/organisations/{ics_id}/gap-analysis?scope=system")
    assert response.status_code == 200, response.text
    return next(c for c in response.json()["capabilities"] if c["capabilityKey"] == CAPABILITY)


async def test_every_change_in_the_system_shows_in_the_next_analysis(
    client: httpx.AsyncClient,
) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    leeds = await create_organisation(client, name="Leeds", parentId=ics["id"])
    bradford = await create_organisation(client, name="Bradford", parentId=ics["id"])
    asset = await create_asset(
        client,
        bradford["id"],
        area="improvement",
        capabilityKey=CAPABILITY,
        maturity=4,
        **EVIDENCED,
    )
    assert await spread_from(client, leeds["id"]) == ["Bradford"]
    assert await spread_from(client, leeds["id"]) == ["Bradford"]  # the same, remembered

    url = f"/v1/assets/{asset['id']}"
    weaker = await client.patch(url, json={"maturity": 1}, headers={"If-Match": 'W/"1"'})
    assert weaker.status_code == 200, weaker.text
    assert await spread_from(client, leeds["id"]) == []
    stronger = await client.patch(url, json={"maturity": 4}, headers={"If-Match": 'W/"2"'})
    assert stronger.status_code == 200, stronger.text
    assert await spread_from(client, leeds["id"]) == ["Bradford"]

    wakefield = await create_organisation(client, name="Wakefield", parentId=ics["id"])
    assert await spread_from(client, leeds["id"]) == ["Bradford"]
    second = await create_asset(
        client,
        wakefield["id"],
        area="improvement",
        capabilityKey=CAPABILITY,
        maturity=4,
        **EVIDENCED,
    )
    assert await spread_from(client, leeds["id"]) == ["Bradford", "Wakefield"]

    renamed = await client.patch(
        f"/v1/organisations/{bradford['id']}",
        json={"name": "Airedale"},
        headers={"If-Match": 'W/"1"'},
    )
    assert renamed.status_code == 200, renamed.text
    assert await spread_from(client, leeds["id"]) == ["Airedale", "Wakefield"]

    deleted = await client.delete(f"/v1/assets/{second['id']}", headers={"If-Match": 'W/"1"'})
    assert deleted.status_code == 204, deleted.text
    assert await spread_from(client, leeds["id"]) == ["Airedale"]
    coverage = await system_coverage(client, ics["id"])
    assert [m["name"] for m in coverage["meeting"]] == ["Airedale"]

    moved = await client.patch(
        f"/v1/organisations/{bradford['id']}",
        json={"parentId": None},
        headers={"If-Match": 'W/"2"'},
    )
    assert moved.status_code == 200, moved.text
    assert await spread_from(client, leeds["id"]) == []
    assert (await system_coverage(client, ics["id"]))["meeting"] == []


async def test_what_one_caller_saw_is_not_shown_to_a_caller_with_a_narrower_scope(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    leeds = await create_organisation(client, name="Leeds", parentId=ics["id"])
    bradford = await create_organisation(client, name="Bradford", parentId=ics["id"])
    await create_asset(
        client,
        bradford["id"],
        area="improvement",
        capabilityKey=CAPABILITY,
        maturity=4,
        **EVIDENCED,
    )
    assert await spread_from(client, leeds["id"]) == ["Bradford"]

    _, key = await make_key(backend.app.state.sessions, "reader", leeds["id"])
    client.headers["Authorization"] = f"Bearer {key}"
    assert await spread_from(client, leeds["id"]) == []
