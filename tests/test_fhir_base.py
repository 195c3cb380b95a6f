"""The FHIR base, /v1/fhir: its CapabilityStatement, Organization read and search, and every
error as an OperationOutcome. Each resource is parsed by fhir.resources' R4B models (R4B keeps
R4's CapabilityStatement, Organization, Bundle and OperationOutcome), which refuse unknown
elements, nulls and malformed values."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import Depends, FastAPI
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.organization import Organization

from app.auth.dependencies import require
from app.auth.principal import Principal
from app.fhir.outcome import (
    PROBLEM_CODE_SYSTEM,
    REQUEST_ID_EXTENSION,
    in_base,
    operation_outcome,
)
from app.fhir.search import identifier_match
from app.ods.roles import ODS_CODE_SYSTEM
from app.vocabulary import Role
from tests.auth_app import build_app
from tests.auth_helpers import make_key
from tests.conftest import Backend
from tests.helpers import assert_problem, create_organisation
from tests.test_auth_http import bearer, http

FHIR = "application/fhir+json"
SEARCH = "/v1/fhir/Organization"


def assert_outcome(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A valid OperationOutcome carrying our problem code and the request ID."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == FHIR
    body = dict(response.json())
    OperationOutcome.model_validate(body)
    first = body["issue"][0]
    assert first["details"]["coding"][0] == {
        "system": PROBLEM_CODE_SYSTEM,
        "code": code,
        "display": first["details"]["text"],
    }
    request_id = response.headers["x-request-id"]
    assert body["extension"] == [{"url": REQUEST_ID_EXTENSION, "valueString": request_id}]
    assert request_id in first["diagnostics"]
    assert "Traceback" not in response.text
    return body


# -- pure -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tokens", "codes", "everything"),
    [
        ([], None, True),
        ([f"{ODS_CODE_SYSTEM}|rxq"], {"RXQ"}, False),
        (["RXQ"], {"RXQ"}, False),
        (["|RXQ"], set(), False),  # no system: ours always have one
        (["https://example.org/other|RXQ"], set(), False),
        ([f"{ODS_CODE_SYSTEM}|"], None, False),  # any ODS code
        ([f"RXQ,{ODS_CODE_SYSTEM}|RR8"], {"RXQ", "RR8"}, False),  # commas are OR
        (["RXQ,RR8", "RR8"], {"RR8"}, False),  # repeated is AND
        (["RXQ,RR8", f"{ODS_CODE_SYSTEM}|"], {"RXQ", "RR8"}, False),
    ],
)
def test_identifier_tokens(tokens: list[str], codes: set[str] | None, everything: bool) -> None:
    match = identifier_match(tokens)
    assert match.everything is everything
    assert match.codes == (None if codes is None else frozenset(codes))


@pytest.mark.parametrize(
    ("path", "root_path", "inside"),
    [
        ("/v1/fhir/Organization", "", True),
        ("/v1/fhir", "", True),
        ("/v1/fhirx", "", False),
        ("/v1/organisations/1/fhir", "", False),
        ("/lhs/v1/fhir/metadata", "/lhs", True),  # behind a proxy's prefix
        ("/lhs/v1/organisations", "/lhs", False),
    ],
)
def test_the_base_is_told_by_path(path: str, root_path: str, inside: bool) -> None:
    assert in_base(path, root_path) is inside


@pytest.mark.parametrize(
    ("status", "code", "severity", "issue_type"),
    [
        (403, "FORBIDDEN", "error", "forbidden"),
        (429, "RATE_LIMITED", "error", "throttled"),
        (500, "INTERNAL_ERROR", "fatal", "exception"),
        (503, "SERVICE_UNAVAILABLE", "fatal", "transient"),
        (422, "VALIDATION_FAILED", "error", "invalid"),
    ],
)
def test_a_problem_as_an_operation_outcome(
    status: int, code: str, severity: str, issue_type: str
) -> None:
    outcome = operation_outcome(
        status=status,
        code=code,
        title="A title",
        detail="What happened.",
        request_id="abc123",
        fields=[("identifier", "Too many values.")],
    )
    body = outcome.model_dump(by_alias=True, exclude_none=True, mode="json")
    OperationOutcome.model_validate(body)
    assert body["issue"][0]["severity"] == severity
    assert body["issue"][0]["code"] == issue_type
    assert body["issue"][0]["diagnostics"] == "What happened. (request ID abc123)"
    assert body["issue"][1]["diagnostics"] == "identifier: Too many values."


# -- metadata and read --------------------------------------------------------------------


async def test_the_capability_statement_needs_no_credential(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/fhir/metadata", headers={"Authorization": ""})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == FHIR
    statement = response.json()
    CapabilityStatement.model_validate(statement)
    assert statement["fhirVersion"] == "4.0.1"
    assert "application/fhir+json" in statement["format"]
    assert "json" in statement["format"]
    assert statement["implementation"]["url"] == "http://localhost/v1/fhir"
    (resource,) = statement["rest"][0]["resource"]
    assert resource["type"] == "Organization"
    assert {i["code"] for i in resource["interaction"]} == {"read", "search-type"}
    assert "identifier" in {p["name"] for p in resource["searchParam"]}
    plain = await client.get("/v1/fhir/metadata", headers={"Accept": "application/json"})
    assert plain.headers["content-type"] == "application/json"


async def test_read_is_the_organisation_with_its_etag(client: httpx.AsyncClient) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics", odsCode="QWO")
    trust = await create_organisation(client, odsCode="RR8", parentId=ics["id"])
    response = await client.get(f"/v1/fhir/Organization/{trust['id']}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == FHIR
    assert response.headers["etag"] == 'W/"1"'
    body = response.json()
    Organization.model_validate(body)
    old = (await client.get(f"/v1/organisations/{trust['id']}/fhir")).json()
    # The same resource; partOf stays on the FHIR base.
    assert {k: v for k, v in body.items() if k != "partOf"} == {
        k: v for k, v in old.items() if k != "partOf"
    }
    assert body["partOf"]["reference"] == f"http://localhost/v1/fhir/Organization/{ics['id']}"
    parent = await client.get(body["partOf"]["reference"])
    assert Organization.model_validate(parent.json()).id == ics["id"]


# -- search ---------------------------------------------------------------------------------


async def test_search_by_ods_code_is_a_searchset(client: httpx.AsyncClient) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics", odsCode="QWO")
    trust = await create_organisation(client, name="Trust", odsCode="RXQ", parentId=ics["id"])
    await create_organisation(client, name="Other", odsCode="RR8")
    token = f"{ODS_CODE_SYSTEM}|RXQ"
    response = await client.get(SEARCH, params={"identifier": token})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == FHIR
    body = response.json()
    Bundle.model_validate(body)
    assert body["type"] == "searchset"
    assert body["total"] == 1
    (entry,) = body["entry"]
    assert entry["fullUrl"] == f"http://localhost/v1/fhir/Organization/{trust['id']}"
    assert entry["search"] == {"mode": "match"}
    assert entry["resource"]["partOf"]["display"] == "ICS"
    assert entry["resource"] == (await client.get(entry["fullUrl"])).json()
    links = {link["relation"]: link["url"] for link in body["link"]}
    assert set(links) == {"self"}
    assert parse_qs(urlsplit(links["self"]).query) == {"identifier": [token], "_count": ["50"]}
    for other, total in (("rxq", 1), ("|RXQ", 0), ("https://example.org|RXQ", 0), ("X9", 0)):
        found = (await client.get(SEARCH, params={"identifier": other})).json()
        Bundle.model_validate(found)
        assert found["total"] == total, other
        assert ("entry" in found) is bool(total)  # FHIR has no empty arrays
    both = (await client.get(SEARCH, params={"identifier": "RXQ,RR8"})).json()
    assert {e["resource"]["name"] for e in both["entry"]} == {"Trust", "Other"}


async def test_search_pages_with_count(client: httpx.AsyncClient) -> None:
    codes = [f"PG{n}" for n in range(5)]
    for code in codes:
        await create_organisation(client, name=f"Org {code}", odsCode=code)
    params = {"identifier": ",".join(codes), "_count": "2"}
    url: str | None = f"http://localhost{SEARCH}"
    seen: list[str] = []
    pages = 0
    while url is not None:
        response = await client.get(url, params=params if pages == 0 else None)
        body = response.json()
        Bundle.model_validate(body)
        assert body["total"] == 5
        seen += [entry["resource"]["identifier"][0]["value"] for entry in body["entry"]]
        links = {link["relation"]: link["url"] for link in body["link"]}
        url = links.get("next")
        pages += 1
    assert pages == 3
    assert sorted(seen) == codes  # each once
    only_total = (await client.get(SEARCH, params={**params, "_count": "0"})).json()
    assert only_total["total"] == 5
    assert "entry" not in only_total
    capped = (await client.get(SEARCH, params={**params, "_count": "100000"})).json()
    assert "_count=500" in capped["link"][0]["url"]
    assert len(capped["entry"]) == 5


async def test_unknown_parameters_are_ignored_and_said_or_refused_when_strict(
    client: httpx.AsyncClient,
) -> None:
    await create_organisation(client, odsCode="RXQ")
    params = {"identifier": "RXQ", "name": "Leeds", "identifier:of-type": "x"}
    response = await client.get(SEARCH, params=params)
    body = response.json()
    Bundle.model_validate(body)
    assert body["total"] == 1  # searched without them
    assert "name=" not in body["link"][0]["url"]
    outcome = body["entry"][-1]
    assert outcome["search"] == {"mode": "outcome"}
    OperationOutcome.model_validate(outcome["resource"])
    said = " ".join(issue["diagnostics"] for issue in outcome["resource"]["issue"])
    assert "name" in said
    assert "identifier:of-type" in said
    strict = await client.get(SEARCH, params=params, headers={"Prefer": "handling=strict"})
    refused = assert_outcome(strict, 400, "BAD_REQUEST")
    assert "identifier:of-type, name" in refused["issue"][0]["diagnostics"]
    assert refused["issue"][1]["diagnostics"].startswith("identifier:of-type:")


async def test_search_is_scoped_like_every_list(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    a = await create_organisation(client, name="ICS A", organisationType="ics", odsCode="SCA")
    await create_organisation(client, name="Trust A", odsCode="SCA1", parentId=a["id"])
    b = await create_organisation(client, name="ICS B", organisationType="ics", odsCode="SCB")
    await create_organisation(client, name="Trust B", odsCode="SCB1", parentId=b["id"])
    _, key = await make_key(backend.app.state.sessions, "reader", a["id"])
    scoped = {"Authorization": f"Bearer {key}"}
    params = {"identifier": "SCA,SCA1,SCB,SCB1"}
    body = (await client.get(SEARCH, params=params, headers=scoped)).json()
    Bundle.model_validate(body)
    assert body["total"] == 2
    assert {e["resource"]["name"] for e in body["entry"]} == {"ICS A", "Trust A"}
    assert "ICS B" not in str(body)
    assert b["id"] not in str(body)
    hidden = (await client.get(SEARCH, params={"identifier": "SCB"}, headers=scoped)).json()
    assert hidden["total"] == 0
    assert (await client.get(SEARCH, params=params)).json()["total"] == 4  # a global key


# -- errors ---------------------------------------------------------------------------------


async def test_errors_under_the_base_are_operation_outcomes(client: httpx.AsyncClient) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    outcome = assert_outcome(await client.get(f"/v1/fhir/Organization/{missing}"), 404, "NOT_FOUND")
    assert outcome["issue"][0]["code"] == "not-found"
    assert_outcome(await client.get("/v1/fhir/Patient"), 404, "NOT_FOUND")
    anonymous = await client.get(SEARCH, headers={"Authorization": ""})
    assert assert_outcome(anonymous, 401, "UNAUTHENTICATED")["issue"][0]["code"] == "login"
    assert anonymous.headers["www-authenticate"] == "Bearer"
    not_a_uuid = await client.get("/v1/fhir/Organization/nope")
    invalid = assert_outcome(not_a_uuid, 422, "VALIDATION_FAILED")
    assert invalid["issue"][1]["diagnostics"].startswith("organisationId:")
    assert_outcome(await client.get(SEARCH, params={"_count": "-1"}), 422, "VALIDATION_FAILED")
    assert_outcome(await client.get(SEARCH, params={"_cursor": "x"}), 400, "INVALID_CURSOR")
    refused = await client.get("/v1/fhir/metadata", headers={"Accept": "text/html"})
    assert assert_outcome(refused, 406, "NOT_ACCEPTABLE")["issue"][0]["code"] == "not-supported"
    posted = await client.post(SEARCH, json={})
    assert_outcome(posted, 405, "METHOD_NOT_ALLOWED")
    assert posted.headers["allow"] == "GET, HEAD"
    # Outside the base, the same errors stay problems.
    assert_problem(await client.get(f"/v1/organisations/{missing}/fhir"), 404, "NOT_FOUND")


async def test_any_route_under_the_base_answers_outcomes_403_429_500(backend: Backend) -> None:
    """Rendered where every problem is, so a route cannot forget it: routes of a bare app
    under /v1/fhir, through the real middleware."""
    app: FastAPI = build_app(backend, rate_limit="2/hour")

    @app.get("/v1/fhir/admins-only")
    async def admins_only(principal: Principal = Depends(require(Role.ADMIN))) -> None:
        return None

    @app.get("/v1/fhir/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    _, key = await make_key(backend.app.state.sessions, "reader")
    async with http(app) as api:
        forbidden = await api.get("/v1/fhir/admins-only", headers=bearer(key))
        assert assert_outcome(forbidden, 403, "FORBIDDEN")["issue"][0]["code"] == "forbidden"
        failed = await api.get("/v1/fhir/broken", headers=bearer(key))
        assert assert_outcome(failed, 500, "INTERNAL_ERROR")["issue"][0]["severity"] == "fatal"
        assert "a bug" not in failed.text
        limited = await api.get("/v1/fhir/admins-only", headers=bearer(key))
        assert assert_outcome(limited, 429, "RATE_LIMITED")["issue"][0]["code"] == "throttled"
        assert int(limited.headers["retry-after"]) > 0
