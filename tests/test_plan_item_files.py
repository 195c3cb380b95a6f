"""Plan items as spreadsheets: the CSV export, the import template, and an import (dry run,
real, re-import, refusals) that obeys the create endpoint's rules and writes all or nothing."""

import csv
import io
from typing import Any

import httpx

from tests.conftest import Backend, snapshot
from tests.helpers import assert_problem, create_activity, create_asset, create_organisation

CSV = {"Content-Type": "text/csv"}


def counts(body: dict[str, Any]) -> tuple[int, int, int, int]:
    return body["rows"], body["created"], body["updated"], body["unchanged"]


def import_url(organisation_id: str, query: str = "") -> str:
    return f"/v1/organisations/{organisation_id}/imports/plan_items{query}"


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


async def import_activity(client: httpx.AsyncClient, organisation_id: str, key: str) -> str:
    """An activity with an externalId (only an import gives one), and its id."""
    sheet = f"externalId,area,title,activityType\r\n{key},improvement,Audit,evaluation\r\n"
    url = f"/v1/organisations/{organisation_id}/imports/activities"
    response = await client.post(url, content=sheet, headers=CSV)
    assert response.json()["created"] == 1, response.text
    listed = await client.get(f"/v1/organisations/{organisation_id}/activities")
    [activity] = [a for a in listed.json()["items"] if a["externalId"] == key]
    return str(activity["id"])


async def items_of(client: httpx.AsyncClient, organisation_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/organisations/{organisation_id}/plan-items?limit=500")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_export_then_import_elsewhere_dry_run_real_and_again(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    trust = await create_organisation(client, name="Exporting Trust", odsCode="RX1")
    asset = await create_asset(client, trust["id"])
    keyed = await import_activity(client, trust["id"], "QI-1")
    made = await client.post(
        f"/v1/organisations/{trust['id']}/plan-items",
        json={
            "capabilityKey": "data-platform",
            "title": "Formula =1+1 kept as text",
            "owner": "Chief Digital Officer",
            "dueDate": "2027-03-31",
            "rag": "amber",
            "notes": "Line one; line two",
            "assetIds": [asset["id"]],
            "activityIds": [keyed],
            "externalId": "PLAN-1",
        },
    )
    assert made.status_code == 201, made.text
    exported = await client.get(f"/v1/organisations/{trust['id']}/plan-items?format=csv")
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    [row] = rows_of(exported.text)
    assert list(row)[:5] == [
        "id",
        "externalId",
        "organisationId",
        "organisationOdsCode",
        "organisationName",
    ]
    assert row["organisationOdsCode"] == "RX1"
    assert row["organisationName"] == "Exporting Trust"
    expected = {"capabilityKey": "data-platform", "owner": "Chief Digital Officer"}
    expected |= {"dueDate": "2027-03-31", "status": "planned", "rag": "amber"}
    # A linked record of its own organisation with a key is written by the key, others by id.
    expected |= {"assetIds": asset["id"], "assetExternalIds": ""}
    expected |= {"activityIds": "", "activityExternalIds": "QI-1", "externalId": "PLAN-1"}
    assert {key: row[key] for key in expected} == expected
    # Re-imported as it was exported: the row finds its record and changes nothing.
    again = await client.post(import_url(trust["id"]), content=exported.content, headers=CSV)
    assert counts(again.json()) == (1, 0, 0, 1)

    template = await client.get("/v1/imports/templates/plan_items")
    assert template.status_code == 200, template.text
    header = rows_of(template.text)[0]
    assert "organisationName" not in header
    assert {"capabilityKey", "title", "owner", "dueDate", "rag", "activityIds"} <= set(header)

    # Into another trust: by externalId, without ids (the asset link is the other trust's).
    other = await create_organisation(client, name="Importing Trust")
    their_activity = await import_activity(client, other["id"], "QI-1")
    sheet = (
        "externalId,capabilityKey,title,owner,dueDate,status,rag,notes,activityExternalIds\r\n"
        "P-1,learning-culture,Learning week,Head of QI,2027-01-31,active,red,,QI-1\r\n"
        "P-2,data-platform,Analytics platform,,,,,Board in May,\r\n"
    )
    before = await snapshot(backend.engine)
    dry = await client.post(import_url(other["id"], "?dryRun=true"), content=sheet, headers=CSV)
    assert counts(dry.json()) == (2, 2, 0, 0)
    assert dry.json()["dryRun"]
    assert await snapshot(backend.engine) == before
    real = await client.post(import_url(other["id"]), content=sheet, headers=CSV)
    assert counts(real.json()) == (2, 2, 0, 0)
    week, platform = await items_of(client, other["id"])
    assert (week["externalId"], week["status"], week["rag"], week["owner"]) == (
        "P-1",
        "active",
        "red",
        "Head of QI",
    )
    assert week["activityIds"] == [their_activity]
    assert (platform["status"], platform["rag"], platform["notes"]) == (
        "planned",
        "green",
        "Board in May",
    )
    changed = sheet.replace("active,red", "completed,green")
    third = await client.post(import_url(other["id"]), content=changed, headers=CSV)
    assert counts(third.json()) == (2, 0, 1, 1)
    week_after = (await items_of(client, other["id"]))[0]
    assert (week_after["status"], week_after["version"]) == ("completed", 2)
    events = await client.get(
        "/v1/audit-events", params={"resourceType": "plan_item", "resourceId": week["id"]}
    )
    assert [e["action"] for e in events.json()["items"]] == ["create", "update"]


async def test_a_refused_plan_item_import_reports_each_row_and_writes_nothing(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    practice = await create_organisation(client, name="Practice", organisationType="gp_practice")
    own_activity = await create_activity(client, practice["id"])
    elsewhere = await create_organisation(client, name="Elsewhere")
    foreign = await create_asset(client, elsewhere["id"])
    before = await snapshot(backend.engine)
    sheet = (
        "externalId,capabilityKey,title,dueDate,rag,assetIds,activityIds,assetExternalIds\r\n"
        f"OK-1,learning-culture,Fine,,,,{own_activity['id']},\r\n"  # line 2: fine, not written
        "BAD-1,no-such-thing,Unknown capability,,,,,\r\n"  # line 3
        "BAD-2,data-platform,Not for a practice,,,,,\r\n"  # line 4
        "BAD-3,learning-culture,Bad date,2027-02-30,,,,\r\n"  # line 5
        "BAD-4,learning-culture,Bad rag,,blue,,,\r\n"  # line 6
        f"BAD-5,learning-culture,Out of scope,,,{foreign['id']},,\r\n"  # line 7
        "BAD-6,learning-culture,No such key,,,,,NOPE\r\n"  # line 8
    )
    response = await client.post(import_url(practice["id"]), content=sheet, headers=CSV)
    body = assert_problem(response, 422, "VALIDATION_FAILED")
    found = {(e["line"], e["column"]) for e in body["errors"]}
    assert found == {
        (3, "capabilityKey"),
        (4, "capabilityKey"),
        (5, "dueDate"),
        (6, "rag"),
        (7, "assetIds"),
        (8, "assetExternalIds"),
    }
    assert "6 of 7 row(s) were refused" in body["detail"]
    assert await snapshot(backend.engine) == before


async def test_an_import_links_no_more_records_than_the_endpoints_allow(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """Ids and externalIds together: a row naming 60 assets by id and 60 more by key would give
    an item (or an activity) 120 links, which no PATCH of it could then send back and no
    re-import of its own export could read (its keys alone past 100)."""
    trust = await create_organisation(client, name="Linking Trust")
    sheet = "externalId,area,name,maturity\r\n" + "".join(
        f"A-{n},data,Asset {n},2\r\n" for n in range(120)
    )
    made = await client.post(
        f"/v1/organisations/{trust['id']}/imports/assets", content=sheet, headers=CSV
    )
    assert made.json()["created"] == 120, made.text
    listed = await client.get(f"/v1/organisations/{trust['id']}/assets?limit=500")
    by_key = {a["externalId"]: a["id"] for a in listed.json()["items"]}
    ids = ";".join(by_key[f"A-{n}"] for n in range(60))
    keys = ";".join(f"A-{n}" for n in range(60, 120))
    before = await snapshot(backend.engine)
    plan_sheet = (
        "externalId,capabilityKey,title,assetIds,assetExternalIds\r\n"
        f"P-1,learning-culture,Too many,{ids},{keys}\r\n"
    )
    response = await client.post(import_url(trust["id"]), content=plan_sheet, headers=CSV)
    body = assert_problem(response, 422, "VALIDATION_FAILED")
    assert [(e["line"], e["column"]) for e in body["errors"]] == [(2, "assetExternalIds")]
    assert "120" in body["errors"][0]["message"]
    activity_sheet = (
        "externalId,area,title,activityType,assetIds,assetExternalIds\r\n"
        f"Q-1,improvement,Too many,evaluation,{ids},{keys}\r\n"
    )
    url = f"/v1/organisations/{trust['id']}/imports/activities"
    response = await client.post(url, content=activity_sheet, headers=CSV)
    body = assert_problem(response, 422, "VALIDATION_FAILED")
    assert [(e["line"], e["column"]) for e in body["errors"]] == [(2, "assetExternalIds")]
    assert await snapshot(backend.engine) == before
    # 100 in all is the bound, as for the endpoints.
    keys = ";".join(f"A-{n}" for n in range(60, 100))
    fine = plan_sheet.replace("Too many", "Enough").replace(
        plan_sheet.split(",")[-1], keys + "\r\n"
    )
    response = await client.post(import_url(trust["id"]), content=fine, headers=CSV)
    assert response.json()["created"] == 1, response.text
    [item] = await items_of(client, trust["id"])
    assert len(item["assetIds"]) == 100
