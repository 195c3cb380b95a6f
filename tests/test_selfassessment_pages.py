"""The self-assessment pages through the app: minting answer and moderate links, the exchange,
saving an area, errors in words, CSRF, the author refused, submitting. The browser's view
(Chromium, axe, no JavaScript) is tests/test_selfassessment_browser.py."""

import re
import shutil
import uuid
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.auth.links import LinkAction
from app.selfassessments.forms import level_id
from tests.conftest import Backend, ServerUrl
from tests.helpers import assert_problem, create_organisation
from tests.link_helpers import open_link
from tests.readme_scripts import readme_script, run_readme_script

BROWSER = {"Accept": "text/html,application/xhtml+xml"}


async def open_draft(client: httpx.AsyncClient, organisation_id: str) -> str:
    response = await client.post(f"/v1/organisations/{organisation_id}/self-assessments", json={})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def mint(client: httpx.AsyncClient, sid: str, action: str, respondent: str) -> str:
    response = await client.post(
        f"/v1/self-assessments/{sid}/links", json={"action": action, "respondent": respondent}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["url"])


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


def radio_names(page: str) -> list[str]:
    return sorted(set(re.findall(r'type="radio" id="[^"]+" name="(level-[^"]+)"', page)))


async def answer_all(
    http: httpx.AsyncClient, cookie: dict[str, str], first_area: str, level: str
) -> str:
    """Answer every question of every area at ``level``; the submit page's address."""
    address = first_area
    while "/areas/" in address:
        page = await http.get(address, headers=BROWSER | cookie)
        assert page.status_code == 200, page.text
        form: dict[str, Any] = {"csrf_token": csrf_of(page.text), "go": "next"}
        for name in radio_names(page.text):
            form[name] = level
        saved = await http.post(address, data=form, headers=BROWSER | cookie)
        assert saved.status_code == 303, saved.text
        address = saved.headers["location"]
    return address


@pytest.fixture
async def trust(client: httpx.AsyncClient) -> dict[str, Any]:
    return await create_organisation(client, name="Leeds Teaching Hospitals", odsCode="RR8")


async def test_an_answer_link_opens_the_questionnaire_and_saves_each_area(
    backend: Backend, client: httpx.AsyncClient, trust: dict[str, Any]
) -> None:
    sid = await open_draft(client, trust["id"])
    url = await mint(client, sid, "answer", "Dr A Patel")
    assert f"/v1/self-assessments/{sid}/questionnaire?link=" in url
    browser = httpx.AsyncClient(transport=client._transport, base_url="http://localhost")
    async with browser:
        plain, cookie = await open_link(browser, url)
        first = await browser.get(plain, headers=BROWSER | cookie)
        assert first.status_code == 303
        area = first.headers["location"]
        assert area.endswith(f"/v1/self-assessments/{sid}/questionnaire/areas/1")
        page = await browser.get(area, headers=BROWSER | cookie)
        assert page.status_code == 200
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert "<script" not in page.text
        assert "Answering as <strong>Dr A Patel</strong>" in page.text
        names = radio_names(page.text)
        assert names
        key = names[0].removeprefix("level-")
        # A comment without a level: refused in words, next to the field, nothing saved.
        refused = await browser.post(
            area,
            data={"csrf_token": csrf_of(page.text), f"comment-{key}": "We think so"},
            headers=BROWSER | cookie,
        )
        assert refused.status_code == 422
        assert "There is a problem" in refused.text
        assert f'href="#{level_id(key)}"' in refused.text
        assert f'aria-describedby="error-level-{key}"' in refused.text
        assert unescape(refused.text).count("We think so") == 1  # kept in the field
        assert (await client.get(f"/v1/self-assessments/{sid}")).json()["answers"] == []
        # A comment the contract refuses (too long): said next to the comment, nothing saved.
        long = await browser.post(
            area,
            data={
                "csrf_token": csrf_of(page.text),
                f"level-{key}": "2",
                f"comment-{key}": "x" * 2001,
            },
            headers=BROWSER | cookie,
        )
        assert long.status_code == 422
        assert f'aria-describedby="comment-{key}-error"' in long.text
        assert f'id="comment-{key}-error"' in long.text
        assert (await client.get(f"/v1/self-assessments/{sid}")).json()["answers"] == []
        # Without the CSRF token: refused with a page, nothing saved.
        forged = await browser.post(area, data={f"level-{key}": "3"}, headers=BROWSER | cookie)
        assert forged.status_code == 403
        assert "This page is out of date" in forged.text
        submit_page = await answer_all(browser, cookie, area, "3")
        assert submit_page.endswith("/questionnaire/submit")
        stored = (await client.get(f"/v1/self-assessments/{sid}")).json()
        assert {a["respondent"] for a in stored["answers"]} == {"Dr A Patel"}
        assert len(stored["answers"]) == stored["questionCount"]
        # Coming back shows what was saved.
        again = await browser.get(area, headers=BROWSER | cookie)
        assert re.search(rf'name="level-{key}" value="3" checked', again.text)
        check = await browser.get(submit_page, headers=BROWSER | cookie)
        etag = re.search(r'name="if_match" value="([^"]+)"', check.text)
        assert etag is not None
        stale = await browser.post(
            submit_page,
            data={"csrf_token": csrf_of(check.text), "if_match": 'W/"1"'},
            headers=BROWSER | cookie,
        )
        assert stale.status_code == 412
        assert "There is a problem" in stale.text
        done = await browser.post(
            submit_page,
            data={"csrf_token": csrf_of(check.text), "if_match": unescape(etag.group(1))},
            headers=BROWSER | cookie,
        )
        assert done.status_code == 303, done.text
        # The submit posted twice (a second click): said as submitted, not as a change.
        twice = await browser.post(
            submit_page,
            data={"csrf_token": csrf_of(check.text), "if_match": unescape(etag.group(1))},
            headers=BROWSER | cookie,
        )
        assert twice.status_code == 412
        assert "submitted already" in twice.text
        assert "someone saved an answer" not in twice.text
        # An area form posted after the submit (a tab left open): read-only, said in a page.
        late = await browser.post(
            area,
            data={"csrf_token": csrf_of(check.text), f"level-{key}": "0"},
            headers=BROWSER | cookie,
        )
        assert late.status_code == 409
        assert late.headers["content-type"].startswith("text/html")
        assert "There is a problem" in late.text
        assert "read-only" in late.text
    stored = (await client.get(f"/v1/self-assessments/{sid}")).json()
    assert stored["status"] == "submitted"
    assert {a["level"] for a in stored["answers"]} == {3}


async def test_moderation_by_another_person_and_never_by_the_author(
    backend: Backend, client: httpx.AsyncClient, trust: dict[str, Any]
) -> None:
    sid = await open_draft(client, trust["id"])
    browser = httpx.AsyncClient(transport=client._transport, base_url="http://localhost")
    async with browser:
        plain, cookie = await open_link(browser, await mint(client, sid, "answer", "Dr A Patel"))
        area = (await browser.get(plain, headers=BROWSER | cookie)).headers["location"]
        submit_page = await answer_all(browser, cookie, area, "2")
        check = await browser.get(submit_page, headers=BROWSER | cookie)
        etag = re.search(r'name="if_match" value="([^"]+)"', check.text)
        assert etag is not None
        done = await browser.post(
            submit_page,
            data={"csrf_token": csrf_of(check.text), "if_match": unescape(etag.group(1))},
            headers=BROWSER | cookie,
        )
        assert done.status_code == 303
        # The author's own moderate link: every answer is theirs, so no form at all.
        own, own_cookie = await open_link(
            browser, await mint(client, sid, "moderate", "Dr A Patel")
        )
        mine = await browser.get(own, headers=BROWSER | own_cookie)
        assert mine.status_code == 200
        assert "You gave this answer" in mine.text
        assert 'name="decision"' not in mine.text
        key = re.findall(r'id="answer-([a-z0-9-]+)"', mine.text)[0]
        refused = await browser.post(
            f"{own}/answers/{key}",
            data={"csrf_token": csrf_of(mine.text), "decision": "agree"},
            headers=BROWSER | own_cookie,
        )
        assert refused.status_code == 422
        assert "You gave this answer" in refused.text
        # Another person moderates.
        page, other = await open_link(browser, await mint(client, sid, "moderate", "J Okafor"))
        view = await browser.get(page, headers=BROWSER | other)
        assert "Moderating as <strong>J Okafor</strong>" in view.text
        keys = re.findall(r'id="answer-([a-z0-9-]+)"', view.text)
        changed = await browser.post(
            f"{page}/answers/{keys[1]}",
            data={"csrf_token": csrf_of(view.text), "decision": "change", "level": "1"},
            headers=BROWSER | other,
        )
        assert changed.status_code == 422
        assert "Say why you changed the level." in changed.text
        for key, form in (
            (keys[0], {"decision": "agree"}),
            (keys[1], {"decision": "change", "level": "1", "reason": "No signed agreement"}),
        ):
            saved = await browser.post(
                f"{page}/answers/{key}",
                data={"csrf_token": csrf_of(view.text)} | form,
                headers=BROWSER | other,
            )
            assert saved.status_code == 303, saved.text
        # The answer link does not open the moderation page, nor the other way round.
        crossed = await browser.get(page, headers=BROWSER | cookie)
        assert crossed.status_code == 401
    stored = (await client.get(f"/v1/self-assessments/{sid}")).json()
    answers = {a["capabilityKey"]: a for a in stored["answers"]}
    assert answers[keys[0]]["moderation"]["decision"] == "agree"
    assert answers[keys[1]]["moderation"]["level"] == 1
    assert answers[keys[1]]["moderation"]["moderatorRespondent"] == "J Okafor"


async def test_minting_page_links_needs_an_editor_and_a_name(
    backend: Backend, client: httpx.AsyncClient, trust: dict[str, Any]
) -> None:
    sid = await open_draft(client, trust["id"])
    nameless = await client.post(f"/v1/self-assessments/{sid}/links", json={"action": "answer"})
    assert_problem(nameless, 422, "VALIDATION_FAILED")
    unknown = await client.post(
        f"/v1/self-assessments/{uuid.uuid4()}/links", json={"action": "answer", "respondent": "X"}
    )
    assert_problem(unknown, 404, "NOT_FOUND")
    reader = await client.post(
        "/v1/api-keys", json={"name": "reader", "role": "reader", "organisationId": trust["id"]}
    )
    assert reader.status_code == 201, reader.text
    refused = await client.post(
        f"/v1/self-assessments/{sid}/links",
        json={"action": "moderate", "respondent": "X"},
        headers={"Authorization": f"Bearer {reader.json()['key']}"},
    )
    assert_problem(refused, 403, "FORBIDDEN")
    events = await client.get(
        "/v1/audit-events", params={"resourceType": "report_link", "resourceId": sid}
    )
    assert events.json()["items"] == []
    await mint(client, sid, "answer", "Dr A Patel")
    events = await client.get(
        "/v1/audit-events", params={"resourceType": "report_link", "resourceId": sid}
    )
    changes = {c["field"]: c["after"] for c in events.json()["items"][-1]["changes"]}
    assert changes["actions"] == [LinkAction.ANSWER.value]
    assert changes["respondent"] == "Dr A Patel"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_the_readme_page_commands_work(
    shared_server: ServerUrl, api_key: str, tmp_path: Path
) -> None:
    """The README's commands for the pages, as written (port aside): mint, open with curl."""
    text = await run_readme_script(
        readme_script("### In a browser: the questionnaire and moderation pages"),
        server=shared_server,
        api_key=api_key,
        cwd=tmp_path,
        seconds=120,
    )
    title = "Technology (area 1 of 4) \u2013 Self-assessment questionnaire \u2013 Calderdale Royal"
    assert f"<title>{title}</title>" in text
    assert "/moderation?link=" in text
