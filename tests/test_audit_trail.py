"""The audit trail through the API: every change of a record leaves one event with what changed,
in the change's own transaction, and the events outlive the record."""

import httpx

from tests.helpers import create_asset, create_organisation


async def events_of(client: httpx.AsyncClient, **filters: str) -> list[dict[str, object]]:
    response = await client.get("/v1/audit-events", params=filters)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_an_asset_s_life_is_in_the_trail_with_what_changed(
    client: httpx.AsyncClient,
) -> None:
    trust = await create_organisation(client, name="Audit Trust")
    asset = await create_asset(client, trust["id"], name="Registry", maturity=2)
    changed = await client.patch(
        f"/v1/assets/{asset['id']}", json={"maturity": 3}, headers={"If-Match": 'W/"1"'}
    )
    assert changed.status_code == 200, changed.text
    unchanged = await client.patch(
        f"/v1/assets/{asset['id']}", json={"maturity": 3}, headers={"If-Match": 'W/"2"'}
    )
    assert unchanged.status_code == 200  # nothing changed: no event
    deleted = await client.delete(f"/v1/assets/{asset['id']}", headers={"If-Match": 'W/"2"'})
    assert deleted.status_code == 204

    trail = await events_of(client, resourceType="asset", resourceId=asset["id"])
    assert [e["action"] for e in trail] == ["create", "update", "delete"]
    assert all(e["organisationId"] == trust["id"] for e in trail)
    assert all(str(e["actor"]).startswith("lhs_") for e in trail)  # the key's prefix
    created, updated, gone = (
        {c["field"]: (c["before"], c["after"]) for c in e["changes"]}  # type: ignore[attr-defined]
        for e in trail
    )
    assert created["name"] == (None, "Registry")
    assert updated == {"maturity": (2, 3)}
    assert gone["maturity"] == (3, None)
    assert all(e["requestId"] for e in trail)


async def test_a_refused_change_leaves_no_event(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client, name="Audit Trust")
    asset = await create_asset(client, trust["id"])
    stale = await client.patch(
        f"/v1/assets/{asset['id']}", json={"maturity": 4}, headers={"If-Match": 'W/"9"'}
    )
    assert stale.status_code == 412
    trail = await events_of(client, resourceId=asset["id"])
    assert [e["action"] for e in trail] == ["create"]


async def test_organisation_events_survive_its_deletion(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client, name="Short-lived Trust")
    gone = await client.delete(f"/v1/organisations/{trust['id']}", headers={"If-Match": "*"})
    assert gone.status_code == 204
    trail = await events_of(client, organisationId=trust["id"])
    assert [(e["resourceType"], e["action"]) for e in trail] == [
        ("organisation", "create"),
        ("organisation", "delete"),
    ]
