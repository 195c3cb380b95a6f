"""Every hot query has an index it can use (PostgreSQL; skipped on SQLite, whose planner
has no such switches; the indexes are the same on both, made by the same migrations).

Each hot request (tests/hot_requests.py) is driven through the real app on a small seeded
world, cold (the process's caches emptied first, so the key lookup and the analysis's reads
run too), and every statement it runs is captured with its parameters and explained
(tests/plan_check.py). With this little data the planner would read every table whole if it
were allowed to; with sequential scans, hash and merge joins off, it still reads one whole
only where no index can serve the query, and that is what fails here, naming the request, the
statement and the table.

Alone: ``LHS_TEST_DATABASE_URL=postgresql://… .venv/bin/pytest tests/test_query_plans.py``.
"""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from app.benchmarks import snapshot
from tests.auth_helpers import make_key
from tests.conftest import Backend
from tests.helpers import create_activity, create_asset, create_organisation
from tests.hot_requests import HOT_REQUESTS
from tests.plan_check import Capture, Statement, drive, planner, whole_table_scans


@pytest.fixture
def postgresql(backend: Backend) -> Backend:
    if backend.name != "postgresql":
        pytest.skip("query plans are checked on PostgreSQL")
    return backend


@pytest.fixture
def capture(postgresql: Backend) -> Iterator[Capture]:
    """What the app runs on every engine, from here to the end of the test."""
    listener = Capture()
    for engine in postgresql.engines:
        event.listen(engine, "before_cursor_execute", listener)
    yield listener
    for engine in postgresql.engines:
        event.remove(engine, "before_cursor_execute", listener)


async def _plan_item(client: httpx.AsyncClient, organisation_id: str, **links: Any) -> str:
    made = await client.post(
        f"/v1/organisations/{organisation_id}/plan-items",
        json={
            "capabilityKey": "learning-culture",
            "title": "Protected time for improvement",
            "rag": "red",
            "dueDate": "2026-01-31",  # overdue
        }
        | links,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def _submitted_self_assessment(client: httpx.AsyncClient, organisation_id: str) -> str:
    opened = await client.post(
        f"/v1/organisations/{organisation_id}/self-assessments", json={"referenceModel": "2026.2"}
    )
    assert opened.status_code == 201, opened.text
    sid = opened.json()["id"]
    for key, level in (("data-platform", 3), ("learning-culture", 2)):
        answered = await client.put(
            f"/v1/self-assessments/{sid}/answers/{key}", json={"level": level}
        )
        assert answered.status_code == 200, answered.text
    current = await client.get(f"/v1/self-assessments/{sid}")
    submitted = await client.post(
        f"/v1/self-assessments/{sid}/submit", headers={"If-Match": current.headers["etag"]}
    )
    assert submitted.status_code == 200, submitted.text
    return str(sid)


async def seed(backend: Backend, client: httpx.AsyncClient) -> dict[str, str]:
    """Two ICSs (the second makes benchmark peers), each with two acute trusts and two
    practices; each trust with tagged assets, a linked activity and an overdue plan item; one
    trust's submitted self-assessment; the audit log and change feed all that wrote; and a
    benchmark snapshot. The names the hot requests' templates use are returned."""
    ids: dict[str, str] = {}
    capabilities = (
        ("data", "data-platform"),
        ("data", "analytics-workforce"),
        ("improvement", "learning-culture"),
    )
    for n, code in enumerate(("QWO", "QOQ")):
        ics = await create_organisation(
            client, name=f"ICS {code}", organisationType="ics", odsCode=code
        )
        ids.setdefault("ics", ics["id"])
        await create_asset(
            client,
            ics["id"],
            capabilityKey="data-platform",
            sharedWithMembers=True,
            tags=["shared"],
        )
        for m in range(2):
            trust = await create_organisation(
                client,
                name=f"Trust {n}{m}",
                organisationType="acute_trust",
                odsCode=f"R{n}{m}A",
                parentId=ics["id"],
            )
            assets = [
                await create_asset(
                    client,
                    trust["id"],
                    name=f"Asset {k}",
                    area=capabilities[k % 3][0],
                    capabilityKey=capabilities[k % 3][1],
                    maturity=1 + k % 4,
                    tags=["shared", f"t{k}"],
                )
                for k in range(4)
            ]
            activity = await create_activity(
                client, trust["id"], status="active", assetIds=[assets[0]["id"]]
            )
            await create_activity(client, trust["id"], status="active", activityType="evaluation")
            plan_item = await _plan_item(
                client, trust["id"], assetIds=[assets[1]["id"]], activityIds=[activity["id"]]
            )
            await _plan_item(client, trust["id"], rag="green")
            if "trust" not in ids:
                doomed = await create_asset(client, trust["id"], name="To be deleted")
                ids |= {
                    "trust": trust["id"],
                    "ods_code": trust["odsCode"],
                    "asset": assets[0]["id"],
                    "doomed_asset": doomed["id"],
                    "activity": activity["id"],
                    "plan_item": plan_item,
                    "self_assessment": await _submitted_self_assessment(client, trust["id"]),
                }
        for m in range(2):
            practice = await create_organisation(
                client, name=f"Practice {n}{m}", organisationType="gp_practice", parentId=ics["id"]
            )
            await create_asset(client, practice["id"], capabilityKey="data-platform")
            ids.setdefault("practice", practice["id"])
    assert await snapshot.refresh(backend.app.state.sessions, every=timedelta(0), force=True)
    return ids


async def callers(
    backend: Backend, client: httpx.AsyncClient, ids: dict[str, str]
) -> dict[str, httpx.AsyncClient]:
    sessions = backend.app.state.sessions
    _, ics_key = await make_key(sessions, "reader", ids["ics"], name="ICS portal")
    _, trust_key = await make_key(sessions, "editor", ids["trust"], name="trust intranet")
    transport = httpx.ASGITransport(app=backend.app)

    def as_key(key: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=transport,
            base_url="http://localhost",
            headers={"Authorization": f"Bearer {key}"},
        )

    return {"admin": client, "ics": as_key(ics_key), "trust": as_key(trust_key)}


async def test_every_hot_query_has_a_usable_index(
    backend: Backend, client: httpx.AsyncClient, capture: Capture
) -> None:
    """Every statement of every hot request plans without reading a table whole."""
    assert len({hot.name for hot in HOT_REQUESTS}) == len(HOT_REQUESTS), "names are keys"
    ids = await seed(backend, client)
    clients = await callers(backend, client, ids)
    try:
        for hot in HOT_REQUESTS:
            await drive(backend, clients[hot.caller], capture, hot, ids)
    finally:
        for name, other in clients.items():
            if name != "admin":
                await other.aclose()
    unseen = [hot.name for hot in HOT_REQUESTS if not capture.of(hot.name)]
    assert not unseen, f"no statement captured for {unseen}: the capture misses a path"
    async with planner(backend) as driver:
        findings = await whole_table_scans(driver, list(capture.statements.values()))
    assert not findings, (
        f"{len(findings)} whole-table read(s) where no index serves the query (add the index "
        "in a migration, or allow the read in tests/hot_requests.py with its reason):\n"
        + "\n".join(map(str, findings))
    )


# What PostgreSQL runs itself at the commit of every write (the change feed's numbering, in
# the function lhs_feed_positions): EXPLAIN of the INSERT does not show it, so it is
# explained here, and held to the function's text so that the two cannot drift apart.
FEED_NUMBERING = (
    "SELECT count(*) FROM audit_event WHERE position IS NULL",
    "SELECT id, row_number() OVER (ORDER BY occurred_at, id) AS n "
    "FROM audit_event WHERE position IS NULL",
)


async def test_what_each_write_s_commit_runs_has_a_usable_index(postgresql: Backend) -> None:
    async with planner(postgresql) as driver:
        source = " ".join(
            (
                await driver.fetchval(
                    "SELECT prosrc FROM pg_proc WHERE proname = 'lhs_feed_positions'"
                )
            ).split()
        )
        # The function counts INTO a variable; the statement is the same without.
        source = source.replace(" INTO pending", "")
        assert all(sql in source for sql in FEED_NUMBERING), source
        statements = [Statement(sql, (), ["commit of a write"]) for sql in FEED_NUMBERING]
        assert await whole_table_scans(driver, statements) == []


# Foreign keys whose referencing columns lead no index, each with why that is fine. Without
# one, every delete (or key change) of a referenced row makes PostgreSQL read the referencing
# table whole, to cascade or to check: statements no EXPLAIN of the delete shows.
UNINDEXED_FOREIGN_KEYS = {
    "fk_self_assessment_assessment_id_assessment": (
        "an assessment is deleted only with its organisation, whose self-assessments go with "
        "it (by their indexed organisation_id); organisations are deleted rarely"
    ),
}


async def test_every_foreign_key_leads_an_index(postgresql: Backend) -> None:
    async with planner(postgresql) as driver:
        rows = await driver.fetch(
            """
            SELECT c.conname FROM pg_constraint c
            WHERE c.contype = 'f' AND NOT EXISTS (
                SELECT 1 FROM pg_index i
                WHERE i.indrelid = c.conrelid
                  AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
                  AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey
            )
            """
        )
    assert {row["conname"] for row in rows} == set(UNINDEXED_FOREIGN_KEYS)


# A hot request, an index its plan needs, and the table the plan reads whole without it.
NEEDED = {
    "organisations by type": ("ix_organisation_organisation_type_created_at_id", "organisation"),
    "change feed page": ("ix_audit_event_position", "audit_event"),
}


@pytest.mark.parametrize("name", NEEDED)
async def test_the_check_fails_when_a_needed_index_is_missing(
    backend: Backend, client: httpx.AsyncClient, capture: Capture, name: str
) -> None:
    """The index dropped inside the planner's transaction (rolled back after, so no other
    test sees it gone): the request's plan now reads its table whole, and the check says so."""
    for n in range(2):
        await create_organisation(client, name=f"Practice {n}", organisationType="gp_practice")
    hot = next(h for h in HOT_REQUESTS if h.name == name)
    await drive(backend, client, capture, hot, {})
    statements = capture.of(name)
    index, table = NEEDED[name]
    async with planner(backend) as driver:
        assert await whole_table_scans(driver, statements) == []
        await driver.execute(f"DROP INDEX {index}")
        findings = await whole_table_scans(driver, statements)
    assert {finding.table for finding in findings} == {table}, findings
