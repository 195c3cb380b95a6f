"""The board report in a real browser: headless Chromium (Playwright) against a real uvicorn.

It renders with no console errors and no failed requests, the chart is visible, and the page
prints to an A4 PDF. Without /usr/bin/chromium the test is skipped, unless
LHS_REQUIRE_BROWSER=1 (CI sets it): then a missing browser fails the run.
"""

import asyncio
import os
import re
import shutil
from pathlib import Path

import httpx
import pytest

from app.config import PROJECT_ROOT
from app.report import spreadsheet
from tests.conftest import Backend, ServerUrl, free_port, running_server
from tests.report_seed import seed_system

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
A4_POINTS = (596, 843)


def require_browser() -> None:
    if CHROMIUM.exists() and shutil.which("chromium"):
        return
    message = f"{CHROMIUM} is absent: install it with `apt-get install -y chromium`"
    if os.environ.get("LHS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"LHS_REQUIRE_BROWSER=1 but {message}")
    pytest.skip(f"browser test skipped: {message}")


@pytest.fixture
def server(shared_server: ServerUrl) -> ServerUrl:
    """A real server, none of this module's own (no settings, no measure of its process): the
    one the worker shares (tests/conftest.py)."""
    return shared_server


async def test_report_renders_and_prints_in_chromium(
    server: str, api_key: str, tmp_path: Path
) -> None:
    require_browser()
    from playwright.async_api import async_playwright

    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=server, headers=headers) as api:
        ids = await seed_system(api, member_name="Leeds Teaching Hospitals")
        stored = await api.post(f"/v1/organisations/{ids['ics']}/assessments", json={})
        assert stored.status_code == 201, stored.text
        # A browser sends no bearer header: it opens the signed link the API hands out.
        link = await api.post(f"/v1/organisations/{ids['ics']}/report-link")
        assert link.status_code == 200, link.text
    url = link.json()["url"]
    assert url.startswith(f"{server}/v1/organisations/{ids['ics']}/report?link=")
    problems: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 900})
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
            response = await page.goto(url, wait_until="load")
            assert response is not None
            assert response.status == 200
            await page.wait_for_load_state("networkidle")
            # The link was exchanged for a cookie: the page is at its plain address, and the
            # token is in neither the address, the history nor anything a script can read.
            plain = f"{server}/v1/organisations/{ids['ics']}/report"
            assert page.url == plain
            assert await page.evaluate("location.href") == plain
            assert await page.evaluate("history.length") == 2  # about:blank, then the page
            assert await page.evaluate("document.cookie") == ""  # HttpOnly
            (cookie,) = await page.context.cookies()
            assert cookie["path"] == f"/v1/organisations/{ids['ics']}/report"
            assert cookie["secure"]
            assert cookie["httpOnly"]
            assert cookie["sameSite"] == "Lax"
            redirect = response.request.redirected_from
            assert redirect is not None
            assert "link=" in redirect.url
            devtools = await page.context.new_cdp_session(page)
            history = await devtools.send("Page.getNavigationHistory")
            visited = [entry["url"] for entry in history["entries"]]
            assert visited == ["about:blank", plain]
            assert await page.title() == "Learning health system report: West Yorkshire ICS"
            for chart in ("#area-chart", "#cycle-chart", "#heat-map"):
                box = await page.locator(chart).bounding_box()
                assert box is not None, chart
                assert box["width"] > 0, chart
                assert box["height"] > 0, chart
                assert await page.locator(chart).is_visible()
            bar = await page.locator("#area-chart rect.bar").first.bounding_box()
            assert bar is not None
            assert bar["height"] > 0
            await page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            pdf = await page.pdf(format="A4")
            assert problems == []
            # The page's own form closes its access (with its CSRF token): the cookie is
            # gone, and the page, opened again, says how it opens.
            await page.get_by_role("button", name="Close this page\u2019s access").click()
            await page.wait_for_load_state("load")
            assert await page.locator("h1").inner_text() == "Access closed"
            assert await page.context.cookies() == []
            again = await page.goto(plain)
            assert again is not None
            assert again.status == 401
            assert await page.locator("h1").inner_text() == "This page opens from a link"
        finally:
            await browser.close()
    assert pdf.startswith(b"%PDF-")
    boxes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert boxes, "the PDF has no pages"
    for width, height in boxes:  # every page is A4 (210 x 297 mm in points)
        assert (round(float(width)), round(float(height))) == A4_POINTS
    assert (tmp_path / "report.png").stat().st_size > 10_000


def readme_block(heading: str) -> str:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split(heading, 1)[1].split("```sh", 1)[1].split("```", 1)[0]


def test_the_readme_lists_the_csv_header() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Board report", 1)[1].split("\n## ", 1)[0]
    listed = re.search(r"`(view, rank,[^`]*)`", section)
    assert listed is not None
    assert re.split(r",\s*", listed.group(1)) == list(spreadsheet.COLUMNS)


async def test_the_readme_board_report_commands_work(
    server: str, api_key: str, tmp_path: Path
) -> None:
    """The curl session, then the board report's commands, as written (port aside)."""
    require_browser()
    (tmp_path / ".lhs-admin-key").write_text(api_key + "\n", encoding="utf-8")
    script = readme_block("## A first session with curl") + readme_block("## Board report")
    script = "set -eu\n" + script.replace("http://127.0.0.1:8000", server)
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, output.decode()
    screenshot = (tmp_path / "board-report.png").read_bytes()
    assert screenshot.startswith(b"\x89PNG")
    assert len(screenshot) > 10_000
    header = (tmp_path / "recommendations.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.split(",") == list(spreadsheet.COLUMNS)
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF-")


async def serve_portal(port: int, page: bytes) -> asyncio.Server:
    """A portal's page on another site (``localhost`` is not ``127.0.0.1``): one HTML page."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(page)}\r\n"
        writer.write(head.encode() + b"Connection: close\r\n\r\n" + page)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", port)


async def test_a_listed_portal_frames_the_report_it_opens_by_link(
    backend: Backend, client: httpx.AsyncClient, api_key: str, tmp_path: Path
) -> None:
    """A cross-site frame keeps no SameSite=Lax cookie, so a framed link is served without the
    exchange; the portal must be one LHS_FRAME_ANCESTORS lists (docs/security.md, Framing)."""
    require_browser()
    if backend.name != "sqlite":
        pytest.skip("framing does not depend on the database: checked once, on SQLite")
    from playwright.async_api import async_playwright

    port = free_port()
    portal = f"http://localhost:{port}"
    log = tmp_path / "uvicorn.log"
    async with running_server(backend.url, log, LHS_FRAME_ANCESTORS=portal) as server:
        headers = {"Authorization": f"Bearer {api_key}"}
        async with httpx.AsyncClient(base_url=server, headers=headers) as api:
            ids = await seed_system(api, member_name="Leeds Teaching Hospitals")
            link = await api.post(f"/v1/organisations/{ids['ics']}/report-link")
        page_html = f'<!doctype html><title>Portal</title><iframe src="{link.json()["url"]}">'
        listening = await serve_portal(port, page_html.encode())
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                try:
                    page = await browser.new_page()
                    await page.goto(f"{portal}/", wait_until="load")
                    report = page.frame_locator("iframe")
                    heading = report.locator("h1")
                    await heading.wait_for(timeout=15_000)
                    assert await heading.inner_text() == "West Yorkshire ICS"
                    # Opened by the link itself: no cookie, so no form to close it with.
                    assert await report.locator("form.link-access").count() == 0
                    assert await page.context.cookies() == []
                    assert page.url == f"{portal}/"
                finally:
                    await browser.close()
        finally:
            listening.close()
            await listening.wait_closed()
