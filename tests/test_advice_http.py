"""The rules of "advice an expert signs" (model 2026.2), one test each, end to end: records
made through the API, the gap analysis read over HTTP, on SQLite and on PostgreSQL.

The scenarios are the worked examples of docs/gap-analysis.md ("Advice an expert signs"), so
the docs, the pure engine's tests (tests/test_advice_rules.py) and what a user sees agree. Each
test asserts what a user reads: ranks, statuses, notes, hosts, counts and labels.
"""

import re
from typing import Any

import httpx

from tests.helpers import EVIDENCED, create_activity, create_asset, create_organisation

OLD = "referenceModel=2026.1"
OUTCOME = "Meets monthly; agreed three priorities"


async def analysis(client: httpx.AsyncClient, organisation_id: str, query: str = "") -> Any:
    response = await client.get(f"/v1/organisations/{organisation_id}/gap-analysis?{query}")
    assert response.status_code == 200, response.text
    return response.json()


def recommendation(body: Any, key: str) -> Any:
    return next(r for r in body["recommendations"] if r["capabilityKey"] == key)


def gap(body: Any, key: str) -> Any:
    return next(g for g in body["gaps"] if g["capabilityKey"] == key)


def ranked(body: Any) -> list[str]:
    return [r["capabilityKey"] for r in body["recommendations"]]


async def done(
    client: httpx.AsyncClient, organisation_id: str, key: str, area: str, **fields: Any
) -> None:
    """An active activity with an outcome on ``key``: credited 3 (established)."""
    body = {
        "area": area,
        "capabilityKey": key,
        "title": f"{key} in practice",
        "status": "active",
        "outcome": OUTCOME,
    } | fields
    await create_activity(client, organisation_id, **body)


async def proven(
    client: httpx.AsyncClient,
    organisation_id: str,
    key: str,
    area: str,
    maturity: int = 3,
    **f: Any,
) -> dict[str, Any]:
    """An asset recorded with an evidence link: credited as recorded."""
    return await create_asset(
        client,
        organisation_id,
        area=area,
        capabilityKey=key,
        name=f"{key} asset",
        maturity=maturity,
        **EVIDENCED,
        **f,
    )


async def steps_one_to_four(client: httpx.AsyncClient, organisation_id: str) -> None:
    """Box 11 steps 1-4 taken, each by a record of that step."""
    await done(client, organisation_id, "care-improvement-priorities", "improvement")
    await done(
        client,
        organisation_id,
        "learning-community",
        "learning_communities",
        activityType="learning_community",
    )
    await done(
        client,
        organisation_id,
        "service-user-voice",
        "learning_communities",
        activityType="learning_community",
    )
    await done(client, organisation_id, "improvement-ambition", "improvement")
    await proven(client, organisation_id, "senior-learning-leadership", "improvement")


async def test_rule_1_an_honest_weakness_never_ranks_below_silence(
    client: httpx.AsyncClient,
) -> None:
    """docs: an acute trust with steps 1-4 met records technology evaluation, evidenced, at 1
    of 3: 20.0, rank 25 on 2026.1 (below capabilities with nothing recorded); first on 2026.2."""
    trust = await create_organisation(client, name="Honest Acute", organisationType="acute_trust")
    await steps_one_to_four(client, trust["id"])
    await proven(client, trust["id"], "technology-evaluation", "technology", maturity=1)

    new = await analysis(client, trust["id"])
    assert new["referenceModel"] == {"version": "2026.2"}
    assert new["gettingStarted"]["steps"][0]["done"] is True
    first = new["recommendations"][0]
    assert first["capabilityKey"] == "technology-evaluation"
    assert first["rank"] == 1
    assert first["status"] == "needs_development"
    assert first["priorityScore"] == 20.0
    assert first["why"]["knownGap"] is True
    assert (first["why"]["currentMaturity"], first["why"]["targetMaturity"]) == (1, 3)
    # The ranking's explanation says how: a known gap before silence, then by weight x gap.
    assert "before capabilities with nothing recorded" in str(
        (await client.get("/openapi.json")).json()["components"]["schemas"]["Why"]
    )
    silent = [r for r in new["recommendations"] if r["why"]["reportedMaturity"] == 0]
    assert silent
    assert all(r["rank"] > first["rank"] for r in silent)

    old = await analysis(client, trust["id"], OLD)
    weak = recommendation(old, "technology-evaluation")
    assert weak["rank"] == 25
    assert weak["priorityScore"] == 20.0
    assert weak["why"]["knownGap"] is False
    silent_old = [r for r in old["recommendations"] if r["why"]["reportedMaturity"] == 0]
    assert min(r["rank"] for r in silent_old) < weak["rank"]


async def test_rule_2_getting_started_agrees_with_itself(client: httpx.AsyncClient) -> None:
    """docs: an ambulance trust whose analysts meet in a regional network and which recruits
    to a national trial: 2026.1 said steps 1 and 2 were done; 2026.2 says neither is, and its
    first two recommendations are those steps."""
    trust = await create_organisation(
        client, name="Data-rich Ambulance", organisationType="ambulance_trust"
    )
    await done(
        client,
        trust["id"],
        "analyst-community-of-practice",
        "data",
        title="Regional analysts' network",
        activityType="learning_community",
    )
    await create_activity(
        client,
        trust["id"],
        area="improvement",
        title="Recruiting to a national trial",
        activityType="research",
        status="active",
        goal="Recruit 200 patients to the national trial",
    )

    new = await analysis(client, trust["id"])
    steps = {s["step"]: s for s in new["gettingStarted"]["steps"]}
    assert steps[1]["done"] is False
    assert steps[2]["done"] is False
    assert new["gettingStarted"]["nextStep"] == 1
    for key in ("care-improvement-priorities", "learning-community", "service-user-voice"):
        assert gap(new, key)["status"] != "met", key
    first, second = new["recommendations"][:2]
    assert (first["capabilityKey"], first["gettingStartedStep"]) == (
        "care-improvement-priorities",
        1,
    )
    assert (second["capabilityKey"], second["gettingStartedStep"]) == ("learning-community", 2)
    # Every step the analysis calls done has its capabilities met, and the other way round.
    for step, keys in ((1, ["care-improvement-priorities"]), (3, ["improvement-ambition"])):
        assert steps[step]["done"] is all(gap(new, k)["status"] == "met" for k in keys)

    old = await analysis(client, trust["id"], OLD)
    old_steps = {s["step"]: s for s in old["gettingStarted"]["steps"]}
    assert old_steps[1]["done"] is True
    assert old_steps[2]["done"] is True
    assert gap(old, "learning-community")["status"] == "missing"  # the contradiction 2026.2 ends
    assert old["recommendations"][0]["capabilityKey"] != "care-improvement-priorities"


async def test_rule_3_notes_tell_the_real_cause(client: httpx.AsyncClient) -> None:
    """docs: a carers' forum with an outcome before any learning community is blocked, its
    note names the prerequisite, and the evidence is not at fault; "met through a shared
    asset" is said only of a met capability."""
    icb = await create_organisation(client, name="Carers ICB", organisationType="icb")
    trust = await create_organisation(
        client, name="Carers Acute", organisationType="acute_trust", parentId=icb["id"]
    )
    await done(
        client,
        trust["id"],
        "service-user-voice",
        "learning_communities",
        title="Carers' forum",
        activityType="other",
    )
    await proven(
        client, icb["id"], "learning-culture", "improvement", maturity=2, sharedWithMembers=True
    )

    body = await analysis(client, trust["id"])
    voice = gap(body, "service-user-voice")
    assert voice["status"] == "blocked"
    assert voice["blockedBy"] == ["learning-community"]
    assert voice["note"] == (
        "Recorded at maturity 3; it counts once learning-community is in place (the model "
        "places learning-community first), credited 2 until then."
    )
    rec = recommendation(body, "service-user-voice")
    assert rec["why"]["confidenceDiscount"] == 0
    assert rec["why"]["reportedMaturity"] == 3
    assert ranked(body).index("learning-community") < ranked(body).index("service-user-voice")
    for each in body["gaps"]:
        if "met through" in (each["note"] or "").lower():
            assert each["status"] == "met", each
    culture = gap(body, "learning-culture")
    assert culture["status"] == "missing"
    assert "does not count here" in culture["note"]

    # 2026.1 blamed the evidence, and called an unmet capability "met through" a shared asset.
    old = await analysis(client, trust["id"], OLD)
    assert recommendation(old, "service-user-voice")["why"]["confidenceDiscount"] == 1
    old_culture = gap(old, "learning-culture")
    assert (old_culture["status"], old_culture["note"]) == (
        "needs_development",
        "Met through an asset shared by an organisation above this one.",
    )


async def test_rule_4_what_travels_travels_the_same_way(client: httpx.AsyncClient) -> None:
    """docs: a trust below an ICB that shares its platform, its IG return and a culture
    survey: data-platform met, information-governance and learning-culture missing (each still
    listed, credited 0); a GP practice's EPR is not offered to a community trust, an acute
    trust's is."""
    icb = await create_organisation(client, name="Travel ICB", organisationType="icb")
    shared = {"sharedWithMembers": True}
    await proven(client, icb["id"], "data-platform", "data", **shared)
    governance = await proven(client, icb["id"], "information-governance", "data", **shared)
    await proven(client, icb["id"], "learning-culture", "improvement", **shared)
    acute = await create_organisation(
        client, name="Travel Acute", organisationType="acute_trust", parentId=icb["id"]
    )
    practice = await create_organisation(
        client, name="Travel Practice", organisationType="gp_practice", parentId=icb["id"]
    )
    community = await create_organisation(
        client, name="Travel Community", organisationType="community_trust", parentId=icb["id"]
    )
    for owner in (acute, practice):
        await proven(client, owner["id"], "digital-infrastructure", "technology")

    body = await analysis(client, acute["id"])
    assert gap(body, "data-platform")["status"] == "met"
    assert gap(body, "data-platform")["evidence"][0]["inherited"] is True
    ig = gap(body, "information-governance")
    assert ig["status"] == "missing"
    assert [(e["id"], e["inherited"], e["creditedMaturity"]) for e in ig["evidence"]] == [
        (governance["id"], True, 0)
    ]
    assert "the organisation's own duty" in ig["note"]
    assert "needs a record of its own" in ig["note"]
    assert gap(body, "learning-culture")["status"] == "missing"
    assert "information-governance" in ranked(body)

    epr = recommendation(await analysis(client, community["id"]), "digital-infrastructure")
    assert epr["availableInSystem"] == [{"id": acute["id"], "name": "Travel Acute"}]
    # The system view spreads it by the same rule: from the acute trust, not the practice.
    system = await analysis(client, icb["id"], "scope=system")
    spread = next(
        r for r in system["recommendations"] if r["capabilityKey"] == "digital-infrastructure"
    )
    assert spread["strategy"] == "spread_from_members"
    assert spread["spreadFrom"] == [{"id": acute["id"], "name": "Travel Acute"}]
    assert "learning how from members of the same kind" in spread["explanation"]

    old = await analysis(client, community["id"], OLD)
    offered = recommendation(old, "digital-infrastructure")["availableInSystem"]
    assert {o["name"] for o in offered} == {"Travel Acute", "Travel Practice"}


async def test_rule_4_an_own_duty_is_not_built_once_for_the_system(
    client: httpx.AsyncClient,
) -> None:
    """The organisation view says each body makes its own data-security return; the system
    view must not advise building it once and sharing it with every member."""
    icb = await create_organisation(client, name="Duty ICB", organisationType="icb")
    await proven(client, icb["id"], "information-governance", "data", sharedWithMembers=True)
    for n in range(2):
        await create_organisation(
            client, name=f"Duty Trust {n}", organisationType="acute_trust", parentId=icb["id"]
        )
    system = await analysis(client, icb["id"], "scope=system")
    ig = next(
        r for r in system["recommendations"] if r["capabilityKey"] == "information-governance"
    )
    assert ig["strategy"] != "build_once_for_system", ig["explanation"]
    assert "share it with every member" not in ig["explanation"]


async def test_rule_5_hosts_make_sense(client: httpx.AsyncClient) -> None:
    """docs: a GP federation with incentives evidenced at 2 is not their host (a commissioning
    lever is the ICB's); a tie on checked evidence is said, not broken by name; in a system
    with no ICB the explanation says who should lead instead."""
    icb = await create_organisation(client, name="Hosting ICB", organisationType="icb")
    federation = await create_organisation(
        client, name="A Federation", organisationType="gp_federation", parentId=icb["id"]
    )
    acute = await create_organisation(
        client, name="B Acute", organisationType="acute_trust", parentId=icb["id"]
    )
    mental = await create_organisation(
        client, name="C Mental Health", organisationType="mental_health_trust", parentId=icb["id"]
    )
    await proven(client, federation["id"], "improvement-incentives", "improvement", maturity=2)
    for trust in (acute, mental):
        await proven(client, trust["id"], "analytics-workforce", "data")

    system = await analysis(client, icb["id"], "scope=system")
    recs = {r["capabilityKey"]: r for r in system["recommendations"]}
    incentives = recs["improvement-incentives"]
    assert incentives["strategy"] == "build_once_for_system"
    # The ICB is itself a candidate, and the only one fit to hold a commissioning lever.
    assert incentives["hostCandidate"] in (None, {"id": icb["id"], "name": "Hosting ICB"})
    assert incentives["explanation"].endswith("those fit to host it: Hosting ICB.")
    assert "A Federation" not in incentives["explanation"]
    # Once the ICB starts on it, it hosts, though the federation is further along.
    await proven(client, icb["id"], "improvement-incentives", "improvement", maturity=1)
    again = await analysis(client, icb["id"], "scope=system")
    hosted = next(
        r for r in again["recommendations"] if r["capabilityKey"] == "improvement-incentives"
    )
    assert hosted["hostCandidate"] == {"id": icb["id"], "name": "Hosting ICB"}
    analysts = recs["analytics-workforce"]
    # A tie on checked evidence is said, and the host is for the two to agree.
    pair = {acute["id"]: "B Acute", mental["id"]: "C Mental Health"}
    host = analysts["hostCandidate"]
    assert host is not None
    assert pair[host["id"]] == host["name"]
    other = next(name for id_, name in pair.items() if id_ != host["id"])
    assert f"(as far along as {other}: agree between you)" in analysts["explanation"]

    old = await analysis(client, icb["id"], f"scope=system&{OLD}")
    # 2026.1 offered the federation as host of a commissioning lever.
    old_incentives = next(
        r for r in old["recommendations"] if r["capabilityKey"] == "improvement-incentives"
    )
    assert old_incentives["hostCandidate"] == {"id": federation["id"], "name": "A Federation"}
    old_analysts = next(
        r for r in old["recommendations"] if r["capabilityKey"] == "analytics-workforce"
    )
    assert "agree between you" not in old_analysts["explanation"]

    network = await create_organisation(client, name="No-ICB Network", organisationType="network")
    for member in (federation, acute, mental):
        moved = await client.patch(
            f"/v1/organisations/{member['id']}",
            json={"parentId": network["id"]},
            headers={"If-Match": f'W/"{member["version"]}"'},
        )
        assert moved.status_code == 200, moved.text
    alone = await analysis(client, network["id"], "scope=system")
    lead = next(
        r for r in alone["recommendations"] if r["capabilityKey"] == "improvement-incentives"
    )
    assert lead["hostCandidate"] is None
    assert "it needs an integrated care board or integrated care system" in lead["explanation"]
    assert "should lead" in lead["explanation"]
    assert "icb" not in lead["explanation"]


def applies(capability: Any, kind: str) -> bool:
    return capability["appliesTo"] is None or kind in capability["appliesTo"]


async def test_rule_6_like_with_like(client: httpx.AsyncClient) -> None:
    """A member's "of N capabilities" counts only those that apply to its type, the same in
    its analysis, the system view and the board report, and as the model says."""
    model = await client.get("/v1/reference-models/2026.2")
    assert model.status_code == 200, model.text
    capabilities = model.json()["capabilities"]
    icb = await create_organisation(client, name="Like ICB", organisationType="icb")
    practice = await create_organisation(
        client, name="Like Practice", organisationType="gp_practice", parentId=icb["id"]
    )
    await create_organisation(
        client, name="Like Acute", organisationType="acute_trust", parentId=icb["id"]
    )
    await proven(client, practice["id"], "digital-infrastructure", "technology")

    practice_n = sum(applies(c, "gp_practice") for c in capabilities)
    assert practice_n < len(capabilities)  # some do not apply to a practice
    own = (await analysis(client, practice["id"]))["summary"]
    assert (own["capabilitiesMet"], own["capabilitiesTotal"]) == (1, practice_n)
    assert own["notApplicable"] == len(capabilities) - practice_n

    system = await analysis(client, icb["id"], "scope=system")
    for coverage in system["capabilities"]:
        spec = next(c for c in capabilities if c["key"] == coverage["capabilityKey"])
        expected = applies(spec, "gp_practice") + applies(spec, "acute_trust")
        assert coverage["membersTotal"] == expected, coverage["capabilityKey"]

    report = await client.get(f"/v1/organisations/{icb['id']}/report?format=html")
    assert report.status_code == 200, report.text
    for name, kind in (("Like Practice", "gp_practice"), ("Like Acute", "acute_trust")):
        n = sum(applies(c, kind) for c in capabilities)
        row = re.search(rf'<th scope="row">{name}</th>.*?<td class="num">(.*?)</td>', report.text)
        assert row is not None, name
        met = 1 if name == "Like Practice" else 0
        assert row.group(1) == f"{met} of {n}"
    page = await client.get(f"/v1/organisations/{practice['id']}/report?format=html")
    assert f"<b>1 of {practice_n}</b>" in page.text


async def test_rule_7_the_models_own_choices_stay_visible_and_small(
    client: httpx.AsyncClient,
) -> None:
    """docs: an empty acute trust's leadership at all levels scored 70.0 (rank 10) on 2026.1;
    on 2026.2, 30.0 (rank 31), Table 4 row 1 still cited and marked a modelling decision.
    Table 4 row 5 is a modelling decision on each of its four capabilities; the national
    enablers of recommendations 2 and 3 are named, and the readiness framework is one
    policymakers are still to develop."""
    trust = await create_organisation(client, name="Empty Acute", organisationType="acute_trust")
    new = await analysis(client, trust["id"])
    old = await analysis(client, trust["id"], OLD)

    lead = recommendation(new, "leadership-at-all-levels")
    assert (lead["rank"], lead["priorityScore"], lead["why"]["weight"]) == (31, 30.0, 0.3)
    row1 = next(s for s in lead["sources"] if (s["table"], s["rank"]) == (4, 1))
    assert row1["derivation"] == "modelling_decision"
    assert "weighs it 0.30, not 70 %" in row1["note"]
    assert "leadership-at-all-levels" not in ranked(new)[:5]
    was = recommendation(old, "leadership-at-all-levels")
    assert (was["rank"], was["priorityScore"], was["why"]["weight"]) == (10, 70.0, 0.7)

    row5 = {
        r["capabilityKey"]: s["derivation"]
        for r in new["recommendations"]
        for s in r["sources"]
        if (s["table"], s["rank"]) == (4, 5)
    }
    assert row5 == dict.fromkeys(
        (
            "digital-infrastructure",
            "decision-support-tools",
            "data-platform",
            "analytics-workforce",
        ),
        "modelling_decision",
    )
    # Shown but small: a modelling decision does not set the ranking weight.
    assert recommendation(new, "data-platform")["why"]["weight"] == 0.3
    assert recommendation(old, "data-platform")["why"]["weight"] == 0.59

    for key, number in (
        ("analyst-community-of-practice", 3),
        ("digital-skills", 2),
        ("decision-support-tools", 2),
    ):
        enabler = recommendation(new, key)["nationalEnabler"]
        assert enabler is not None, key
        assert enabler["source"]["recommendation"] == number
        assert recommendation(old, key)["nationalEnabler"] is None
    readiness = recommendation(new, "improvement-capability")["nationalEnabler"]["action"]
    assert "which recommendation 5 asks policymakers to develop" in readiness
    assert "does not exist yet" in readiness

    model = (await client.get("/v1/reference-models/2026.2")).json()
    description = model["description"]
    assert (
        "The maturity ladders (levels) and the prerequisites (dependsOn, enabledBy) are the "
        "model's own, not the source's" in description
    )
    assert "Table 4 rows have no area in the source" in description


async def test_rule_8_what_the_source_asks_for_is_advised(client: httpx.AsyncClient) -> None:
    """Reducing health inequalities (recommendation 1) and using LHS methods to embed
    centrally led changes (recommendation 5): advised on 2026.2, each with its national
    enabler, in the organisation and the system view; absent from 2026.1."""
    icb = await create_organisation(client, name="Source ICB", organisationType="icb")
    trust = await create_organisation(
        client, name="Source Acute", organisationType="acute_trust", parentId=icb["id"]
    )
    await create_organisation(
        client, name="Source Council", organisationType="local_authority", parentId=icb["id"]
    )
    await done(client, trust["id"], "health-inequalities", "improvement")

    model = (await client.get("/v1/reference-models/2026.2")).json()
    new = await analysis(client, trust["id"])
    system = await analysis(client, icb["id"], "scope=system")
    for key, number in (("health-inequalities", 1), ("embedding-central-changes", 5)):
        spec = next(c for c in model["capabilities"] if c["key"] == key)
        assert [s["recommendation"] for s in spec["sources"]] == [number]
        assert spec["nationalEnabler"]["source"]["recommendation"] == number
        covered = next(c for c in system["capabilities"] if c["capabilityKey"] == key)
        assert covered["membersTotal"] == 2
    assert gap(new, "health-inequalities")["status"] == "met"
    assert gap(new, "embedding-central-changes")["status"] == "missing"
    central = recommendation(new, "embedding-central-changes")
    assert central["nationalEnabler"]["source"]["recommendation"] == 5
    assert "centrally led service transformation" in central["nationalEnabler"]["action"]
    assert "health-inequalities" not in ranked(new)
    spread = next(
        r for r in system["recommendations"] if r["capabilityKey"] == "health-inequalities"
    )
    assert spread["strategy"] == "spread_from_members"
    assert spread["spreadFrom"] == [{"id": trust["id"], "name": "Source Acute"}]

    old = await analysis(client, trust["id"], OLD)
    assert not {"health-inequalities", "embedding-central-changes"} & {
        g["capabilityKey"] for g in old["gaps"]
    }
    # 2026.1 has nowhere to put the record: it is counted as linked to nothing.
    assert old["summary"]["unlinkedRecords"] == 1
    assert new["summary"]["unlinkedRecords"] == 0
