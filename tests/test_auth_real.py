"""Credentials and rate limits through the real application (create_app, its lifespan and all
its middleware), not the small test app of tests/auth_app.py."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from app.config import JwtIssuer
from app.db import utcnow
from app.main import create_app
from tests import conftest
from tests.auth_helpers import make_key
from tests.conftest import Backend
from tests.helpers import assert_problem, create_organisation
from tests.test_auth_tokens import ISSUER, OTHER_RSA_KEY, claims, jwks, sign, tamper


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


@asynccontextmanager
async def real_app(backend: Backend, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The service as deployed, on the test database, with these settings."""
    app = create_app(conftest.settings_for(backend.url, **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            yield http


def refused_properly(response: httpx.Response) -> None:
    assert_problem(response, 401, "UNAUTHENTICATED")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_bad_credentials_of_every_kind_are_401_through_the_real_app(
    backend: Backend, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks()))
    issuer = JwtIssuer(issuer=ISSUER, jwks_path=path)
    trust = await create_organisation(client, name="Leeds")
    sessions = backend.app.state.sessions
    _, good_key = await make_key(sessions, "reader", trust["id"])
    _, expiring = await make_key(sessions, "reader", expires_at=utcnow() + timedelta(seconds=1))
    revoked_row, revoked = await make_key(sessions, "reader")
    now = utcnow()
    tokens = {
        "expired token": sign(claims(organisation=trust["id"], exp=now - timedelta(seconds=1))),
        "tampered token": tamper(sign(claims(organisation=trust["id"]))),
        "wrong issuer": sign(claims(organisation=trust["id"], iss="https://evil.example")),
        "wrong audience": sign(claims(organisation=trust["id"], aud="another-api")),
        "unknown signing key": sign(claims(organisation=trust["id"]), key=OTHER_RSA_KEY, kid="x"),
    }
    async with real_app(backend, jwt_issuers=[issuer], jwt_leeway_seconds=0) as http:
        url = f"/v1/organisations/{trust['id']}"
        # Controls: a good key and a good token are served.
        assert (await http.get(url, headers=bearer(good_key))).status_code == 200
        token = sign(claims(organisation=trust["id"], role="reader"))
        assert (await http.get(url, headers=bearer(token))).status_code == 200
        assert (await http.get(url, headers=bearer(revoked))).status_code == 200  # now cached
        revoke = await http.delete(
            f"/v1/api-keys/{revoked_row.id}", headers=await admin_of(backend)
        )
        assert revoke.status_code == 204, revoke.text
        assert "content-type" not in revoke.headers
        keys = {
            "revoked key": revoked,
            "tampered key": good_key[:-1] + ("A" if good_key[-1] != "A" else "B"),
            "unknown key": "lhs_0123456789ab_" + "x" * 43,
            "not a credential": "hello",
        }
        for name, credential in (keys | tokens).items():
            response = await http.get(url, headers=bearer(credential))
            assert response.status_code == 401, (name, response.text)
            refused_properly(response)
        for scheme in ("Basic dXNlcjpwYXNz", f"Token {good_key}"):
            refused_properly(await http.get(url, headers={"Authorization": scheme}))
        await asyncio.sleep(max(0.0, (now + timedelta(seconds=1.2) - utcnow()).total_seconds()))
        expired = await http.get(url, headers=bearer(expiring))
        refused_properly(expired)
        assert "expired" in expired.json()["detail"]


async def admin_of(backend: Backend) -> dict[str, str]:
    _, key = await make_key(backend.app.state.sessions, "admin", name="revoker")
    return bearer(key)


RATE_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")


async def test_the_fourth_request_in_a_minute_is_429_for_that_key_only(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    sessions = backend.app.state.sessions
    _, first = await make_key(sessions, "reader", name="busy")
    _, second = await make_key(sessions, "reader", name="quiet")
    async with real_app(backend, rate_limit="3/minute") as http:
        remaining = []
        for _ in range(3):
            served = await http.get("/v1/organisations", headers=bearer(first))
            assert served.status_code == 200, served.text
            assert served.headers["ratelimit-limit"] == "3"
            remaining.append(served.headers["ratelimit-remaining"])
        assert remaining == ["2", "1", "0"]
        refused = await http.get("/v1/organisations", headers=bearer(first))
        assert_problem(refused, 429, "RATE_LIMITED")
        assert 0 < int(refused.headers["retry-after"]) <= 60
        assert all(name in refused.headers for name in RATE_HEADERS)
        assert refused.headers["ratelimit-remaining"] == "0"
        other = await http.get("/v1/organisations", headers=bearer(second))
        assert other.status_code == 200
        assert other.headers["ratelimit-remaining"] == "2"
        # Liveness probes are not counted: a refused caller's load balancer still sees life.
        assert (await http.get("/_ping", headers=bearer(first))).status_code == 200
