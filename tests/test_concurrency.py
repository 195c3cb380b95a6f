"""Many concurrent requests against a real server: every one completes, nothing is lost.

With a sync stack and the default pool, 128 concurrent connections parked every worker
thread on the connection pool and the server stopped answering; here 200 must all succeed.
"""

import asyncio
import time

import httpx
import pytest

from tests.conftest import ServerUrl

CONCURRENT = 200
CREATES = 20
SEEDED = 10
TIMEOUT = httpx.Timeout(30.0)


async def create(http: httpx.AsyncClient, name: str) -> httpx.Response:
    return await http.post("/v1/organisations", json={"name": name, "organisationType": "trust"})


@pytest.fixture
def server(shared_server: ServerUrl) -> ServerUrl:
    """A real server, none of this module's own (no settings, no measure of its process): the
    one the worker shares (tests/conftest.py)."""
    return shared_server


async def test_200_concurrent_requests_all_complete(
    server: str, client: httpx.AsyncClient, api_key: str
) -> None:
    limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=CONCURRENT)
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(
        base_url=server, limits=limits, timeout=TIMEOUT, headers=headers
    ) as http:
        seeded: list[dict[str, object]] = []
        for index in range(SEEDED):
            response = await create(http, f"Seeded {index}")
            assert response.status_code == 201, response.text
            seeded.append(response.json())

        requests = [create(http, f"Concurrent {index}") for index in range(CREATES)]
        for index in range(CONCURRENT - CREATES):
            if index % 2:
                requests.append(http.get("/v1/organisations", params={"limit": 20}))
            else:
                requests.append(http.get(f"/v1/organisations/{seeded[index % SEEDED]['id']}"))
        assert len(requests) == CONCURRENT

        started = time.perf_counter()
        responses = await asyncio.gather(*requests, return_exceptions=True)
        elapsed = time.perf_counter() - started

        failures = [
            repr(r)
            if isinstance(r, BaseException)
            else f"{r.request.method} {r.url}: {r.status_code} {r.text[:200]}"
            for r in responses
            if isinstance(r, BaseException) or not r.is_success
        ]
        assert failures == [], f"{len(failures)} of {CONCURRENT} failed in {elapsed:.1f} s"

        creates = [r for r in responses[:CREATES] if isinstance(r, httpx.Response)]
        assert [r.status_code for r in creates] == [201] * CREATES
        created = [r.json() for r in creates]
        assert len({o["id"] for o in created}) == CREATES
        for organisation in [*seeded, *created]:
            response = await http.get(f"/v1/organisations/{organisation['id']}")
            assert response.status_code == 200, response.text
            assert response.json() == organisation

        listed = await http.get("/v1/organisations", params={"limit": 500})
        assert {o["id"] for o in [*seeded, *created]} <= {o["id"] for o in listed.json()["items"]}
    # The server wrote to the test database, not to a file of its own.
    for organisation in created:
        assert (await client.get(f"/v1/organisations/{organisation['id']}")).status_code == 200
    print(f"\n{CONCURRENT} concurrent requests completed in {elapsed:.2f} s")
