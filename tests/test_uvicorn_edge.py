"""Against a real uvicorn started as `make run` starts it: what goes out on the wire (headers
added after the app, CORS), and 50 writers racing for one record."""

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from app.config import PROJECT_ROOT
from tests.auth_helpers import make_key
from tests.conftest import UVICORN_FLAGS, Backend, running_server
from tests.helpers import create_organisation

PORTAL = "https://portal.wy.example"
WRITERS = 50


@pytest.fixture(scope="module")
async def edge_server(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """One uvicorn for this module's tests (starting one costs seconds), with a portal allowed
    to call it (CORS) and to frame its pages."""
    log = tmp_path_factory.mktemp("uvicorn") / "uvicorn.log"
    environment = {"LHS_CORS_ORIGINS": PORTAL, "LHS_FRAME_ANCESTORS": PORTAL}
    async with running_server(backend.url, log, **environment) as base_url:
        yield base_url


def test_the_servers_under_test_run_with_the_flags_of_make_run() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    run = next(line for line in makefile.splitlines() if "uvicorn app.main:app" in line)
    assert set(UVICORN_FLAGS) <= set(run.split()), run


async def test_headers_on_the_wire(
    edge_server: str, client: httpx.AsyncClient, api_key: str
) -> None:
    trust = await create_organisation(client, name="Leeds")
    async with httpx.AsyncClient(base_url=edge_server, timeout=30) as http:
        auth = {"Authorization": f"Bearer {api_key}"}
        public = await http.get("/_ping")
        authenticated = await http.get(f"/v1/organisations/{trust['id']}", headers=auth)
        refused = await http.get("/v1/organisations")
        report = await http.get(f"/v1/organisations/{trust['id']}/report", headers=auth)
        for response in (public, authenticated, refused, report):
            assert "server" not in response.headers, response.headers
            assert response.headers["x-content-type-options"] == "nosniff"
        assert authenticated.status_code == 200
        assert authenticated.headers["cache-control"] == "no-store"
        assert refused.status_code == 401
        assert report.status_code == 200
        policy = report.headers["content-security-policy"]
        assert re.search(rf"frame-ancestors {re.escape(PORTAL)}(;|$)", policy), policy

        preflight = {
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, if-match, content-type",
        }
        allowed = await http.options("/v1/organisations", headers=preflight | {"Origin": PORTAL})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == PORTAL
        assert "PATCH" in allowed.headers["access-control-allow-methods"]
        foreign = {"Origin": "https://evil.example"}
        stranger = await http.options("/v1/organisations", headers=preflight | foreign)
        assert "access-control-allow-origin" not in stranger.headers
        read = await http.get(f"/v1/organisations/{trust['id']}", headers=auth | foreign)
        assert "access-control-allow-origin" not in read.headers


async def test_fifty_parallel_patches_with_one_etag_make_one_change(
    edge_server: str, client: httpx.AsyncClient, backend: Backend
) -> None:
    trust = await create_organisation(client, name="Leeds")
    _, editor = await make_key(backend.app.state.sessions, "editor", trust["id"])
    url = f"/v1/organisations/{trust['id']}"
    limits = httpx.Limits(max_connections=WRITERS, max_keepalive_connections=WRITERS)
    headers = {"Authorization": f"Bearer {editor}", "If-Match": 'W/"1"'}
    async with httpx.AsyncClient(base_url=edge_server, limits=limits, timeout=60) as http:
        responses = await asyncio.gather(
            *(
                http.patch(url, json={"name": f"Writer {n}"}, headers=headers)
                for n in range(WRITERS)
            )
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * (WRITERS - 1), statuses
    winner = next(r for r in responses if r.status_code == 200).json()
    assert winner["version"] == 2
    assert (await client.get(url)).json()["name"] == winner["name"]
    events = await client.get(
        "/v1/audit-events", params={"resourceType": "organisation", "resourceId": trust["id"]}
    )
    updates = [e for e in events.json()["items"] if e["action"] == "update"]
    assert len(updates) == 1, updates
    assert updates[0]["changes"] == [{"field": "name", "before": "Leeds", "after": winner["name"]}]
