"""Consistency under concurrent writes: an assessment is one consistent snapshot, and a stale
If-Match is always a 412."""

import re
import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, make_url

from tests.conftest import Backend, snapshot
from tests.helpers import assert_problem, create_activity, create_asset, create_organisation

NOWHERE = "00000000-0000-4000-8000-000000000000"

# An assessment reads one snapshot.
#
# Design: an engine event sees every statement the POST runs. For each SELECT that reads the
# analysis data (assets, activities and their links and tags), the listener asks the database
# itself, on that statement's own connection, what it is inside of:
# - PostgreSQL: the transaction's isolation level, backend and start time
#   (current_setting('transaction_isolation'), pg_backend_pid(), now()). All the reads must
#   share one transaction at REPEATABLE READ or SERIALIZABLE: then they see one snapshot,
#   whatever commits meanwhile. Asked after the statement, so that a fix that begins with
#   SET TRANSACTION ISOLATION LEVEL is not disturbed by the probe.
# - SQLite: a read transaction is one snapshot already; the defect is that the POST holds the
#   write lock while it computes. The listener tries to take the write lock from a separate
#   connection (BEGIN IMMEDIATE, no wait): that must succeed during every read.
# Asking the database, not the app's session options, keeps the test valid whichever way the
# fix obtains the snapshot.

ANALYSIS_DATA = re.compile(r"\b(asset|activity|activity_asset|asset_tag)\b", re.IGNORECASE)


def reads_analysis_data(statement: str) -> bool:
    return bool(re.match(r"\s*(SELECT|WITH)\b", statement, re.I)) and bool(
        ANALYSIS_DATA.search(statement)
    )


def postgres_context(connection: Any) -> tuple[str, int, str]:
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(
            "SELECT current_setting('transaction_isolation'), pg_backend_pid(), now()::text"
        )
        isolation, pid, started = cursor.fetchone()
    finally:
        cursor.close()
    return str(isolation), int(pid), str(started)


def sqlite_write_lock_free(path: str) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return False
    finally:
        other.close()


@pytest.fixture
def analysis_reads(backend: Backend) -> Iterator[list[tuple[str, Any]]]:
    """(statement, what the database says about it) for every analysis read."""
    seen: list[tuple[str, Any]] = []
    sqlite_path = make_url(backend.url).database

    def probe(connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not reads_analysis_data(statement):
            return
        if backend.name == "postgresql":
            seen.append((statement, postgres_context(connection)))
        else:
            assert sqlite_path is not None
            seen.append((statement, sqlite_write_lock_free(sqlite_path)))

    for engine in backend.engines:
        event.listen(engine, "after_cursor_execute", probe)
    yield seen
    for engine in backend.engines:
        event.remove(engine, "after_cursor_execute", probe)


@pytest.mark.parametrize("scope", ["organisation", "system"])
async def test_an_assessment_reads_its_data_in_one_snapshot(
    client: httpx.AsyncClient, backend: Backend, analysis_reads: list[tuple[str, Any]], scope: str
) -> None:
    """Today on PostgreSQL the POST starts its transaction before the analysis asks for
    REPEATABLE READ, so each read gets its own snapshot (READ COMMITTED) and a write landing
    between two reads is half in the stored assessment; on SQLite every other writer waits
    for the whole analysis, system roll-up included."""
    ics = await create_organisation(client, name="Snapshot ICS", organisationType="ics")
    trusts = [await create_organisation(client, name=f"T{n}", parentId=ics["id"]) for n in (1, 2)]
    await create_asset(client, ics["id"], sharedWithMembers=True, capabilityKey="data-platform")
    for trust in trusts:
        asset = await create_asset(client, trust["id"], maturity=3, tags=["qi"])
        await create_activity(client, trust["id"], assetIds=[asset["id"]])
    target = ics if scope == "system" else trusts[0]
    analysis_reads.clear()

    response = await client.post(
        f"/v1/organisations/{target['id']}/assessments", json={"scope": scope}
    )

    assert response.status_code == 201, response.text
    assert len(analysis_reads) >= 2, analysis_reads  # the probe saw the analysis
    if backend.name == "postgresql":
        contexts = {context for _, context in analysis_reads}
        assert len(contexts) == 1, f"reads in {len(contexts)} transactions: {contexts}"
        isolation = contexts.pop()[0]
        assert isolation in ("repeatable read", "serializable"), analysis_reads
    else:
        locked = [statement for statement, free in analysis_reads if not free]
        assert locked == [], "the write lock was held while reading the analysis"


# A stale If-Match is 412, checked before anything else about the request (RFC 9110 13.2.1:
# preconditions are evaluated before the method's own semantics), on every resource alike.

STALE = 'W/"99"'


async def stale_update(
    client: httpx.AsyncClient, backend: Backend, url: str, body: dict[str, Any]
) -> None:
    before = await snapshot(backend.engine)
    response = await client.patch(url, json=body, headers={"If-Match": STALE})
    assert_problem(response, 412, "PRECONDITION_FAILED")
    assert response.headers["etag"] == 'W/"1"'  # the current version, to re-read and retry
    assert await snapshot(backend.engine) == before


async def resources(client: httpx.AsyncClient) -> dict[str, str]:
    trust = await create_organisation(client, name="Stale Trust")
    asset = await create_asset(client, trust["id"])
    activity = await create_activity(client, trust["id"])
    return {
        "organisation": f"/v1/organisations/{trust['id']}",
        "asset": f"/v1/assets/{asset['id']}",
        "activity": f"/v1/activities/{activity['id']}",
    }


# Fields the service checks against the database (a parent, a capability, a linked asset).
REFUSED_BY_THE_SERVICE: dict[str, dict[str, Any]] = {
    "organisation": {"parentId": NOWHERE},
    "asset": {"capabilityKey": "no-such-capability"},
    "activity": {"assetIds": [NOWHERE]},
}
# Fields the request schema refuses.
REFUSED_BY_THE_SCHEMA: dict[str, dict[str, Any]] = {
    "organisation": {"name": ""},
    "asset": {"maturity": 9},
    "activity": {"title": ""},
}


@pytest.mark.parametrize("resource", REFUSED_BY_THE_SERVICE)
async def test_a_stale_if_match_is_412_before_the_fields_are_checked(
    client: httpx.AsyncClient, backend: Backend, resource: str
) -> None:
    """Today organisations answer 412 but assets and activities 422: a client that sent a
    stale ETag is told to fix a field, then, once it has, that its copy was stale."""
    url = (await resources(client))[resource]
    await stale_update(client, backend, url, REFUSED_BY_THE_SERVICE[resource])


@pytest.mark.parametrize("resource", REFUSED_BY_THE_SCHEMA)
async def test_a_stale_if_match_is_412_even_with_a_malformed_field(
    client: httpx.AsyncClient, backend: Backend, resource: str
) -> None:
    """The same rule for a field the request schema refuses: today 422 on all three."""
    url = (await resources(client))[resource]
    await stale_update(client, backend, url, REFUSED_BY_THE_SCHEMA[resource])
