"""Importing assets and activities from a file: CSV as Excel saves it or a JSON array, all or
nothing, re-imports update, dry runs and refusals write nothing, every bad row is reported."""

import json
from typing import Any

import httpx
import pytest

from tests.conftest import Backend, snapshot
from tests.helpers import assert_problem, create_asset, create_organisation

CSV = {"Content-Type": "text/csv"}


def assets_url(organisation_id: str, query: str = "") -> str:
    return f"/v1/organisations/{organisation_id}/imports/assets{query}"


def activities_url(organisation_id: str, query: str = "") -> str:
    return f"/v1/organisations/{organisation_id}/imports/activities{query}"


async def listed(client: httpx.AsyncClient, organisation_id: str, what: str) -> list[Any]:
    response = await client.get(f"/v1/organisations/{organisation_id}/{what}?limit=500")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


# As Excel writes "CSV UTF-8": a byte-order mark, CRLF, columns in the user's order and case.
EXCEL_SHEET = (
    "\ufeffName,MATURITY,tags,ExternalId,area,Evidence,confidence,capabilitykey,SharedWithMembers\r\n"
    "Shared care record,3,shared-care-record;analytics,DATA-001,data,"
    "Assurance report|https://example.nhs.uk/a.pdf; DPIA|https://example.nhs.uk/dpia.pdf,"
    "evidenced,data-platform,TRUE\r\n"
    '"QI team, Leeds",2,qi,IMP-001,improvement,,self_assessed,,FALSE\r\n'
    ",,,,,,,,\r\n"
)


def counts(body: dict[str, Any]) -> tuple[int, int, int, int]:
    return body["rows"], body["created"], body["updated"], body["unchanged"]


async def test_an_excel_sheet_imports_as_is(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client)
    response = await client.post(
        assets_url(trust["id"]), content=EXCEL_SHEET.encode("utf-8"), headers=CSV
    )
    assert response.status_code == 200, response.text
    body = response.json()
    platform, team = await listed(client, trust["id"], "assets")
    assert body == {
        "dryRun": False,
        "rows": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "results": [
            {"row": 2, "action": "create", "id": platform["id"], "externalId": "DATA-001"},
            {"row": 3, "action": "create", "id": team["id"], "externalId": "IMP-001"},
        ],
        "moreResults": 0,
    }
    assert platform["name"] == "Shared care record"
    assert platform["externalId"] == "DATA-001"
    assert platform["maturity"] == 3
    assert platform["capabilityKey"] == "data-platform"
    assert platform["tags"] == ["analytics", "shared-care-record"]
    assert platform["sharedWithMembers"] is True
    assert platform["evidence"] == [
        {"title": "Assurance report", "url": "https://example.nhs.uk/a.pdf"},
        {"title": "DPIA", "url": "https://example.nhs.uk/dpia.pdf"},
    ]
    assert team["name"] == "QI team, Leeds"
    assert team["sharedWithMembers"] is False


async def test_a_semicolon_separated_sheet_imports_too(client: httpx.AsyncClient) -> None:
    # Excel in much of Europe separates cells with ';'.
    trust = await create_organisation(client)
    sheet = "\ufeffexternalId;area;name;maturity\r\nX-1;data;Data team;2\r\n"
    response = await client.post(assets_url(trust["id"]), content=sheet.encode(), headers=CSV)
    assert response.status_code == 200, response.text
    [asset] = await listed(client, trust["id"], "assets")
    assert (asset["externalId"], asset["name"], asset["maturity"]) == ("X-1", "Data team", 2)


async def test_importing_the_same_sheet_again_updates_instead_of_duplicating(
    client: httpx.AsyncClient,
) -> None:
    trust = await create_organisation(client)
    first = await client.post(assets_url(trust["id"]), content=EXCEL_SHEET.encode(), headers=CSV)
    assert first.json()["created"] == 2
    again = await client.post(assets_url(trust["id"]), content=EXCEL_SHEET.encode(), headers=CSV)
    assert counts(again.json()) == (2, 0, 0, 2)
    assert [r["action"] for r in again.json()["results"]] == ["unchanged", "unchanged"]
    changed = EXCEL_SHEET.replace('"QI team, Leeds",2,qi', '"QI team, Leeds",4,qi;coaching')
    third = await client.post(assets_url(trust["id"]), content=changed.encode(), headers=CSV)
    assert counts(third.json()) == (2, 0, 1, 1)
    platform, team = await listed(client, trust["id"], "assets")
    assert (team["maturity"], team["tags"], team["version"]) == (4, ["coaching", "qi"], 2)
    assert platform["version"] == 1, "an unchanged row keeps its version (and ETag)"


async def test_a_dry_run_says_what_it_would_do_and_writes_nothing(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    trust = await create_organisation(client)
    await client.post(assets_url(trust["id"]), content=EXCEL_SHEET.encode(), headers=CSV)
    before = await snapshot(backend.engine)
    sheet = EXCEL_SHEET.replace('"QI team, Leeds",2', '"QI team, Leeds",3') + (
        "New asset,1,,NEW-1,technology,,,,\r\n"
    )
    response = await client.post(
        assets_url(trust["id"], "?dryRun=true"), content=sheet.encode(), headers=CSV
    )
    assert response.status_code == 200, response.text
    platform, team = await listed(client, trust["id"], "assets")
    assert response.json() == {
        "dryRun": True,
        "rows": 3,
        "created": 1,
        "updated": 1,
        "unchanged": 1,
        # Row by row, numbered as the sheet numbers them (the header is row 1); a row that
        # would create has no id yet.
        "results": [
            {"row": 2, "action": "unchanged", "id": platform["id"], "externalId": "DATA-001"},
            {"row": 3, "action": "update", "id": team["id"], "externalId": "IMP-001"},
            {"row": 5, "action": "create", "id": None, "externalId": "NEW-1"},
        ],
        "moreResults": 0,
    }
    assert await snapshot(backend.engine) == before


async def test_a_refused_import_reports_every_bad_row_and_writes_nothing(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    trust = await create_organisation(client)
    await create_asset(client, trust["id"], name="Kept as it was")
    before = await snapshot(backend.engine)
    sheet = (
        "externalId,area,name,maturity,confidence,capabilityKey,evidence\r\n"
        "OK-1,data,A good row,2,,,\r\n"  # line 2: fine, but must not be written
        "BAD-1,data,Too mature,7,,,\r\n"  # line 3
        "BAD-2,data,Proof missing,3,evidenced,,\r\n"  # line 4: evidence rule
        "BAD-3,data,Wrong area,2,,improvement-capability,\r\n"  # line 5: capability's area
        "BAD-4,weather,,2,,,\r\n"  # line 6: two problems
        "OK-1,data,Same key twice,1,,,\r\n"  # line 7
        "BAD-5,data,Link,1,,,no url here\r\n"  # line 8: list cell
    )
    response = await client.post(assets_url(trust["id"]), content=sheet.encode(), headers=CSV)
    body = assert_problem(response, 422, "VALIDATION_FAILED")
    found = {(e["line"], e["column"]) for e in body["errors"]}
    assert found == {
        (3, "maturity"),
        (4, "evidence"),
        (5, "capabilityKey"),
        (6, "area"),
        (6, "name"),
        (7, "externalId"),
        (8, "evidence"),
    }
    assert "6 of 7 row(s) were refused" in body["detail"]
    assert all(e["message"] for e in body["errors"])
    assert await snapshot(backend.engine) == before


async def test_a_refusal_after_a_full_batch_rolls_the_batch_back(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    trust = await create_organisation(client)
    before = await snapshot(backend.engine)
    rows = "".join(f"R-{n},data,Asset {n},2\r\n" for n in range(1200))
    sheet = "externalId,area,name,maturity\r\n" + rows + "R-LAST,data,Broken,x\r\n"
    response = await client.post(assets_url(trust["id"]), content=sheet.encode(), headers=CSV)
    body = assert_problem(response, 422, "VALIDATION_FAILED")
    assert [(e["line"], e["column"]) for e in body["errors"]] == [(1202, "maturity")]
    assert await snapshot(backend.engine) == before


async def test_a_json_array_imports_and_its_errors_point_into_the_array(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    trust = await create_organisation(client)
    rows = [
        {"externalId": "J-1", "area": "data", "name": "From JSON", "maturity": 2, "tags": ["x"]},
        {"externalId": "J-2", "area": "data", "name": "Also", "maturity": 1},
    ]
    response = await client.post(assets_url(trust["id"]), json=rows)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2
    before = await snapshot(backend.engine)
    bad = [rows[0], {"area": "data", "name": "No maturity"}, {"externalId": "J-3", "typo": 1}]
    body = assert_problem(
        await client.post(assets_url(trust["id"]), json=bad), 422, "VALIDATION_FAILED"
    )
    pointers = {(e["line"], e["pointer"]) for e in body["errors"]}
    # Rows counted as a person counts them (the first element is row 1); pointers from 0.
    assert {(2, "#/1/maturity"), (3, "#/2/typo"), (3, "#/2/area")} <= pointers
    assert await snapshot(backend.engine) == before


async def test_activities_link_assets_by_external_id_and_by_id(
    client: httpx.AsyncClient,
) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    trust = await create_organisation(client, parentId=ics["id"])
    shared = await create_asset(client, ics["id"], name="ICS platform")
    await client.post(assets_url(trust["id"]), content=EXCEL_SHEET.encode(), headers=CSV)
    sheet = (
        "externalId,area,title,activityType,status,startDate,endDate,assetExternalIds,assetIds\r\n"
        f"QI-1,improvement,Falls,improvement_project,active,2026-04-01,,DATA-001;IMP-001,"
        f"{shared['id']}\r\n"
    )
    response = await client.post(activities_url(trust["id"]), content=sheet.encode(), headers=CSV)
    assert response.status_code == 200, response.text
    [activity] = await listed(client, trust["id"], "activities")
    platform, team = await listed(client, trust["id"], "assets")
    assert sorted(activity["assetIds"]) == sorted([shared["id"], platform["id"], team["id"]])
    assert activity["externalId"] == "QI-1"


async def test_activity_rules_are_the_services_rules(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    trust = await create_organisation(client, parentId=ics["id"])
    sibling = await create_organisation(client, name="Sibling", parentId=ics["id"])
    elsewhere = await create_asset(client, sibling["id"], name="Not above the trust")
    before = await snapshot(backend.engine)
    sheet = (
        "title,area,activityType,startDate,endDate,assetIds,assetExternalIds\r\n"
        f"Dates,data,training,2026-05-01,2026-04-01,,\r\n"
        f"Sibling's asset,data,training,,,{elsewhere['id']},\r\n"
        f"Unknown key,data,training,,,,NOPE\r\n"
    )
    response = await client.post(activities_url(trust["id"]), content=sheet.encode(), headers=CSV)
    body = assert_problem(response, 422, "VALIDATION_FAILED")
    assert {(e["line"], e["column"]) for e in body["errors"]} == {
        (2, "endDate"),
        (3, "assetIds"),
        (4, "assetExternalIds"),
    }
    assert await snapshot(backend.engine) == before


async def test_rows_go_to_members_by_organisation_id_but_not_outside_the_subtree(
    client: httpx.AsyncClient,
) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    trust = await create_organisation(client, parentId=ics["id"])
    stranger = await create_organisation(client, name="Elsewhere")
    sheet = (
        "organisationId,area,name,maturity\r\n"
        f"{trust['id']},data,For the trust,2\r\n"
        f",data,For the ICS,2\r\n"
    )
    response = await client.post(assets_url(ics["id"]), content=sheet.encode(), headers=CSV)
    assert response.status_code == 200, response.text
    assert [a["name"] for a in await listed(client, trust["id"], "assets")] == ["For the trust"]
    assert [a["name"] for a in await listed(client, ics["id"], "assets")] == ["For the ICS"]
    outside = f"organisationId,area,name,maturity\r\n{stranger['id']},data,No,2\r\n"
    response = await client.post(assets_url(ics["id"]), content=outside.encode(), headers=CSV)
    body = assert_problem(response, 422, "VALIDATION_FAILED")
    assert [(e["line"], e["column"]) for e in body["errors"]] == [(2, "organisationId")]


async def test_bad_files_are_problems(client: httpx.AsyncClient, backend: Backend) -> None:
    trust = await create_organisation(client)
    url = assets_url(trust["id"])
    before = await snapshot(backend.engine)
    cases: list[tuple[bytes, dict[str, str], int, str]] = [
        (b"area,name,colour\r\ndata,x,red\r\n", CSV, 422, "VALIDATION_FAILED"),
        (b"area,name,Area\r\n", CSV, 422, "VALIDATION_FAILED"),
        (b"", CSV, 422, "VALIDATION_FAILED"),
        (b'area,name,maturity\r\ndata,"open quote,2\r\n', CSV, 422, "VALIDATION_FAILED"),
        (
            "area,name,maturity\r\ndata,caf\u00e9,2\r\n".encode("latin-1"),
            CSV,
            422,
            "VALIDATION_FAILED",
        ),
        (b'{"area": "data"}', {"Content-Type": "application/json"}, 422, "VALIDATION_FAILED"),
        (b"[{]", {"Content-Type": "application/json"}, 422, "VALIDATION_FAILED"),
        (b"area,name\r\n" + b"x" * 1_100_000, CSV, 422, "VALIDATION_FAILED"),
        (b"area,name\r\n", {"Content-Type": "application/xml"}, 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b"area,name\r\n", {}, 415, "UNSUPPORTED_MEDIA_TYPE"),
        (
            b"area,name\r\n",
            {"Content-Type": "text/csv; charset=latin-1"},
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
    ]
    for content, headers, status, code in cases:
        response = await client.post(url, content=content, headers=headers)
        assert_problem(response, status, code)
    header = await client.post(url, content=b"area,name,colour\r\n", headers=CSV)
    assert [(e["line"], e["column"]) for e in header.json()["errors"]] == [(1, "colour")]
    missing = await client.post(assets_url("0b9e4a3c-3f55-4a8e-9d1c-6f2b7c1d2e3f"), json=[])
    assert_problem(missing, 404, "NOT_FOUND")
    assert await snapshot(backend.engine) == before


@pytest.mark.slow
async def test_the_import_limit_is_its_own_and_the_general_limit_still_holds(
    client: httpx.AsyncClient,
) -> None:
    trust = await create_organisation(client)
    # Two MiB of rows: over the general 1 MiB limit, well under the import's.
    row = "data,An asset with a long name for bulk,2," + "d" * 200 + "\r\n"
    sheet = "area,name,maturity,description\r\n" + row * (2 * 1_048_576 // len(row))
    response = await client.post(assets_url(trust["id"]), content=sheet.encode(), headers=CSV)
    assert response.status_code == 200, response.text
    too_big = {"name": "x" * 1_100_000, "organisationType": "trust"}
    assert_problem(
        await client.post(
            "/v1/organisations",
            content=json.dumps(too_big).encode(),
            headers={"Content-Type": "application/json"},
        ),
        413,
        "PAYLOAD_TOO_LARGE",
    )


async def test_the_import_limit_counts_a_streamed_body(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    trust = await create_organisation(client)
    limit = backend.app.state.settings.max_import_bytes
    before = await snapshot(backend.engine)

    async def chunks() -> Any:  # no Content-Length: counted as it is read
        yield b'[{"area": "data", "maturity": 2, "name": "'
        block = b"x" * 1_048_576  # one endless name: nothing to validate, only to count
        for _ in range(limit // len(block) + 2):
            yield block

    response = await client.post(
        assets_url(trust["id"]), content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
    assert await snapshot(backend.engine) == before
