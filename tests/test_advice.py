"""The nine cases of advice an expert would have corrected, through the HTTP API (model 2026.1,
named: its stored meaning is kept under the newer default), on SQLite and PostgreSQL."""

import random
from typing import Any

import httpx
import pytest

from tests.conftest import Backend, snapshot
from tests.helpers import (
    EVIDENCE,
    EVIDENCED,
    PEER_REVIEWED,
    assert_problem,
    create_activity,
    create_asset,
    create_organisation,
)

Json = dict[str, Any]


async def model(client: httpx.AsyncClient) -> Json:
    response = await client.get("/v1/reference-models/2026.1")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def analysis(client: httpx.AsyncClient, organisation_id: str, query: str = "") -> Json:
    pinned = f"{query}&referenceModel=2026.1" if query else "?referenceModel=2026.1"
    response = await client.get(f"/v1/organisations/{organisation_id}/gap-analysis{pinned}")
    assert response.status_code == 200, response.text
    body = dict(response.json())
    assert body["referenceModel"]["version"] == "2026.1"
    return body


def gaps(body: Json) -> dict[str, Json]:
    return {g["capabilityKey"]: g for g in body["gaps"]}


def ranked(body: Json) -> list[str]:
    return [r["capabilityKey"] for r in body["recommendations"]]


async def test_1_unchecked_activities_do_not_meet_targets(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client, organisationType="acute_trust")
    for c in (await model(client))["capabilities"]:
        await create_activity(
            client, trust["id"], area=c["area"], capabilityKey=c["key"], status="active"
        )
    body = await analysis(client, trust["id"])
    assert body["summary"]["capabilitiesMet"] == 0
    found = gaps(body)
    assert (
        found["learning-community"]["status"],
        found["learning-community"]["currentMaturity"],
    ) == (
        "needs_development",
        2,
    )
    for key in (
        "service-user-voice",
        "inclusive-participation",
        "lhs-evaluation",
        "evidence-base-contribution",
    ):
        assert found[key]["status"] != "met", key
    assert found["service-user-voice"]["blockedBy"] == ["learning-community"]
    assert found["evidence-base-contribution"]["blockedBy"] == ["lhs-evaluation"]


async def test_1_an_outcome_or_evidence_lets_an_activity_count(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client)
    await create_activity(
        client,
        trust["id"],
        area="learning_communities",
        activityType="learning_community",
        capabilityKey="learning-community",
        status="active",
        outcome="Falls with harm down 20% since the community began",
    )
    await create_activity(
        client,
        trust["id"],
        area="learning_communities",
        capabilityKey="service-user-voice",
        status="active",
        evidence=EVIDENCE,
    )
    found = gaps(await analysis(client, trust["id"]))
    assert found["learning-community"]["status"] == "met"
    assert found["service-user-voice"]["status"] == "met"
    assert found["service-user-voice"]["blockedBy"] == []


async def test_2_a_checked_claim_must_show_its_proof(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    trust = await create_organisation(client)
    url = f"/v1/organisations/{trust['id']}/assets"
    base = {"area": "improvement", "capabilityKey": "learning-culture", "name": "Culture"}
    before = await snapshot(backend.engine)
    bare = await client.post(url, json=base | {"maturity": 3, "confidence": "evidenced"})
    problem = assert_problem(bare, 422, "VALIDATION_FAILED")
    assert [e["pointer"] for e in problem["errors"]] == ["#/evidence"]
    unnamed = await client.post(url, json=base | {"maturity": 3, "confidence": "peer_reviewed"})
    problem = assert_problem(unnamed, 422, "VALIDATION_FAILED")
    assert [e["pointer"] for e in problem["errors"]] == ["#/reviewedBy", "#/reviewedAt"]
    assert await snapshot(backend.engine) == before

    asset = await create_asset(client, trust["id"], **base, maturity=3, **EVIDENCED)
    emptied = await client.patch(
        f"/v1/assets/{asset['id']}", json={"evidence": []}, headers={"If-Match": 'W/"1"'}
    )
    assert assert_problem(emptied, 422, "VALIDATION_FAILED")["errors"][0]["pointer"] == (
        "#/evidence"
    )
    assert (await client.get(f"/v1/assets/{asset['id']}")).json()["evidence"] == asset["evidence"]
    assert gaps(await analysis(client, trust["id"]))["learning-culture"]["status"] == "met"

    other = await create_organisation(client, name="Other")
    await create_asset(client, other["id"], **base, maturity=4, confidence="self_assessed")
    culture = gaps(await analysis(client, other["id"]))["learning-culture"]
    assert (culture["status"], culture["currentMaturity"]) == ("needs_development", 2)
    assert "never above 2" in culture["note"]


async def test_3_tools_alone_do_not_close_the_learning_cycle(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client, organisationType="acute_trust")
    for c in (await model(client))["capabilities"]:
        if c["area"] in ("data", "technology"):
            await create_asset(
                client, trust["id"], area=c["area"], capabilityKey=c["key"], maturity=3, **EVIDENCED
            )
    loop = (await analysis(client, trust["id"]))["learningLoop"]
    assert loop["closed"] is False
    closing = next(link for link in loop["links"] if link["stage"] == "knowledge_to_practice")
    assert closing["status"] == "weak"
    assert "decision-support-tools" in closing["capabilitiesMet"]
    assert "tools alone" in closing["explanation"]
    assert "Better Care" not in loop["cycle"]


async def test_4_no_one_is_told_to_do_a_national_bodys_job(client: httpx.AsyncClient) -> None:
    icb = await create_organisation(client, name="ICB", organisationType="icb")
    body = await analysis(client, icb["id"])
    assert gaps(body)["digital-infrastructure"]["status"] == "not_applicable"
    assert "digital-infrastructure" not in ranked(body)
    assert body["summary"]["notApplicable"] >= 1
    for r in body["recommendations"]:
        assert all("longer-term funding" not in a.lower() for a in r["actions"])
    trust = await create_organisation(client, name="Trust", organisationType="acute_trust")
    epr = next(
        r
        for r in (await analysis(client, trust["id"]))["recommendations"]
        if r["capabilityKey"] == "digital-infrastructure"
    )
    assert epr["nationalEnabler"]["source"]["table"] == 3
    assert "longer-term funding" in epr["nationalEnabler"]["action"]
    practice = await create_organisation(client, name="Practice", organisationType="gp_practice")
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    assert (
        gaps(await analysis(client, practice["id"]))["evidence-base-contribution"]["targetMaturity"]
        == 1
    )
    assert (
        gaps(await analysis(client, ics["id"]))["evidence-base-contribution"]["targetMaturity"] == 3
    )


async def test_5_an_empty_gp_federation_starts_where_box_11_does(client: httpx.AsyncClient) -> None:
    federation = await create_organisation(client, organisationType="gp_federation")
    body = await analysis(client, federation["id"])
    first = body["recommendations"][0]
    assert body["gettingStarted"]["nextStep"] == 1
    assert first["gettingStartedStep"] == 1
    assert first["capabilityKey"] == "care-improvement-priorities"
    assert [r["gettingStartedStep"] for r in body["recommendations"][:5]] == [1, 2, 2, 3, 4]
    assert max(r["why"]["prerequisiteFactor"] for r in body["recommendations"]) <= 1.3
    assert "data-platform" not in ranked(body)[:5]


async def test_6_the_system_view_knows_what_travels(client: httpx.AsyncClient) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    members = {
        name: await create_organisation(
            client, name=name, organisationType=kind, parentId=ics["id"]
        )
        for name, kind in (
            ("Acute", "acute_trust"),
            ("Mental health", "mental_health_trust"),
            ("GP collaborative", "gp_federation"),
            ("Adult social care", "local_authority"),
            ("PCN", "primary_care_network"),
        )
    }
    await create_asset(
        client,
        members["Acute"]["id"],
        capabilityKey="analytics-workforce",
        name="40 WTE analytics team",
        maturity=3,
        confidence="self_assessed",
    )
    await create_asset(
        client,
        members["GP collaborative"]["id"],
        area="technology",
        capabilityKey="digital-infrastructure",
        name="GP clinical system",
        maturity=3,
        **EVIDENCED,
    )
    body = await analysis(client, ics["id"], "?scope=system")
    recs = {r["capabilityKey"]: r for r in body["recommendations"]}
    assert recs["analytics-workforce"]["strategy"] == "build_once_for_system"
    assert recs["analytics-workforce"]["hostCandidate"]["name"] == "Acute"
    epr = recs["digital-infrastructure"]
    assert epr["strategy"] != "build_once_for_system"
    assert epr["spreadFrom"] == []  # a GP system is no model for a trust or social care
    for r in body["recommendations"]:
        assert (r["strategy"] == "build_once_for_system") == (r["travels"] == "shareable")
    assert "service-user-voice" in [r["capabilityKey"] for r in body["recommendations"][:5]]


async def test_7_citations_are_honest(client: httpx.AsyncClient) -> None:
    capabilities = {c["key"]: c for c in (await model(client))["capabilities"]}
    rows = {
        k: {(s.get("table"), s.get("rank")) for s in c["sources"]} for k, c in capabilities.items()
    }
    assert (3, 8) not in rows["decision-support-tools"]
    assert (4, 8) not in rows["learning-community"]
    assert (4, 5) in rows["digital-infrastructure"]
    for key, c in capabilities.items():
        for source in c["sources"]:
            assert source["derivation"] in ("direct", "modelling_decision"), key
            if source["derivation"] == "modelling_decision":
                assert source["note"], key


async def test_8_missing_content_and_stronger_box_11_proxies(client: httpx.AsyncClient) -> None:
    capabilities = {c["key"] for c in (await model(client))["capabilities"]}
    assert {
        "professional-networks",
        "leadership-at-all-levels",
        "in-house-research-expertise",
    } <= capabilities
    trust = await create_organisation(client)
    await create_activity(client, trust["id"], status="active")  # any project, no goal
    await create_activity(
        client, trust["id"], activityType="training", status="planned", goal="Train 20 coaches"
    )
    await create_asset(
        client,
        trust["id"],
        area="learning_communities",
        capabilityKey="lhs-narrative-and-strategy",
        maturity=2,
        **PEER_REVIEWED,
    )
    stored = await client.post(f"/v1/organisations/{trust['id']}/assessments", json={})
    assert stored.status_code == 201, stored.text
    steps = {s["step"]: s for s in (await analysis(client, trust["id"]))["gettingStarted"]["steps"]}
    for step in (1, 3, 6, 7):
        assert steps[step]["done"] is False, steps[step]
    assert "waits for step 3" in steps[7]["evidence"]


async def test_9_the_learning_cycle_is_not_the_better_care_loop(client: httpx.AsyncClient) -> None:
    capabilities = (await model(client))["capabilities"]
    citing = [c["key"] for c in capabilities if "Better Care Loop" in str(c)]
    assert citing == ["decision-support-tools"]
    trust = await create_organisation(client)
    loop = (await analysis(client, trust["id"]))["learningLoop"]
    assert "learning cycle" in loop["cycle"]
    assert "Better Care" not in str(loop)


async def test_comparing_across_model_versions_says_the_models_differ(
    client: httpx.AsyncClient,
) -> None:
    trust = await create_organisation(client)
    url = f"/v1/organisations/{trust['id']}/assessments"
    old = (await client.post(url, json={"referenceModel": "2026.1"})).json()
    new = (await client.post(url, json={"referenceModel": "2026.2"})).json()
    assert (old["referenceModel"]["version"], new["referenceModel"]["version"]) == (
        "2026.1",
        "2026.2",
    )
    reread = (await client.get(f"/v1/assessments/{old['id']}")).json()
    assert reread["analysis"]["referenceModel"]["version"] == "2026.1"  # still pinned
    compared = await client.get(f"/v1/assessments/{new['id']}/compare?with={old['id']}")
    assert compared.status_code == 200, compared.text
    assert compared.json()["referenceModelChanged"] is True
    assert "reference models differ: 2026.1 then 2026.2" in compared.json()["modelNote"]


@pytest.mark.parametrize("seed", [1, 2])
async def test_peers_are_credited_as_the_organisation_credits_itself(
    client: httpx.AsyncClient, seed: int
) -> None:
    """A member's own analysis reads its records one by one; its peers see it through
    aggregates. Both must agree on what it meets."""
    rng = random.Random(seed)
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    member = await create_organisation(client, name="Member", parentId=ics["id"])
    peer = await create_organisation(client, name="Peer", parentId=ics["id"])
    proofs: list[Json] = [
        {"confidence": "self_assessed"},
        {"confidence": "self_assessed", "evidence": EVIDENCE},
        PEER_REVIEWED,
        EVIDENCED,
    ]
    for c in rng.sample((await model(client))["capabilities"], 18):
        for _ in range(rng.randint(1, 2)):
            if rng.random() < 0.6:
                await create_asset(
                    client,
                    member["id"],
                    area=c["area"],
                    capabilityKey=c["key"],
                    maturity=rng.randint(0, 4),
                    **rng.choice(proofs),
                )
            else:
                extras: list[Json] = [{}, {"outcome": "Done"}, {"evidence": EVIDENCE}]
                extra = rng.choice(extras)
                status = rng.choice(["planned", "active", "completed", "stopped"])
                await create_activity(
                    client,
                    member["id"],
                    area=c["area"],
                    capabilityKey=c["key"],
                    status=status,
                    **extra,
                )
    own = {k for k, g in gaps(await analysis(client, member["id"])).items() if g["status"] == "met"}
    seen = {
        r["capabilityKey"]
        for r in (await analysis(client, peer["id"]))["recommendations"]
        if {"id": member["id"], "name": "Member"} in r["availableInSystem"]
    }
    system = await analysis(client, ics["id"], "?scope=system")
    rolled = {
        c["capabilityKey"]
        for c in system["capabilities"]
        if {"id": member["id"], "name": "Member"} in c["meeting"]
    }
    assert own == rolled
    assert seen == own & set(ranked(await analysis(client, peer["id"])))
