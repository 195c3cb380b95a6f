"""What a caller can learn from answers about records outside its scope: error messages,
Idempotency-Key replays, and signed report links."""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.auth.principal import Principal
from app.vocabulary import PrincipalKind, Role
from tests.conftest import Backend
from tests.helpers import assert_problem
from tests.link_helpers import open_link
from tests.tenancy_table import ASSET_BODY, IF_MATCH_1
from tests.tenancy_world import Json, World, build, random_id


@pytest.fixture(scope="module")
async def world(backend: Backend) -> AsyncIterator[World]:
    async for built in build(backend):
        yield built


def shape(response: httpx.Response, *ids: str) -> tuple[int, str, str]:
    """A refusal without what differs by nature: the ids asked for, the trace id, the URL."""
    body = dict(response.json())
    body.pop("traceId", None)
    body.pop("instance", None)
    text = json.dumps(body, sort_keys=True)
    for each in ids:
        text = text.replace(each, "<id>")
    return response.status_code, response.headers["content-type"], text


# (method, URL, body, headers) around one id; what the world names it is given beside.
Probe = tuple[str, str, Json | None, dict[str, str]]
PATCH = {"name": "Renamed"}


def probes(world: World) -> dict[str, tuple[str, Probe]]:
    a1_assessment = str(world.assessments["A1"][0]["id"])
    activity = {"area": "improvement", "title": "T", "activityType": "improvement_project"}
    return {
        "organisation": (world.org("B1"), ("GET", "/v1/organisations/{}", None, {})),
        "members": (world.org("B"), ("GET", "/v1/organisations/{}/members", None, {})),
        "fhir": (world.org("B1"), ("GET", "/v1/organisations/{}/fhir", None, {})),
        "assets of": (world.org("B1"), ("GET", "/v1/organisations/{}/assets", None, {})),
        "analysis": (world.org("B1"), ("GET", "/v1/organisations/{}/gap-analysis", None, {})),
        "report": (world.org("B1"), ("GET", "/v1/organisations/{}/report", None, {})),
        "report link": (world.org("B1"), ("POST", "/v1/organisations/{}/report-link", None, {})),
        "new asset": (world.org("B1"), ("POST", "/v1/organisations/{}/assets", ASSET_BODY, {})),
        "new assessment": (world.org("B1"), ("POST", "/v1/organisations/{}/assessments", {}, {})),
        "rename": (world.org("B1"), ("PATCH", "/v1/organisations/{}", PATCH, IF_MATCH_1)),
        # A stale ETag outside the scope is not a 412: that would confirm the record.
        "stale rename": (
            world.org("B1"),
            ("PATCH", "/v1/organisations/{}", PATCH, {"If-Match": 'W/"99"'}),
        ),
        "delete": (world.org("B1"), ("DELETE", "/v1/organisations/{}", None, IF_MATCH_1)),
        "asset": (str(world.assets["B1"]["id"]), ("GET", "/v1/assets/{}", None, {})),
        "asset change": (
            str(world.assets["B1"]["id"]),
            ("PATCH", "/v1/assets/{}", PATCH, IF_MATCH_1),
        ),
        "activity delete": (
            str(world.activities["B1"]["id"]),
            ("DELETE", "/v1/activities/{}", None, IF_MATCH_1),
        ),
        "assessment": (
            str(world.assessments["B1"][0]["id"]),
            ("GET", "/v1/assessments/{}", None, {}),
        ),
        "compare with": (
            str(world.assessments["B1"][0]["id"]),
            ("GET", f"/v1/assessments/{a1_assessment}/compare?with={{}}", None, {}),
        ),
        "api key": (world.key_ids["b-admin"], ("GET", "/v1/api-keys/{}", None, {})),
        "revoke": (world.key_ids["b-admin"], ("DELETE", "/v1/api-keys/{}", None, {})),
        "model": (world.variants["b"], ("GET", "/v1/reference-models/{}", None, {})),
        "model for analysis": (
            world.variants["b"],
            (
                "GET",
                f"/v1/organisations/{world.org('A1')}/gap-analysis?referenceModel={{}}",
                None,
                {},
            ),
        ),
        # Bodies naming a record elsewhere: the same 422 as an unknown id.
        "parent": (
            world.org("B"),
            ("POST", "/v1/organisations", {"name": "N", "organisationType": "trust"}, {}),
        ),
        "move": (world.org("B"), ("PATCH", f"/v1/organisations/{world.org('A2')}", {}, {})),
        "linked asset": (
            str(world.assets["B1"]["id"]),
            ("POST", f"/v1/organisations/{world.org('A1')}/activities", activity, {}),
        ),
        "key scope": (
            world.org("B"),
            ("POST", "/v1/api-keys", {"name": "k", "role": "reader"}, {}),
        ),
    }


def aimed(name: str, probe: Probe, target: str) -> tuple[str, str, Json | None, dict[str, str]]:
    method, url, body, headers = probe
    if name in ("parent", "move"):
        body = {"parentId": target} | (body or {})
        headers = IF_MATCH_1 if name == "move" else headers
    elif name == "linked asset":
        body = (body or {}) | {"assetIds": [target]}
    elif name == "key scope":
        body = (body or {}) | {"organisationId": target}
    return method, url.format(target), body, headers


@pytest.mark.parametrize("who", ["a-reader", "a-admin"])
async def test_a_record_outside_the_scope_gets_the_answer_of_one_that_never_existed(
    world: World, who: str
) -> None:
    differences = []
    for name, (hidden, probe) in probes(world).items():
        unknown = f"{hidden[:7]}-nope" if name.startswith("model") else random_id()
        answers = []
        for target in (hidden, unknown):
            method, url, body, headers = aimed(name, probe, target)
            response = await world.call(who, method, url, json=body, headers=headers)
            answers.append(shape(response, target))
        if answers[0] != answers[1] or answers[0][0] < 400:
            differences.append(f"{name}: {answers[0]} != {answers[1]}")
    assert differences == []


async def test_an_idempotency_key_never_replays_another_callers_answer(world: World) -> None:
    url = f"/v1/organisations/{world.org('A1')}/assets"
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = ASSET_BODY | {"name": "Bought once"}
    first = await world.call("a-editor", "POST", url, json=body, headers=key)
    assert first.status_code == 201, first.text
    replay = await world.call("a-editor", "POST", url, json=body, headers=key)
    assert replay.json()["id"] == first.json()["id"]
    # The same key and body from other callers (one in the same ICS, one global) are theirs.
    ids = {first.json()["id"]}
    for who in ("a1-admin", "global-editor"):
        other = await world.call(who, "POST", url, json=body, headers=key)
        assert other.status_code == 201, other.text
        ids.add(other.json()["id"])
    assert len(ids) == 3
    # Nor does another body under the same key tell a caller that someone used it.
    changed = await world.call("a-admin", "POST", url, json=body | {"maturity": 3}, headers=key)
    assert changed.status_code == 201, changed.text


async def link_for(world: World, who: str, organisation: str) -> str:
    url = f"/v1/organisations/{world.org(organisation)}/report-link"
    response = await world.call(who, "POST", url)
    assert response.status_code == 200, response.text
    return str(response.json()["url"])


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["link"][0]


async def test_a_report_link_opens_its_own_page_read_only(world: World) -> None:
    url = await link_for(world, "a1-admin", "A1")
    plain, cookie = await open_link(world.http, url)  # a browser: no Authorization header
    page = await world.call(None, "GET", plain, headers=cookie)
    assert page.status_code == 200, page.text
    assert "Alpha Trust One" in page.text
    assert "frame-ancestors" in page.headers["content-security-policy"]
    assert "Alpha shared analytics" not in page.text  # the link has its asker's scope
    link = {"link": token_of(url)}
    a1 = world.org("A1")
    refused = [
        ("POST", f"/v1/organisations/{a1}/report-link", None, {}),
        ("POST", f"/v1/organisations/{a1}/assets", ASSET_BODY, {}),
        ("PATCH", f"/v1/organisations/{a1}", PATCH, IF_MATCH_1),
        ("DELETE", f"/v1/organisations/{a1}", None, IF_MATCH_1),
        ("GET", f"/v1/organisations/{a1}", None, {}),  # only its own page
        ("GET", f"/v1/organisations/{world.org('A2')}/report", None, {}),
    ]
    for method, path, body, headers in refused:
        response = await world.call(None, method, path, params=link, json=body, headers=headers)
        assert_problem(response, 401, "UNAUTHENTICATED")
        assert response.headers["www-authenticate"] == "Bearer"
    assert (await world.admin("GET", f"/v1/organisations/{a1}")).json()["name"] == (
        "Alpha Trust One"
    )


async def test_a_link_expires_and_never_widens_its_askers_scope(world: World) -> None:
    signer = world.backend.app.state.links
    trust_key = Principal(
        subject=world.key_prefixes["a1-admin"],
        kind=PrincipalKind.API_KEY,
        role=Role.ADMIN,
        organisation_id=uuid.UUID(world.org("A1")),
    )
    own = f"/v1/organisations/{world.org('A1')}/report"
    expired = signer.sign(trust_key, own, ttl=timedelta(seconds=-1))
    refused = assert_problem(
        await world.call(None, "GET", own, params={"link": expired}), 401, "UNAUTHENTICATED"
    )
    assert "expired" in refused["detail"]
    # A trust's key cannot ask for its ICS's report, and a link for that page (signed as the
    # service would, with the trust's scope) does not open it either.
    ics_report = f"/v1/organisations/{world.org('A')}/report-link"
    assert_problem(await world.call("a1-admin", "POST", ics_report), 404, "NOT_FOUND")
    ics_page = f"/v1/organisations/{world.org('A')}/report"
    widened = signer.sign(trust_key, ics_page)
    plain, cookie = await open_link(world.http, f"{ics_page}?link={widened}")
    assert_problem(await world.call(None, "GET", plain, headers=cookie), 404, "NOT_FOUND")
    # Handing out a link is audited, under the key that asked for it.
    await link_for(world, "a1-admin", "A1")
    events = await world.call(
        "a-admin", "GET", "/v1/audit-events", params={"resourceType": "report_link"}
    )
    assert world.key_prefixes["a1-admin"] in {e["actor"] for e in events.json()["items"]}
