"""What the rest of a system has is remembered between analyses only while it does not change:
every change to a peer's records, names or place in the tree shows in the very next analysis,
and what is remembered for one caller is never shown to a caller with a narrower scope."""

import asyncio
import uuid
from collections.abc import Awaitable
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlmodel import col

from app.analysis import loading
from app.models import Asset, OrganisationRecords
from tests.auth_helpers import make_key
from tests.conftest import Backend, QueryCounter
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


async def analysis_of(client: httpx.AsyncClient, organisation_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/organisations/{organisation_id}/gap-analysis")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_remembered_analysis_never_outlives_the_records_it_was_made_from(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """A whole analysis is remembered while nothing it was made from changes; it is made anew
    when anything does, even a change made in SQL behind the service's back (the database's
    triggers count it), and its generatedAt is always the time of the request."""
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    trust = await create_organisation(client, name="Leeds", parentId=ics["id"])
    asset = await create_asset(
        client, trust["id"], area="improvement", capabilityKey=CAPABILITY, maturity=1
    )
    first = await analysis_of(client, trust["id"])
    again = await analysis_of(client, trust["id"])
    assert again["generatedAt"] > first["generatedAt"]
    assert {**again, "generatedAt": None} == {**first, "generatedAt": None}

    table = Asset.__table__  # type: ignore[attr-defined]
    async with backend.engine.begin() as connection:
        await connection.execute(
            update(table)
            .where(table.c.id == uuid.UUID(asset["id"]))
            .values(maturity=4, confidence="evidenced", evidence=EVIDENCED["evidence"])
        )
    changed = await analysis_of(client, trust["id"])
    gap = next(g for g in changed["gaps"] if g["capabilityKey"] == CAPABILITY)
    before = next(g for g in first["gaps"] if g["capabilityKey"] == CAPABILITY)
    assert gap != before, "the analysis did not see a change made in SQL"

    # The number of stored assessments is an input too (a Box 11 step cites it): storing one
    # moves the organisation's revision, which names what is remembered.
    revision = col(OrganisationRecords.revision)
    of_trust = col(OrganisationRecords.organisation_id) == uuid.UUID(trust["id"])
    async with backend.engine.connect() as connection:
        before_assessment = (await connection.execute(select(revision).where(of_trust))).scalar()
    assessed = await client.post(
        f"/v1/organisations/{trust['id']}/assessments", json={"label": "Q1"}
    )
    assert assessed.status_code == 201, assessed.text
    async with backend.engine.connect() as connection:
        after = (await connection.execute(select(revision).where(of_trust))).scalar()
    assert after is not None
    assert before_assessment is not None
    assert after > before_assessment


async def test_callers_asking_at_once_share_one_computation(
    client: httpx.AsyncClient, queries: QueryCounter
) -> None:
    """Under a flood of the same analysis only one caller reads the records in a snapshot and
    computes; the others wait for it (each used to hold a transaction of its own)."""
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    trust = await create_organisation(client, name="Leeds", parentId=ics["id"])
    await create_organisation(client, name="Bradford", parentId=ics["id"])
    await create_asset(client, trust["id"], area="improvement", capabilityKey=CAPABILITY)
    before = queries.count
    answers = await asyncio.gather(*(analysis_of(client, trust["id"]) for _ in range(6)))
    statements = queries.statements[before:]
    # The count of stored assessments is read only when an analysis is computed.
    computed = [s for s in statements if "FROM assessment" in s]
    assert len(computed) == 1, f"{len(computed)} computations for 6 identical analyses"
    assert len({a["organisation"]["id"] for a in answers}) == 1


async def test_a_snapshot_sees_whether_the_system_changed_since_it_was_read(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """An analysis's snapshot reads one row (the system's fingerprint) to know whether the
    system it read a moment before is still the one it holds: every kind of change since,
    to a record, to a member's row or to the tree, says it is not."""
    ics = await create_organisation(client, name="Fingerprint ICS", organisationType="ics")
    trust = await create_organisation(client, name="Fingerprint Trust", parentId=ics["id"])
    reads = backend.app.state.sessions.reads
    root = uuid.UUID(ics["id"])
    system = await loading.system_of(reads, root)
    assert await loading.unchanged(reads, system)

    async def patch(organisation: dict[str, Any], body: dict[str, Any]) -> None:
        url = f"/v1/organisations/{organisation['id']}"
        current = await client.get(url)
        answer = await client.patch(url, json=body, headers={"If-Match": current.headers["etag"]})
        assert answer.status_code == 200, answer.text

    changes: list[Awaitable[Any]] = [
        create_asset(client, trust["id"]),
        patch(trust, {"name": "Fingerprint Trust, renamed"}),
        patch(trust, {"region": "North West"}),
        create_organisation(client, name="Fingerprint Practice", parentId=trust["id"]),
    ]
    for change in changes:
        await change
        assert not await loading.unchanged(reads, system)
        system = await loading.system_of(reads, root)
        assert await loading.unchanged(reads, system)
