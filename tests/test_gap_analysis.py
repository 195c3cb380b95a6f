"""The gap analysis through the HTTP API, as a trust or an ICS would use it."""

from typing import Any

import httpx
import pytest

from app import caches
from app.reference.schemas import RETIRED
from tests.conftest import QueryCounter
from tests.helpers import (
    EVIDENCE,
    EVIDENCED,
    PEER_REVIEWED,
    assert_problem,
    create_activity,
    create_asset,
    create_organisation,
)

V2024 = "?referenceModel=2024.1"


@pytest.fixture
def before_2024_1_retired(monkeypatch: pytest.MonkeyPatch) -> None:
    """An instance from before 2024.1 was retired: its rules still decide what the
    assessments stored with it say."""
    monkeypatch.delitem(RETIRED, "2024.1")


async def analysis(client: httpx.AsyncClient, organisation_id: str, query: str = "") -> Any:
    response = await client.get(f"/v1/organisations/{organisation_id}/gap-analysis{query}")
    assert response.status_code == 200, response.text
    return response.json()


def keys(body: Any) -> list[str]:
    return [r["capabilityKey"] for r in body["recommendations"]]


async def test_recording_an_asset_at_target_removes_it_and_weakening_it_brings_it_back(
    client: httpx.AsyncClient, before_2024_1_retired: None
) -> None:
    """Model 2024.1's rules: a peer-reviewed claim needs no named reviewer there."""
    trust = await create_organisation(client)
    empty = await analysis(client, trust["id"], V2024)
    assert empty["organisation"] == {"id": trust["id"], "name": trust["name"]}
    assert empty["referenceModel"] == {"version": "2024.1"}
    assert empty["summary"]["overallScore"] == 0
    assert keys(empty)[0] == "digital-infrastructure"

    asset = await create_asset(
        client,
        trust["id"],
        area="technology",
        capabilityKey="digital-infrastructure",
        maturity=3,
        **PEER_REVIEWED,
    )
    met = await analysis(client, trust["id"], V2024)
    assert "digital-infrastructure" not in keys(met)
    gap = next(g for g in met["gaps"] if g["capabilityKey"] == "digital-infrastructure")
    assert gap["status"] == "met"
    assert gap["evidence"][0]["id"] == asset["id"]
    assert gap["confidence"] == "peer_reviewed"
    assert met["summary"]["overallScore"] > 0

    url = f"/v1/assets/{asset['id']}"
    weaker = await client.patch(
        url, json={"confidence": "self_assessed"}, headers={"If-Match": 'W/"1"'}
    )
    assert weaker.status_code == 200
    back = await analysis(client, trust["id"], V2024)
    assert "digital-infrastructure" in keys(back)
    why = next(
        r["why"] for r in back["recommendations"] if r["capabilityKey"] == "digital-infrastructure"
    )
    assert (why["reportedMaturity"], why["currentMaturity"], why["confidenceDiscount"]) == (3, 2, 1)

    await client.patch(
        url,
        json={"confidence": "evidenced", "maturity": 2, "evidence": EVIDENCE},
        headers={"If-Match": 'W/"2"'},
    )
    lower = await analysis(client, trust["id"], V2024)
    assert "digital-infrastructure" in keys(lower)
    assert (
        next(g for g in lower["gaps"] if g["capabilityKey"] == "digital-infrastructure")["status"]
        == "needs_development"
    )


async def test_shared_assets_count_for_members_and_peers_are_offered_for_spread(
    client: httpx.AsyncClient,
) -> None:
    ics = await create_organisation(client, name="West Yorkshire ICS", organisationType="ics")
    leeds = await create_organisation(client, name="Leeds", parentId=ics["id"])
    bradford = await create_organisation(client, name="Bradford", parentId=ics["id"])
    await create_asset(
        client,
        ics["id"],
        capabilityKey="data-platform",
        maturity=3,
        **EVIDENCED,
        sharedWithMembers=True,
    )
    await create_asset(
        client,
        bradford["id"],
        area="improvement",
        capabilityKey="improvement-capability",
        maturity=4,
        **EVIDENCED,
    )
    body = await analysis(client, leeds["id"])
    platform = next(g for g in body["gaps"] if g["capabilityKey"] == "data-platform")
    assert platform["status"] == "met"
    assert platform["evidence"][0]["inherited"] is True
    assert platform["evidence"][0]["organisationId"] == ics["id"]
    improvement = next(
        r for r in body["recommendations"] if r["capabilityKey"] == "improvement-capability"
    )
    assert improvement["availableInSystem"] == [{"id": bradford["id"], "name": "Bradford"}]
    assert body["learningLoop"]["links"][0]["status"] == "in_place"


async def test_system_view_rolls_up_members(client: httpx.AsyncClient) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    members = [
        await create_organisation(client, name=f"Trust {i}", parentId=ics["id"]) for i in range(4)
    ]
    for member in members[:2]:
        await create_asset(
            client,
            member["id"],
            area="improvement",
            capabilityKey="learning-culture",
            maturity=3,
            **EVIDENCED,
        )
    body = await analysis(client, ics["id"], "?scope=system")
    assert body["scope"] == "system"
    assert body["summary"]["members"] == 4
    culture = next(c for c in body["capabilities"] if c["capabilityKey"] == "learning-culture")
    assert culture["membersMeeting"] == 2
    assert {o["name"] for o in culture["notMeeting"]} == {"Trust 2", "Trust 3"}
    recs = {r["capabilityKey"]: r for r in body["recommendations"]}
    assert recs["learning-culture"]["strategy"] == "spread_from_members"
    assert {o["name"] for o in recs["learning-culture"]["spreadFrom"]} == {"Trust 0", "Trust 1"}
    assert recs["data-platform"]["strategy"] == "build_once_for_system"
    alone = await client.get(f"/v1/organisations/{members[0]['id']}/gap-analysis?scope=system")
    assert_problem(alone, 422, "VALIDATION_FAILED")


async def test_getting_started_reads_activities(client: httpx.AsyncClient) -> None:
    # Box 11 step 2 is a learning community that includes service users, each shown by an
    # outcome (model 2026.2: a step is done exactly when its capabilities are met).
    trust = await create_organisation(client)
    for key, title in (
        ("learning-community", "Falls learning community"),
        ("service-user-voice", "Patients in the falls community"),
    ):
        await create_activity(
            client,
            trust["id"],
            area="learning_communities",
            activityType="learning_community",
            status="active",
            capabilityKey=key,
            title=title,
            outcome="Meets monthly; agreed three priorities",
        )
    body = await analysis(client, trust["id"])
    steps = {s["step"]: s for s in body["gettingStarted"]["steps"]}
    assert steps[2]["done"] is True
    assert steps[1]["done"] is False
    assert body["gettingStarted"]["nextStep"] == 1


async def test_unknown_model_or_organisation_are_problems(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client)
    missing_model = await client.get(
        f"/v1/organisations/{trust['id']}/gap-analysis?referenceModel=1999.1"
    )
    problem = assert_problem(missing_model, 422, "VALIDATION_FAILED")
    assert problem["errors"][0]["pointer"] == "referenceModel"
    bad_scope = await client.get(f"/v1/organisations/{trust['id']}/gap-analysis?scope=galaxy")
    assert_problem(bad_scope, 422, "VALIDATION_FAILED")
    nobody = await client.get("/v1/organisations/00000000-0000-4000-8000-000000000000/gap-analysis")
    assert_problem(nobody, 404, "NOT_FOUND")


async def test_query_count_does_not_grow_with_the_records(
    client: httpx.AsyncClient, queries: QueryCounter
) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    trust = await create_organisation(client, parentId=ics["id"])
    peer = await create_organisation(client, name="Peer", parentId=ics["id"])

    async def count() -> tuple[int, int]:
        # From empty caches each time, so that both counts are of the same work (what is
        # remembered of an unchanged organisation is not read again the second time).
        caches.clear_all()
        before = queries.count
        await analysis(client, trust["id"])
        middle = queries.count
        await analysis(client, ics["id"], "?scope=system")
        return middle - before, queries.count - middle

    await create_asset(client, trust["id"], capabilityKey="data-platform")
    small = await count()
    for i in range(30):
        await create_asset(client, trust["id"], capabilityKey="analytics-workforce", name=f"A{i}")
        await create_asset(client, peer["id"], capabilityKey="data-platform", name=f"P{i}")
        await create_activity(client, trust["id"], capabilityKey="lhs-evaluation", title=f"E{i}")
    assert await count() == small
