"""Scope leaks where they hide: derived data (peers, availableInSystem, inherited evidence),
system views, stored snapshots and their comparisons, the report, the audit trail and the
change feed.

Each check has its positive control: a caller who may see more does see the thing, so a check
that finds nothing proves the scope hid it, not that it was never there."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import Backend
from tests.helpers import assert_problem
from tests.tenancy_world import Json, World, build, random_id


@pytest.fixture(scope="module")
async def world(backend: Backend) -> AsyncIterator[World]:
    async for built in build(backend):
        yield built


async def ok(response: httpx.Response, status: int = 200) -> Json:
    assert response.status_code == status, response.text
    return dict(response.json())


async def analysis(world: World, who: str, organisation: str, scope: str = "organisation") -> Json:
    url = f"/v1/organisations/{world.org(organisation)}/gap-analysis"
    return await ok(await world.call(who, "GET", url, params={"scope": scope}))


def spread_to(body: Json) -> set[str]:
    """Every organisation an analysis offers as a source to spread from."""
    return {
        org["name"]
        for recommendation in body["recommendations"]
        for org in recommendation.get("availableInSystem", [])
    }


def evidence_from(body: Json) -> set[str]:
    """Every organisation whose records an analysis shows as evidence."""
    return {item["organisationId"] for gap in body["gaps"] for item in gap["evidence"]}


async def test_peers_and_inherited_evidence_stop_at_the_scope(world: World) -> None:
    everyone = await analysis(world, "global-reader", "A1")
    assert {"Zeta Trust", "Alpha Trust Two"} <= spread_to(everyone)
    assert world.org("R") in evidence_from(everyone)  # the region's shared platform
    assert "Omega evaluation" in str(everyone) or "Omega regional platform" in str(everyone)

    ics = await analysis(world, "a-reader", "A1")
    # The ICS itself meets information governance, which its trust must record for itself.
    assert spread_to(ics) == {"Alpha Trust Two", "Alpha ICS"}
    assert evidence_from(ics) == {world.org("A"), world.org("A1")}
    assert world.leaks(str(ics)) == []

    trust = await analysis(world, "a1-reader", "A1")
    assert spread_to(trust) == set()
    assert evidence_from(trust) == {world.org("A1")}
    assert "Alpha shared analytics" not in str(trust)
    assert world.leaks(str(trust)) == []


async def test_a_system_view_shows_only_the_part_of_the_tree_in_scope(world: World) -> None:
    region = await analysis(world, "global-reader", "R", "system")
    assert "Zeta Trust" in str(region)
    ics = await analysis(world, "a-reader", "A", "system")
    assert "Alpha Trust Two" in str(ics)
    assert world.leaks(str(ics)) == []
    # Above the scope there is nothing to roll up: the region does not exist for this caller.
    assert_problem(
        await world.call("a-reader", "GET", f"/v1/organisations/{world.org('R')}/gap-analysis"),
        404,
        "NOT_FOUND",
    )
    trust_on_ics = await world.call(
        "a1-reader", "GET", f"/v1/organisations/{world.org('A')}/gap-analysis?scope=system"
    )
    assert_problem(trust_on_ics, 404, "NOT_FOUND")


async def snapshot(world: World, who: str, organisation: str, **body: Any) -> Json:
    url = f"/v1/organisations/{world.org(organisation)}/assessments"
    return await ok(await world.call(who, "POST", url, json=body), 201)


async def listed(world: World, who: str, organisation: str) -> set[str]:
    url = f"/v1/organisations/{world.org(organisation)}/assessments"
    return {a["id"] for a in (await ok(await world.call(who, "GET", url)))["items"]}


async def test_a_trust_key_cannot_read_its_ics_system_snapshot(world: World) -> None:
    first = await snapshot(world, "a-editor", "A", scope="system", label="ICS system")
    second = await snapshot(world, "a-editor", "A", scope="system", label="ICS system again")
    assert "Alpha Trust Two" in str(first)
    for who in ("a-reader", "global-reader"):
        assert (await world.call(who, "GET", f"/v1/assessments/{first['id']}")).status_code == 200
    compare = f"/v1/assessments/{first['id']}/compare?with={second['id']}"
    assert (await world.call("a-reader", "GET", compare)).status_code == 200
    refused = await world.call("a1-reader", "GET", f"/v1/assessments/{first['id']}")
    assert_problem(refused, 404, "NOT_FOUND")
    assert_problem(await world.call("a1-reader", "GET", compare), 404, "NOT_FOUND")


async def test_a_snapshot_is_read_only_by_callers_who_may_see_all_it_saw(world: World) -> None:
    by_region = await snapshot(world, "global-editor", "A1", label="seen from the region")
    by_ics = world.assessments["A1"][0]  # made by A's editor: shows A's shared assets
    by_trust = await snapshot(world, "a1-admin", "A1", label="seen from the trust")
    assert "Omega" in str(by_region)
    assert "Alpha shared analytics" in str(by_ics)

    assert await listed(world, "global-reader", "A1") >= {by_region["id"], by_ics["id"]}
    assert await listed(world, "a-reader", "A1") == {
        by_ics["id"],
        world.assessments["A1"][1]["id"],
        by_trust["id"],
    }
    assert await listed(world, "a1-reader", "A1") == {by_trust["id"]}
    for who, hidden in (("a-reader", by_region), ("a1-reader", by_ics)):
        response = await world.call(who, "GET", f"/v1/assessments/{hidden['id']}")
        assert_problem(response, 404, "NOT_FOUND")
    seen = await ok(await world.call("a1-reader", "GET", f"/v1/assessments/{by_trust['id']}"))
    assert world.leaks(str(seen)) == []
    assert "Alpha shared analytics" not in str(seen)
    # The trust's report has no trend point it could not read on its own.
    report = await world.call(
        "a1-reader", "GET", f"/v1/organisations/{world.org('A1')}/report?format=html"
    )
    assert report.status_code == 200
    assert "seen from the region" not in report.text
    assert "Alpha shared analytics" not in report.text
    assert "Alpha Trust Two" not in report.text


async def test_the_report_shows_only_the_scope(world: World) -> None:
    url = f"/v1/organisations/{world.org('A1')}/report"
    # The spreadsheet lists every recommendation with the peers that already meet it.
    everyone = await world.call("global-reader", "GET", url, params={"format": "csv"})
    assert "Zeta Trust" in everyone.text
    for who in ("a-reader", "a1-reader"):
        for fmt in ("html", "csv"):
            response = await world.call(who, "GET", url, params={"format": fmt})
            assert response.status_code == 200, response.text
            assert world.leaks(response.text) == [], (who, fmt)


async def events(world: World, who: str, **query: str) -> list[Json]:
    """Every event the caller may list, walking the pages five at a time."""
    found: list[Json] = []
    url: str | None = "/v1/audit-events"
    params: dict[str, str] | None = {"limit": "5"} | query
    while url is not None:
        page = await ok(await world.call(who, "GET", url, params=params))
        found += page["items"]
        url, params = page["links"]["next"], None
    return found


async def test_a_scoped_admin_sees_only_its_subtree_in_the_audit_trail(world: World) -> None:
    everything = await events(world, "global-admin")
    assert len(everything) > 10, "the walk crosses several pages"
    assert len({e["id"] for e in everything}) == len(everything)
    assert {world.org("B"), world.org("B1"), world.org("R")} <= {
        e["organisationId"] for e in everything
    }

    own = {world.org(name) for name in ("A", "A1", "A2")}
    ics = await events(world, "a-admin")
    assert ics, "A's own events are there"
    assert {e["organisationId"] for e in ics} <= own
    assert world.leaks(str(ics)) == []
    assert await events(world, "a-admin", organisationId=world.org("B")) == []
    assert await events(world, "a-admin", resourceId=str(world.assets["B1"]["id"])) == []

    trust = await events(world, "a1-admin")
    assert {e["organisationId"] for e in trust} == {world.org("A1")}
    assert_problem(await world.call("a-editor", "GET", "/v1/audit-events"), 403, "FORBIDDEN")


async def feed(world: World, who: str) -> list[Json]:
    """Every change the caller may follow, from the start, five at a time."""
    found: list[Json] = []
    params = {"limit": "5"}
    while True:
        page = await ok(await world.call(who, "GET", "/v1/changes", params=params))
        found += page["items"]
        params["after"] = page["next"]
        if not page["more"]:
            return found


async def test_the_change_feed_stops_at_the_scope(world: World) -> None:
    everything = await feed(world, "global-reader")
    assert {world.org("B"), world.org("B1"), world.org("R")} <= {
        e["organisationId"] for e in everything
    }
    own = {world.org(name) for name in ("A", "A1", "A2")}
    ics = await feed(world, "a-reader")
    assert own <= {e["organisationId"] for e in ics}
    # What belongs to no organisation (the shared reference models) is everyone's.
    assert {e["organisationId"] for e in ics} <= own | {None}
    assert world.leaks(str(ics)) == []
    trust = await feed(world, "a1-reader")
    assert {e["organisationId"] for e in trust} <= {world.org("A1"), None}


async def test_lists_of_keys_and_models_stop_at_the_scope(world: World) -> None:
    keys = await ok(await world.call("a-admin", "GET", "/v1/api-keys?limit=500"))
    prefixes = {k["prefix"] for k in keys["items"]}
    assert world.key_prefixes["a-reader"] in prefixes
    assert world.key_prefixes["a1-admin"] in prefixes
    assert world.key_prefixes["global-admin"] not in prefixes
    assert world.leaks(str(keys)) == []
    models = await ok(await world.call("a1-reader", "GET", "/v1/reference-models"))
    versions = {m["version"] for m in models["items"]}
    assert world.variants["a"] in versions  # a variant is visible below its owner
    assert world.variants["b"] not in versions
    unknown = await world.call("a1-reader", "GET", f"/v1/reference-models/{random_id()[:8]}")
    assert_problem(unknown, 404, "NOT_FOUND")


async def test_the_scope_roots_parent_is_an_address_with_no_name(world: World) -> None:
    """What the scope's root says of its parent: its id (a 404 for this caller), never its name."""
    everyone = await world.call("global-reader", "GET", f"/v1/organisations/{world.org('A')}/fhir")
    assert "Omega" in everyone.text
    for path in (f"/v1/organisations/{world.org('A')}/fhir", f"/v1/organisations/{world.org('A')}"):
        response = await world.call("a-reader", "GET", path)
        assert response.status_code == 200, response.text
        assert world.leaks(response.text) == []
