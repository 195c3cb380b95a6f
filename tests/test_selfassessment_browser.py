"""The self-assessment pages in a real browser: headless Chromium (Playwright) against a real
uvicorn, one server and one browser for the whole walk.

A person fills in the whole questionnaire by keyboard and mouse, leaves and comes back, and
submits; a second person moderates two answers; the author's own moderate link has no form;
the analysis moves as it should. axe-core checks each kind of page (zero violations); the pages
work with JavaScript off; a form without its CSRF token is refused with a page. Screenshots go
to LHS_SCREENSHOTS (a folder) when set, to the test's tmp_path otherwise. Without
/usr/bin/chromium the test is skipped, unless LHS_REQUIRE_BROWSER=1.
"""

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Backend, ServerUrl
from tests.helpers import create_organisation
from tests.test_report_browser import ARGS, CHROMIUM, require_browser

pytestmark = pytest.mark.browser

AXE_RULES = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa", "best-practice"]}
}


@pytest.fixture
def server(shared_server: ServerUrl) -> ServerUrl:
    return shared_server


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where the screenshots go: LHS_SCREENSHOTS to keep them and look at them."""
    folder = Path(os.environ.get("LHS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def axe_violations(page: Any) -> list[str]:
    from axe_playwright_python.async_playwright import Axe  # type: ignore[import-untyped]

    results = await Axe().run(page, options=AXE_RULES)
    return [
        f"{v['id']}: {v['help']} ({', '.join(str(n['target']) for n in v['nodes'][:3])})"
        for v in results.response["violations"]
    ]


async def test_a_team_answers_submits_and_moderates_in_chromium(
    backend: Backend, server: str, api_key: str, shots: Path
) -> None:
    require_browser()
    if backend.name != "sqlite":
        # The browser sees the same pages whatever the database: the walk takes a minute, so
        # it runs once; the pages' HTTP tests run on both databases.
        pytest.skip("the browser walk does not depend on the database: run once, on SQLite")
    from playwright.async_api import async_playwright

    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=server, headers=headers, timeout=30) as api:
        trust = await create_organisation(api, name="Leeds Teaching Hospitals", odsCode="RR8")
        opened = await api.post(f"/v1/organisations/{trust['id']}/self-assessments", json={})
        assert opened.status_code == 201, opened.text
        sid = opened.json()["id"]

        async def link(action: str, respondent: str) -> str:
            minted = await api.post(
                f"/v1/self-assessments/{sid}/links",
                json={"action": action, "respondent": respondent},
            )
            assert minted.status_code == 200, minted.text
            return str(minted.json()["url"])

        async def analysis() -> dict[str, Any]:
            found = await api.get(f"/v1/organisations/{trust['id']}/gap-analysis")
            assert found.status_code == 200, found.text
            body = found.json()
            return dict(body["summary"]) | {
                "gaps": {gap["capabilityKey"]: gap for gap in body["gaps"]}
            }

        before = await analysis()
        problems: list[str] = []
        violations: dict[str, list[str]] = {}
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                # JavaScript off: the pages need none (axe, which is a script, runs in the
                # moderator's context below).
                author = await browser.new_context(
                    java_script_enabled=False, viewport={"width": 1100, "height": 900}
                )
                page = await author.new_page()
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                await page.goto(await link("answer", "Dr A Patel"))
                assert page.url.endswith(f"/v1/self-assessments/{sid}/questionnaire/areas/1")
                assert "Dr A Patel" in await page.locator("header").inner_text()
                title = await page.title()
                assert title.startswith(await page.locator("h1").inner_text())
                assert "(area 1 of " in title
                # An error first: a comment without a level, said next to the field.
                first = page.locator("fieldset.question").first
                await first.locator("textarea").fill("We share some data with the ICS")
                await page.get_by_role("button", name="Save and stay on this area").click()
                assert (await page.title()).startswith("Error: ")
                summary = page.locator(".error-summary")
                assert "There is a problem" in await summary.inner_text()
                await page.screenshot(path=str(shots / "questionnaire-error.png"), full_page=True)
                await summary.locator("a").first.click()
                assert await first.locator(".error-message").is_visible()
                # Fill in every area: level 3 everywhere, a comment and evidence on the first.
                await first.locator("input[type=radio][value='3']").check()
                await first.locator("input[type=url]").first.fill("https://example.nhs.uk/dsa.pdf")
                await first.locator("input[type=text]").first.fill("Data sharing agreement")
                await page.screenshot(path=str(shots / "questionnaire-area.png"), full_page=True)
                while "/areas/" in page.url:
                    for question in await page.locator("fieldset.question").all():
                        radio = question.locator("input[type=radio][value='3']")
                        if not await radio.is_checked():
                            await radio.check()
                    await page.locator("button[name=go][value=next]").click()
                    await page.wait_for_load_state("load")
                assert page.url.endswith("/questionnaire/submit")
                assert (await page.title()).startswith("Check and submit")
                # Leave and come back: the answers are there.
                await page.goto("about:blank")
                await page.go_back()
                await page.locator("nav.steps a").first.click()
                assert await page.locator("input[type=radio][value='3']:checked").count() > 0
                await page.go_back()
                # A form without its CSRF token is refused with a page.
                await page.screenshot(path=str(shots / "questionnaire-submit.png"), full_page=True)
                await page.get_by_role("button", name="Submit the self-assessment").click()
                await page.wait_for_load_state("load")
                assert await page.locator("h1").inner_text() == "Submitted"
                forged = await author.request.post(
                    page.url, form={"if_match": 'W/"1"'}, headers={"Accept": "text/html"}
                )
                assert forged.status == 403
                assert "This page is out of date" in await forged.text()
                # The author's own moderate link: their answers, and no form to moderate them.
                await page.goto(await link("moderate", "Dr A Patel"))
                assert await page.locator("form.moderation").count() > 0
                assert await page.locator("input[name=decision]").count() == 0
                assert "You gave this answer" in await page.locator("main").inner_text()
                await author.close()

                after_submit = await analysis()
                moderator = await browser.new_context(viewport={"width": 1100, "height": 900})
                page = await moderator.new_page()
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: problems.append(str(e)))
                await page.goto(await link("moderate", "J Okafor"))
                assert (await page.title()).startswith("Moderate the answers")
                violations["moderation"] = await axe_violations(page)
                answers = page.locator("form.moderation")
                one, two = answers.nth(0), answers.nth(1)
                key_one = (await one.get_attribute("id") or "").removeprefix("answer-")
                key_two = (await two.get_attribute("id") or "").removeprefix("answer-")
                await one.get_by_label("Agree with this answer", exact=True).check()
                await one.get_by_role("button").click()
                await page.wait_for_load_state("load")
                assert "is saved" in await page.locator(".notice").inner_text()
                two = page.locator(f"#answer-{key_two}")
                await two.get_by_label("Change the level", exact=True).check()
                await two.locator("select[name=level]").select_option("0")
                await two.get_by_role("button").click()  # no reason: refused in words
                await page.wait_for_load_state("load")
                assert (await page.title()).startswith("Error: ")
                violations["moderation with an error"] = await axe_violations(page)
                await page.screenshot(path=str(shots / "moderation-error.png"), full_page=True)
                two = page.locator(f"#answer-{key_two}")
                await two.get_by_label("Reason (needed when you change the level)").fill(
                    "No signed agreement seen"
                )
                await two.get_by_role("button").click()
                await page.wait_for_load_state("load")
                await page.screenshot(path=str(shots / "moderation.png"), full_page=True)

                # axe on the questionnaire's pages (a third person's link, JavaScript on).
                checker = await browser.new_context(viewport={"width": 1100, "height": 900})
                page = await checker.new_page()
                second = await api.post(
                    f"/v1/organisations/{trust['id']}/self-assessments", json={}
                )
                assert second.status_code == 201, second.text
                sid = second.json()["id"]
                await page.goto(await link("answer", "R Singh"))
                violations["questionnaire area"] = await axe_violations(page)
                # The keyboard goes through the page in reading order: the skip link, the
                # masthead's button, the areas, then the first question's first answer.
                focused = []
                for _ in range(8):
                    await page.keyboard.press("Tab")
                    focused.append(
                        await page.evaluate(
                            "(e => e.id || e.textContent.trim())(document.activeElement)"
                        )
                    )
                areas = [await a.inner_text() for a in await page.locator("nav.steps a").all()]
                assert focused[:2] == ["Skip to the main content", "Close this page\u2019s access"]
                assert focused[2 : 2 + len(areas)] == areas
                assert focused[2 + len(areas)].startswith("level-")
                await page.get_by_role("button", name="Save and stay on this area").click()
                await page.locator("fieldset.question textarea").first.fill("A comment")
                await page.get_by_role("button", name="Save and stay on this area").click()
                violations["questionnaire area with an error"] = await axe_violations(page)
                await page.get_by_role("link", name="Check and submit").click()
                violations["submit"] = await axe_violations(page)
                await page.get_by_role("button", name="Close this page\u2019s access").click()
                assert await page.locator("h1").inner_text() == "Access closed"
                await checker.close()
                await moderator.close()
            finally:
                await browser.close()
        moderated = await analysis()
    assert violations == {name: [] for name in violations}, violations
    # A refused form is answered 422 with the page again, which Chromium logs as a failed load.
    assert [p for p in problems if "status of 422" not in p] == []
    assert before["overallScore"] == 0
    assert after_submit["overallScore"] > 0
    assert after_submit["provenance"]["byConfidence"]["peerReviewed"] == 0
    assert moderated["provenance"]["byConfidence"]["peerReviewed"] > 0
    # The agreed answer stands, checked; the changed one holds the moderator's level.
    assert after_submit["gaps"][key_one]["confidence"] == "self_assessed"
    assert moderated["gaps"][key_one]["confidence"] == "peer_reviewed"
    assert moderated["gaps"][key_one]["currentMaturity"] == 3
    assert after_submit["gaps"][key_two]["currentMaturity"] > 0
    assert moderated["gaps"][key_two]["currentMaturity"] == 0
    assert moderated["gaps"][key_two]["confidence"] == "peer_reviewed"
    assert key_one != key_two
    for name in ("questionnaire-area", "questionnaire-error", "moderation", "moderation-error"):
        assert (shots / f"{name}.png").stat().st_size > 10_000
