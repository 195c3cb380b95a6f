"""The change feed: every change once, in commit order, scoped, resumable by cursor; cascaded
deletions listed; old and malformed cursors refused. The concurrent-writers test (PostgreSQL)
holds transactions open while others commit and checks the feed against the table."""

import asyncio
import base64
import random
import re
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import col, select

from app.audit import service as audit
from app.auth.principal import OPERATOR
from app.changes import cursor as feed_cursor
from app.db import side_transaction
from app.errors import CursorExpired, InvalidCursor
from app.models import Asset, AuditEvent
from app.vocabulary import AuditAction, ResourceType
from tests.auth_helpers import make_key
from tests.conftest import Backend, ServerUrl
from tests.helpers import assert_problem, create_activity, create_asset, create_organisation
from tests.readme_scripts import readme_script, run_readme_script
from tests.test_plan_items import create_plan_item

Entry = dict[str, Any]


async def follow(client: httpx.AsyncClient, after: str | None = None, **params: Any) -> Any:
    """Every entry after ``after`` (all, without it), page by page, and the last cursor."""
    entries: list[Entry] = []
    query = dict(params) | ({"after": after} if after else {})
    while True:
        response = await client.get("/v1/changes", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        entries += body["items"]
        query["after"] = body["next"]
        if not body["more"]:
            return entries, body["next"]


async def now(client: httpx.AsyncClient) -> str:
    response = await client.get("/v1/changes", params={"after": "now"})
    assert response.status_code == 200
    assert response.json()["items"] == []
    return str(response.json()["next"])


def summary(entries: list[Entry]) -> list[tuple[str, str, str]]:
    return [(e["resourceType"], e["action"], e["resourceId"]) for e in entries]


# Pure: the cursor.


def test_a_cursor_round_trips_and_anything_else_is_refused() -> None:
    issued = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    text = feed_cursor.encode(42, issued)
    assert feed_cursor.decode(text) == feed_cursor.Cursor(42, issued)
    far_off = base64.urlsafe_b64encode(b'["feed",1,99999999999999999]').decode()
    for bad in ("x", "!!!", feed_cursor.encode(-1, issued), "W10", "a" * 300, far_off):
        with pytest.raises(InvalidCursor):
            feed_cursor.decode(bad)


def test_a_cursor_older_than_the_retention_has_expired() -> None:
    now = datetime(2026, 12, 4, tzinfo=UTC)
    cursor = feed_cursor.Cursor(7, now - timedelta(days=31))
    with pytest.raises(CursorExpired):
        feed_cursor.check_age(cursor, now=now, retention=timedelta(days=30))
    feed_cursor.check_age(cursor, now=now, retention=timedelta(days=32))
    # Dated in the future (forged: it would never expire), refused; a clock a little ahead, not.
    feed_cursor.check_age(
        feed_cursor.Cursor(7, now + timedelta(minutes=5)), now=now, retention=timedelta(days=30)
    )
    with pytest.raises(InvalidCursor):
        feed_cursor.check_age(
            feed_cursor.Cursor(0, now + timedelta(days=3650)), now=now, retention=timedelta(days=30)
        )


# The schema: positions come from triggers, which a later migration that rebuilds the table
# on SQLite (batch mode) would drop without a word.


async def test_the_triggers_that_position_events_are_installed(backend: Backend) -> None:
    if backend.name == "postgresql":
        query = "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_event'::regclass"
        expected = {"audit_event_feed_position", "audit_event_feed_pending"}
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_event'"
        expected = {"audit_event_feed_position"}
    async with backend.engine.connect() as connection:
        names = set((await connection.execute(text(query))).scalars())
    assert expected <= names


# Through the API.


async def test_every_kind_of_write_appears_once_in_commit_order(
    client: httpx.AsyncClient,
) -> None:
    start = await now(client)
    trust = await create_organisation(client, name="Feed Trust")
    asset = await create_asset(client, trust["id"], name="Registry")
    changed = await client.patch(
        f"/v1/assets/{asset['id']}", json={"maturity": 3}, headers={"If-Match": 'W/"1"'}
    )
    assert changed.status_code == 200
    activity = await create_activity(client, trust["id"])
    item = await create_plan_item(client, trust["id"])
    renamed = await client.patch(
        f"/v1/organisations/{trust['id']}",
        json={"name": "Feed Trust NHS"},
        headers={"If-Match": "*"},
    )
    assert renamed.status_code == 200
    # An export changes nothing: on the audit trail, not in the feed.
    exported = await client.get(f"/v1/organisations/{trust['id']}/assets", params={"format": "csv"})
    assert exported.status_code == 200
    gone = await client.delete(f"/v1/plan-items/{item['id']}", headers={"If-Match": "*"})
    assert gone.status_code == 204

    entries, _ = await follow(client, start)
    assert summary(entries) == [
        ("organisation", "create", trust["id"]),
        ("asset", "create", asset["id"]),
        ("asset", "update", asset["id"]),
        ("activity", "create", activity["id"]),
        ("plan_item", "create", item["id"]),
        ("organisation", "update", trust["id"]),
        ("plan_item", "delete", item["id"]),
    ]
    assert [e["version"] for e in entries] == [1, 1, 2, 1, 1, 2, 1]
    assert entries[1]["link"] == f"/v1/assets/{asset['id']}"
    assert {e["organisationId"] for e in entries} == {trust["id"]}
    # One source of truth: each entry is an audit event, by id.
    trail = (await client.get("/v1/audit-events", params={"organisationId": trust["id"]})).json()[
        "items"
    ]
    assert "export" in {e["action"] for e in trail}
    changes = {e["id"] for e in trail if e["action"] != "export"}
    assert {e["eventId"] for e in entries} == changes


async def test_pages_by_cursor_and_an_empty_page_says_when_to_come_back(
    client: httpx.AsyncClient,
) -> None:
    start = await now(client)
    trust = await create_organisation(client, name="Paged Trust")
    for n in range(4):
        await create_asset(client, trust["id"], name=f"Asset {n}")
    whole, last = await follow(client, start)
    paged, paged_last = await follow(client, start, limit=2)
    assert [e["eventId"] for e in paged] == [e["eventId"] for e in whole]
    assert len(whole) == 5
    assert feed_cursor.decode(paged_last).position == feed_cursor.decode(last).position
    # Without a cursor the feed starts at the oldest change within the retention.
    everything, _ = await follow(client)
    assert [e["eventId"] for e in everything][-5:] == [e["eventId"] for e in whole]

    first = (await client.get("/v1/changes", params={"after": start, "limit": 2})).json()
    assert first["more"] is True
    assert f"after={first['next']}" in first["links"]["next"]
    resumed = (
        await client.get("/v1/changes", params={"after": first["items"][1]["cursor"]})
    ).json()
    assert [e["eventId"] for e in resumed["items"]] == [e["eventId"] for e in whole[2:]]

    quiet = await client.get("/v1/changes", params={"after": last})
    assert quiet.status_code == 200
    assert quiet.json()["items"] == []
    assert quiet.json()["more"] is False
    assert int(quiet.headers["Retry-After"]) > 0
    busy = await client.get("/v1/changes", params={"after": start, "limit": 1})
    assert "Retry-After" not in busy.headers


async def test_after_now_gives_the_cursor_to_follow_from(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client, name="Old Trust")
    now = await client.get("/v1/changes", params={"after": "now"})
    assert now.status_code == 200
    assert now.json()["items"] == []
    asset = await create_asset(client, trust["id"])
    entries, _ = await follow(client, now.json()["next"])
    assert summary(entries) == [("asset", "create", asset["id"])]


async def test_an_organisation_s_deletion_lists_what_its_cascade_removed(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics = await create_organisation(client, name="Parent ICS", organisationType="ics")
    trust = await create_organisation(client, name="Doomed Trust", parentId=ics["id"])
    asset = await create_asset(client, trust["id"])
    activity = await create_activity(client, trust["id"])
    item = await create_plan_item(client, trust["id"])
    start = (await client.get("/v1/changes", params={"after": "now"})).json()["next"]
    deleted = await client.delete(f"/v1/organisations/{trust['id']}", headers={"If-Match": "*"})
    assert deleted.status_code == 204
    entries, _ = await follow(client, start)
    assert {(t, i) for t, a, i in summary(entries) if a == "delete"} == {
        ("asset", asset["id"]),
        ("activity", activity["id"]),
        ("plan_item", item["id"]),
        ("organisation", trust["id"]),
    }
    assert len(entries) == 4
    assert summary(entries)[-1] == ("organisation", "delete", trust["id"])

    # A caller scoped to the ICS still sees them: the organisation is gone, its parent is not.
    _, key = await make_key(backend.app.state.sessions, "reader", ics["id"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=backend.app),
        base_url="http://localhost",
        headers={"Authorization": f"Bearer {key}"},
    ) as scoped_client:
        scoped, _ = await follow(scoped_client, start)
    assert summary(scoped) == summary(entries)


async def test_a_scoped_caller_sees_only_its_subtree(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    start = await now(client)
    mine = await create_organisation(client, name="Mine")
    theirs = await create_organisation(client, name="Theirs")
    child = await create_organisation(client, name="Child", parentId=mine["id"])
    await create_asset(client, mine["id"])
    await create_asset(client, child["id"])
    await create_asset(client, theirs["id"])
    _, key = await make_key(backend.app.state.sessions, "reader", mine["id"])
    scoped_client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=backend.app),
        base_url="http://localhost",
        headers={"Authorization": f"Bearer {key}"},
    )
    async with scoped_client:
        scoped, _ = await follow(scoped_client, start)
        everything, _ = await follow(client, start)
    assert {e["organisationId"] for e in scoped} == {mine["id"], child["id"]}
    assert theirs["id"] in {e["organisationId"] for e in everything}  # the positive control
    assert len(scoped) == 4


async def test_a_move_out_of_a_scoped_caller_s_subtree_is_seen_there_and_nothing_after(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """The organisation leaves the caller's scope: the caller sees the move (and can drop it
    from its mirror), not what is done to it afterwards."""
    mine = await create_organisation(client, name="Mine", organisationType="ics")
    theirs = await create_organisation(client, name="Theirs", organisationType="ics")
    leaving = await create_organisation(client, name="Leaving", parentId=mine["id"])
    start = await now(client)
    moved = await client.patch(
        f"/v1/organisations/{leaving['id']}",
        json={"parentId": theirs["id"]},
        headers={"If-Match": "*"},
    )
    assert moved.status_code == 200, moved.text
    await create_asset(client, leaving["id"])
    _, key = await make_key(backend.app.state.sessions, "reader", mine["id"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=backend.app),
        base_url="http://localhost",
        headers={"Authorization": f"Bearer {key}"},
    ) as scoped_client:
        scoped, _ = await follow(scoped_client, start)
    assert summary(scoped) == [("organisation", "update", leaving["id"])]
    everything, _ = await follow(client, start)
    assert [action for _, action, _ in summary(everything)] == ["update", "create"]


async def test_old_and_malformed_cursors_are_problems(client: httpx.AsyncClient) -> None:
    old = feed_cursor.encode(0, datetime.now(UTC) - timedelta(days=400))
    body = assert_problem(
        await client.get("/v1/changes", params={"after": old}), 410, "CURSOR_EXPIRED"
    )
    assert "after=now" in body["detail"]
    assert_problem(
        await client.get("/v1/changes", params={"after": "not-a-cursor"}), 400, "INVALID_CURSOR"
    )
    # A forged position beyond the database's BIGINT: refused, not a driver's overflow (500).
    for position in (2**63, 10**30):
        beyond = feed_cursor.encode(position, datetime.now(UTC))
        assert_problem(
            await client.get("/v1/changes", params={"after": beyond}), 400, "INVALID_CURSOR"
        )
    assert_problem(await client.get("/v1/changes", params={"limit": 0}), 422, "VALIDATION_FAILED")


# Concurrent writers (PostgreSQL: SQLite has one writer at a time, nothing to interleave).


async def _bump(
    backend: Backend,
    asset_id: uuid.UUID,
    *,
    first: uuid.UUID | None = None,
    hold: asyncio.Event | None = None,
    pause: float = 0.0,
) -> None:
    """One transaction: optionally write an event for ``first`` (taking a transaction id
    early) and wait for ``hold``; then lock the asset, bump its version, record the update,
    and linger ``pause`` seconds before committing."""
    async with side_transaction(backend.app.state.sessions) as session:
        if first is not None:
            audit.record(
                session,
                principal=OPERATOR,
                action=AuditAction.UPDATE,
                resource_type=ResourceType.ASSET,
                resource_id=first,
                organisation_id=None,
                changes=[],
                version=None,
            )
            await session.flush()
        if hold is not None:
            await hold.wait()
        locked = await session.exec(
            select(Asset).where(col(Asset.id) == asset_id).with_for_update()
        )
        asset = locked.one()
        asset.version += 1
        audit.row_change(session, OPERATOR, AuditAction.UPDATE, ResourceType.ASSET, asset, {}, {})
        await session.flush()
        await asyncio.sleep(pause)


async def test_concurrent_writers_every_change_once_in_commit_order_per_resource(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    if backend.name != "postgresql":
        pytest.skip("SQLite writes one transaction at a time: nothing commits late")
    trust = await create_organisation(client, name="Busy Trust")
    shared = [uuid.UUID((await create_asset(client, trust["id"]))["id"]) for _ in range(3)]
    side = uuid.UUID((await create_asset(client, trust["id"]))["id"])
    _, start = await follow(client)

    seen: list[Entry] = []
    done = asyncio.Event()

    async def reader() -> None:
        after = start
        while True:
            finished = done.is_set()
            batch, after = await follow(client, after)
            seen.extend(batch)
            if finished:
                return
            await asyncio.sleep(0.01)

    # The trap a (time, id) or transaction-id order falls into: a transaction that began
    # first (and wrote first) but takes the shared row and commits after others did.
    release = asyncio.Event()
    rng = random.Random(7)
    reading = asyncio.create_task(reader())
    late = asyncio.create_task(_bump(backend, shared[0], first=side, hold=release, pause=0.05))
    await asyncio.sleep(0.05)
    writers = [_bump(backend, rng.choice(shared), pause=rng.random() * 0.03) for _ in range(24)]
    await asyncio.gather(*writers)
    release.set()
    await late
    await asyncio.gather(*(_bump(backend, rng.choice(shared)) for _ in range(6)))
    done.set()
    await reading

    async with backend.app.state.sessions.read() as session:
        updates = await session.exec(
            select(col(AuditEvent.id)).where(
                AuditEvent.resource_type == ResourceType.ASSET,
                AuditEvent.action == AuditAction.UPDATE,
            )
        )
        positions = updates.all()
    assert sorted(e["eventId"] for e in seen) == sorted(str(p) for p in positions)
    assert len({e["eventId"] for e in seen}) == len(seen) == 24 + 1 + 1 + 6
    # The late transaction really did commit late: its first event occurred before changes
    # the feed lists ahead of it, which a cursor on (time, id) would have stepped past.
    late_event = next(e for e in seen if e["resourceId"] == str(side))
    ahead = seen[: seen.index(late_event)]
    assert any(e["occurredAt"] > late_event["occurredAt"] for e in ahead)
    for asset_id in shared:
        versions = [e["version"] for e in seen if e["resourceId"] == str(asset_id)]
        # Each update bumped the version under the row's lock: commit order is version order.
        assert versions == list(range(2, 2 + len(versions))), versions


# The README's section, as written, against a real server.


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_the_readme_s_change_feed_section_runs(
    shared_server: ServerUrl, client: httpx.AsyncClient, api_key: str, tmp_path: Path
) -> None:
    for n in range(3):  # more than the README's first page holds
        await create_organisation(client, name=f"Before the feed {n}")
    text = await run_readme_script(
        readme_script("## The change feed"), server=shared_server, api_key=api_key, cwd=tmp_path
    )
    assert '"more":true' in text
    assert "create organisation" in text
    assert '"name"' not in text  # entries name resources, they do not copy them
    assert text.count('"resourceType":"organisation","resourceId"') >= 1
    assert re.search(r"(?im)^retry-after: \d+", text), text
