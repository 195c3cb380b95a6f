"""/docs and /redoc in headless Chromium against a real uvicorn, as on a network with no
internet: every operation renders, no request fails, nothing is asked of any other host, and
the pages keep to their Content-Security-Policy (a violation is a console error)."""

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from app.http.docs import REDOC_POLICY, SWAGGER_UI_POLICY
from tests.conftest import ServerUrl
from tests.test_report_browser import ARGS, CHROMIUM, require_browser

pytestmark = pytest.mark.browser


def operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(first tag, operationId) of every operation in the OpenAPI document."""
    return [
        (operation["tags"][0], operation["operationId"])
        for path in document["paths"].values()
        for method, operation in path.items()
        if method in {"get", "put", "post", "patch", "delete", "head"}
    ]


async def open_offline(server: str, path: str, screenshot: Path) -> tuple[Any, list[str]]:
    """Load ``path`` with every request to another host refused (and recorded), and return
    the page's HTML after it has rendered, with everything that went wrong."""
    from playwright.async_api import Route, async_playwright

    host = urlsplit(server).netloc
    problems: list[str] = []

    async def only_here(route: Route) -> None:
        if urlsplit(route.request.url).netloc != host:
            problems.append(f"left {host}: {route.request.url}")
            await route.abort()
        else:
            await route.continue_()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 1000})
            await context.route("**/*", only_here)
            page = await context.new_page()
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
            page.on(
                "response",
                lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None,
            )
            response = await page.goto(f"{server}{path}", wait_until="load")
            assert response is not None
            assert response.status == 200
            policy = SWAGGER_UI_POLICY if path == "/docs" else REDOC_POLICY
            assert response.headers["content-security-policy"] == policy
            assert "unsafe" not in policy
            await page.wait_for_load_state("networkidle")
            return await _rendered(page, path, screenshot), problems
        finally:
            await browser.close()


async def _rendered(page: Any, path: str, screenshot: Path) -> dict[str, int]:
    """How many elements each operation id has, once the page shows them all."""
    if path == "/docs":
        await page.wait_for_selector(".opblock", timeout=30_000)
        found = await page.eval_on_selector_all(
            ".opblock[id^='operations-']", "nodes => nodes.map(n => n.id)"
        )
        # Usable, not only drawn: "Try it out" on the liveness probe reaches the server.
        ping = page.locator("#operations-health-health-ping")
        await ping.locator(".opblock-summary").click()
        await ping.locator(".try-out__btn").click()
        await ping.locator(".execute").click()
        status = ping.locator(".live-responses-table tr.response .response-col_status").first
        await status.wait_for(timeout=10_000)
        assert (await status.inner_text()).strip() == "200"
    else:
        await page.wait_for_selector("[data-section-id^='operation/']", timeout=60_000)
        found = await page.eval_on_selector_all(
            "[data-section-id^='operation/']",
            "nodes => nodes.map(n => n.getAttribute('data-section-id'))",
        )
    await page.screenshot(path=str(screenshot))
    counts: dict[str, int] = {}
    for element_id in found:
        counts[element_id] = counts.get(element_id, 0) + 1
    return counts


@pytest.fixture
def server(shared_server: ServerUrl) -> ServerUrl:
    """A real server, none of this module's own (no settings, no measure of its process): the
    one the worker shares (tests/conftest.py)."""
    return shared_server


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_docs_render_every_operation_offline(server: str, tmp_path: Path, path: str) -> None:
    require_browser()
    async with httpx.AsyncClient(base_url=server) as api:
        document = (await api.get("/openapi.json")).json()
    expected = operations(document)
    assert len(expected) > 20
    screenshot = tmp_path / f"{path.strip('/')}.png"
    counts, problems = await open_offline(server, path, screenshot)
    assert problems == []
    if path == "/docs":
        wanted = {f"operations-{tag}-{operation_id}" for tag, operation_id in expected}
    else:
        wanted = {f"operation/{operation_id}" for _, operation_id in expected}
    assert wanted <= set(counts), sorted(wanted - set(counts))
    assert screenshot.stat().st_size > 20_000
