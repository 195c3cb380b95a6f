"""What every endpoint shares: health, the service root, request IDs, body limits, problems."""

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory

from app.main import create_app
from tests.conftest import Backend, admin_headers, alembic_config, migrate, settings_for, snapshot
from tests.helpers import assert_problem

MAX_BODY = 1_048_576
SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
VALID_ORGANISATION = b'{"name": "Padded Trust", "organisationType": "trust"}'


StartApp = Callable[[str], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def app_on() -> AsyncIterator[StartApp]:
    """Start the real app (lifespan included) on any database URL, then talk to it over ASGI."""
    async with AsyncExitStack() as stack:

        async def start(database_url: str) -> httpx.AsyncClient:
            app = create_app(settings_for(database_url))
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            return await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=transport,
                    base_url="http://localhost",
                    headers=await admin_headers(app),
                )
            )

        yield start


def checks(response: httpx.Response) -> dict[str, dict[str, Any]]:
    body = response.json()
    assert set(body) == {"status", "checks"}, body
    return {check["name"]: check for check in body["checks"]}


def padded(size: int) -> bytes:
    """A valid organisation, padded with JSON whitespace to exactly ``size`` bytes."""
    return VALID_ORGANISATION + b" " * (size - len(VALID_ORGANISATION))


async def test_ping_answers_without_a_database(app_on: StartApp) -> None:
    http = await app_on("sqlite+aiosqlite:////nonexistent-dir/x.db")
    response = await http.get("/_ping")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    status = await http.get("/_status")
    assert status.status_code == 503
    assert status.json()["status"] == "unavailable"
    assert checks(status)["database"]["ok"] is False


async def test_status_is_ready_on_a_migrated_database(client: httpx.AsyncClient) -> None:
    head = ScriptDirectory.from_config(alembic_config("unused")).get_current_head()
    assert head is not None
    response = await client.get("/_status")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    named = checks(response)
    assert named["database"]["ok"] is True
    assert named["migrations"]["ok"] is True
    assert head in named["migrations"]["detail"]


async def test_status_is_503_on_a_database_at_no_revision(app_on: StartApp, tmp_path: Path) -> None:
    http = await app_on(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    response = await http.get("/_status")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.json()["status"] == "unavailable"
    failed = [name for name, check in checks(response).items() if not check["ok"]]
    assert failed, response.text


async def test_status_names_migrations_when_the_database_is_empty(
    app_on: StartApp, tmp_path: Path
) -> None:
    http = await app_on(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    response = await http.get("/_status")
    assert response.status_code == 503
    named = checks(response)
    assert named["database"]["ok"] is True
    assert named["migrations"]["ok"] is False


async def test_status_is_503_after_downgrade_to_base(app_on: StartApp, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'downgraded.db'}"
    await migrate(url)
    await migrate(url, "base", down=True)
    response = await (await app_on(url)).get("/_status")
    assert response.status_code == 503
    named = checks(response)
    assert named["database"]["ok"] is True
    assert named["migrations"]["ok"] is False
    assert "upgrade head" in named["migrations"]["detail"]


async def test_service_root_names_the_service_and_its_docs(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1")
    assert response.status_code == 200
    body = response.json()
    assert body["name"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", body["version"])
    assert (await client.get("/openapi.json")).json()["info"]["version"] == body["version"]
    docs = await client.get(body["docs"])
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]


REQUESTS = [
    pytest.param("GET", "/v1", 200, id="success"),
    pytest.param("GET", "/v1/no-such-thing", 404, id="unknown-route"),
    pytest.param("DELETE", "/v1/organisations", 405, id="wrong-method"),
    pytest.param("GET", "/v1/organisations?limit=0", 422, id="invalid-query"),
]


@pytest.mark.parametrize(("method", "url", "status"), REQUESTS)
async def test_request_ids_are_echoed(
    client: httpx.AsyncClient, method: str, url: str, status: int
) -> None:
    ids = {"X-Request-ID": "req-123.abc:7", "X-Correlation-ID": "journey_42"}
    response = await client.request(method, url, headers=ids)
    assert response.status_code == status
    assert response.headers["x-request-id"] == "req-123.abc:7"
    assert response.headers["x-correlation-id"] == "journey_42"
    if status >= 400:
        assert response.json()["traceId"] == "req-123.abc:7"


@pytest.mark.parametrize(("method", "url", "status"), REQUESTS)
async def test_request_ids_are_generated_when_absent(
    client: httpx.AsyncClient, method: str, url: str, status: int
) -> None:
    first = await client.request(method, url)
    second = await client.request(method, url)
    assert first.status_code == second.status_code == status
    for response in (first, second):
        assert SAFE_ID.match(response.headers["x-request-id"])
        assert SAFE_ID.match(response.headers["x-correlation-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    if status >= 400:
        assert first.json()["traceId"] == first.headers["x-request-id"]


@pytest.mark.parametrize("unsafe", ["has spaces in it", "x" * 129, 'quote"and<tag>'])
async def test_unsafe_request_ids_are_replaced(client: httpx.AsyncClient, unsafe: str) -> None:
    response = await client.get("/v1", headers={"X-Request-ID": unsafe, "X-Correlation-ID": unsafe})
    assert response.status_code == 200
    assert response.headers["x-request-id"] != unsafe
    assert SAFE_ID.match(response.headers["x-request-id"])
    assert response.headers["x-correlation-id"] != unsafe
    assert SAFE_ID.match(response.headers["x-correlation-id"])


async def test_wrong_method_is_a_problem_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/v1/organisations")
    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"]


async def test_allow_lists_every_supported_method(client: httpx.AsyncClient) -> None:
    response = await client.delete("/v1/organisations")
    allowed = {method.strip() for method in response.headers["allow"].split(",")}
    assert {"GET", "POST"} <= allowed


async def test_unknown_route_is_a_problem(client: httpx.AsyncClient) -> None:
    problem = assert_problem(await client.get("/v1/no-such-thing"), 404, "NOT_FOUND")
    assert problem["instance"] == "/v1/no-such-thing"
    assert_problem(await client.get("/nowhere"), 404, "NOT_FOUND")


async def test_problem_types_resolve_to_a_description(client: httpx.AsyncClient) -> None:
    problem = assert_problem(await client.get("/v1/no-such-thing"), 404, "NOT_FOUND")
    page = await client.get(problem["type"])
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "NOT_FOUND" in page.text
    assert "404" in page.text
    assert (await client.get("/problems/not-found")).text == page.text
    assert_problem(await client.get("/problems/no-such-problem"), 404, "NOT_FOUND")


async def test_body_at_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/organisations",
        content=padded(MAX_BODY),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "Padded Trust"


async def test_body_over_the_limit_with_content_length_is_413(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    body = padded(MAX_BODY + 1)
    # Valid but for its size: without the limit it would create an organisation.
    assert json.loads(body) == {"name": "Padded Trust", "organisationType": "trust"}
    before = await snapshot(backend.engine)
    response = await client.post(
        "/v1/organisations", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.request.headers["content-length"] == str(len(body))
    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
    assert await snapshot(backend.engine) == before


async def test_chunked_body_over_the_limit_is_413(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    before = await snapshot(backend.engine)
    body = padded(MAX_BODY + 1)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = await client.post(
        "/v1/organisations", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    try:
        assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
    finally:
        assert await snapshot(backend.engine) == before


async def test_head_is_get_without_a_body(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/v1/organisations", json={"name": "Head Trust", "organisationType": "trust"}
    )
    url = created.headers["location"]
    get = await client.get(url)
    head = await client.head(url)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-type"] == "application/json"
    wrong = await client.put(url)
    assert wrong.headers["allow"] == "DELETE, GET, HEAD, PATCH"
