"""Organisations from a spreadsheet: a system's members created and updated in bulk, parents
named by ODS code (one made by an earlier row of the same file included), matched by ODS code,
all or nothing, inside the organisation imported into."""

from typing import Any

import httpx

from tests.auth_helpers import make_key
from tests.conftest import Backend, snapshot
from tests.helpers import assert_problem, create_organisation

CSV = {"Content-Type": "text/csv"}

# An ICS's sheet: a place under the ICS, two trusts and a PCN under it, one trust under the ICS.
TREE = (
    "odsCode,name,organisationType,parentOdsCode,region\r\n"
    "PLC1,Leeds Place,network,,North East and Yorkshire\r\n"
    "RR8,Leeds Teaching Hospitals,acute_trust,plc1,\r\n"
    "RGD,Leeds and York Partnership,mental_health_trust,PLC1,\r\n"
    "U1,Leeds Central PCN,primary_care_network,PLC1,\r\n"
    "RCF,Airedale,acute_trust,,\r\n"
)


def url(organisation_id: str, query: str = "") -> str:
    return f"/v1/organisations/{organisation_id}/imports/organisations{query}"


async def tree_of(client: httpx.AsyncClient, organisation_id: str) -> dict[str, Any]:
    response = await client.get(
        f"/v1/organisations/{organisation_id}/members", params={"depth": "all", "limit": 100}
    )
    assert response.status_code == 200, response.text
    return {member["odsCode"]: member for member in response.json()["items"]}


async def test_a_tree_by_ods_code_goes_in_then_updates_and_stays(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics = await create_organisation(client, name="West Yorkshire ICS", organisationType="ics")
    before = await snapshot(backend.engine)
    dry = await client.post(url(ics["id"], "?dryRun=true"), content=TREE.encode(), headers=CSV)
    assert dry.status_code == 200, dry.text
    assert dry.json()["results"] == [
        {"row": row, "action": "create", "id": None, "externalId": None} for row in range(2, 7)
    ]
    assert await snapshot(backend.engine) == before

    made = await client.post(url(ics["id"]), content=TREE.encode(), headers=CSV)
    assert made.status_code == 200, made.text
    members = await tree_of(client, ics["id"])
    assert sorted(members) == ["PLC1", "RCF", "RGD", "RR8", "U1"]
    place = members["PLC1"]
    assert place["parentId"] == ics["id"]
    assert members["RR8"]["parentId"] == place["id"]  # a parent made by an earlier row
    assert members["U1"]["organisationType"] == "primary_care_network"
    assert members["RCF"]["parentId"] == ics["id"]
    assert [r["id"] for r in made.json()["results"]] == [
        members[code]["id"] for code in ("PLC1", "RR8", "RGD", "U1", "RCF")
    ]

    # Again, with one trust renamed and Airedale moved under the place: matched by ODS code.
    changed = TREE.replace("Airedale,acute_trust,,", "Airedale NHS FT,acute_trust,PLC1,")
    again = await client.post(url(ics["id"]), content=changed.encode(), headers=CSV)
    assert again.status_code == 200, again.text
    assert [r["action"] for r in again.json()["results"]] == ["unchanged"] * 4 + ["update"]
    members = await tree_of(client, ics["id"])
    assert len(members) == 5
    assert (members["RCF"]["name"], members["RCF"]["parentId"]) == ("Airedale NHS FT", place["id"])
    assert members["RCF"]["version"] == 2
    assert members["RR8"]["version"] == 1
    audit = await client.get("/v1/audit-events", params={"resourceType": "organisation"})
    assert audit.status_code == 200, audit.text
    actions = [event["action"] for event in audit.json()["items"]]
    assert actions.count("create") == 6
    assert actions.count("update") == 1


async def test_a_bad_row_refuses_the_file_and_each_error_is_named(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics", odsCode="QWO")
    await create_organisation(client, name="Elsewhere", odsCode="RXX")
    await create_organisation(client, name="Further", odsCode="RYY")
    before = await snapshot(backend.engine)
    sheet = (
        "odsCode,name,organisationType,parentOdsCode,nextReviewDue\r\n"
        "AA1,Fine,trust,,\r\n"
        "AA2,Bad type,hospital,,\r\n"
        "AA3,Bad date,trust,,03/12/2026\r\n"
        "AA4,Unknown parent,trust,ZZZ,\r\n"
        "RXX,Not ours,trust,,\r\n"
        "QWO,Itself,ics,,\r\n"
        "AA1,Twice,trust,,\r\n"
        "AA5,Parent outside,trust,RYY,\r\n"
    )
    body = assert_problem(
        await client.post(url(ics["id"]), content=sheet.encode(), headers=CSV),
        422,
        "VALIDATION_FAILED",
    )
    errors = {(e["line"], e["column"]): e["message"] for e in body["errors"]}
    assert "got 'hospital'" in errors[(3, "organisationType")]
    assert "'acute_trust'" in errors[(3, "organisationType")]
    assert "YYYY-MM-DD" in errors[(4, "nextReviewDue")]
    assert "got '03/12/2026'" in errors[(4, "nextReviewDue")]
    assert "ZZZ" in errors[(5, "parentOdsCode")]
    assert "not below this one" in errors[(6, "odsCode")]
    assert "imported into" in errors[(7, "odsCode")]
    assert (8, "odsCode") in errors
    # A parent outside: the same words as a code nobody has.
    assert errors[(9, "parentOdsCode")].startswith("No organisation has the ODS code RYY here")
    assert await snapshot(backend.engine) == before


async def test_an_editor_of_a_member_imports_below_it_not_beside_it(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    trust = await create_organisation(client, name="Trust", parentId=ics["id"], odsCode="RR8")
    sibling = await create_organisation(client, name="Sibling", parentId=ics["id"], odsCode="RGD")
    _, key = await make_key(backend.app.state.sessions, "editor", trust["id"])
    headers = {**CSV, "Authorization": f"Bearer {key}"}
    below = "odsCode,name,organisationType\r\nU1,A PCN,primary_care_network\r\n"
    response = await client.post(url(trust["id"]), content=below.encode(), headers=headers)
    assert response.status_code == 200, response.text
    moved = f"odsCode,name,organisationType\r\n{sibling['odsCode']},Taken,trust\r\n"
    body = assert_problem(
        await client.post(url(trust["id"]), content=moved.encode(), headers=headers),
        422,
        "VALIDATION_FAILED",
    )
    assert [(e["line"], e["column"]) for e in body["errors"]] == [(2, "odsCode")]
    refused = await client.post(url(ics["id"]), content=below.encode(), headers=headers)
    assert refused.status_code in (403, 404), refused.text


async def test_a_move_that_would_make_a_cycle_is_refused(client: httpx.AsyncClient) -> None:
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    made = await client.post(url(ics["id"]), content=TREE.encode(), headers=CSV)
    assert made.status_code == 200, made.text
    cycle = "odsCode,name,organisationType,parentOdsCode\r\nPLC1,Leeds Place,network,RR8\r\n"
    body = assert_problem(
        await client.post(url(ics["id"]), content=cycle.encode(), headers=CSV),
        422,
        "VALIDATION_FAILED",
    )
    assert "cycle" in body["errors"][0]["message"]


async def test_what_a_sheet_cannot_say_is_kept_and_the_opt_out_is_an_admin_s(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """A sheet has no column for the official name or the benchmark opt-out: re-importing it
    keeps them. Changing the opt-out (a JSON row can) is for admins, as through the API."""
    ics = await create_organisation(client, name="ICS", organisationType="ics")
    opted = await create_organisation(
        client,
        name="Opted",
        officialName="OPTED NHS TRUST",
        odsCode="OPT1",
        organisationType="trust",
        parentId=ics["id"],
        benchmarkOptOut=True,
    )
    _, key = await make_key(backend.app.state.sessions, "editor", ics["id"])
    editor = {"Authorization": f"Bearer {key}"}
    sheet = b"odsCode,name,organisationType\r\nOPT1,Opted,trust\r\n"
    response = await client.post(url(ics["id"]), content=sheet, headers=CSV | editor)
    assert response.status_code == 200, response.text
    assert response.json()["unchanged"] == 1
    kept = (await client.get(f"/v1/organisations/{opted['id']}")).json()
    assert (kept["officialName"], kept["benchmarkOptOut"]) == ("OPTED NHS TRUST", True)

    before = await snapshot(backend.engine)
    for row in (
        {"odsCode": "OPT1", "name": "Opted", "organisationType": "trust", "benchmarkOptOut": False},
        {"odsCode": "OPT2", "name": "New", "organisationType": "trust", "benchmarkOptOut": True},
    ):
        body = assert_problem(
            await client.post(url(ics["id"]), json=[row], headers=editor), 422, "VALIDATION_FAILED"
        )
        assert [e["column"] for e in body["errors"]] == ["benchmarkOptOut"]
    assert await snapshot(backend.engine) == before
    # An admin may (the default client's key is one).
    row = {
        "odsCode": "OPT1",
        "name": "Opted",
        "organisationType": "trust",
        "benchmarkOptOut": False,
    }
    response = await client.post(url(ics["id"]), json=[row])
    assert response.status_code == 200, response.text
    assert (await client.get(f"/v1/organisations/{opted['id']}")).json()["benchmarkOptOut"] is False
