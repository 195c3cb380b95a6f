"""Every hot query has an index it can use (PostgreSQL; skipped on SQLite).

Each hot request (tests/hot_requests.py) is driven through the real app on a small seeded
world, cold (the process's caches emptied first, so the key lookup and the analysis's reads
run too), and every statement it sends is captured with its parameters: SQLAlchemy's
executions, and the prebuilt reads that run on the asyncpg connection itself (app.db.fetch
reports those to the same engine event). Each distinct statement is then explained with the
parameters it ran with, under ``enable_seqscan = off``. With this little data the planner
would read every table whole if it were allowed to; with the setting off it still does so only
where no index can serve the query, which is what the check finds.
"""

import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import event, make_url

from app import caches
from app.benchmarks import snapshot
from tests.auth_helpers import make_key
from tests.conftest import Backend
from tests.helpers import create_activity, create_asset, create_organisation
from tests.hot_requests import HOT_REQUESTS, HotRequest

# Whole reads allowed, each with its reason: of a table by any request (None), or by one
# request. Keep it short: what is listed here no plan check notices again as the data grows.
ALLOWED: dict[tuple[str, str | None], str] = {
    ("feed_clock", None): "one row, by a CHECK constraint: the change feed's last position",
    ("organisation", "organisations by name"): (
        "?q= matches a substring of the name, which no B-tree serves (a trigram index would, "
        "on PostgreSQL alone); the scan runs in the page's order and stops at its 50th match, "
        "over a table of some 8,000 rows at national scale"
    ),
}

EXPLAINABLE = re.compile(r"^\s*(SELECT|WITH|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


@dataclass
class Statement:
    sql: str
    parameters: tuple[Any, ...]
    requests: list[str] = field(default_factory=list)


@dataclass
class Capture:
    """The distinct statements the hot requests ran, by text, each with the parameters it
    first ran with and the requests that ran it (statements outside a request are ignored)."""

    statements: dict[str, Statement] = field(default_factory=dict)
    current: str | None = None

    def __call__(
        self, _conn: Any, _cursor: Any, sql: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        if self.current is None or not EXPLAINABLE.match(sql):
            return
        first = parameters[0] if many else parameters
        seen = self.statements.setdefault(sql, Statement(sql, tuple(first or ())))
        if self.current not in seen.requests:
            seen.requests.append(self.current)

    def of(self, request: str) -> list[Statement]:
        return [s for s in self.statements.values() if request in s.requests]


@dataclass(frozen=True)
class Finding:
    node: str
    table: str
    statement: Statement

    def __str__(self) -> str:
        sql = " ".join(self.statement.sql.split())
        requests = "; ".join(self.statement.requests)
        return f"{self.node} on {self.table}, run by: {requests}\n    {sql}"


def whole_table_reads(plan: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(what, table) of each node of a plan that reads a table whole: a sequential scan, or a
    scan of a whole index (no index condition) that either filters what it reads (the index
    gives only the order; no index serves the condition) or is the inner side of a nested
    loop (read again for every outer row: no index serves the join)."""
    node = plan["Node Type"]
    if node == "Seq Scan":
        yield "Seq Scan", plan["Relation Name"]
    elif node in ("Index Scan", "Index Only Scan") and "Index Cond" not in plan:
        if "Filter" in plan:
            yield f"whole {plan['Index Name']} filtered by {plan['Filter']}", plan["Relation Name"]
        elif plan.get("Parent Relationship") == "Inner":
            yield f"whole {plan['Index Name']} per outer row", plan["Relation Name"]
    for child in plan.get("Plans", ()):
        yield from whole_table_reads(child)


def allowed(table: str, statement: Statement) -> bool:
    """Allowed for every request that ran the statement."""
    return (table, None) in ALLOWED or all((table, r) in ALLOWED for r in statement.requests)


@asynccontextmanager
async def planner(backend: Backend) -> AsyncIterator[asyncpg.Connection]:
    """A connection of its own, in a transaction with sequential scans off, rolled back at
    the end (so a test may drop an index in it and leave the database as it was)."""
    url = make_url(backend.url).set(drivername="postgresql")
    driver = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        transaction = driver.transaction()
        await transaction.start()
        try:
            # Sequential scans off: the planner then reads a table whole only where no index
            # can serve. Hash and merge joins off too: with them, the side of a join no index
            # serves is read whole once (by any index, in its order), which is no sign of a
            # missing index here but costs a full read of the table at national size;
            # as nested loops, that side is either an index lookup per row or flagged.
            for setting in ("enable_seqscan", "enable_hashjoin", "enable_mergejoin"):
                await driver.execute(f"SET LOCAL {setting} = off")
            yield driver
        finally:
            await transaction.rollback()
    finally:
        await driver.close()


async def whole_table_scans(
    driver: asyncpg.Connection, statements: list[Statement]
) -> list[Finding]:
    """Each statement's plan (EXPLAIN without ANALYZE: planned, not run), and the tables it
    would read whole that ALLOWED does not allow."""
    findings = []
    for statement in statements:
        explained = await driver.fetchval(
            f"EXPLAIN (FORMAT JSON) {statement.sql}", *statement.parameters
        )
        plan = json.loads(explained)[0]["Plan"]
        findings += [
            Finding(node, table, statement)
            for node, table in whole_table_reads(plan)
            if not allowed(table, statement)
        ]
    return findings


@pytest.fixture
def capture(backend: Backend) -> Iterator[Capture]:
    if backend.name != "postgresql":
        pytest.skip("query plans are checked on PostgreSQL (the test of SQLite is its own)")
    listener = Capture()
    for engine in backend.engines:
        event.listen(engine, "before_cursor_execute", listener)
    yield listener
    for engine in backend.engines:
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


def with_limit(url: str, limit: int) -> str:
    return str(httpx.URL(url).copy_set_param("limit", limit))


async def drive(
    backend: Backend,
    http: httpx.AsyncClient,
    capture: Capture,
    hot: HotRequest,
    ids: dict[str, str],
) -> None:
    """Send one hot request cold, capturing what it runs (and, for a list, its next page)."""
    url = hot.url.format(**ids)
    headers = dict(hot.headers)
    if hot.if_match:
        current = await http.get(url)
        assert current.status_code == 200, current.text
        headers["If-Match"] = current.headers["etag"]
    caches.clear_all()
    capture.current = hot.name
    try:
        response = await http.request(hot.method, url, json=hot.body, headers=headers)
        assert response.status_code < 300, f"{hot.name}: {response.text}"
        if hot.next_page:
            # The page after the first row: a cursor whatever the seed's size, then a page of
            # the request's own size from there.
            first = await http.get(with_limit(url, 1))
            next_url = first.json()["links"]["next"]
            assert next_url, f"{hot.name}: no next page to check"
            page = await http.get(with_limit(next_url, hot_limit(url)))
            assert page.status_code == 200, f"{hot.name}: {page.text}"
        # A key's first use is written beside the request, not in it: part of the lookup.
        await backend.app.state.authenticator.usage.drain()
    finally:
        capture.current = None


def hot_limit(url: str) -> int:
    return int(httpx.URL(url).params.get("limit", "50"))


async def test_every_hot_query_has_a_usable_index(
    backend: Backend, client: httpx.AsyncClient, capture: Capture
) -> None:
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
        f"{len(findings)} plan(s) read a table whole with enable_seqscan = off "
        "(no index serves the query):\n" + "\n".join(map(str, findings))
    )


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
