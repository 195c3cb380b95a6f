"""Organisations as FHIR R4 Organization resources, checked with fhir.resources' R4B model (the
Organization resource is the same in R4 and R4B)."""

from typing import Any

import httpx
import pytest
from fhir.resources.R4B.organization import Organization

from app.ods.roles import ODS_CODE_SYSTEM, ODS_ROLE_SYSTEM
from tests.auth_helpers import make_key
from tests.conftest import Backend
from tests.helpers import assert_problem, create_organisation

FHIR = "application/fhir+json"


def valid_organization(body: dict[str, Any]) -> Organization:
    """Parsed by fhir.resources, which refuses unknown elements, nulls and malformed values."""
    return Organization.model_validate(body)


async def test_trust_in_an_ics_as_a_uk_core_shaped_organization(
    client: httpx.AsyncClient,
) -> None:
    ics = await create_organisation(
        client, name="West Yorkshire ICS", organisationType="ics", odsCode="QWO"
    )
    trust = await create_organisation(
        client,
        name="Leeds Teaching Hospitals",
        organisationType="acute_trust",
        odsCode="RR8",
        parentId=ics["id"],
    )
    response = await client.get(f"/v1/organisations/{trust['id']}/fhir")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == FHIR
    assert response.headers["etag"] == 'W/"1"'
    body = response.json()
    resource = valid_organization(body)
    assert resource.id == trust["id"]
    assert resource.name == "Leeds Teaching Hospitals"
    assert resource.active is True
    assert body["identifier"] == [{"use": "official", "system": ODS_CODE_SYSTEM, "value": "RR8"}]
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"] == trust["updatedAt"]
    # Typed as ODS does (an NHS trust) and as this service does (an acute trust).
    codings = body["type"][0]["coding"]
    assert codings[0] == {"system": ODS_ROLE_SYSTEM, "code": "RO197", "display": "NHS TRUST"}
    assert codings[1]["code"] == "acute_trust"
    assert body["type"][0]["text"] == "Acute trust"
    # partOf names the parent by its ODS code and by where its own resource is served.
    part_of = body["partOf"]
    assert part_of["identifier"] == {"system": ODS_CODE_SYSTEM, "value": "QWO"}
    assert part_of["display"] == "West Yorkshire ICS"
    assert part_of["type"] == "Organization"
    parent = await client.get(part_of["reference"])
    assert parent.status_code == 200
    assert valid_organization(parent.json()).id == ics["id"]
    assert "partOf" not in parent.json()
    assert "null" not in response.text  # FHIR forbids nulls: absent elements are left out


async def test_accept_chooses_between_our_json_and_fhir(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client, odsCode="RR8")
    url = f"/v1/organisations/{trust['id']}"
    for accept in (None, "application/json", "*/*", "application/*", f"{FHIR};q=0.5, */*"):
        headers = {"Accept": accept} if accept else {}
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, accept
        assert response.headers["content-type"] == "application/json", accept
        assert response.json()["odsCode"] == "RR8"
        assert response.headers["vary"] == "Accept"
    for accept in (FHIR, f"{FHIR}, application/json;q=0.9", f"{FHIR}; fhirVersion=4.0"):
        response = await client.get(url, headers={"Accept": accept})
        assert response.status_code == 200, accept
        assert response.headers["content-type"] == FHIR, accept
        assert response.headers["etag"] == 'W/"1"'
        assert response.headers["vary"] == "Accept"
        same = await client.get(f"{url}/fhir")
        assert response.json() == same.json()
        valid_organization(response.json())


@pytest.mark.parametrize("path", ["", "/fhir"])
async def test_an_accept_naming_neither_is_406(client: httpx.AsyncClient, path: str) -> None:
    trust = await create_organisation(client)
    response = await client.get(
        f"/v1/organisations/{trust['id']}{path}", headers={"Accept": "text/html, text/csv"}
    )
    problem = assert_problem(response, 406, "NOT_ACCEPTABLE")
    assert FHIR in problem["detail"]
    assert problem["errors"][0]["pointer"] == "Accept"
    malformed = await client.get(
        f"/v1/organisations/{trust['id']}{path}", headers={"Accept": "no-slash"}
    )
    assert_problem(malformed, 400, "BAD_REQUEST")


async def test_the_fhir_address_also_answers_plain_json(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client)
    response = await client.get(
        f"/v1/organisations/{trust['id']}/fhir", headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert valid_organization(response.json()).id == trust["id"]


@pytest.mark.parametrize(
    ("organisation_type", "ods_role"),
    [
        ("trust", "RO197"),
        ("mental_health_trust", "RO197"),
        ("icb", "RO318"),
        ("ics", "RO261"),
        ("primary_care_network", "RO272"),
        ("gp_practice", "RO76"),
        ("local_authority", "RO141"),
        ("gp_federation", None),
        ("network", None),
        ("other", None),
    ],
)
async def test_each_type_is_coded(
    client: httpx.AsyncClient, organisation_type: str, ods_role: str | None
) -> None:
    organisation = await create_organisation(client, organisationType=organisation_type)
    body = (await client.get(f"/v1/organisations/{organisation['id']}/fhir")).json()
    valid_organization(body)
    codes = {(c["system"], c["code"]) for c in body["type"][0]["coding"]}
    ours = {code for system, code in codes if system != ODS_ROLE_SYSTEM}
    assert ours == {organisation_type}
    assert {code for system, code in codes if system == ODS_ROLE_SYSTEM} == (
        {ods_role} if ods_role else set()
    )
    # No ODS code: no identifier at all (FHIR has no empty arrays).
    assert "identifier" not in body


async def test_unknown_organisation_is_404(client: httpx.AsyncClient) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    response = await client.get(f"/v1/organisations/{missing}/fhir")
    assert_problem(response, 404, "NOT_FOUND")
    response = await client.get(f"/v1/organisations/{missing}", headers={"Accept": FHIR})
    assert_problem(response, 404, "NOT_FOUND")


async def test_an_update_moves_version_and_last_updated(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client)
    changed = await client.patch(
        f"/v1/organisations/{trust['id']}", json={"name": "Renamed"}, headers={"If-Match": 'W/"1"'}
    )
    assert changed.status_code == 200
    body = (await client.get(f"/v1/organisations/{trust['id']}/fhir")).json()
    assert body["meta"] == {"versionId": "2", "lastUpdated": changed.json()["updatedAt"]}
    assert body["name"] == "Renamed"


def test_the_openapi_document_declares_fhir_on_its_own_operation_only() -> None:
    """A generated client parses a 200 with one schema: the plain read declares our JSON, what
    it sends by default, and FHIR is the /fhir operation's (Accept still works, undeclared)."""
    from app.http.openapi import served

    paths = served()["paths"]
    plain = paths["/v1/organisations/{organisationId}"]["get"]["responses"]
    assert plain["200"]["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/OrganisationPublic"}}
    }
    fhir = paths["/v1/organisations/{organisationId}/fhir"]["get"]["responses"]
    assert fhir["200"]["content"] == {
        FHIR: {"schema": {"$ref": "#/components/schemas/FhirOrganization"}}
    }
    for responses in (plain, fhir):
        assert "406" in responses


async def test_a_caller_scoped_below_the_parent_sees_only_its_address(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics", odsCode="QWO")
    trust = await create_organisation(client, name="Trust", odsCode="RR8", parentId=ics["id"])
    _, key = await make_key(backend.app.state.sessions, "reader", trust["id"])
    scoped = {"Authorization": f"Bearer {key}"}
    response = await client.get(f"/v1/organisations/{trust['id']}/fhir", headers=scoped)
    assert response.status_code == 200, response.text
    part_of = response.json()["partOf"]
    assert part_of == {"reference": part_of["reference"], "type": "Organization"}
    assert part_of["reference"].endswith(f"/v1/organisations/{ics['id']}/fhir")
    valid_organization(response.json())
    parent = await client.get(f"/v1/organisations/{ics['id']}/fhir", headers=scoped)
    assert_problem(parent, 404, "NOT_FOUND")
    other = await client.get(f"/v1/organisations/{ics['id']}", headers=scoped | {"Accept": FHIR})
    assert_problem(other, 404, "NOT_FOUND")
