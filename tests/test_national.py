"""The national views: every top-level system with its system view's figures, each
capability's coverage by group, and every readable asset in one list or CSV; each for a
global caller and a scoped one, remembered while the data stays the same and answered afresh
as soon as it changes."""

import shutil
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlmodel import col

from app import caches
from app.models import OrganisationStanding
from tests.auth_helpers import make_key
from tests.conftest import Backend, QueryCounter, ServerUrl
from tests.helpers import EVIDENCED, assert_problem, create_activity, create_asset
from tests.helpers import create_organisation as organisation
from tests.readme_scripts import readme_script, run_readme_script
from tests.test_export import read_csv

Json = dict[str, Any]


async def ok(response: httpx.Response) -> Json:
    assert response.status_code == 200, response.text
    return dict(response.json())


async def two_systems(client: httpx.AsyncClient) -> dict[str, Json]:
    """North (an ICS of three acute trusts, one with a practice below it, and its own shared
    platform), South (an ICB of two practices), and a trust with no members (no system)."""
    orgs: dict[str, Json] = {}
    orgs["north"] = await organisation(client, name="North ICS", organisationType="ics")
    for i in range(3):
        orgs[f"n{i}"] = await organisation(
            client, name=f"North {i}", organisationType="acute_trust", parentId=orgs["north"]["id"]
        )
    orgs["n0p"] = await organisation(
        client, name="North practice", organisationType="gp_practice", parentId=orgs["n0"]["id"]
    )
    orgs["south"] = await organisation(client, name="South ICB", organisationType="icb")
    for i in range(2):
        orgs[f"s{i}"] = await organisation(
            client, name=f"South {i}", organisationType="gp_practice", parentId=orgs["south"]["id"]
        )
    orgs["alone"] = await organisation(client, name="Alone", organisationType="acute_trust")
    await create_asset(
        client,
        orgs["north"]["id"],
        capabilityKey="data-platform",
        maturity=4,
        sharedWithMembers=True,
        **EVIDENCED,
    )
    for name in ("n0", "n1"):
        await create_asset(
            client,
            orgs[name]["id"],
            area="improvement",
            capabilityKey="learning-culture",
            maturity=3,
            **EVIDENCED,
        )
    await create_asset(client, orgs["s0"]["id"], capabilityKey="data-platform", maturity=1)
    await create_activity(client, orgs["s1"]["id"], capabilityKey="learning-culture")
    await create_asset(client, orgs["alone"]["id"], maturity=3)
    return orgs


async def system_view(client: httpx.AsyncClient, organisation_id: str) -> Json:
    url = f"/v1/organisations/{organisation_id}/gap-analysis"
    return await ok(await client.get(url, params={"scope": "system"}))


async def test_each_system_has_its_system_view_figures(client: httpx.AsyncClient) -> None:
    orgs = await two_systems(client)
    body = await ok(await client.get("/v1/systems"))
    assert [s["name"] for s in body["items"]] == ["North ICS", "South ICB"]
    north, south = body["items"]
    assert north["id"] == orgs["north"]["id"]
    assert north["organisationType"] == "ics"
    assert north["members"] == 4
    assert north["membersByType"] == [
        {"organisationType": "acute_trust", "members": 3},
        {"organisationType": "gp_practice", "members": 1},
    ]
    assert north["records"] == {"assets": 3, "activities": 0}
    assert south["records"] == {"assets": 1, "activities": 1}
    assert south["membersByType"] == [{"organisationType": "gp_practice", "members": 2}]
    for listed in (north, south):
        view = await system_view(client, listed["id"])
        assert listed["overallScore"] == view["summary"]["overallScore"]
        assert listed["referenceModel"] == view["referenceModel"]
    # South's members are all of one sector: its areas are that sector group's.
    (sector,) = (await system_view(client, south["id"]))["bySector"]
    assert south["areas"] == sector["areas"]
    assert body["links"]["next"] is None


async def test_a_change_is_in_the_next_answer(client: httpx.AsyncClient) -> None:
    orgs = await two_systems(client)
    before = (await ok(await client.get("/v1/systems")))["items"][1]
    coverage_before = await ok(await client.get("/v1/capabilities/coverage"))
    await create_asset(
        client,
        orgs["s1"]["id"],
        area="improvement",
        capabilityKey="learning-culture",
        maturity=4,
        **EVIDENCED,
    )
    after = (await ok(await client.get("/v1/systems")))["items"][1]
    assert after["records"]["assets"] == before["records"]["assets"] + 1
    assert after["overallScore"] > before["overallScore"]
    assert after["lastChangedAt"] > before["lastChangedAt"]
    assert (
        after["overallScore"]
        == (await system_view(client, orgs["south"]["id"]))["summary"]["overallScore"]
    )
    coverage_after = await ok(await client.get("/v1/capabilities/coverage"))
    assert (
        met(coverage_after, "learning-culture", "gp_practice")
        == met(coverage_before, "learning-culture", "gp_practice") + 1
    )
    # What the ICB shares counts for its members (a shareable capability): neither practice
    # has nothing towards it any more (how far it counts depends on its prerequisites).
    await create_asset(
        client,
        orgs["south"]["id"],
        area="technology",
        capabilityKey="decision-support-tools",
        maturity=4,
        sharedWithMembers=True,
        **EVIDENCED,
    )
    coverage_shared = await ok(await client.get("/v1/capabilities/coverage"))
    before_sharing = group(coverage_after, "decision-support-tools", "gp_practice")
    after_sharing = group(coverage_shared, "decision-support-tools", "gp_practice")
    assert after_sharing["missing"] == before_sharing["missing"] - 2


async def kept(backend: Backend) -> dict[str, str]:
    """Each organisation's kept standing's digest (against the default model)."""
    async with backend.engine.connect() as connection:
        rows = await connection.execute(
            select(col(OrganisationStanding.organisation_id), col(OrganisationStanding.inputs))
        )
        return {str(organisation): inputs for organisation, inputs in rows.all()}


async def test_a_new_worker_answers_from_the_kept_standings(
    client: httpx.AsyncClient, backend: Backend, queries: QueryCounter
) -> None:
    """A new worker (its caches empty) reads what an earlier one worked out instead of
    crediting every organisation in the country again; what changed since, and only that,
    is worked out again and kept."""
    orgs = await two_systems(client)
    first = await ok(await client.get("/v1/systems"))
    digests = await kept(backend)
    assert set(digests) == {o["id"] for o in orgs.values()}

    caches.clear_all()  # a new worker
    queries.statements.clear()
    assert await ok(await client.get("/v1/systems")) == first
    # Nobody's records were read to credit them (only the kept standings).
    assert not [s for s in queries.statements if "FROM activity" in s]

    # A kept standing that no longer matches what it was worked out from is not used.
    async with backend.engine.begin() as connection:
        await connection.execute(
            update(OrganisationStanding)
            .where(col(OrganisationStanding.organisation_id) == uuid.UUID(orgs["s0"]["id"]))
            .values(inputs="0" * 64, scores="[99.9, [null, null, null, null]]")
        )
    caches.clear_all()
    assert await ok(await client.get("/v1/systems")) == first
    assert await kept(backend) == digests

    # A change: the next new worker's answer has it, and only that organisation's is new.
    await create_asset(
        client,
        orgs["s1"]["id"],
        area="improvement",
        capabilityKey="learning-culture",
        maturity=4,
        **EVIDENCED,
    )
    caches.clear_all()
    south = (await ok(await client.get("/v1/systems")))["items"][1]
    view = await system_view(client, orgs["south"]["id"])
    assert south["overallScore"] == view["summary"]["overallScore"]
    assert south["overallScore"] > first["items"][1]["overallScore"]
    now = await kept(backend)
    assert {o for o in now if now[o] != digests[o]} == {orgs["s1"]["id"]}


def group(body: Json, key: str, name: str | None) -> Json:
    capability = next(c for c in body["capabilities"] if c["capabilityKey"] == key)
    return dict(next(g for g in capability["groups"] if g["group"] == name))


def met(body: Json, key: str, name: str) -> int:
    return int(group(body, key, name)["meeting"])


async def test_systems_are_paged_oldest_first(client: httpx.AsyncClient) -> None:
    await two_systems(client)
    first = await client.get("/v1/systems", params={"limit": 1})
    body = await ok(first)
    assert [s["name"] for s in body["items"]] == ["North ICS"]
    assert first.headers["link"] == f'<{body["links"]["next"]}>; rel="next"'
    second = await ok(await client.get(body["links"]["next"]))
    assert [s["name"] for s in second["items"]] == ["South ICB"]
    assert second["links"]["next"] is None
    assert_problem(await client.get("/v1/systems?cursor=nonsense"), 400, "INVALID_CURSOR")
    assert_problem(await client.get("/v1/systems?limit=0"), 422, "VALIDATION_FAILED")


async def test_coverage_counts_each_kind_of_organisation(client: httpx.AsyncClient) -> None:
    await two_systems(client)
    body = await ok(await client.get("/v1/capabilities/coverage?groupBy=organisationType"))
    assert body["groupBy"] == "organisationType"
    assert body["organisations"] == 9
    platform = group(body, "data-platform", "acute_trust")
    # The three North trusts inherit the ICS's shared platform; Alone has none.
    assert platform["organisations"] == 4
    assert platform["meeting"] == 3
    assert platform["missing"] + platform["partial"] + platform["meeting"] == platform["applicable"]
    assert platform["coverage"] == round(3 / platform["applicable"], 4)
    practices = group(body, "data-platform", "gp_practice")
    # The platform does not apply to a practice: nothing to cover, no fraction.
    assert (practices["organisations"], practices["applicable"]) == (3, 0)
    assert practices["coverage"] is None
    # South 1's planned activity is a start on the learning culture: partial, not met.
    culture = group(body, "learning-culture", "gp_practice")
    assert (culture["meeting"], culture["partial"], culture["missing"]) == (0, 1, 2)
    by_sector = await ok(await client.get("/v1/capabilities/coverage?groupBy=sector"))
    assert group(by_sector, "data-platform", "primary_care")["organisations"] == 3
    by_region = await ok(await client.get("/v1/capabilities/coverage?groupBy=region"))
    assert group(by_region, "data-platform", None)["organisations"] == 9
    assert_problem(
        await client.get("/v1/capabilities/coverage?groupBy=galaxy"), 422, "VALIDATION_FAILED"
    )
    unknown = await client.get("/v1/capabilities/coverage?referenceModel=1999.1")
    assert assert_problem(unknown, 422, "VALIDATION_FAILED")["errors"][0]["pointer"] == (
        "referenceModel"
    )


async def scoped(backend: Backend, organisation_id: str) -> dict[str, str]:
    _, key = await make_key(backend.app.state.sessions, "reader", organisation_id)
    return {"Authorization": f"Bearer {key}"}


async def test_a_scoped_caller_sees_only_its_own(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    orgs = await two_systems(client)
    north = await scoped(backend, orgs["north"]["id"])
    systems = await ok(await client.get("/v1/systems", headers=north))
    assert [s["name"] for s in systems["items"]] == ["North ICS"]
    coverage = await ok(await client.get("/v1/capabilities/coverage", headers=north))
    assert coverage["organisations"] == 5
    assert group(coverage, "data-platform", "acute_trust")["organisations"] == 3
    assets = await ok(await client.get("/v1/assets", headers=north))
    mine = {orgs[n]["id"] for n in ("north", "n0", "n1", "n2", "n0p")}
    assert len(assets["items"]) == 3
    assert {a["organisationId"] for a in assets["items"]} <= mine
    # A trust's caller sees the part of the tree below it: no members, no system.
    trust = await scoped(backend, orgs["n1"]["id"])
    assert (await ok(await client.get("/v1/systems", headers=trust)))["items"] == []
    exported = read_csv(await client.get("/v1/assets?format=csv", headers=trust))
    assert [row["name"] for row in exported] == ["An asset"]


async def test_every_asset_in_one_list_and_one_csv(client: httpx.AsyncClient) -> None:
    orgs = await two_systems(client)
    body = await ok(await client.get("/v1/assets", params={"limit": 4}))
    assert len(body["items"]) == 4
    rest = await ok(await client.get(body["links"]["next"]))
    assert len(rest["items"]) == 1
    assert rest["links"]["next"] is None
    everything = body["items"] + rest["items"]
    assert len({a["id"] for a in everything}) == 5
    assert [a["createdAt"] for a in everything] == sorted(a["createdAt"] for a in everything)
    evidenced = await ok(await client.get("/v1/assets", params={"minMaturity": 3}))
    assert len(evidenced["items"]) == 4
    exported = read_csv(await client.get("/v1/assets", params={"format": "csv"}))
    assert len(exported) == 5
    subtree = read_csv(
        await client.get(f"/v1/organisations/{orgs['north']['id']}/assets?format=csv&depth=all")
    )
    # The same columns, and North's rows as its own export writes them.
    assert list(exported[0]) == list(subtree[0])
    north_ids = {row["id"] for row in subtree}
    assert [row for row in exported if row["id"] in north_ids] == subtree
    assert_problem(await client.get("/v1/assets?cursor=nonsense"), 400, "INVALID_CURSOR")
    assert_problem(await client.get("/v1/assets?maxMaturity=9"), 422, "VALIDATION_FAILED")
    events = await ok(await client.get("/v1/audit-events", params={"action": "export"}))
    assert any(e["resourceId"] == "all" for e in events["items"])


# The README's section, as written, against a real server.


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_the_readme_s_national_views_section_runs(
    shared_server: ServerUrl, client: httpx.AsyncClient, api_key: str, tmp_path: Path
) -> None:
    text = await run_readme_script(
        readme_script("## National views"), server=shared_server, api_key=api_key, cwd=tmp_path
    )
    assert "National Demo ICB - 1 members - 1 assets - score" in text
    # A self-assessed claim at maturity 3 counts below the platform's target.
    assert "data-platform acute_trust 1 of 1 partway" in text
    assert "Demo platform 3" in text
    assert text.rstrip().endswith("reviewedBy,reviewedAt"), "the CSV's header"
