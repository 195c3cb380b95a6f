"""Signed links as a browser meets them: the exchange of ?link= for a cookie bound to the page,
what the cookie opens and what it does not, the CSRF-checked form that closes access, and the
pages a person reads when a link has expired. The wire itself (a real uvicorn) at the end."""

import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.auth.links import COOKIE_NAME, LinkAction, LinkSigner
from app.auth.principal import OPERATOR
from app.db import utcnow
from app.errors import ValidationFailed
from tests.conftest import Backend, ServerUrl
from tests.helpers import assert_problem, create_organisation
from tests.link_helpers import cookie_of, open_link

BROWSER = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
}


@pytest.fixture
async def browser(backend: Backend, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no credential of its own, as a browser is; cookies are sent by hand."""
    transport = httpx.ASGITransport(app=backend.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        yield http


async def two_reports(client: httpx.AsyncClient) -> tuple[str, str]:
    a = await create_organisation(client, name="Alpha ICS", organisationType="ics")
    b = await create_organisation(client, name="Beta ICS", organisationType="ics")
    return f"/v1/organisations/{a['id']}/report", f"/v1/organisations/{b['id']}/report"


async def mint(client: httpx.AsyncClient, report: str, **body: str) -> str:
    response = await client.post(f"{report}-link", json=body or None)
    assert response.status_code == 200, response.text
    return str(response.json()["url"])


def signer_of(backend: Backend) -> LinkSigner:
    signer: LinkSigner = backend.app.state.links
    return signer


def csrf_in(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, "the page has no access form"
    return found.group(1)


async def test_a_link_becomes_a_cookie_for_its_page_and_leaves_the_address(
    client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    report, _ = await two_reports(client)
    url = await mint(client, report)
    token = parse_qs(urlsplit(url).query)["link"][0]
    exchange = await browser.get(url.replace("?link=", "?format=csv&link="), headers=BROWSER)
    assert exchange.status_code == 303
    # The same address, other parameters kept, the token gone.
    assert exchange.headers["location"] == f"http://localhost{report}?format=csv"
    assert token not in exchange.headers["location"]
    # The path comes back as it was sent: an encoded slash is not decoded into a way out of it.
    crafted = url.replace("/report?", "/report%2F..%2F..%2Fother%2Freport?")
    sideways = await browser.get(crafted, headers=BROWSER)
    assert sideways.status_code == 303
    assert "%2F..%2F..%2Fother%2Freport" in sideways.headers["location"]
    attributes = [part.strip() for part in exchange.headers["set-cookie"].split(";")]
    assert attributes[0].startswith(f"{COOKIE_NAME}=")
    assert token not in attributes[0]  # a session token of its own, not the link
    assert {"Secure", "HttpOnly", "SameSite=Lax", f"Path={report}"} <= set(attributes)
    max_age = int(next(a for a in attributes if a.startswith("Max-Age=")).split("=")[1])
    assert 0 < max_age <= 300  # the link's remaining time (LHS_LINK_TTL_SECONDS)
    assert exchange.headers["referrer-policy"] == "no-referrer"
    assert exchange.headers["cache-control"] == "no-store"

    plain, cookie = await open_link(browser, url)
    page = await browser.get(plain, headers=BROWSER | cookie)
    assert page.status_code == 200
    assert "Alpha ICS" in page.text
    assert "Close this page\u2019s access" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    csv = await browser.get(plain, params={"format": "csv"}, headers=cookie)
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    # Opened with a bearer header, the page has no access form: there is nothing to close.
    assert "csrf_token" not in (await client.get(report)).text


async def test_a_cookie_opens_its_own_page_for_reads_only(
    client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    report_a, report_b = await two_reports(client)
    plain, cookie = await open_link(browser, await mint(client, report_a))
    organisation = report_a.removesuffix("/report")
    refused = [
        ("GET", report_b),  # another organisation's report, the cookie sent there by hand
        ("GET", organisation),  # the organisation itself: outside the prefix
        ("GET", f"{report_a}s"),  # a sibling path that only starts like it
        ("POST", f"{report_a}-link"),
        ("POST", f"{organisation}/assets"),
    ]
    for method, path in refused:
        response = await browser.request(method, path, headers=cookie)
        assert response.status_code == 401 or (method == "GET" and response.status_code == 404)
    assert_problem(await browser.get(report_b, headers=cookie), 401, "UNAUTHENTICATED")
    # A's link on B's address is refused before any exchange.
    token = parse_qs(urlsplit(await mint(client, report_a)).query)["link"][0]
    assert_problem(await browser.get(report_b, params={"link": token}), 401, "UNAUTHENTICATED")
    # A tampered cookie opens nothing, and a browser is told the link does not work.
    name, _, value = cookie["Cookie"].partition("=")
    tampered = {"Cookie": f"{name}={value[:-4]}AAAA"}
    assert_problem(await browser.get(plain, headers=tampered), 401, "UNAUTHENTICATED")
    page = await browser.get(plain, headers=tampered | BROWSER)
    assert page.status_code == 401
    assert "This link does not work" in page.text
    # A bearer header wins over a cookie (even a bad one).
    assert (await client.get(plain, headers=tampered)).status_code == 200


async def test_an_expired_link_or_cookie_is_a_page_for_a_person_and_a_problem_for_a_client(
    backend: Backend, client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    report, _ = await two_reports(client)
    signer = signer_of(backend)
    expired = signer.sign(OPERATOR, report, ttl=timedelta(seconds=-5))
    page = await browser.get(report, params={"link": expired}, headers=BROWSER)
    assert page.status_code == 401
    assert page.headers["content-type"].startswith("text/html")
    assert "This link has expired" in page.text
    assert "ask the person who sent it for a new one" in page.text.lower()
    assert expired not in page.text  # nothing of the token
    assert "eyJ" not in page.text
    assert "style-src" in page.headers["content-security-policy"]
    problem = assert_problem(
        await browser.get(report, params={"link": expired}), 401, "UNAUTHENTICATED"
    )
    assert "expired" in problem["detail"]
    asked_json = await browser.get(
        report, params={"link": expired}, headers={"Accept": "application/json"}
    )
    assert_problem(asked_json, 401, "UNAUTHENTICATED")
    # The same for a cookie whose time is up.
    link = signer.verify(signer.sign(OPERATOR, report), report)
    stale, _ = signer.open_session(
        dataclasses.replace(link, expires_at=utcnow() - timedelta(seconds=5))
    )
    cookie = {"Cookie": f"{COOKIE_NAME}={stale}"}
    page = await browser.get(report, headers=cookie | BROWSER)
    assert page.status_code == 401
    assert "This link has expired" in page.text
    assert_problem(await browser.get(report, headers=cookie), 401, "UNAUTHENTICATED")
    # No link at all: a browser is told how the page opens; an API route stays JSON.
    needs = await browser.get(report, headers=BROWSER)
    assert needs.status_code == 401
    assert "This page opens from a link" in needs.text
    assert_problem(await browser.get("/v1/organisations", headers=BROWSER), 401, "UNAUTHENTICATED")


async def test_closing_access_needs_the_pages_csrf_token(
    client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    report, _ = await two_reports(client)
    plain, cookie = await open_link(browser, await mint(client, report))
    token = csrf_in((await browser.get(plain, headers=cookie)).text)
    _, other_cookie = await open_link(browser, await mint(client, report))
    other_token = csrf_in((await browser.get(plain, headers=other_cookie)).text)
    assert token != other_token  # each exchange has its own
    sign_out = f"{report}/sign-out"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for body in ("", "csrf_token=", "csrf_token=forged", f"csrf_token={other_token}"):
        refused = await browser.post(sign_out, content=body, headers=cookie | form)
        assert_problem(refused, 403, "FORBIDDEN")
        assert "set-cookie" not in refused.headers
    assert (await browser.get(plain, headers=cookie)).status_code == 200  # still open
    # A person whose page is out of date (the link was opened again since) is told what to do.
    stale = await browser.post(
        sign_out, content=f"csrf_token={other_token}", headers=cookie | form | BROWSER
    )
    assert stale.status_code == 403
    assert "Reload the page" in stale.text
    closed = await browser.post(sign_out, content=f"csrf_token={token}", headers=cookie | form)
    assert closed.status_code == 200
    assert "Access closed" in closed.text
    cleared = cookie_of(closed)[COOKIE_NAME]
    assert cleared.value == ""
    assert cleared["max-age"] == "0"
    assert cleared["path"] == report
    # The header works as well as the field (for a script-free client of the same page).
    by_header = await browser.post(sign_out, headers=other_cookie | {"X-CSRF-Token": other_token})
    assert by_header.status_code == 200


async def test_a_frame_gets_the_page_without_an_exchange(
    client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    report, _ = await two_reports(client)
    framed = await browser.get(
        await mint(client, report), headers=BROWSER | {"Sec-Fetch-Dest": "iframe"}
    )
    assert framed.status_code == 200
    assert "set-cookie" not in framed.headers
    assert "Alpha ICS" in framed.text
    assert "frame-ancestors" in framed.headers["content-security-policy"]


async def test_minting_records_who_and_for_whom_and_refuses_no_action(
    backend: Backend, client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    report, _ = await two_reports(client)
    url = await mint(client, report, respondent="Dr A Patel")
    token = parse_qs(urlsplit(url).query)["link"][0]
    link = signer_of(backend).verify(token, report)
    assert link.respondent == "Dr A Patel"
    assert link.actions == {LinkAction.READ}
    organisation_id = report.split("/")[3]
    events = await client.get(
        "/v1/audit-events", params={"resourceType": "report_link", "resourceId": organisation_id}
    )
    changes = {c["field"]: c["after"] for c in events.json()["items"][-1]["changes"]}
    assert changes["respondent"] == "Dr A Patel"
    assert changes["path"] == report
    assert changes["actions"] == ["read"]
    too_long = await client.post(f"{report}-link", json={"respondent": "x" * 101})
    assert_problem(too_long, 422, "VALIDATION_FAILED")
    with pytest.raises(ValidationFailed):
        signer_of(backend).sign(OPERATOR, report, actions=[])


async def test_the_exchange_on_the_wire(
    shared_server: ServerUrl, client: httpx.AsyncClient, api_key: str
) -> None:
    """Through a real uvicorn: HEAD then GET of a link on one keep-alive connection, then the
    plain address with the cookie, as a browser sends it."""
    report, _ = await two_reports(client)
    auth = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=shared_server, timeout=30) as http:
        url = (await http.post(f"{report}-link", headers=auth)).json()["url"]
        assert url.startswith(f"{shared_server}{report}?link=")
        head = await http.head(url)
        get = await http.get(url)
        for answer in (head, get):
            assert answer.status_code == 303
            assert answer.headers["location"] == f"{shared_server}{report}"
            assert "Secure" in answer.headers["set-cookie"]
        # httpx, like Python's cookie jar, keeps a Secure cookie from http://127.0.0.1 but
        # never sends it back over http: the browser test shows what Chromium does.
        assert http.cookies.get(COOKIE_NAME) is not None
        assert (await http.get(report)).status_code == 401
        value = cookie_of(get)[COOKIE_NAME].value
        page = await http.get(report, headers={"Cookie": f"{COOKIE_NAME}={value}"})
        assert page.status_code == 200
        assert "Alpha ICS" in page.text
