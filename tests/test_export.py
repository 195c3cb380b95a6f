"""Exports as CSV: every matching row (no paging), the subtree with depth=all, columns that
re-import unchanged, cells a spreadsheet would run neutralised; the gap analysis as CSV."""

import csv
import io

import httpx

from tests.conftest import Backend, snapshot
from tests.helpers import (
    EVIDENCE,
    assert_problem,
    create_activity,
    create_asset,
    create_organisation,
)

HOSTILE = ('=HYPERLINK("https://evil.example")', "+SUM(A1:A2)", "-2+3", "@SUM(1)")


def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf"), "a BOM, so Excel reads UTF-8"
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


async def test_the_asset_csv_has_every_row_not_a_page(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client)
    for n in range(7):
        await create_asset(client, trust["id"], name=f"Asset {n}", maturity=n % 5)
    url = f"/v1/organisations/{trust['id']}/assets"
    rows = read_csv(await client.get(url, params={"format": "csv", "limit": 2}))
    assert [r["name"] for r in rows] == [f"Asset {n}" for n in range(7)]
    by_accept = read_csv(await client.get(url, headers={"Accept": "text/csv"}))
    assert by_accept == rows
    filtered = read_csv(await client.get(url, params={"format": "csv", "minMaturity": 3}))
    assert [r["name"] for r in filtered] == ["Asset 3", "Asset 4"]
    page = await client.get(url, params={"limit": 2}, headers={"Accept": "text/html, */*"})
    assert page.headers["content-type"] == "application/json"
    assert len(page.json()["items"]) == 2
    json_wins = await client.get(url, params={"format": "json"}, headers={"Accept": "text/csv"})
    assert json_wins.headers["content-type"] == "application/json"


async def test_depth_all_covers_the_whole_subtree(client: httpx.AsyncClient) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    trust = await create_organisation(client, name="Trust", parentId=ics["id"])
    ward = await create_organisation(client, name="Ward network", parentId=trust["id"])
    stranger = await create_organisation(client, name="Elsewhere")
    for owner in (ics, trust, ward, stranger):
        await create_asset(client, owner["id"], name=f"Asset of {owner['name']}")
        await create_activity(client, owner["id"], title=f"Work of {owner['name']}")
    base = f"/v1/organisations/{ics['id']}"
    assets = read_csv(await client.get(f"{base}/assets?format=csv&depth=all"))
    assert {r["name"] for r in assets} == {
        "Asset of ICS",
        "Asset of Trust",
        "Asset of Ward network",
    }
    assert {r["organisationId"] for r in assets} == {ics["id"], trust["id"], ward["id"]}
    activities = read_csv(await client.get(f"{base}/activities?format=csv&depth=all"))
    assert len(activities) == 3
    only_ics = read_csv(await client.get(f"{base}/assets?format=csv"))
    assert [r["name"] for r in only_ics] == ["Asset of ICS"]
    page = await client.get(f"{base}/assets?depth=all")
    assert len(page.json()["items"]) == 3


async def test_formula_cells_are_neutralised_and_survive_a_reimport(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    trust = await create_organisation(client)
    for name in HOSTILE:
        await create_asset(
            client, trust["id"], name=name, description="'=quoted already", owner="Bradford"
        )
    url = f"/v1/organisations/{trust['id']}/assets"
    response = await client.get(url, params={"format": "csv"})
    rows = read_csv(response)
    cells = [cell for row in rows for cell in row.values()]
    assert [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")] == []
    assert {r["name"] for r in rows} == {"'" + name for name in HOSTILE}
    assert {r["description"] for r in rows} == {"''=quoted already"}
    assert {r["owner"] for r in rows} == {"Bradford"}
    before = await snapshot(backend.engine)
    again = await client.post(
        f"/v1/organisations/{trust['id']}/imports/assets",
        content=response.content,
        headers={"Content-Type": "text/csv"},
    )
    assert [result["action"] for result in again.json()["results"]] == ["unchanged"] * 4
    assert await snapshot(backend.engine) == before


async def test_an_export_reimports_unchanged_with_every_column(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    trust = await create_organisation(client, parentId=ics["id"])
    shared = await create_asset(client, ics["id"], name="Shared", sharedWithMembers=True)
    own = await create_asset(
        client,
        trust["id"],
        area="data",
        capabilityKey="data-platform",
        name="Platform; with | separators \\ and a backslash",
        description="Line one\nline two",
        maturity=3,
        confidence="peer_reviewed",
        reviewedBy="Peer team",
        reviewedAt="2026-01-10T09:00:00.123456Z",
        evidence=[{"title": "Report; part 1 | draft", "url": "https://example.nhs.uk/r.pdf"}],
        tags=["a", "b.c"],
        owner="CDO",
    )
    await create_activity(
        client,
        trust["id"],
        title="Uses both",
        status="completed",
        startDate="2026-01-01",
        endDate="2026-03-31",
        assetIds=[shared["id"], own["id"]],
        goal="A goal",
        outcome="An outcome",
        evidence=EVIDENCE,
    )
    before = await snapshot(backend.engine)
    for what in ("assets", "activities"):
        url = f"/v1/organisations/{ics['id']}/{what}"
        exported = await client.get(url, params={"format": "csv", "depth": "all"})
        read_csv(exported)
        response = await client.post(
            f"/v1/organisations/{ics['id']}/imports/{what}",
            content=exported.content,
            headers={"Content-Type": "text/csv"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["created"] == 0
        assert response.json()["updated"] == 0
    after = await snapshot(backend.engine)
    # The two exports are on record; nothing else was written.
    exports = set(after.pop("audit_event")) - set(before.pop("audit_event"))
    assert after == before
    assert len(exports) == 2
    assert all("export" in event for event in exports)


async def test_export_of_an_unknown_organisation_is_a_problem(client: httpx.AsyncClient) -> None:
    missing = "/v1/organisations/0b9e4a3c-3f55-4a8e-9d1c-6f2b7c1d2e3f/assets?format=csv"
    assert_problem(await client.get(missing), 404, "NOT_FOUND")
    trust = await create_organisation(client)
    bad = await client.get(f"/v1/organisations/{trust['id']}/assets?format=xml")
    assert_problem(bad, 422, "VALIDATION_FAILED")


async def test_the_gap_analysis_as_csv_has_a_row_per_capability(
    client: httpx.AsyncClient,
) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    trust = await create_organisation(client, name="=Trust", parentId=ics["id"])
    await create_asset(
        client,
        trust["id"],
        area="data",
        capabilityKey="data-platform",
        name="P",
        maturity=4,
        confidence="evidenced",
        evidence=EVIDENCE,
    )
    url = f"/v1/organisations/{trust['id']}/gap-analysis"
    analysis = (await client.get(url)).json()
    rows = read_csv(await client.get(url, params={"format": "csv"}))
    assert [r["capabilityKey"] for r in rows] == [g["capabilityKey"] for g in analysis["gaps"]]
    platform = next(r for r in rows if r["capabilityKey"] == "data-platform")
    assert (platform["currentMaturity"], platform["evidence"]) == ("4", "P")
    ranked = {r["capabilityKey"]: r["rank"] for r in rows if r["rank"]}
    assert ranked == {r["capabilityKey"]: str(r["rank"]) for r in analysis["recommendations"]}
    system = read_csv(
        await client.get(
            f"/v1/organisations/{ics['id']}/gap-analysis",
            params={"scope": "system"},
            headers={"Accept": "text/csv"},
        )
    )
    assert len(system) == len(analysis["gaps"])
    assert "'=Trust" in {r["meeting"] for r in system} | {r["notMeeting"] for r in system}
