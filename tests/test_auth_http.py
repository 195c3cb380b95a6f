"""Access control over HTTP, through the real middleware: 401 and 403 problems, public routes
staying public, signed links, security headers, CORS and the development switch."""

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.auth import keys_service
from app.auth.principal import OPERATOR
from tests.auth_app import build_app
from tests.auth_helpers import make_key
from tests.conftest import Backend
from tests.helpers import assert_problem, create_organisation
from tests.link_helpers import open_link
from tests.test_auth_keys import sessions_of

PORTAL = "https://portal.wy.example"


def http(app: FastAPI, base_url: str = "http://localhost") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


@pytest.fixture
async def api(backend: Backend, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(backend, cors_origins=[PORTAL], frame_ancestors=[PORTAL])
    async with http(app) as api_client:
        yield api_client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_no_or_bad_credentials_get_a_401_problem(
    api: httpx.AsyncClient, backend: Backend
) -> None:
    for headers in ({}, bearer("lhs_0123456789ab_" + "x" * 43), bearer("eyJhbGciOi.x.y")):
        response = await api.get("/v1/whoami", headers=headers)
        assert_problem(response, 401, "UNAUTHENTICATED")
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_key_identifies_its_caller_and_its_role_limits_what_it_may_do(
    api: httpx.AsyncClient, backend: Backend, client: httpx.AsyncClient
) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    reader, reader_key = await make_key(sessions_of(backend), "reader", ics["id"])
    _, editor_key = await make_key(sessions_of(backend), "editor")
    me = await api.get("/v1/whoami", headers=bearer(reader_key))
    assert me.status_code == 200
    assert me.json() == {
        "subject": reader.prefix,
        "kind": "api_key",
        "role": "reader",
        "organisationId": ics["id"],
    }
    assert me.headers["cache-control"] == "no-store"
    assert_problem(await api.post("/v1/things", headers=bearer(reader_key)), 403, "FORBIDDEN")
    assert (await api.post("/v1/things", headers=bearer(editor_key))).status_code == 201


async def test_public_routes_stay_public_even_with_a_bad_credential(
    api: httpx.AsyncClient,
) -> None:
    for headers in ({}, bearer("nonsense")):
        response = await api.get("/_ping", headers=headers)
        assert response.status_code == 200
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_revoked_key_is_refused_at_once(
    api: httpx.AsyncClient, backend: Backend, client: httpx.AsyncClient
) -> None:
    row, key = await make_key(sessions_of(backend), "reader")
    assert (await api.get("/v1/whoami", headers=bearer(key))).status_code == 200
    async with sessions_of(backend).write() as session:
        await keys_service.revoke(session, principal=OPERATOR, key_id=row.id)
        await session.commit()
    refused = assert_problem(
        await api.get("/v1/whoami", headers=bearer(key)), 401, "UNAUTHENTICATED"
    )
    assert "revoked" in refused["detail"]


async def test_a_signed_link_opens_one_page_read_only(
    api: httpx.AsyncClient, backend: Backend, client: httpx.AsyncClient
) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    row, key = await make_key(sessions_of(backend), "admin", ics["id"])
    url = (await api.post("/v1/report-links", headers=bearer(key))).json()["url"]
    plain, cookie = await open_link(api, url)  # a browser: no Authorization header
    assert plain == "http://localhost/v1/report"
    page = await api.get(plain, headers=cookie)
    assert page.status_code == 200
    assert row.prefix in page.text
    token = url.split("link=")[1]
    assert_problem(await api.get(f"/v1/whoami?link={token}"), 401, "UNAUTHENTICATED")
    assert_problem(await api.post(f"/v1/things?link={token}"), 401, "UNAUTHENTICATED")
    assert_problem(await api.get(url[:-3] + "xyz"), 401, "UNAUTHENTICATED")


async def test_html_gets_a_policy_with_its_nonce_and_no_server_name(
    api: httpx.AsyncClient, backend: Backend, client: httpx.AsyncClient
) -> None:
    _, key = await make_key(sessions_of(backend), "reader")
    page = await api.get("/v1/report", headers=bearer(key))
    policy = page.headers["content-security-policy"]
    nonce = page.text.split("nonce='")[1].split("'")[0]
    assert f"style-src 'self' 'nonce-{nonce}'" in policy
    assert f"frame-ancestors {PORTAL}" in policy
    assert "server" not in page.headers
    assert page.headers["referrer-policy"] == "no-referrer"
    json_answer = await api.get("/v1/whoami", headers=bearer(key))
    assert "content-security-policy" not in json_answer.headers
    other = await api.get("/v1/report", headers=bearer(key))
    assert other.headers["content-security-policy"] != policy  # a fresh nonce each time


async def test_hsts_only_over_https(backend: Backend, client: httpx.AsyncClient) -> None:
    app = build_app(backend)
    async with http(app, "https://localhost") as secure, http(app) as plain:
        assert "max-age=" in (await secure.get("/_ping")).headers["strict-transport-security"]
        assert "strict-transport-security" not in (await plain.get("/_ping")).headers


async def test_cors_answers_listed_origins_only_and_never_with_credentials(
    api: httpx.AsyncClient,
) -> None:
    preflight = {
        "Origin": PORTAL,
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization, if-match, content-type",
    }
    allowed = await api.options("/v1/whoami", headers=preflight)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == PORTAL
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in allowed.headers
    stranger = await api.options(
        "/v1/whoami", headers=preflight | {"Origin": "https://evil.example"}
    )
    assert stranger.status_code == 400
    assert "access-control-allow-origin" not in stranger.headers
    # A refusal is readable by the portal's script too, with the headers it needs.
    refused = await api.get("/v1/whoami", headers={"Origin": PORTAL})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == PORTAL
    exposed = refused.headers["access-control-expose-headers"].lower()
    assert "x-request-id" in exposed
    assert "api-version" in exposed  # a browser client can read the contract's version


async def test_no_cors_without_configured_origins(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    async with http(build_app(backend)) as api:
        response = await api.get("/_ping", headers={"Origin": PORTAL})
    assert "access-control-allow-origin" not in response.headers


async def test_authentication_off_makes_everyone_an_admin_and_says_so_loudly(
    backend: Backend, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="app.auth"):
        app = build_app(backend, auth_enabled=False)
    assert "AUTHENTICATION IS OFF" in caplog.text
    async with http(app) as api:
        me = await api.get("/v1/whoami")
        assert me.json()["role"] == "admin"
        assert (await api.post("/v1/things")).status_code == 201
