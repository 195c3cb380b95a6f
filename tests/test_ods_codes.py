"""Organisations named by ODS code beside their ids, the same way in every body and sheet: a
parent (parentOdsCode), a key's scope (organisationOdsCode), an imported row's organisation
(organisationOdsCode). A code outside the caller's scope answers as a code nobody has; an id and
a code that disagree are refused naming both; CSV exports name each row's organisation by code
and name beside its id."""

import csv
import io
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.auth_helpers import make_key
from tests.conftest import Backend, snapshot
from tests.helpers import assert_problem, create_activity, create_asset, create_organisation

CSV = {"Content-Type": "text/csv"}
UNKNOWN = "ZZZ999"


def imports(organisation_id: str, kind: str = "assets") -> str:
    return f"/v1/organisations/{organisation_id}/imports/{kind}"


def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def pointers(response: httpx.Response) -> list[str]:
    return sorted(str(error["pointer"]) for error in response.json()["errors"])


# Naming by code ---------------------------------------------------------------------------


async def test_a_parent_is_named_by_its_ods_code_in_any_case(client: httpx.AsyncClient) -> None:
    west = await create_organisation(client, name="West ICS", organisationType="ics", odsCode="QWO")
    east = await create_organisation(client, name="East ICS", organisationType="ics", odsCode="QEA")
    trust = await create_organisation(client, name="Leeds", parentOdsCode="qwo")
    assert trust["parentId"] == west["id"]
    assert "parentOdsCode" not in trust  # an input only: the answer names the parent by id
    moved = await client.patch(
        f"/v1/organisations/{trust['id']}",
        json={"parentOdsCode": "QEA"},
        headers={"If-Match": 'W/"1"'},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["parentId"] == east["id"]
    members = await client.get(f"/v1/organisations/{east['id']}/members")
    assert [m["name"] for m in members.json()["items"]] == ["Leeds"]


async def test_a_keys_scope_is_named_by_ods_code(client: httpx.AsyncClient) -> None:
    trust = await create_organisation(client, odsCode="RR8")
    created = await client.post(
        "/v1/api-keys",
        json={"name": "Leeds portal", "role": "reader", "organisationOdsCode": "rr8"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["organisationId"] == trust["id"]
    # The key's scope is the trust: it reads the trust and nothing above.
    as_key = {"Authorization": f"Bearer {created.json()['key']}"}
    assert (await client.get(f"/v1/organisations/{trust['id']}", headers=as_key)).status_code == 200
    listed = await client.get("/v1/organisations", headers=as_key)
    assert [o["id"] for o in listed.json()["items"]] == [trust["id"]]


async def test_an_id_and_a_code_that_disagree_are_refused_naming_both(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    west = await create_organisation(client, name="West ICS", organisationType="ics", odsCode="QWO")
    east = await create_organisation(client, name="East ICS", organisationType="ics", odsCode="QEA")
    trust = await create_organisation(client, parentId=west["id"], odsCode="RR8")
    before = await snapshot(backend.engine)
    refused = {
        "create": await client.post(
            "/v1/organisations",
            json={
                "name": "N",
                "organisationType": "trust",
                "parentId": west["id"],
                "parentOdsCode": "QEA",
            },
        ),
        "move": await client.patch(
            f"/v1/organisations/{trust['id']}",
            json={"parentId": west["id"], "parentOdsCode": "QEA"},
            headers={"If-Match": 'W/"1"'},
        ),
        "detach and attach": await client.patch(
            f"/v1/organisations/{trust['id']}",
            json={"parentId": None, "parentOdsCode": "QEA"},
            headers={"If-Match": 'W/"1"'},
        ),
        "key": await client.post(
            "/v1/api-keys",
            json={
                "name": "k",
                "role": "reader",
                "organisationId": east["id"],
                "organisationOdsCode": "RR8",
            },
        ),
    }
    for name, response in refused.items():
        body = assert_problem(response, 422, "VALIDATION_FAILED")
        field = "organisation" if name == "key" else "parent"
        assert pointers(response) == [f"#/{field}Id", f"#/{field}OdsCode"], name
        assert f"{field}Id and {field}OdsCode name different organisations" in body["detail"]
    row = {"area": "data", "name": "X", "maturity": 1}
    sheet = await client.post(
        imports(west["id"]),
        json=[row | {"organisationId": west["id"], "organisationOdsCode": "RR8"}],
    )
    assert_problem(sheet, 422, "VALIDATION_FAILED")
    assert pointers(sheet) == ["#/0/organisationId", "#/0/organisationOdsCode"]
    assert await snapshot(backend.engine) == before


async def test_parent_ods_code_cannot_be_null(client: httpx.AsyncClient) -> None:
    """null parentId detaches; a null code would say nothing more, and is refused."""
    trust = await create_organisation(client)
    response = await client.patch(
        f"/v1/organisations/{trust['id']}",
        json={"parentOdsCode": None},
        headers={"If-Match": 'W/"1"'},
    )
    assert_problem(response, 422, "VALIDATION_FAILED")
    assert pointers(response) == ["#/parentOdsCode"]


# Outside the scope: the answer of a code nobody has ---------------------------------------

Probe = Callable[[str], Awaitable[httpx.Response]]


def shape(response: httpx.Response, code: str) -> tuple[int, str, str]:
    """A refusal without what differs by nature (the trace id) and with the code asked for
    written <code>."""
    body = dict(response.json())
    body.pop("traceId", None)
    text = json.dumps(body, sort_keys=True).replace(code, "<code>")
    return response.status_code, response.headers["content-type"], text


async def test_a_code_outside_the_scope_answers_as_a_code_nobody_has(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    alpha = await create_organisation(
        client, name="Alpha ICS", organisationType="ics", odsCode="QAA"
    )
    alpha_trust = await create_organisation(client, parentId=alpha["id"], odsCode="RA1")
    zeta = await create_organisation(client, name="Zeta ICS", organisationType="ics", odsCode="QZZ")
    await create_organisation(client, name="Zeta Trust", parentId=zeta["id"], odsCode="RZ1")
    _, key = await make_key(backend.app.state.sessions, "admin", alpha["id"])
    as_alpha = {"Authorization": f"Bearer {key}"}
    row = {"area": "data", "name": "A row", "maturity": 1}
    activity = {"area": "improvement", "title": "T", "activityType": "improvement_project"}

    def post(url: str, body: Any) -> Probe:
        return lambda code: client.post(url, json=body(code), headers=as_alpha)

    def sheet(kind: str, columns: str, cells: str) -> Probe:
        return lambda code: client.post(
            imports(alpha["id"], kind),
            content=f"{columns},organisationOdsCode\r\n{cells},{code}\r\n".encode(),
            headers=as_alpha | CSV,
        )

    probes: dict[str, Probe] = {
        "parentOdsCode on create": post(
            "/v1/organisations",
            lambda code: {"name": "N", "organisationType": "trust", "parentOdsCode": code},
        ),
        "parentOdsCode on a move": lambda code: client.patch(
            f"/v1/organisations/{alpha_trust['id']}",
            json={"parentOdsCode": code},
            headers=as_alpha | {"If-Match": 'W/"1"'},
        ),
        "a key's organisationOdsCode": post(
            "/v1/api-keys",
            lambda code: {"name": "k", "role": "reader", "organisationOdsCode": code},
        ),
        "an asset row's organisationOdsCode (JSON)": post(
            imports(alpha["id"]), lambda code: [row | {"organisationOdsCode": code}]
        ),
        "an asset row's organisationOdsCode (CSV)": sheet(
            "assets", "area,name,maturity", "data,A row,1"
        ),
        "an activity row's organisationOdsCode (CSV)": sheet(
            "activities", "area,title,activityType", "improvement,T,evaluation"
        ),
        "an activity row's organisationOdsCode (JSON)": post(
            imports(alpha["id"], "activities"),
            lambda code: [activity | {"organisationOdsCode": code}],
        ),
    }
    before = await snapshot(backend.engine)
    differences = []
    for name, probe in probes.items():
        # Zeta's ICS and trust are out of scope; UNKNOWN is nobody's.
        answers = {code: shape(await probe(code), code) for code in ("RZ1", "QZZ", UNKNOWN)}
        refused_for_the_code = answers[UNKNOWN][0] == 422 and "OdsCode" in answers[UNKNOWN][2]
        if len(set(answers.values())) != 1 or not refused_for_the_code:
            differences.append(f"{name}: {answers}")
        assert "Zeta" not in answers["RZ1"][2]
    assert differences == []
    assert await snapshot(backend.engine) == before
    # In scope, the same calls work: the code, not the caller, was the problem.
    made = await probes["an asset row's organisationOdsCode (JSON)"]("ra1")
    assert made.status_code == 200, made.text
    assert made.json()["created"] == 1


# A system's sheet keyed by its members' codes ----------------------------------------------


async def test_an_ics_asset_sheet_keyed_by_member_ods_codes_imports_cleanly(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """An ICS's sheet of 40 assets of its members, each row naming its member by ODS code:
    every row lands with its member. The same codes in organisationId are 40 refusals (an ODS
    code is never read as an id), and nothing is written."""
    ics = await create_organisation(client, name="West ICS", organisationType="ics", odsCode="QWO")
    codes = ["RR8", "RAE", "RXF", "RCF", "B82005"]
    members = {
        code: await create_organisation(
            client, name=f"Member {code}", parentId=ics["id"], odsCode=code
        )
        for code in codes
    }
    header = "organisationOdsCode,externalId,area,name,maturity,confidence\r\n"
    lines = [
        # Codes as people type them: every other one in lower case.
        f"{code.lower() if n % 2 else code},ICS-{n:03},data,Asset {n},{n % 5},self_assessed"
        for n, code in enumerate(codes[n % 5] for n in range(40))
    ]
    sheet = (header + "\r\n".join(lines) + "\r\n").encode()

    before = await snapshot(backend.engine)
    as_ids = await client.post(
        imports(ics["id"]),
        content=sheet.replace(b"organisationOdsCode", b"organisationId"),
        headers=CSV,
    )
    assert_problem(as_ids, 422, "VALIDATION_FAILED")
    errors = as_ids.json()["errors"]
    assert len(errors) == 40
    assert {error["column"] for error in errors} == {"organisationId"}
    assert all("UUID" in error["message"] for error in errors)
    assert await snapshot(backend.engine) == before

    imported = await client.post(imports(ics["id"]), content=sheet, headers=CSV)
    assert imported.status_code == 200, imported.text
    answer = imported.json()
    assert (answer["rows"], answer["created"], answer["updated"]) == (40, 40, 0)
    assert [result["row"] for result in answer["results"]] == list(range(2, 42))
    for code, member in members.items():
        listed = await client.get(f"/v1/organisations/{member['id']}/assets?limit=50")
        assert len(listed.json()["items"]) == 8, code
    again = await client.post(imports(ics["id"]), content=sheet, headers=CSV)
    assert again.json()["unchanged"] == 40


# Exports name each row's organisation -----------------------------------------------------


async def test_exports_name_each_rows_organisation_and_reimport_unchanged(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics = await create_organisation(client, name="West ICS", organisationType="ics", odsCode="QWO")
    trust = await create_organisation(client, name="=Leeds", parentId=ics["id"], odsCode="RR8")
    unnamed = await create_organisation(client, name="No code", parentId=ics["id"])
    for owner in (ics, trust, unnamed):
        asset = await create_asset(client, owner["id"], name=f"Asset of {owner['name']}")
        await create_activity(client, owner["id"], title="Work", assetIds=[asset["id"]])
    before = await snapshot(backend.engine)
    expected = {
        ics["id"]: ("QWO", "West ICS"),
        trust["id"]: ("RR8", "'=Leeds"),  # a name a spreadsheet would run is neutralised
        unnamed["id"]: ("", "No code"),
    }
    for what in ("assets", "activities"):
        exported = await client.get(f"/v1/organisations/{ics['id']}/{what}?format=csv&depth=all")
        rows = read_csv(exported)
        header = list(rows[0])
        at = header.index("organisationId")
        assert header[at : at + 3] == ["organisationId", "organisationOdsCode", "organisationName"]
        named = {
            r["organisationId"]: (r["organisationOdsCode"], r["organisationName"]) for r in rows
        }
        assert named == expected, what
        again = await client.post(imports(ics["id"], what), content=exported.content, headers=CSV)
        assert again.status_code == 200, again.text
        assert again.json()["unchanged"] == 3, what
        one = read_csv(await client.get(f"/v1/organisations/{trust['id']}/{what}?format=csv"))
        assert [(r["organisationOdsCode"], r["organisationName"]) for r in one] == [
            expected[trust["id"]]
        ]
    after = await snapshot(backend.engine)
    after.pop("audit_event"), before.pop("audit_event")  # the exports are on record
    assert after == before
