"""What the platform promises around the API: a read-only database is "unavailable", not a
crash; absolute URLs never come from the caller's Host header; and the readiness probe only
reads."""

import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, insert, select
from sqlmodel import SQLModel

import app.models  # noqa: F401 - registers every table on the metadata
from app.config import Settings
from app.main import create_app
from tests.conftest import Backend, admin_headers, migrate, settings_for, snapshot

READ_ONLY = re.compile(r"read[- ]?only", re.IGNORECASE)
PUBLIC = "https://lhs.example.nhs.uk"
TRUSTED = "lhs.example.nhs.uk"
EVIL = "evil.example"


def assert_problem_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem with this status, whatever its code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.text
    body = dict(response.json())
    for field in ("type", "title", "status", "detail", "code"):
        assert field in body, f"problem without {field}: {body}"
    assert body["status"] == status
    return body


StartApp = Callable[[Settings], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def start_app() -> AsyncIterator[StartApp]:
    """Start the real app (lifespan included) with the given settings, talk to it over ASGI."""
    async with AsyncExitStack() as stack:

        async def start(
            settings: Settings, base_url: str = "http://localhost"
        ) -> httpx.AsyncClient:
            app = create_app(settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            return await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=transport, base_url=base_url, headers=await admin_headers(app)
                )
            )

        yield start


# A read-only SQLite database. The tests run as root, so file permissions would not stop a
# write: the database is opened read-only instead (SQLite's URI mode=ro).


# A caller's key that no database has: enough to make the service read its key table.
UNKNOWN_KEY = {"Authorization": "Bearer lhs_000000000000_" + "A" * 43}


async def read_only_url(tmp_path: Path, *, opened_before: bool) -> tuple[str, dict[str, str]]:
    """A migrated database, opened read-only, and credentials for it. ``opened_before``: the
    service ran on it once (it is in WAL mode, has its reference model and an admin key);
    otherwise it was only migrated (and no key can exist)."""
    path = tmp_path / "read-only.db"
    await migrate(f"sqlite+aiosqlite:///{path}")
    headers = UNKNOWN_KEY
    if opened_before:
        writable = create_app(settings_for(f"sqlite+aiosqlite:///{path}"))
        async with writable.router.lifespan_context(writable):
            headers = await admin_headers(writable)
    return f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true", headers


@pytest.mark.parametrize("opened_before", [False, True], ids=["only-migrated", "wal"])
async def test_a_read_only_database_is_503_with_a_clear_detail_not_500(
    start_app: StartApp, tmp_path: Path, opened_before: bool
) -> None:
    """Today every write (and, before WAL is set, every read) is a 500 "failed unexpectedly"
    from "attempt to write a readonly database". A client should get 503 saying the database
    is read-only, so it knows to retry later and operators know what to fix."""
    url, headers = await read_only_url(tmp_path, opened_before=opened_before)
    http = await start_app(settings_for(url))
    http.headers.update(headers)
    write = await http.post("/v1/organisations", json={"name": "T", "organisationType": "trust"})
    assert READ_ONLY.search(assert_problem_of(write, 503)["detail"]), write.text
    read = await http.get("/v1/organisations")
    assert read.status_code in (200, 503), read.text
    if read.status_code == 503:
        assert READ_ONLY.search(assert_problem_of(read, 503)["detail"]), read.text


async def test_start_up_and_readiness_name_a_read_only_database(
    start_app: StartApp, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Today start-up logs "reference models not installed: is the database migrated?" (it
    is migrated) and /_status says "unreachable (OperationalError)"."""
    url, _ = await read_only_url(tmp_path, opened_before=False)
    with caplog.at_level(logging.INFO, logger="app"):
        http = await start_app(settings_for(url))
    messages = [record.getMessage() for record in caplog.records]
    assert not [m for m in messages if "migrated?" in m], messages
    assert [m for m in messages if READ_ONLY.search(m)], messages
    status = await http.get("/_status")
    assert status.status_code == 503
    failed = [check["detail"] for check in status.json()["checks"] if not check["ok"]]
    assert any(READ_ONLY.search(detail) for detail in failed), status.text


async def test_readiness_takes_out_an_instance_whose_database_only_reads(
    start_app: StartApp, tmp_path: Path
) -> None:
    """A read-only file that the service ran on before (WAL mode, a key, a model): reads
    answer and every write is a clean 503, so a load balancer must stop sending traffic.
    Today /_status said 200 "ok"."""
    url, headers = await read_only_url(tmp_path, opened_before=True)
    http = await start_app(settings_for(url))
    http.headers.update(headers)
    assert (await http.get("/v1/organisations")).status_code == 200
    write = await http.post("/v1/organisations", json={"name": "T", "organisationType": "trust"})
    assert READ_ONLY.search(assert_problem_of(write, 503)["detail"]), write.text

    status = await http.get("/_status")
    assert status.status_code == 503, status.text
    assert status.json()["status"] == "unavailable"
    database = next(check for check in status.json()["checks"] if check["name"] == "database")
    assert database["ok"] is False
    assert READ_ONLY.search(database["detail"]), status.text


async def test_readiness_takes_out_an_instance_whose_postgresql_database_only_reads(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    """PostgreSQL's read-only database (a hot standby, or default_transaction_read_only, set
    here on each new connection): writes are a 503 naming it, not a 500, and /_status is a
    503 naming the cause."""
    if backend.name != "postgresql":
        pytest.skip("PostgreSQL's read-only transactions")
    app = create_app(settings_for(backend.url))
    async with app.router.lifespan_context(app):
        headers = await admin_headers(app)
        engine = app.state.engine
        await engine.dispose()  # every connection from now on is a new, read-only one

        def read_only(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.run_async(
                lambda driver: driver.execute("SET default_transaction_read_only = on")
            )

        event.listen(engine.sync_engine, "connect", read_only)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost", headers=headers
        ) as http:
            before = await snapshot(backend.engine)
            write = await http.post(
                "/v1/organisations", json={"name": "T", "organisationType": "trust"}
            )
            assert READ_ONLY.search(assert_problem_of(write, 503)["detail"]), write.text
            assert write.headers["retry-after"]
            assert await snapshot(backend.engine) == before

            status = await http.get("/_status")
            assert status.status_code == 503, status.text
            failed = [check["detail"] for check in status.json()["checks"] if not check["ok"]]
            assert any("default_transaction_read_only" in detail for detail in failed), failed


# Absolute URLs. Contract: LHS_PUBLIC_BASE_URL is the origin of every absolute URL the service
# writes; LHS_TRUSTED_HOSTS (a JSON list, as pydantic-settings reads list settings) is the
# Host allow-list of Starlette's TrustedHostMiddleware, and another Host is a 400 problem.


async def test_absolute_urls_use_the_public_base_url_not_the_host_header(
    backend: Backend,
    client: httpx.AsyncClient,
    start_app: StartApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Today ``Host: evil.example`` comes back in Location, links.self, links.next and the Link
    header: a cache or a proxy could hand that link to other users."""
    monkeypatch.setenv("LHS_PUBLIC_BASE_URL", PUBLIC)
    http = await start_app(Settings(database_url=backend.url))
    http.headers["Host"] = EVIL
    body = {"organisationType": "trust"}
    created = [
        await http.post("/v1/organisations", json=body | {"name": f"Trust {n}"}) for n in range(2)
    ]
    for response in created:
        assert response.status_code == 201, response.text
        assert response.headers["location"] == f"{PUBLIC}/v1/organisations/{response.json()['id']}"
    page = await http.get("/v1/organisations", params={"limit": 1})
    assert page.status_code == 200, page.text
    links = page.json()["links"]
    for url in (links["self"], links["next"], page.headers["link"]):
        assert EVIL not in url, url
    assert links["self"].startswith(f"{PUBLIC}/v1/organisations?")
    assert links["next"].startswith(f"{PUBLIC}/v1/organisations?")
    assert page.headers["link"] == f'<{links["next"]}>; rel="next"'


async def test_an_untrusted_host_is_a_400_problem_and_writes_nothing(
    backend: Backend,
    client: httpx.AsyncClient,
    start_app: StartApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Today any Host is served, and echoed into the Location of what it created."""
    monkeypatch.setenv("LHS_TRUSTED_HOSTS", json.dumps([TRUSTED]))
    http = await start_app(Settings(database_url=backend.url))
    before = await snapshot(backend.engine)
    body = {"name": "Evil Trust", "organisationType": "trust"}
    refused = await http.post("/v1/organisations", json=body, headers={"Host": EVIL})
    assert_problem_of(refused, 400)
    assert await snapshot(backend.engine) == before
    served = await http.post("/v1/organisations", json=body, headers={"Host": TRUSTED})
    assert served.status_code == 201, served.text


# The readiness probe. Load balancers call it every few seconds: it must only read.

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|BEGIN\s+IMMEDIATE|CREATE|ALTER|DROP)\b", re.I)
# On SQLite the probe also asks whether the file takes writes: on the driver's own cursor,
# below these events, a write attempted and rolled back at once, never waiting for the lock
# (app.db.read_only_reason). The snapshot shows that nothing of it stays.


async def test_the_readiness_probe_writes_nothing(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    """Today, when the reference model is missing, /_status installs it: a write on every
    instance's probe path. It should report what it sees and leave installing to start-up and
    migration. The model rows are put back afterwards for the other tests."""
    table = SQLModel.metadata.tables["reference_model"]
    async with backend.engine.begin() as connection:
        saved = [dict(row._mapping) for row in await connection.execute(select(table))]
        await connection.execute(table.delete())
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    try:
        before = await snapshot(backend.engine)
        for engine in backend.engines:
            event.listen(engine, "before_cursor_execute", record)
        try:
            response = await client.get("/_status")
        finally:
            for engine in backend.engines:
                event.remove(engine, "before_cursor_execute", record)
        assert response.status_code in (200, 503), response.text
        assert statements, "the probe did not reach the database"
        assert [s for s in statements if WRITE.match(s)] == []
        assert await snapshot(backend.engine) == before
    finally:
        async with backend.engine.begin() as connection:
            await connection.execute(table.delete())
            await connection.execute(insert(table), saved)
