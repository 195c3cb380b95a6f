"""Every export is on the audit trail: one event per export, with who took what out of which
organisation and how (format, depth or scope, filters); committed before the first byte; none
for an export that was refused. Through the API and the command line."""

import uuid
from collections.abc import AsyncGenerator
from typing import Any

import httpx
import pytest

from app.assets.schemas import AssetFilters
from app.auth.principal import OPERATOR
from app.transfer import export
from tests.auth_helpers import make_key
from tests.conftest import Backend
from tests.helpers import assert_problem, create_activity, create_asset, create_organisation
from tests.test_auth_cli import lhs_map
from tests.test_auth_keys import sessions_of


async def exports(client: httpx.AsyncClient, **filters: str) -> list[dict[str, Any]]:
    """The export events the audit-events listing shows (the global admin's view)."""
    response = await client.get("/v1/audit-events", params=filters | {"limit": "100"})
    assert response.status_code == 200, response.text
    return [event for event in response.json()["items"] if event["action"] == "export"]


def how(event: dict[str, Any]) -> dict[str, Any]:
    """An export event's details: its changes as {field: after}."""
    assert all(change["before"] is None for change in event["changes"])
    return {change["field"]: change["after"] for change in event["changes"]}


async def small_tree(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    trust = await create_organisation(client, name="Trust", parentId=ics["id"])
    await create_asset(client, trust["id"], name="Registry", area="data")
    await create_asset(client, trust["id"], name="Platform", area="technology")
    await create_activity(client, trust["id"], title="Audit")
    return ics, trust


async def test_a_scoped_key_s_csv_export_is_one_event_with_who_what_and_how(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics, trust = await small_tree(client)
    row, key = await make_key(sessions_of(backend), "reader", trust["id"])
    reader = {"Authorization": f"Bearer {key}", "X-Request-ID": "export-1"}
    url = f"/v1/organisations/{trust['id']}/assets"
    response = await client.get(
        url, params={"format": "csv", "depth": "all", "area": "data"}, headers=reader
    )
    assert response.status_code == 200, response.text
    assert "Registry" in response.text
    assert "Platform" not in response.text

    [event] = await exports(client)
    assert (event["actor"], event["actorKind"]) == (row.prefix, "api_key")
    assert event["organisationId"] == trust["id"]
    assert (event["resourceType"], event["resourceId"]) == ("asset", trust["id"])
    assert event["requestId"] == "export-1"
    assert how(event) == {"format": "csv", "depth": "all", "filters": {"area": "data"}}

    # Accept: text/csv is the same export; activities are audited as activities.
    csv = {"Authorization": f"Bearer {key}", "Accept": "text/csv"}
    done = await client.get(f"/v1/organisations/{trust['id']}/activities", headers=csv)
    assert done.status_code == 200, done.text
    [activities] = await exports(client, resourceType="activity")
    assert activities["actor"] == row.prefix
    assert how(activities) == {"format": "csv", "depth": "1", "filters": {}}
    assert len(await exports(client)) == 2

    # A scoped admin above the trust sees both in the listing; an admin elsewhere sees none.
    _, ics_admin = await make_key(sessions_of(backend), "admin", ics["id"])
    seen = await client.get("/v1/audit-events", headers={"Authorization": f"Bearer {ics_admin}"})
    assert sum(e["action"] == "export" for e in seen.json()["items"]) == 2
    stranger = await create_organisation(client, name="Elsewhere")
    _, other_admin = await make_key(sessions_of(backend), "admin", stranger["id"])
    unseen = await client.get(
        "/v1/audit-events", headers={"Authorization": f"Bearer {other_admin}"}
    )
    assert [e for e in unseen.json()["items"] if e["action"] == "export"] == []


async def test_the_analysis_the_report_and_the_map_are_audited_as_exports(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics, _ = await small_tree(client)
    _, key = await make_key(sessions_of(backend), "reader", ics["id"])
    reader = {"Authorization": f"Bearer {key}"}
    base = f"/v1/organisations/{ics['id']}"

    # Reading them as JSON or HTML is not an export.
    for path, params in (
        ("gap-analysis", {}),
        ("report", {"format": "html"}),
        ("assets", {"depth": "all"}),
    ):
        response = await client.get(f"{base}/{path}", params=params, headers=reader)
        assert response.status_code == 200, response.text
    assert await exports(client) == []
    as_json = await client.get(f"{base}/gap-analysis", headers=reader)
    version = as_json.json()["referenceModel"]["version"]

    analysis = await client.get(
        f"{base}/gap-analysis", params={"format": "csv", "scope": "system"}, headers=reader
    )
    assert analysis.status_code == 200, analysis.text
    report = await client.get(f"{base}/report", params={"format": "csv"}, headers=reader)
    assert report.status_code == 200, report.text
    whole = await client.get(f"{base}/map", headers=reader)
    assert whole.status_code == 200, whole.text

    events = {event["resourceType"]: event for event in await exports(client)}
    assert set(events) == {"gap_analysis", "report", "map"}
    assert all(e["organisationId"] == ics["id"] for e in events.values())
    assert how(events["gap_analysis"]) == {
        "format": "csv",
        "scope": "system",
        "reference_model": version,
    }
    assert how(events["report"]) == {
        "format": "csv",
        "views": ["organisation", "system"],
        "reference_model": version,
    }
    assert how(events["map"]) == {"format": "json", "depth": "all"}


async def test_a_refused_export_writes_no_event(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics, trust = await small_tree(client)
    stranger = await create_organisation(client, name="Elsewhere")
    _, key = await make_key(sessions_of(backend), "reader", trust["id"])
    reader = {"Authorization": f"Bearer {key}"}
    missing = str(uuid.uuid4())
    for organisation in (stranger["id"], ics["id"], missing):  # out of scope, above it, none
        base = f"/v1/organisations/{organisation}"
        for path, params in (
            ("assets", {"format": "csv"}),
            ("activities", {"format": "csv", "depth": "all"}),
            ("gap-analysis", {"format": "csv"}),
            ("report", {"format": "csv"}),
            ("map", {}),
        ):
            response = await client.get(f"{base}/{path}", params=params, headers=reader)
            assert_problem(response, 404, "NOT_FOUND")
    invalid = (
        ("assets", {"format": "csv", "minMaturity": "4", "maxMaturity": "1"}),
        ("activities", {"format": "csv", "status": "sleeping"}),
        ("gap-analysis", {"format": "csv", "scope": "everything"}),
        ("report", {"format": "csv", "referenceModel": "1999.9"}),
    )
    for path, params in invalid:
        response = await client.get(
            f"/v1/organisations/{trust['id']}/{path}", params=params, headers=reader
        )
        assert_problem(response, 422, "VALIDATION_FAILED")
    # A system analysis of an organisation without members is refused after access passed.
    lone = await client.get(
        f"/v1/organisations/{trust['id']}/gap-analysis",
        params={"format": "csv", "scope": "system"},
        headers=reader,
    )
    assert_problem(lone, 422, "VALIDATION_FAILED")
    assert await exports(client) == []


async def test_the_event_is_committed_before_the_first_row_is_read(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, trust = await small_tree(client)
    chunks = await export.assets_csv(
        sessions_of(backend).reads,
        principal=OPERATOR,
        organisation_id=uuid.UUID(trust["id"]),
        all_levels=False,
        filters=AssetFilters(),
    )
    # Not a row read yet, and the event is there for any other session to see.
    [event] = await exports(client)
    assert (event["actor"], event["resourceType"]) == ("operator", "asset")
    assert isinstance(chunks, AsyncGenerator)
    header = await anext(chunks)
    assert b"externalId" in header
    await chunks.aclose()  # the download dies after its first chunk: still on record
    assert len(await exports(client)) == 1


@pytest.mark.slow
async def test_lhs_map_export_is_audited_as_the_operator(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics, _ = await small_tree(client)
    done = await lhs_map(backend.url, "export", ics["id"])
    assert done.returncode == 0, done.stderr
    [event] = await exports(client)
    assert (event["actor"], event["actorKind"]) == ("operator", "operator")
    assert (event["resourceType"], event["organisationId"]) == ("map", ics["id"])
    assert event["requestId"] is None
    assert how(event) == {"format": "json", "depth": "all"}

    refused = await lhs_map(backend.url, "export", str(uuid.uuid4()))
    assert refused.returncode == 1
    assert len(await exports(client)) == 1


async def test_the_audit_listing_filters_by_action(client: httpx.AsyncClient) -> None:
    """Who took data out, without wading through every change: ?action=export."""
    org = await create_organisation(client)
    await create_asset(client, org["id"])
    exported = await client.get(f"/v1/organisations/{org['id']}/assets", params={"format": "csv"})
    assert exported.status_code == 200, exported.text
    response = await client.get("/v1/audit-events", params={"action": "export"})
    assert response.status_code == 200, response.text
    events = response.json()["items"]
    assert [(e["action"], e["resourceType"]) for e in events] == [("export", "asset")]
    created = await client.get("/v1/audit-events", params={"action": "create"})
    assert {e["action"] for e in created.json()["items"]} == {"create"}
    assert_problem(
        await client.get("/v1/audit-events", params={"action": "exfiltrate"}),
        422,
        "VALIDATION_FAILED",
    )
