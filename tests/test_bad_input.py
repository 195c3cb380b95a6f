"""Bad input of every kind gets a clear 4xx problem (for a 422, naming the bad field), and
every table is exactly as it was before the request."""

import base64
import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from _pytest.mark.structures import ParameterSet

from tests.conftest import Backend, snapshot
from tests.helpers import assert_problem, create_activity, create_asset, create_organisation

ORGS = ("POST", "/v1/organisations")
ORG = ("PATCH", "/v1/organisations/{org}")
ASSETS = ("POST", "/v1/organisations/{org}/assets")
ASSET = ("PATCH", "/v1/assets/{asset}")
ACTIVITIES = ("POST", "/v1/organisations/{org}/activities")
ACTIVITY = ("PATCH", "/v1/activities/{activity}")
WRITES = [ORGS, ORG, ASSETS, ASSET, ACTIVITIES, ACTIVITY]
KEYS = ("POST", "/v1/api-keys")
REPORT_LINK = ("POST", "/v1/organisations/{org}/report-link")
LISTS = [
    "/v1/organisations",
    "/v1/organisations/{org}/members",
    "/v1/organisations/{org}/assets",
    "/v1/organisations/{org}/activities",
]
VALID: dict[tuple[str, str], dict[str, Any]] = {
    ORGS: {"name": "Trust", "organisationType": "trust"},
    ASSETS: {"area": "data", "name": "Platform", "maturity": 2},
    ACTIVITIES: {"area": "improvement", "title": "Falls", "activityType": "training"},
    KEYS: {"name": "Portal", "role": "reader"},
}
NOWHERE = "00000000-0000-4000-8000-000000000000"  # a well-formed UUID that names nothing
DROP = object()  # in a case's change: leave the field out of the valid body


def case(endpoint: tuple[str, str], change: dict[str, Any], pointer: str) -> ParameterSet:
    method, path = endpoint
    shown = json.dumps(change, default=lambda _: "(absent)")[:40]
    name = f"{method} {path.split('/')[-1]} {shown}"
    return pytest.param(endpoint, change, pointer, id=name)


FIELD_CASES = [
    case(ORGS, {"odscode": "RR8"}, "#/odscode"),
    case(ORGS, {"ods_code": "RR8"}, "#/ods_code"),
    case(ORGS, {"organisation_type": "trust"}, "#/organisation_type"),
    case(ORGS, {"name": DROP}, "#/name"),
    case(ORGS, {"name": "   "}, "#/name"),
    case(ORGS, {"name": "x" * 201}, "#/name"),
    case(ORGS, {"name": 42}, "#/name"),
    case(ORGS, {"name": "a\x00b"}, "#/name"),
    case(ORGS, {"odsCode": "RR8!"}, "#/odsCode"),
    case(ORGS, {"odsCode": "R R8"}, "#/odsCode"),
    case(ORGS, {"odsCode": "ABCDEFGHIJ"}, "#/odsCode"),
    case(ORGS, {"odsCode": ""}, "#/odsCode"),
    case(ORGS, {"odsCode": 123}, "#/odsCode"),
    case(ORGS, {"organisationType": "hospital"}, "#/organisationType"),
    case(ORGS, {"organisationType": "Trust"}, "#/organisationType"),
    case(ORGS, {"parentId": "ics-1"}, "#/parentId"),
    case(ORGS, {"parentId": NOWHERE}, "#/parentId"),
    case(ORGS, {"region": "x" * 101}, "#/region"),
    case(ORG, {"parent_id": None}, "#/parent_id"),
    case(ORG, {"name": None}, "#/name"),
    case(ORG, {"organisationType": None}, "#/organisationType"),
    case(ORG, {"odsCode": "TOOLONGODS"}, "#/odsCode"),
    case(ASSETS, {"capability_key": "data-platform"}, "#/capability_key"),
    case(ASSETS, {"shared_with_members": True}, "#/shared_with_members"),
    case(ASSETS, {"maturty": 2}, "#/maturty"),
    case(ASSETS, {"maturity": DROP}, "#/maturity"),
    case(ASSETS, {"area": DROP}, "#/area"),
    case(ASSETS, {"maturity": 5}, "#/maturity"),
    case(ASSETS, {"maturity": -1}, "#/maturity"),
    case(ASSETS, {"maturity": 2.5}, "#/maturity"),
    case(ASSETS, {"maturity": None}, "#/maturity"),
    case(ASSETS, {"maturity": "3"}, "#/maturity"),
    case(ASSETS, {"maturity": True}, "#/maturity"),
    case(ASSETS, {"area": "finance"}, "#/area"),
    case(ASSETS, {"area": "Data"}, "#/area"),
    case(ASSETS, {"confidence": "high"}, "#/confidence"),
    case(ASSETS, {"evidence": "https://example.org"}, "#/evidence"),
    case(ASSETS, {"evidence": [{"title": "DPIA"}]}, "#/evidence/0/url"),
    case(ASSETS, {"evidence": [{"title": "DPIA", "url": "not a url"}]}, "#/evidence/0/url"),
    case(
        ASSETS, {"evidence": [{"title": "x" * 201, "url": "https://a.org"}]}, "#/evidence/0/title"
    ),
    case(ASSETS, {"evidence": [{"title": "t", "url": "https://a.org", "x": 1}]}, "#/evidence/0/x"),
    case(ASSETS, {"evidence": [{"title": "t", "url": "https://a.org"}] * 21}, "#/evidence"),
    case(ASSETS, {"tags": "ai"}, "#/tags"),
    case(ASSETS, {"tags": [1]}, "#/tags/0"),
    case(ASSETS, {"tags": ["ok", "x" * 65]}, "#/tags/1"),
    case(ASSETS, {"tags": ["two words"]}, "#/tags/0"),
    case(ASSETS, {"tags": [f"t{i}" for i in range(21)]}, "#/tags"),
    case(ASSETS, {"name": "x" * 201}, "#/name"),
    case(ASSETS, {"description": "x" * 4001}, "#/description"),
    case(ASSETS, {"owner": "x" * 201}, "#/owner"),
    case(ASSETS, {"sharedWithMembers": "maybe"}, "#/sharedWithMembers"),
    case(ASSETS, {"reviewedAt": "2024-05-01T09:00:00"}, "#/reviewedAt"),
    case(ASSETS, {"reviewedAt": "yesterday"}, "#/reviewedAt"),
    case(ASSETS, {"reviewedAt": "9999-12-31T23:00:00-05:00"}, "#/reviewedAt"),
    case(ASSETS, {"capabilityKey": "Data Platform"}, "#/capabilityKey"),
    case(ASSETS, {"capabilityKey": "no-such-capability"}, "#/capabilityKey"),
    case(ASSETS, {"capabilityKey": "digital-skills"}, "#/capabilityKey"),
    case(ASSET, {"maturity": 5}, "#/maturity"),
    case(ASSET, {"Name": "x"}, "#/Name"),
    case(ASSET, {"area": "finance"}, "#/area"),
    case(ASSET, {"tags": ["x" * 65]}, "#/tags/0"),
    case(ASSET, {"capabilityKey": "learning-culture"}, "#/capabilityKey"),
    case(ACTIVITIES, {"activity_type": "training"}, "#/activity_type"),
    case(ACTIVITIES, {"asset_ids": []}, "#/asset_ids"),
    case(ACTIVITIES, {"startdate": "2024-04-01"}, "#/startdate"),
    case(ACTIVITIES, {"title": DROP}, "#/title"),
    case(ACTIVITIES, {"activityType": DROP}, "#/activityType"),
    case(ACTIVITIES, {"activityType": "workshop"}, "#/activityType"),
    case(ACTIVITIES, {"status": "done"}, "#/status"),
    case(ACTIVITIES, {"status": "Active"}, "#/status"),
    case(ACTIVITIES, {"title": "x" * 201}, "#/title"),
    case(ACTIVITIES, {"goal": "x" * 2001}, "#/goal"),
    case(ACTIVITIES, {"outcome": "x" * 2001}, "#/outcome"),
    case(ACTIVITIES, {"startDate": "2024-13-01"}, "#/startDate"),
    case(ACTIVITIES, {"startDate": "01/04/2024"}, "#/startDate"),
    case(ACTIVITIES, {"endDate": "2024-04-01T10:00:00Z"}, "#/endDate"),
    case(ACTIVITIES, {"assetIds": NOWHERE}, "#/assetIds"),
    case(ACTIVITIES, {"assetIds": ["asset-1"]}, "#/assetIds/0"),
    case(ACTIVITIES, {"assetIds": [NOWHERE]}, "#/assetIds/0"),
    case(ACTIVITIES, {"assetIds": [f"{NOWHERE[:-3]}{i:03}" for i in range(101)]}, "#/assetIds"),
    case(ACTIVITIES, {"capabilityKey": "data-platform"}, "#/capabilityKey"),
    case(ACTIVITY, {"end_date": None}, "#/end_date"),
    case(ACTIVITY, {"status": None}, "#/status"),
    case(ACTIVITY, {"activityType": "workshop"}, "#/activityType"),
    case(ACTIVITY, {"startDate": "2024-05-01", "endDate": "2024-04-01"}, "#/endDate"),
    case(ACTIVITY, {"assetIds": [NOWHERE]}, "#/assetIds/0"),
    case(KEYS, {"expiresAt": "2999-01-01T00:00:00Z"}, "#/expiresAt"),  # past the maximum
    case(KEYS, {"expiresAt": "2001-01-01T00:00:00Z"}, "#/expiresAt"),
    case(KEYS, {"expires_at": "2027-01-01T00:00:00Z"}, "#/expires_at"),
    case(REPORT_LINK, {"ttlSeconds": 3600}, "#/ttlSeconds"),  # no options: not one ignored
]


@dataclass
class World:
    """An ICS, a trust in it with an asset and an activity: what bad requests must not touch."""

    client: httpx.AsyncClient
    backend: Backend
    ids: dict[str, str]

    def request(
        self, method: str, path: str, content: bytes | None = None, if_match: str = 'W/"1"'
    ) -> httpx.Request:
        headers = {"content-type": "application/json"}
        if method in ("PATCH", "DELETE"):
            headers["if-match"] = if_match
        url = path.format(**self.ids)
        return self.client.build_request(method, url, content=content, headers=headers)

    async def refused(
        self, request: httpx.Request, status: int, code: str, pointers: set[str] | None = None
    ) -> None:
        """The request gets the expected problem, and no table changes."""
        before = await snapshot(self.backend.engine)
        problem = assert_problem(await self.client.send(request), status, code)
        if pointers is not None:
            assert pointers & {issue["pointer"] for issue in problem["errors"]}, problem
        assert await snapshot(self.backend.engine) == before


@pytest.fixture
async def world(client: httpx.AsyncClient, backend: Backend) -> World:
    ics = await create_organisation(client, name="ICS", organisationType="ics", odsCode="QWO")
    org = await create_organisation(client, parentId=ics["id"], odsCode="RR8")
    asset = await create_asset(client, org["id"], tags=["ai"])
    activity = await create_activity(client, org["id"], assetIds=[asset["id"]])
    ids = {"org": org["id"], "asset": asset["id"], "activity": activity["id"]}
    return World(client, backend, ids)


@pytest.mark.parametrize(("endpoint", "change", "pointer"), FIELD_CASES)
async def test_bad_field(
    world: World, endpoint: tuple[str, str], change: dict[str, Any], pointer: str
) -> None:
    body = {k: v for k, v in (VALID.get(endpoint, {}) | change).items() if v is not DROP}
    request = world.request(*endpoint, content=json.dumps(body).encode())
    await world.refused(request, 422, "VALIDATION_FAILED", {pointer})


@pytest.mark.parametrize("content", [None, b"{}"])
async def test_a_report_link_takes_no_body_or_an_empty_one(
    world: World, content: bytes | None
) -> None:
    response = await world.client.send(world.request(*REPORT_LINK, content=content))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("content", [b'{"name": "x",', b"{'name': 'x'}", b"\xff\xfe{}"])
@pytest.mark.parametrize("endpoint", WRITES)
async def test_malformed_json_is_a_bad_request(
    world: World, endpoint: tuple[str, str], content: bytes
) -> None:
    request = world.request(*endpoint, content=content)
    await world.refused(request, 400, "BAD_REQUEST")


@pytest.mark.parametrize("shape", ["empty", "array", "null", "string"])
@pytest.mark.parametrize("endpoint", WRITES)
async def test_body_that_is_not_an_object(
    world: World, endpoint: tuple[str, str], shape: str
) -> None:
    valid = VALID.get(endpoint, {"name": "x"})
    content = {"empty": b"", "array": json.dumps([valid]).encode(), "null": b"null"}
    request = world.request(*endpoint, content=content.get(shape, b'"a string"'))
    await world.refused(request, 422, "VALIDATION_FAILED", {"#", "#/", ""})


BAD_PATH_IDS = [
    (method, f"/v1/{plural}/{bad_id}", parameter)
    for plural, parameter in [
        ("organisations", "organisationId"),
        ("assets", "assetId"),
        ("activities", "activityId"),
    ]
    for method in ("GET", "PATCH", "DELETE")
    for bad_id in ("not-a-uuid", "1234")
] + [
    (method, f"/v1/organisations/RR8/{below}", "organisationId")
    for method, below in [
        ("GET", "assets"),
        ("POST", "assets"),
        ("GET", "activities"),
        ("POST", "activities"),
        ("GET", "members"),
    ]
]


@pytest.mark.parametrize(("method", "path", "parameter"), BAD_PATH_IDS)
async def test_path_id_that_is_not_a_uuid(
    world: World, method: str, path: str, parameter: str
) -> None:
    body = VALID[ASSETS] if path.endswith("assets") else VALID[ACTIVITIES]
    content = {"POST": json.dumps(body).encode(), "PATCH": b"{}"}.get(method)
    request = world.request(method, path, content=content, if_match="*")
    await world.refused(request, 422, "VALIDATION_FAILED", {parameter})


@pytest.mark.parametrize("if_match", ["1", "W/1", 'W/"one"', "'1'", 'W/"1" junk', '"1",'])
@pytest.mark.parametrize(
    "endpoint", [ORG, ASSET, ACTIVITY] + [("DELETE", path) for _, path in (ORG, ASSET, ACTIVITY)]
)
async def test_if_match_that_is_not_an_etag(
    world: World, endpoint: tuple[str, str], if_match: str
) -> None:
    content = b"{}" if endpoint[0] == "PATCH" else None
    request = world.request(*endpoint, content=content, if_match=if_match)
    await world.refused(request, 400, "BAD_REQUEST")


def cursor(*key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


BAD_CURSORS = [
    pytest.param("not-a-cursor", id="garbage"),
    pytest.param("~~~~", id="not-base64"),
    pytest.param(cursor({"a": 1}), id="object"),
    pytest.param(cursor("2024-01-01T00:00:00", NOWHERE), id="naive-time"),
    pytest.param(cursor("2024-01-01T00:00:00+00:00", "row-1"), id="bad-id"),
    pytest.param(cursor(None, None), id="nulls"),
    pytest.param(
        cursor("9999-12-31T23:00:00-05:00", NOWHERE),
        id="time-out-of-range",
    ),
    # A cursor is a caller's bytes too: nesting as deep as the query's 1,000 characters allow
    # must not reach the decoder's recursion limit (it is refused by length first).
    pytest.param(base64.urlsafe_b64encode(b"[" * 750).decode().rstrip("="), id="deeply-nested"),
]


@pytest.mark.parametrize("bad", BAD_CURSORS)
@pytest.mark.parametrize("path", LISTS)
async def test_invalid_cursor(world: World, path: str, bad: str) -> None:
    request = world.request("GET", f"{path}?cursor={bad}")
    await world.refused(request, 400, "INVALID_CURSOR")


@pytest.mark.parametrize(
    ("path", "query", "parameter"),
    [(path, f"limit={n}", "limit") for path in LISTS for n in ("0", "501", "-1", "ten")]
    + [
        ("/v1/organisations", "organisationType=hospital", "organisationType"),
        ("/v1/organisations", "parentId=ics-1", "parentId"),
        ("/v1/organisations/{org}/members", "depth=2", "depth"),
        ("/v1/organisations/{org}/assets", "area=finance", "area"),
        ("/v1/organisations/{org}/assets", "minMaturity=5", "minMaturity"),
        ("/v1/organisations/{org}/assets", "maxMaturity=-1", "maxMaturity"),
        ("/v1/organisations/{org}/assets", "minMaturity=two", "minMaturity"),
        ("/v1/organisations/{org}/assets", "minMaturity=4&maxMaturity=3", "minMaturity"),
        ("/v1/organisations/{org}/activities", "area=finance", "area"),
        ("/v1/organisations/{org}/activities", "status=done", "status"),
        ("/v1/organisations/{org}/activities", "activityType=workshop", "activityType"),
    ],
)
async def test_bad_query_parameter(world: World, path: str, query: str, parameter: str) -> None:
    request = world.request("GET", f"{path}?{query}")
    await world.refused(request, 422, "VALIDATION_FAILED", {parameter})


@pytest.mark.parametrize("endpoint", [ASSETS, ACTIVITY])
async def test_body_over_one_mebibyte(world: World, endpoint: tuple[str, str]) -> None:
    field = "description" if endpoint == ASSETS else "outcome"
    body = VALID.get(endpoint, {}) | {field: "x" * (1024 * 1024)}
    request = world.request(*endpoint, content=json.dumps(body).encode())
    await world.refused(request, 413, "PAYLOAD_TOO_LARGE")


async def test_a_body_that_is_not_json_is_unsupported(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    before = await snapshot(backend.engine)
    response = await client.post(
        "/v1/organisations",
        content=b"name=Trust&organisationType=trust",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert await snapshot(backend.engine) == before


@pytest.mark.parametrize(
    "query",
    [
        "/v1/organisations?q=%00",
        "/v1/organisations?odsCode=R%00",
        "/v1/organisations/{org}/assets?tag=a%00",
        "/v1/organisations/{org}/assets?capabilityKey=data%00",
    ],
)
async def test_a_nul_in_a_query_is_a_validation_problem(world: World, query: str) -> None:
    await world.refused(world.request("GET", query), 422, "VALIDATION_FAILED")


async def test_a_cursor_with_a_non_string_id_is_a_bad_cursor(world: World) -> None:
    forged = base64.urlsafe_b64encode(b'["2024-01-01T00:00:00+00:00", 1]').decode().rstrip("=")
    await world.refused(
        world.request("GET", f"/v1/organisations?cursor={forged}"), 400, "INVALID_CURSOR"
    )


@pytest.mark.parametrize(
    ("endpoint", "change", "pointer"),
    [
        (ACTIVITIES, {"startDate": 0}, "#/startDate"),
        (ACTIVITIES, {"endDate": 1e12}, "#/endDate"),
        (ASSETS, {"reviewedAt": 0}, "#/reviewedAt"),
        (ASSETS, {"sharedWithMembers": 1}, "#/sharedWithMembers"),
        (ASSETS, {"maturity": 2.5}, "#/maturity"),
    ],
)
async def test_numbers_are_not_dates_or_flags(
    world: World, endpoint: tuple[str, str], change: dict[str, Any], pointer: str
) -> None:
    body = VALID[endpoint] | change
    request = world.request(*endpoint, content=json.dumps(body).encode())
    await world.refused(request, 422, "VALIDATION_FAILED", {pointer})


async def test_a_whole_float_is_a_whole_number(world: World) -> None:
    body = VALID[ASSETS] | {"maturity": 3.0}
    response = await world.client.send(world.request(*ASSETS, content=json.dumps(body).encode()))
    assert response.status_code == 201, response.text
    assert response.json()["maturity"] == 3
