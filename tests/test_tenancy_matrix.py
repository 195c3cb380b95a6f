"""Every operation of the OpenAPI document, for each role, inside the caller's own ICS, in a
sibling ICS and as a global caller, on SQLite and PostgreSQL: the status the table in
tests/tenancy_table.py expects; 401 without credentials; nothing of the sibling ICS or the
region above in any successful answer to a caller scoped to its own ICS.

The operations come from the document, so an operation without a row fails here."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from tests.conftest import Backend
from tests.tenancy_table import OWN, SIBLING, TABLE, Request
from tests.tenancy_world import ROLES, World, build

METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}
DOCUMENT: dict[str, Any] = create_app(Settings(database_url="sqlite+aiosqlite://")).openapi()
OPERATIONS: dict[str, tuple[str, str, bool]] = {
    operation["operationId"]: (method.upper(), path, bool(operation.get("security")))
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
    if method in METHODS
}


@pytest.fixture(scope="module")
async def world(backend: Backend) -> AsyncIterator[World]:
    async for built in build(backend):
        yield built


def test_every_operation_has_exactly_one_row() -> None:
    assert sorted(set(OPERATIONS) - set(TABLE)) == [], "operations without a row in TABLE"
    assert sorted(set(TABLE) - set(OPERATIONS)) == [], "rows for operations that do not exist"


def test_the_public_rows_are_the_operations_without_security() -> None:
    unsecured = {op for op, (_, _, secured) in OPERATIONS.items() if not secured}
    assert unsecured == {op for op, row in TABLE.items() if row.public}
    assert unsecured == {"health-ping", "health-status", "service-info", "fhir-metadata"}


async def send(
    world: World, operation_id: str, request: Request, who: str | None, *, bare: bool = False
) -> httpx.Response:
    method, template, _ = OPERATIONS[operation_id]
    url = template.format(**request.path)
    if bare:  # no body, no query, no headers: what a caller without credentials may try
        return await world.call(who, method, url)
    return await world.call(
        who, method, url, params=request.query, json=request.json, headers=request.headers
    )


def refusal_type(response: httpx.Response) -> str:
    """Refusals are problems, except under the FHIR base, where they are OperationOutcomes."""
    if response.request.url.path.startswith("/v1/fhir/"):
        return "application/fhir+json"
    return "application/problem+json"


def caller(column: str, role: str) -> str:
    return f"{'global' if column == 'global' else 'a'}-{role}"


async def check(world: World, operation_id: str, column: str, role: str) -> list[str]:
    row = TABLE[operation_id]
    request = await row.make(world, SIBLING if column == SIBLING else OWN)
    who = caller(column, role)
    response = await send(world, operation_id, request, who)
    expected = row.expected(column, role)
    label = f"{column}/{role}"
    if response.status_code != expected:
        return [f"{label}: {response.status_code} (expected {expected}) {response.text[:200]}"]
    problems = []
    if expected >= 400 and response.headers["content-type"] != refusal_type(response):
        problems.append(f"{label}: {response.headers['content-type']} refusal")
    sent = str(response.request.url)
    if response.is_success and who.startswith("a-") and world.leaks(response.text, sent):
        problems.append(f"{label}: answer shows {world.leaks(response.text, sent)}")
    return problems


async def unauthenticated(world: World, operation_id: str) -> list[str]:
    row = TABLE[operation_id]
    problems = []
    for bare in (False, True):
        response = await send(world, operation_id, await row.make(world, OWN), None, bare=bare)
        label = f"no credentials{' (bare request)' if bare else ''}"
        if row.public:
            if response.status_code != 200:
                problems.append(f"{label}: {response.status_code}, not public")
            continue
        if response.status_code != 401:
            problems.append(f"{label}: {response.status_code} {response.text[:200]}")
        elif response.headers.get("www-authenticate") != "Bearer":
            problems.append(f"{label}: 401 without WWW-Authenticate: Bearer")
        elif response.headers["content-type"] != refusal_type(response):
            problems.append(f"{label}: 401 is not a problem")
    return problems


@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
async def test_operation(world: World, operation_id: str) -> None:
    if operation_id not in TABLE:
        pytest.fail(f"{operation_id} has no row in tests/tenancy_table.py")
    problems = await unauthenticated(world, operation_id)
    for column in ("own", "sibling", "global"):
        for role in ROLES:
            problems += await check(world, operation_id, column, role)
    assert problems == [], "\n".join([operation_id, *problems])


@pytest.mark.parametrize("path", ["/v1", "/_ping", "/_status", "/openapi.json", "/docs"])
async def test_public_pages_need_no_credentials(world: World, path: str) -> None:
    response = await world.call(None, "GET", path)
    assert response.status_code == 200, response.text
    # no-store is for answers to requests with credentials; public pages may be cached.
    assert "no-store" not in response.headers.get("cache-control", "")
