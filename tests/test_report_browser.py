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
from tests.conftest import ServerUrl
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
        finally:
            await browser.close()
    assert problems == []
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
