"""Input the service used to accept or silently change: each is now refused with a problem
that names the field (or the media type), and every table is exactly as it was before."""

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.main import create_app
from tests.conftest import Backend, snapshot
from tests.helpers import assert_problem, create_activity, create_asset, create_organisation


@dataclass
class World:
    client: httpx.AsyncClient
    backend: Backend
    ids: dict[str, str]

    async def refused(
        self,
        method: str,
        path: str,
        status: int,
        code: str,
        *,
        content: bytes | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send the request; it must be this problem and write nothing."""
        before = await snapshot(self.backend.engine)
        if body is not None:
            content = json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} | (headers or {})
        headers = ({"If-Match": "*"} if method == "PATCH" else {}) | (headers or {})
        response = await self.client.request(
            method, path.format(**self.ids), content=content, headers=headers
        )
        problem = assert_problem(response, status, code)
        assert await snapshot(self.backend.engine) == before
        return problem


@pytest.fixture
async def world(client: httpx.AsyncClient, backend: Backend) -> World:
    ics = await create_organisation(client, name="Input ICS", organisationType="ics")
    trust = await create_organisation(client, name="Input Trust", parentId=ics["id"])
    asset = await create_asset(client, trust["id"])
    activity = await create_activity(client, trust["id"])
    ids = {"org": trust["id"], "asset": asset["id"], "activity": activity["id"]}
    return World(client, backend, ids)


VALID_BODY: dict[str, dict[str, Any]] = {
    "/v1/organisations": {"name": "Trust", "organisationType": "trust"},
    "/v1/organisations/{org}/assets": {"area": "data", "name": "Platform", "maturity": 2},
    "/v1/organisations/{org}/activities": {
        "area": "improvement",
        "title": "Falls",
        "activityType": "training",
    },
}
# (method, path, field): text fields a person types, on create and on update.
TEXT_FIELDS = [
    ("POST", "/v1/organisations", "name"),
    ("POST", "/v1/organisations", "region"),
    ("PATCH", "/v1/organisations/{org}", "name"),
    ("POST", "/v1/organisations/{org}/assets", "name"),
    ("POST", "/v1/organisations/{org}/assets", "description"),
    ("PATCH", "/v1/assets/{asset}", "owner"),
    ("POST", "/v1/organisations/{org}/activities", "title"),
    ("PATCH", "/v1/activities/{activity}", "goal"),
]
# Characters that reorder, hide or break text: a bidirectional override (a name that displays
# differently from what is stored), a byte-order mark, NEL, the Unicode line separator, DEL.
HIDDEN = {
    "U+202E": "\u202e",
    "U+FEFF": "\ufeff",
    "U+0085": "\x85",
    "U+2028": "\u2028",
    "U+007F": "\x7f",
}


def body_for(method: str, path: str, changes: dict[str, Any]) -> dict[str, Any]:
    return (VALID_BODY[path] if method == "POST" else {}) | changes


@pytest.mark.parametrize("character", HIDDEN.values(), ids=HIDDEN.keys())
@pytest.mark.parametrize(
    ("method", "path", "field"), TEXT_FIELDS, ids=[f"{m} {p} {f}" for m, p, f in TEXT_FIELDS]
)
async def test_hidden_and_control_characters_are_refused(
    world: World, method: str, path: str, field: str, character: str
) -> None:
    """Today only codes below U+0020 are refused: these are stored as sent."""
    body = body_for(method, path, {field: f"Leeds{character}Trust"})
    problem = await world.refused(method, path, 422, "VALIDATION_FAILED", body=body)
    assert [e["pointer"] for e in problem["errors"]] == [f"#/{field}"]


INVISIBLE_ONLY = ["   \u200b", "\u200b\u200c\u200d", "\u00a0\u2060"]
NAMES = [
    ("POST", "/v1/organisations", "name"),
    ("POST", "/v1/organisations/{org}/assets", "name"),
    ("POST", "/v1/organisations/{org}/activities", "title"),
    ("PATCH", "/v1/organisations/{org}", "name"),
]


@pytest.mark.parametrize("name", INVISIBLE_ONLY, ids=["spaces-zwsp", "zero-widths", "nbsp-wj"])
@pytest.mark.parametrize(
    ("method", "path", "field"), NAMES, ids=[f"{m} {p} {f}" for m, p, f in NAMES]
)
async def test_a_name_of_only_invisible_characters_is_refused(
    world: World, method: str, path: str, field: str, name: str
) -> None:
    """A list would show a blank row. Today ``"   \\u200b"`` is stored (as ``"\\u200b"``)."""
    body = body_for(method, path, {field: name})
    problem = await world.refused(method, path, 422, "VALIDATION_FAILED", body=body)
    assert [e["pointer"] for e in problem["errors"]] == [f"#/{field}"]


@pytest.mark.parametrize("ods_code", ["ß", "rr8ß", "ﬁ"])
@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/v1/organisations"), ("PATCH", "/v1/organisations/{org}")]
)
async def test_an_ods_code_that_is_not_ascii_is_refused_not_rewritten(
    world: World, method: str, path: str, ods_code: str
) -> None:
    """ODS codes are ASCII letters and digits. Today "ß" is upper-cased to "SS" (and "ﬁ" to
    "FI") before the check, so a code the caller never sent is stored."""
    body = body_for(method, path, {"odsCode": ods_code})
    problem = await world.refused(method, path, 422, "VALIDATION_FAILED", body=body)
    assert [e["pointer"] for e in problem["errors"]] == ["#/odsCode"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/organisations/{org}/assets"), ("PATCH", "/v1/assets/{asset}")],
)
async def test_an_evidence_url_with_a_nul_is_refused_not_truncated(
    world: World, method: str, path: str
) -> None:
    """Today the URL is stored cut at the NUL: the link then points somewhere else."""
    evidence = [{"title": "DPIA", "url": "https://example.nhs.uk/dpia\x00.pdf"}]
    body = body_for(method, path, {"evidence": evidence})
    problem = await world.refused(method, path, 422, "VALIDATION_FAILED", body=body)
    assert [e["pointer"] for e in problem["errors"]] == ["#/evidence/0/url"]


@pytest.mark.parametrize("value", ["2024-05-01T00:00:00Z", "2024-05-01T00:00:00"])
@pytest.mark.parametrize("field", ["startDate", "endDate"])
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/organisations/{org}/activities"), ("PATCH", "/v1/activities/{activity}")],
)
async def test_a_date_field_refuses_a_datetime(
    world: World, method: str, path: str, field: str, value: str
) -> None:
    """A date is a date: today a midnight datetime is accepted and its time and zone dropped."""
    body = body_for(method, path, {field: value})
    problem = await world.refused(method, path, 422, "VALIDATION_FAILED", body=body)
    assert [e["pointer"] for e in problem["errors"]] == [f"#/{field}"]


WRITES = [
    ("POST", "/v1/organisations"),
    ("POST", "/v1/organisations/{org}/assets"),
    ("POST", "/v1/organisations/{org}/activities"),
    ("PATCH", "/v1/organisations/{org}"),
    ("PATCH", "/v1/assets/{asset}"),
    ("PATCH", "/v1/activities/{activity}"),
]
WRITE_IDS = [f"{method} {path}" for method, path in WRITES]
VALID_PATCH = {"name": "Renamed"}


def valid_json(method: str, path: str) -> dict[str, Any]:
    if method == "POST":
        return VALID_BODY[path]
    return {"title": "Renamed"} if "activities" in path else VALID_PATCH


@pytest.mark.parametrize(("method", "path"), WRITES, ids=WRITE_IDS)
async def test_a_body_without_a_content_type_is_415(world: World, method: str, path: str) -> None:
    """The README promises 415 for anything but JSON; today a valid JSON body sent with no
    Content-Type is a 422 "field required" for every field."""
    content = json.dumps(valid_json(method, path)).encode()
    await world.refused(method, path, 415, "UNSUPPORTED_MEDIA_TYPE", content=content)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
@pytest.mark.parametrize(("method", "path"), WRITES, ids=WRITE_IDS)
async def test_a_body_not_in_utf_8_is_415(
    world: World, method: str, path: str, encoding: str
) -> None:
    """JSON on the wire is UTF-8 (RFC 8259); today UTF-16 and UTF-32 bodies are accepted."""
    content = json.dumps(valid_json(method, path)).encode(encoding)
    headers = {"Content-Type": "application/json"}
    await world.refused(
        method, path, 415, "UNSUPPORTED_MEDIA_TYPE", content=content, headers=headers
    )


MERGE_PATCH = "application/merge-patch+json"


@pytest.mark.parametrize("media_type", [MERGE_PATCH, "application/vnd.api+json"])
@pytest.mark.parametrize(("method", "path"), WRITES[:3], ids=WRITE_IDS[:3])
async def test_a_create_refuses_json_flavours_it_does_not_announce(
    world: World, method: str, path: str, media_type: str
) -> None:
    """A create takes application/json only; today any ``+json`` type is accepted."""
    content = json.dumps(valid_json(method, path)).encode()
    headers = {"Content-Type": media_type}
    await world.refused(
        method, path, 415, "UNSUPPORTED_MEDIA_TYPE", content=content, headers=headers
    )


@pytest.mark.parametrize(("method", "path"), WRITES[3:], ids=WRITE_IDS[3:])
async def test_an_update_refuses_json_flavours_it_does_not_announce(
    world: World, method: str, path: str
) -> None:
    content = json.dumps(valid_json(method, path)).encode()
    headers = {"Content-Type": "application/vnd.api+json"}
    await world.refused(
        method, path, 415, "UNSUPPORTED_MEDIA_TYPE", content=content, headers=headers
    )


@pytest.mark.parametrize(("method", "path"), WRITES[3:], ids=WRITE_IDS[3:])
async def test_merge_patch_is_accepted_and_announced_on_every_patch(
    world: World, method: str, path: str
) -> None:
    """PATCH bodies here are JSON Merge Patches (RFC 7396: absent keeps, null clears), so the
    media type is welcome, and the contract says so. Today it works but is not announced."""
    response = await world.client.patch(
        path.format(**world.ids),
        content=json.dumps(valid_json(method, path)).encode(),
        headers={"Content-Type": MERGE_PATCH, "If-Match": "*"},
    )
    assert response.status_code == 200, response.text
    document = create_app().openapi()
    template = path.format(org="{organisationId}", asset="{assetId}", activity="{activityId}")
    operation = document["paths"][template]["patch"]
    content = operation["requestBody"]["content"]
    # One media type per body, so generated clients stay usable; application/json is still
    # read the same way (every other PATCH test sends it) and the description says so.
    assert list(content) == [MERGE_PATCH]
    assert "application/json" in operation["requestBody"]["description"]
    as_json = await world.client.patch(
        path.format(**world.ids),
        json=valid_json(method, path),
        headers={"If-Match": "*"},
    )
    assert as_json.status_code == 200, as_json.text


async def test_an_assessment_needs_no_body_and_the_contract_says_so(world: World) -> None:
    """POST .../assessments with no body takes every default (201). Today the document does
    not mark the body optional: OpenAPI's default is false, but generators differ, so the
    contract states ``required: false`` explicitly."""
    response = await world.client.post(f"/v1/organisations/{world.ids['org']}/assessments")
    assert response.status_code == 201, response.text
    assert response.json()["scope"] == "organisation"
    document = create_app().openapi()
    body = document["paths"]["/v1/organisations/{organisationId}/assessments"]["post"]
    assert body["requestBody"].get("required") is False, body["requestBody"]


async def test_comparing_an_assessment_with_itself_is_refused(world: World) -> None:
    """Today ``compare?with=`` the same assessment answers 200 "nothing changed"."""
    created = await world.client.post(f"/v1/organisations/{world.ids['org']}/assessments")
    assert created.status_code == 201, created.text
    assessment = created.json()["id"]
    response = await world.client.get(
        f"/v1/assessments/{assessment}/compare", params={"with": assessment}
    )
    problem = assert_problem(response, 422, "VALIDATION_FAILED")
    assert [e["pointer"] for e in problem["errors"]] == ["with"]
