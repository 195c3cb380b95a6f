"""One URL scheme for files: POST /v1/organisations/{id}/imports/{kind}, the template of each
kind at GET /v1/imports/templates/{kind}, and the first import paths kept as deprecated aliases
that answer exactly as their successor (plus Deprecation and a successor Link)."""

import csv
import io
import json
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.transfer.files import FILES, ImportKind
from app.transfer.workbook import MEDIA_TYPE as XLSX
from tests.conftest import Backend, snapshot
from tests.helpers import assert_problem, create_organisation

CSV = {"Content-Type": "text/csv"}
JSON = {"Content-Type": "application/json"}
SHEETS = {
    "assets": b"externalId,area,name,maturity\r\nA-1,data,Warehouse,2\r\nA-2,improvement,QI,1\r\n",
    "activities": (
        b"externalId,area,title,activityType,assetExternalIds\r\nW-1,data,Work,evaluation,A-1\r\n"
    ),
}
REFUSED = {
    "assets": b"externalId,area,name,maturity\r\nA-1,nowhere,Warehouse,9\r\n",
    "activities": b"externalId,area,title,activityType\r\nW-1,data,Work,knitting\r\n",
}
# RFC 9745: when the first paths were deprecated, 2026-12-03T00:00:00Z.
DEPRECATED_AT = "@1796256000"


def new(organisation_id: str, kind: str) -> str:
    return f"/v1/organisations/{organisation_id}/imports/{kind}"


def old(organisation_id: str, kind: str) -> str:
    return f"/v1/organisations/{organisation_id}/{kind}/import"


def same(response: httpx.Response) -> tuple[int, str, str]:
    """An answer without what differs by nature: the trace id and the URL asked for."""
    body = dict(response.json())
    body.pop("traceId", None)
    body.pop("instance", None)
    for result in body.get("results", []):
        result.pop("id")  # the records made differ, and are checked elsewhere
    return response.status_code, response.headers["content-type"], json.dumps(body)


async def test_the_first_paths_answer_as_their_successor(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """The same requests to both paths, on two organisations alike: the same answers, a dry
    run, an import, a re-import and a refusal; the old ones say they are deprecated and where
    to go instead, the new ones do not."""
    first = await create_organisation(client, name="First")
    second = await create_organisation(client, name="Second")
    for kind in ("assets", "activities"):
        answers: dict[str, list[tuple[int, str, str]]] = {}
        for organisation, url in ((first["id"], new), (second["id"], old)):
            calls = [
                (url(organisation, kind) + "?dryRun=true", SHEETS[kind], CSV),
                (url(organisation, kind), SHEETS[kind], CSV),
                (url(organisation, kind), SHEETS[kind], CSV),
                (url(organisation, kind), REFUSED[kind], CSV),
                (url(organisation, kind), b'{"not": "an array"}', JSON),
            ]
            answers[url.__name__] = []
            for path, body, headers in calls:
                response = await client.post(path, content=body, headers=headers)
                answers[url.__name__].append(same(response))
                if url is new:
                    assert "Deprecation" not in response.headers
                    assert "Link" not in response.headers
                else:
                    successor = "http://localhost" + new(organisation, kind)
                    if "?" in path:
                        successor += "?dryRun=true"
                    assert response.headers["Deprecation"] == DEPRECATED_AT
                    assert response.headers["Link"] == f'<{successor}>; rel="successor-version"'
        assert answers["new"] == answers["old"], kind
        assert [status for status, _, _ in answers["new"]] == [200, 200, 200, 422, 422]
    listed = [
        (await client.get(f"/v1/organisations/{o['id']}/{kind}")).json()["items"]
        for o in (first, second)
        for kind in ("assets", "activities")
    ]
    assert [len(items) for items in listed] == [2, 1, 2, 1]


async def test_an_unknown_kind_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    trust = await create_organisation(client)
    before = await snapshot(backend.engine)
    response = await client.post(new(trust["id"], "widgets"), content=SHEETS["assets"], headers=CSV)
    body = assert_problem(response, 422, "VALIDATION_FAILED")
    assert [e["pointer"] for e in body["errors"]] == ["kind"]
    assert_problem(await client.get("/v1/imports/templates/widgets"), 422, "VALIDATION_FAILED")
    assert await snapshot(backend.engine) == before


async def test_a_file_past_the_body_limit_of_other_routes_is_taken(
    client: httpx.AsyncClient,
) -> None:
    """The imports' own limit applies to the new paths too, not the 1 MiB of other bodies."""
    trust = await create_organisation(client)
    padded = b"[" + b" " * 1_200_000 + b"]"
    for url in (new(trust["id"], "assets"), old(trust["id"], "activities")):
        response = await client.post(url, content=padded, headers=JSON)
        assert response.status_code == 200, response.text[:500]
        assert response.json()["rows"] == 0


@pytest.mark.parametrize("kind", list(ImportKind))
async def test_a_template_is_a_sheet_its_import_takes(
    client: httpx.AsyncClient, kind: ImportKind
) -> None:
    response = await client.get(f"/v1/imports/templates/{kind}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{kind}-import-template.csv"'
    )
    header, example = csv.reader(io.StringIO(response.content.decode("utf-8-sig")))
    if kind is ImportKind.ORGANISATIONS:
        assert header[:3] == ["id", "odsCode", "name"]
    elif FILES[kind].records is not None:  # a return's sheet is a score per row, no identity
        assert header[:4] == ["id", "externalId", "organisationId", "organisationOdsCode"]
    assert "organisationName" not in header  # written by exports, ignored by imports
    assert any(example)
    trust = await create_organisation(client)
    if kind is ImportKind.ACTIVITIES:  # its example uses the assets example's asset
        assets = await client.get("/v1/imports/templates/assets")
        made = await client.post(new(trust["id"], "assets"), content=assets.content, headers=CSV)
        assert made.status_code == 200, made.text
    imported = await client.post(new(trust["id"], kind), content=response.content, headers=CSV)
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"] == 1
    refused = await client.get(
        f"/v1/imports/templates/{kind}", headers={"Accept": "application/json"}
    )
    assert_problem(refused, 406, "NOT_ACCEPTABLE")


def test_the_document_states_the_scheme() -> None:
    document: dict[str, Any] = create_app().openapi()
    paths = document["paths"]
    created = paths["/v1/organisations/{organisationId}/imports/{kind}"]["post"]
    assert created["operationId"] == "imports-create"
    [kind] = [p for p in created["parameters"] if p["name"] == "kind"]
    assert kind["schema"]["$ref"] == "#/components/schemas/ImportKind"
    assert document["components"]["schemas"]["ImportKind"]["enum"] == [k.value for k in ImportKind]
    examples = created["requestBody"]["content"]["text/csv; charset=utf-8"]["examples"]
    assert set(examples) == {k.value for k in ImportKind}
    template = paths["/v1/imports/templates/{kind}"]["get"]
    assert template["operationId"] == "imports-template"
    assert list(template["responses"]["200"]["content"]) == ["text/csv", XLSX]
    # The first kinds kept their first paths as aliases; a kind added since has only the scheme.
    assert "/v1/organisations/{organisationId}/plan_items/import" not in paths
    for kind_name in (ImportKind.ASSETS, ImportKind.ACTIVITIES):
        alias = paths[f"/v1/organisations/{{organisationId}}/{kind_name}/import"]["post"]
        assert alias["deprecated"] is True
        assert f"/v1/organisations/{{organisationId}}/imports/{kind_name}" in alias["summary"]
        assert "deprecated" not in created
