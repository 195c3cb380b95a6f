"""The documentation pages without a browser: no inline script, style or handler, every asset
they name is served from here, and FastAPI's CDN pages are gone."""

import re
from collections.abc import AsyncIterator
from urllib.parse import urljoin

import httpx
import pytest

from app.http.docs import REDOC_POLICY, SWAGGER_UI_POLICY
from app.main import create_app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app())  # no database: static pages only
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        yield client


@pytest.mark.parametrize(
    ("path", "policy"), [("/docs", SWAGGER_UI_POLICY), ("/redoc", REDOC_POLICY)]
)
async def test_pages_name_only_local_files(http: httpx.AsyncClient, path: str, policy: str) -> None:
    page = await http.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == policy
    html = page.text
    assert "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert "style=" not in html
    assert "://" not in html  # relative addresses only: nothing from another host
    assets = re.findall(r'(?:src|href|spec-url|data-openapi-url)="([^"]+)"', html)
    assert len(assets) >= 3
    for asset in assets:
        fetched = await http.get(urljoin(f"http://localhost{path}", asset))
        assert fetched.status_code == 200, asset
        assert len(fetched.content) > 0, asset


async def test_redoc_logo_is_served_beside_the_page(http: httpx.AsyncClient) -> None:
    logo = await http.get("/redoc/logo-mini.svg")
    assert logo.status_code == 200
    assert logo.headers["content-type"] == "image/svg+xml"


async def test_unknown_asset_is_a_problem(http: httpx.AsyncClient) -> None:
    missing = await http.get("/docs/assets/nothing.js")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_fastapi_cdn_pages_are_not_installed() -> None:
    app = create_app()
    assert app.docs_url is None
    assert app.redoc_url is None
    assert app.swagger_ui_oauth2_redirect_url is None
