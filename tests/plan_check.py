"""The plan check's machinery: capture what a request runs, explain it, find whole reads.

Statements are captured from the engine's ``before_cursor_execute`` event, which sees
SQLAlchemy's executions and the prebuilt reads that run on the asyncpg connection itself
(app.db.fetch reports those to the same event). Each is explained with the parameters it ran
with, on a connection of its own where the planner may not read a table whole unless no index
can serve (see ``planner``).
"""

import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from sqlalchemy import make_url

from app import caches
from tests.conftest import Backend
from tests.hot_requests import ALLOWED, HotRequest

# What EXPLAIN takes (not BEGIN, COMMIT, SET and the like).
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
    """A connection of its own, in a transaction rolled back at the end (so a test may drop
    an index in it and leave the database as it was), where the planner reads a table whole
    only where no index can serve."""
    url = make_url(backend.url).set(drivername="postgresql")
    driver = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        transaction = driver.transaction()
        await transaction.start()
        try:
            # Sequential scans off: a sequential scan is then planned only where no index can
            # serve. Hash and merge joins off too: with the few rows of the test data the
            # planner would read a join's other side whole once (through any index, for its
            # order) whether or not an index serves the join, hiding a missing one; as a
            # nested loop, that side is an index lookup per outer row, or a whole read that
            # whole_table_reads reports.
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
        if hot.method == "GET":
            # Again, warm: what a cache answers from may still ask the database something
            # (whether what it holds is current).
            again = await http.get(url, headers=headers)
            assert again.status_code == 200, f"{hot.name}: {again.text}"
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
