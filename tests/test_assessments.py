"""Assessments: immutable snapshots of a gap analysis, their history and their comparison."""

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Backend, snapshot
from tests.helpers import EVIDENCED, assert_problem, create_asset, create_organisation

Json = dict[str, Any]
AREAS = {"data", "technology", "learning_communities", "improvement"}
AT_TARGET = {
    "capabilityKey": "digital-infrastructure",
    "area": "technology",
    "name": "Electronic patient record",
    "maturity": 3,
    "confidence": "evidenced",
    "evidence": [{"title": "EPR go-live report", "url": "https://example.nhs.uk/epr.pdf"}],
}


async def assess(client: httpx.AsyncClient, organisation_id: str, **body: Any) -> Json:
    response = await client.post(f"/v1/organisations/{organisation_id}/assessments", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def compare(client: httpx.AsyncClient, this: Json, other: Json) -> Json:
    response = await client.get(f"/v1/assessments/{this['id']}/compare?with={other['id']}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def by_key(changes: list[Json]) -> dict[str, Json]:
    return {c["capabilityKey"]: c for c in changes}


async def test_create_stores_the_current_gap_analysis(client: httpx.AsyncClient) -> None:
    org = await create_organisation(client, name="Leeds Trust")
    await create_asset(client, org["id"], capabilityKey="data-platform", maturity=2)
    live = (await client.get(f"/v1/organisations/{org['id']}/gap-analysis")).json()
    response = await client.post(
        f"/v1/organisations/{org['id']}/assessments", json={"label": "Q1 board report"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"].endswith(f"/v1/assessments/{body['id']}")
    assert body["organisationId"] == org["id"]
    assert body["referenceModel"]["version"] == "2026.2"  # the default
    assert body["label"] == "Q1 board report"
    analysis = body["analysis"]
    assert body["overallScore"] == analysis["summary"]["overallScore"]
    assert body["scope"] == analysis["scope"] == "organisation"
    assert analysis["organisation"] == {"id": org["id"], "name": "Leeds Trust"}
    assert analysis["referenceModel"]["version"] == "2026.2"
    assert len(analysis["gaps"]) == 32
    platform = next(g for g in analysis["gaps"] if g["capabilityKey"] == "data-platform")
    assert platform["status"] == "needs_development"
    assert {k: v for k, v in analysis.items() if k != "generatedAt"} == {
        k: v for k, v in live.items() if k != "generatedAt"
    }
    fetched = await client.get(response.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == body


async def test_list_pages_oldest_first(client: httpx.AsyncClient) -> None:
    org = await create_organisation(client)
    first = await assess(client, org["id"], label="first")
    second = await assess(client, org["id"], label="second")
    other = await create_organisation(client, name="Other")
    await assess(client, other["id"])
    page = (await client.get(f"/v1/organisations/{org['id']}/assessments?limit=1")).json()
    assert [(a["id"], a["label"]) for a in page["items"]] == [(first["id"], "first")]
    assert page["items"][0]["overallScore"] == first["overallScore"]
    assert page["links"]["next"]
    last = (await client.get(page["links"]["next"])).json()
    assert [a["id"] for a in last["items"]] == [second["id"]]
    assert last["links"]["next"] is None


async def test_snapshot_does_not_change_when_records_change(client: httpx.AsyncClient) -> None:
    org = await create_organisation(client)
    old = await assess(client, org["id"])
    await create_asset(client, org["id"], **AT_TARGET)
    live = (await client.get(f"/v1/organisations/{org['id']}/gap-analysis")).json()
    assert (
        live["summary"]["overallScore"] > old["overallScore"]
    )  # the records did change the analysis
    reread = await client.get(f"/v1/assessments/{old['id']}")
    assert reread.json() == old


async def test_compare_shows_closed_and_opened_gaps(client: httpx.AsyncClient) -> None:
    org = await create_organisation(client)
    first = await assess(client, org["id"], label="baseline")
    asset = await create_asset(client, org["id"], **AT_TARGET)
    second = await assess(client, org["id"], label="after the EPR")
    assert any(
        r["capabilityKey"] == "digital-infrastructure" for r in first["analysis"]["recommendations"]
    )

    forward = await compare(client, second, first)
    assert forward["from"]["id"] == first["id"]
    assert forward["to"]["id"] == second["id"]
    assert forward["referenceModelChanged"] is False
    closed = by_key(forward["gapsClosed"])
    assert closed["digital-infrastructure"]["fromStatus"] == "missing"
    assert closed["digital-infrastructure"]["toStatus"] == "met"
    assert closed["digital-infrastructure"]["toMaturity"] == 3
    assert forward["gapsOpened"] == []
    assert forward["scoreChange"] > 0
    assert forward["scoreChange"] == pytest.approx(
        second["overallScore"] - first["overallScore"], abs=0.05
    )
    areas = {a["area"]: a["change"] for a in forward["areas"]}
    assert set(areas) == AREAS
    assert areas["technology"] > 0
    assert all(areas[a] == 0 for a in AREAS - {"technology"})
    moved = by_key(forward["recommendationsMoved"])
    assert moved["digital-infrastructure"]["toRank"] is None
    assert isinstance(moved["digital-infrastructure"]["fromRank"], int)
    assert await compare(client, first, second) == forward

    lowered = await client.patch(
        f"/v1/assets/{asset['id']}", json={"maturity": 1}, headers={"If-Match": 'W/"1"'}
    )
    assert lowered.status_code == 200, lowered.text
    third = await assess(client, org["id"], label="after the downgrade")
    back = await compare(client, third, second)
    assert back["from"]["id"] == second["id"]
    opened = by_key(back["gapsOpened"])
    assert opened["digital-infrastructure"]["fromStatus"] == "met"
    assert opened["digital-infrastructure"]["toStatus"] == "needs_development"
    assert opened["digital-infrastructure"]["toMaturity"] == 1
    assert back["gapsClosed"] == []
    assert back["scoreChange"] < 0
    assert by_key(back["recommendationsMoved"])["digital-infrastructure"]["fromRank"] is None


async def test_comparison_errors_write_nothing(client: httpx.AsyncClient, backend: Backend) -> None:
    org = await create_organisation(client)
    other_org = await create_organisation(client, name="Other Trust")
    mine = await assess(client, org["id"])
    theirs = await assess(client, other_org["id"])
    unknown = uuid.uuid4()
    before = await snapshot(backend.engine)

    foreign = await client.get(f"/v1/assessments/{mine['id']}/compare?with={theirs['id']}")
    problem = assert_problem(foreign, 422, "VALIDATION_FAILED")
    assert [e["pointer"] for e in problem["errors"]] == ["with"]
    assert_problem(await client.get(f"/v1/assessments/{unknown}"), 404, "NOT_FOUND")
    assert_problem(
        await client.get(f"/v1/assessments/{unknown}/compare?with={mine['id']}"), 404, "NOT_FOUND"
    )
    assert_problem(
        await client.get(f"/v1/assessments/{mine['id']}/compare?with={unknown}"), 404, "NOT_FOUND"
    )
    missing = assert_problem(
        await client.get(f"/v1/assessments/{mine['id']}/compare"), 422, "VALIDATION_FAILED"
    )
    assert [e["pointer"] for e in missing["errors"]] == ["with"]
    assert await snapshot(backend.engine) == before


@pytest.mark.parametrize(
    ("organisation", "body", "status", "code", "pointer"),
    [
        ("known", {"referenceModel": "1999.1"}, 422, "VALIDATION_FAILED", "#/referenceModel"),
        ("unknown", {}, 404, "NOT_FOUND", None),
        ("known", {"label": "Q1", "colour": "red"}, 422, "VALIDATION_FAILED", "#/colour"),
    ],
)
async def test_refused_assessments_write_nothing(
    client: httpx.AsyncClient,
    backend: Backend,
    organisation: str,
    body: Json,
    status: int,
    code: str,
    pointer: str | None,
) -> None:
    org = await create_organisation(client)
    organisation_id = org["id"] if organisation == "known" else str(uuid.uuid4())
    before = await snapshot(backend.engine)
    response = await client.post(f"/v1/organisations/{organisation_id}/assessments", json=body)
    problem = assert_problem(response, status, code)
    if pointer is not None:
        assert [e["pointer"] for e in problem["errors"]] == [pointer]
    assert await snapshot(backend.engine) == before
    listed = await client.get(f"/v1/organisations/{organisation_id}/assessments")
    if organisation == "known":
        assert listed.json()["items"] == []
    else:
        assert_problem(listed, 404, "NOT_FOUND")


async def test_a_system_assessment_tracks_coverage_across_members(
    client: httpx.AsyncClient,
) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    trusts = [
        await create_organisation(client, name=f"Trust {i}", parentId=ics["id"]) for i in range(2)
    ]
    url = f"/v1/organisations/{ics['id']}/assessments"
    first = await client.post(url, json={"scope": "system", "label": "System baseline"})
    assert first.status_code == 201, first.text
    assert first.json()["scope"] == first.json()["analysis"]["scope"] == "system"
    assert first.json()["overallScore"] == first.json()["analysis"]["summary"]["overallScore"]
    for trust in trusts:
        await create_asset(
            client,
            trust["id"],
            area="improvement",
            capabilityKey="learning-culture",
            maturity=3,
            **EVIDENCED,
        )
    second = await client.post(url, json={"scope": "system"})
    comparison = await client.get(
        f"/v1/assessments/{first.json()['id']}/compare", params={"with": second.json()["id"]}
    )
    assert comparison.status_code == 200, comparison.text
    body = comparison.json()
    assert body["scope"] == "system"
    assert body["from"]["id"] == first.json()["id"]
    assert body["nowMetEverywhere"] == ["learning-culture"]
    culture = next(c for c in body["coverageChanges"] if c["capabilityKey"] == "learning-culture")
    assert (culture["fromCoverage"], culture["toCoverage"], culture["toMembersMeeting"]) == (
        0.0,
        1.0,
        2,
    )
    assert body["scoreChange"] > 0
    moved = {m["capabilityKey"]: m for m in body["recommendationsMoved"]}
    assert moved["learning-culture"]["toRank"] is None

    organisation_scope = await client.post(url, json={})
    mixed = await client.get(
        f"/v1/assessments/{first.json()['id']}/compare",
        params={"with": organisation_scope.json()["id"]},
    )
    assert_problem(mixed, 422, "VALIDATION_FAILED")
    alone = await client.post(
        f"/v1/organisations/{trusts[0]['id']}/assessments", json={"scope": "system"}
    )
    assert_problem(alone, 422, "VALIDATION_FAILED")
