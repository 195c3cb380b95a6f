"""The whole map moves between instances and round-trips exactly: export, import into a fresh
database, export again, and the two documents are the same (ids and timestamps included)."""

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.auth.principal import OPERATOR
from app.main import create_app
from app.transfer.map_schemas import MapDocument
from app.transfer.maps import export_map, import_map
from tests.auth_helpers import make_key
from tests.conftest import (
    Backend,
    admin_headers,
    empty_tables,
    migrate,
    settings_for,
    snapshot,
)
from tests.helpers import (
    EVIDENCE,
    PEER_REVIEWED,
    assert_problem,
    create_activity,
    create_asset,
    create_organisation,
    one_organisation_map,
)
from tests.test_auth_cli import lhs_map


@pytest.fixture
async def fresh(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Another instance: its own, newly migrated SQLite database."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    await migrate(url)
    app = create_app(settings_for(url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = await admin_headers(app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost", headers=headers
        ) as http:
            yield http


async def emptied(backend: Backend, client: httpx.AsyncClient) -> None:
    """The backend with nothing in it, and a new key for the client (the old one went too)."""
    await empty_tables(backend.engine)
    client.headers.update(await admin_headers(backend.app))


async def seed_map(client: httpx.AsyncClient) -> dict[str, Any]:
    ics = await create_organisation(
        client, name="ICS", organisationType="ics", odsCode="QWO", nextReviewDue="2027-04-01"
    )
    trust = await create_organisation(
        client,
        name="Trust",
        officialName="LEEDS TEACHING HOSPITALS NHS TRUST",
        organisationType="acute_trust",
        odsCode="RR8",
        parentId=ics["id"],
    )
    practice = await create_organisation(
        client,
        name="Practice",
        organisationType="gp_practice",
        parentId=trust["id"],
        benchmarkOptOut=True,
    )
    shared = await create_asset(
        client,
        ics["id"],
        area="data",
        capabilityKey="data-platform",
        name="Platform",
        maturity=3,
        confidence="evidenced",
        evidence=EVIDENCE,
        sharedWithMembers=True,
        tags=["platform", "shared"],
    )
    own = await create_asset(client, trust["id"], name="QI team", maturity=2, **PEER_REVIEWED)
    await create_activity(
        client,
        practice["id"],
        title="Falls",
        assetIds=[shared["id"]],
        status="active",
        startDate="2026-01-01",
    )
    audit = await create_activity(
        client, trust["id"], title="Audit", assetIds=[own["id"], shared["id"]]
    )
    # Plan items that link up the tree, and one whose capability a later model may drop.
    for organisation, body in (
        (
            trust,
            {
                "capabilityKey": "data-platform",
                "title": "Use the ICS platform",
                "owner": "Chief Digital Officer",
                "dueDate": "2027-03-31",
                "rag": "amber",
                "notes": "Board in May",
                "assetIds": [shared["id"], own["id"]],
                "activityIds": [audit["id"]],
                "externalId": "PLAN-1",
            },
        ),
        (ics, {"capabilityKey": "learning-culture", "title": "Learning week", "status": "active"}),
    ):
        item = await client.post(f"/v1/organisations/{organisation['id']}/plan-items", json=body)
        assert item.status_code == 201, item.text
    patched = await client.patch(
        f"/v1/assets/{own['id']}", json={"maturity": 3}, headers={"If-Match": 'W/"1"'}
    )
    assert patched.status_code == 200, patched.text
    for organisation, body in ((trust, {"label": "Baseline"}), (ics, {"scope": "system"})):
        made = await client.post(f"/v1/organisations/{organisation['id']}/assessments", json=body)
        assert made.status_code == 201, made.text
    return ics


def without_export_time(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "exportedAt"}


async def test_a_map_round_trips_exactly_between_instances(
    client: httpx.AsyncClient, backend: Backend, fresh: httpx.AsyncClient
) -> None:
    ics = await seed_map(client)
    async with backend.engine.begin() as connection:  # as the demo loader marks its data
        await connection.execute(
            text("UPDATE organisation SET is_demo = :yes WHERE ods_code = 'RR8'"), {"yes": True}
        )
    exported = await client.get(f"/v1/organisations/{ics['id']}/map")
    assert exported.status_code == 200, exported.text
    original = exported.json()
    flags = [(o["isDemo"], o["benchmarkOptOut"]) for o in original["organisations"]]
    assert flags == [(False, False), (True, False), (False, True)]
    assert (original["format"], original["formatVersion"]) == ("lhs-map", 1)
    kinds = ("organisations", "assets", "activities", "planItems", "assessments")
    assert [len(original[k]) for k in kinds] == [3, 2, 2, 2, 2]
    assert original["organisations"][0]["nextReviewDue"] == "2027-04-01"
    assert original["organisations"][1]["officialName"] == "LEEDS TEACHING HOSPITALS NHS TRUST"
    imported = await fresh.post("/v1/maps/import?keepIds=true", json=original)
    assert imported.status_code == 201, imported.text
    assert imported.json()["rootId"] == ics["id"]
    assert imported.headers["location"].endswith(f"/v1/organisations/{ics['id']}")
    again = (await fresh.get(f"/v1/organisations/{ics['id']}/map")).json()
    assert without_export_time(again) == without_export_time(original)
    # The copy works like the original: same answers, same ETags.
    for path in (f"/v1/organisations/{ics['id']}/gap-analysis?scope=system",):
        here, there = (await client.get(path)).json(), (await fresh.get(path)).json()
        assert without_time(here) == without_time(there)

    # And back again, into this backend emptied (SQLite or PostgreSQL).
    await emptied(backend, client)
    back = await client.post("/v1/maps/import", params={"keepIds": "true"}, json=again)
    assert back.status_code == 201, back.text
    third = (await client.get(f"/v1/organisations/{ics['id']}/map")).json()
    assert without_export_time(third) == without_export_time(original)


def without_time(analysis: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in analysis.items() if key != "generatedAt"}


async def test_a_map_that_is_here_already_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics = await seed_map(client)
    document = (await client.get(f"/v1/organisations/{ics['id']}/map")).json()
    before = await snapshot(backend.engine)
    body = assert_problem(await client.post("/v1/maps/import", json=document), 409, "CONFLICT")
    assert any("ODS code QWO" in e["message"] for e in body["errors"])
    broken = dict(document, activities=[dict(document["activities"][0], assetIds=[ics["id"]])])
    broken["organisations"] = [dict(o, odsCode=None) for o in document["organisations"]]
    body = assert_problem(
        await client.post("/v1/maps/import", json=broken), 422, "VALIDATION_FAILED"
    )
    assert body["errors"][0]["pointer"] == "#/activities/0/assetIds/0"
    # A plan item of the trust may not link the practice's activity (below it, not above).
    practice_activity = next(a for a in document["activities"] if a["title"] == "Falls")
    item = next(p for p in document["planItems"] if p["externalId"] == "PLAN-1")
    broken = dict(document, planItems=[dict(item, activityIds=[practice_activity["id"]])])
    broken["organisations"] = [dict(o, odsCode=None) for o in document["organisations"]]
    body = assert_problem(
        await client.post("/v1/maps/import", json=broken), 422, "VALIDATION_FAILED"
    )
    assert [e["pointer"] for e in body["errors"]] == ["#/planItems/0/activityIds/0"]
    assert_problem(
        await client.post("/v1/maps/import", json=dict(document, formatVersion=2)),
        422,
        "VALIDATION_FAILED",
    )
    assert await snapshot(backend.engine) == before


async def test_a_hand_edited_map_is_refused_as_the_api_would_refuse_it(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """Plan items past the endpoints' bounds, a record linked twice and an externalId used
    twice in one organisation: each a 422 naming the field (not a 500 on PostgreSQL, a value
    no endpoint would store on SQLite, or a 409 that a retry never mends), nothing written."""
    ics = await seed_map(client)
    document = (await client.get(f"/v1/organisations/{ics['id']}/map")).json()
    document["organisations"] = [dict(o, odsCode=None) for o in document["organisations"]]
    item = next(p for p in document["planItems"] if p["externalId"] == "PLAN-1")
    other = next(p for p in document["planItems"] if p is not item)
    audit = next(a for a in document["activities"] if a["title"] == "Audit")
    before = await snapshot(backend.engine)
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"title": "x" * 201}, ["#/planItems/0/title"]),
        ({"title": " "}, ["#/planItems/0/title"]),
        ({"owner": "x" * 201}, ["#/planItems/0/owner"]),
        ({"notes": "x" * 4001}, ["#/planItems/0/notes"]),
        ({"capabilityKey": "x" * 65}, ["#/planItems/0/capabilityKey"]),
        ({"externalId": "x" * 101}, ["#/planItems/0/externalId"]),
        ({"assetIds": item["assetIds"] + item["assetIds"][:1]}, ["#/planItems/0/assetIds/2"]),
    ]
    for change, expected in cases:
        broken = dict(document, planItems=[dict(item, **change)])
        body = assert_problem(
            await client.post("/v1/maps/import", json=broken), 422, "VALIDATION_FAILED"
        )
        assert [e["pointer"] for e in body["errors"]] == expected, change
    twice = dict(other, organisationId=item["organisationId"], externalId="PLAN-1")
    activity_twice = dict(audit, assetIds=audit["assetIds"] + audit["assetIds"][:1])
    broken = dict(
        document,
        planItems=[item, twice],
        activities=[a if a is not audit else activity_twice for a in document["activities"]],
    )
    body = assert_problem(
        await client.post("/v1/maps/import", json=broken), 422, "VALIDATION_FAILED"
    )
    index = document["activities"].index(audit)
    assert sorted(e["pointer"] for e in body["errors"]) == [
        f"#/activities/{index}/assetIds/2",
        "#/planItems/1/externalId",
    ]
    assert await snapshot(backend.engine) == before
    # The document as exported still goes in (as a copy, with new ids).
    assert (await client.post("/v1/maps/import", json=document)).status_code == 201


async def test_a_hand_edited_map_holds_assets_activities_and_organisations_to_the_api_s_bounds(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """Every text of the map within the bounds its endpoint keeps: a 422 naming the field, not a
    500 on PostgreSQL (a column too short) or a value no endpoint would store on SQLite."""
    ics = await seed_map(client)
    document = (await client.get(f"/v1/organisations/{ics['id']}/map")).json()
    document["organisations"] = [dict(o, odsCode=None) for o in document["organisations"]]
    before = await snapshot(backend.engine)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("organisations", {"name": "x" * 201}, "name"),
        ("organisations", {"region": "x" * 101}, "region"),
        ("organisations", {"odsCode": "X" * 10}, "odsCode"),
        ("assets", {"name": "x" * 201}, "name"),
        ("assets", {"name": " "}, "name"),
        ("assets", {"description": "x" * 4001}, "description"),
        ("assets", {"owner": "x" * 201}, "owner"),
        ("assets", {"reviewedBy": "x" * 201}, "reviewedBy"),
        ("assets", {"externalId": "x" * 101}, "externalId"),
        ("assets", {"capabilityKey": "x" * 65}, "capabilityKey"),
        ("assets", {"tags": ["x" * 65]}, "tags/0"),
        ("activities", {"title": "x" * 201}, "title"),
        ("activities", {"goal": "x" * 2001}, "goal"),
        ("activities", {"outcome": "x" * 2001}, "outcome"),
        ("activities", {"externalId": "x" * 101}, "externalId"),
    ]
    for part, change, field in cases:
        records = document[part]
        broken = dict(document, **{part: [dict(records[0], **change), *records[1:]]})
        body = assert_problem(
            await client.post("/v1/maps/import", json=broken), 422, "VALIDATION_FAILED"
        )
        assert [e["pointer"] for e in body["errors"]] == [f"#/{part}/0/{field}"], change
    assert await snapshot(backend.engine) == before


async def test_the_service_functions_the_cli_uses(
    client: httpx.AsyncClient, backend: Backend, fresh: httpx.AsyncClient
) -> None:
    ics = await seed_map(client)
    reads = backend.app.state.sessions.reads
    document = await export_map(reads, principal=OPERATOR, organisation_id=uuid.UUID(ics["id"]))
    text = document.model_dump_json(by_alias=True)
    await emptied(backend, client)
    result = await import_map(
        reads, principal=OPERATOR, document=MapDocument.model_validate_json(text), keep_ids=True
    )
    assert (result.organisations, result.assets, result.activities) == (3, 2, 2)
    again = await export_map(reads, principal=OPERATOR, organisation_id=uuid.UUID(ics["id"]))
    assert again.model_dump(exclude={"exported_at"}) == document.model_dump(exclude={"exported_at"})


@pytest.mark.slow
async def test_lhs_map_export_and_import_move_a_map(
    client: httpx.AsyncClient, backend: Backend, tmp_path: Path
) -> None:
    ics = await seed_map(client)
    target = f"sqlite+aiosqlite:///{tmp_path / 'target.db'}"
    await migrate(target)
    exported = await lhs_map(backend.url, "export", "QWO", "--output", str(tmp_path / "map.json"))
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == ""
    assert "3 organisation(s)" in exported.stderr
    imported = await lhs_map(target, "import", "--keep-ids", str(tmp_path / "map.json"))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == ics["id"]
    again = await lhs_map(target, "export", ics["id"])
    assert again.returncode == 0, again.stderr
    original = json.loads((tmp_path / "map.json").read_text(encoding="utf-8"))
    assert without_export_time(json.loads(again.stdout)) == without_export_time(original)
    twice = await lhs_map(target, "import", "--keep-ids", str(tmp_path / "map.json"))
    assert twice.returncode == 1
    assert twice.stderr.startswith("lhs-map: Some of the map is here already")
    assert len(twice.stderr.strip().splitlines()) == 1
    (tmp_path / "bad.json").write_text('{"format": "lhs-map"}', encoding="utf-8")
    bad = await lhs_map(target, "import", str(tmp_path / "bad.json"))
    assert bad.returncode == 1
    assert "is not a map export" in bad.stderr


async def scoped(backend: Backend, role: str, organisation_id: str) -> dict[str, str]:
    _, key = await make_key(backend.app.state.sessions, role, organisation_id)
    return {"Authorization": f"Bearer {key}"}


def pinned_to(document: dict[str, Any], version: str) -> dict[str, Any]:
    assessments = [dict(a, referenceModelVersion=version) for a in document["assessments"]]
    return dict(document, assessments=assessments)


def comparable(problem: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in problem.items() if k not in {"traceId", "instance"}}


async def test_an_import_cannot_pin_another_organisations_variant(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    alpha = await create_organisation(client, name="Alpha ICS", organisationType="ics")
    beta = await create_organisation(client, name="Beta ICS", organisationType="ics")
    beta_admin = await scoped(backend, "admin", beta["id"])
    variant = (await client.get("/v1/reference-models/2026.1")).json() | {
        "version": "beta-private",
        "basedOn": "2026.1",
    }
    made = await client.put("/v1/reference-models/beta-private", json=variant, headers=beta_admin)
    assert made.status_code == 201, made.text

    alpha_editor = await scoped(backend, "editor", alpha["id"])
    document = one_organisation_map(alpha["id"])
    before = await snapshot(backend.engine)
    answers = []
    for version in ("beta-private", "no-such-model"):
        response = await client.post(
            "/v1/maps/import", json=pinned_to(document, version), headers=alpha_editor
        )
        body = assert_problem(response, 422, "VALIDATION_FAILED")
        assert [e["pointer"] for e in body["errors"]] == ["#/assessments/0/referenceModelVersion"]
        answers.append(comparable(body))
    assert answers[0] == answers[1]  # a variant it cannot see is as unknown as none at all
    # Not even a caller of the whole service pins B's variant in A's subtree.
    response = await client.post("/v1/maps/import", json=pinned_to(document, "beta-private"))
    assert_problem(response, 422, "VALIDATION_FAILED")
    assert await snapshot(backend.engine) == before
    # So B can still change its own variant.
    replaced = await client.put(
        "/v1/reference-models/beta-private",
        json=variant | {"title": "Beta, revised"},
        headers=beta_admin | {"If-Match": 'W/"1"'},
    )
    assert replaced.status_code == 200, replaced.text
    # And a variant it may use is pinned as before.
    alpha_admin = await scoped(backend, "admin", alpha["id"])
    own = variant | {"version": "alpha-own"}
    made = await client.put("/v1/reference-models/alpha-own", json=own, headers=alpha_admin)
    assert made.status_code == 201, made.text
    imported = await client.post(
        "/v1/maps/import", json=pinned_to(document, "alpha-own"), headers=alpha_editor
    )
    assert imported.status_code == 201, imported.text


async def test_an_import_says_nothing_of_ids_elsewhere(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    alpha = await create_organisation(client, name="Alpha ICS", organisationType="ics")
    beta = await create_organisation(client, name="Beta ICS", organisationType="ics")
    elsewhere = await create_organisation(client, name="Beta Trust", parentId=beta["id"])
    alpha_editor = await scoped(backend, "editor", alpha["id"])
    # A map whose ids are those of B's records: a copy with new ids, not "exists here already".
    document = one_organisation_map(alpha["id"], organisation_id=elsewhere["id"])
    document["assessments"][0]["id"] = elsewhere["id"]
    imported = await client.post("/v1/maps/import", json=document, headers=alpha_editor)
    assert imported.status_code == 201, imported.text
    result = imported.json()
    new_id = result["idMap"][elsewhere["id"]]
    assert new_id != elsewhere["id"]
    assert result["rootId"] == new_id
    assert imported.headers["location"].endswith(f"/v1/organisations/{new_id}")
    copy = await client.get(f"/v1/organisations/{new_id}", headers=alpha_editor)
    assert copy.json()["parentId"] == alpha["id"]
    assessments = await client.get(f"/v1/organisations/{new_id}/assessments", headers=alpha_editor)
    assert [a["id"] for a in assessments.json()["items"]] != [elsewhere["id"]]
    assert (await client.get(f"/v1/organisations/{elsewhere['id']}")).json()["name"] == "Beta Trust"

    # Nor of where it would hang: a parent that is not here is as unseen as one of B's.
    for parent in (beta["id"], str(uuid.uuid4())):
        hung = await client.post(
            "/v1/maps/import", json=one_organisation_map(parent), headers=alpha_editor
        )
        assert_problem(hung, 404, "NOT_FOUND")

    # Keeping the document's ids is an exact restore: for a caller of the whole service only.
    before = await snapshot(backend.engine)
    kept = await client.post(
        "/v1/maps/import", params={"keepIds": "true"}, json=document, headers=alpha_editor
    )
    assert_problem(kept, 403, "FORBIDDEN")
    assert await snapshot(backend.engine) == before
    restored = await client.post("/v1/maps/import", params={"keepIds": "true"}, json=document)
    body = assert_problem(restored, 409, "CONFLICT")  # its scope is everything: no secret
    assert any(elsewhere["id"] in e["message"] for e in body["errors"])


async def test_a_copy_with_new_ids_keeps_every_reference_inside_the_map(
    client: httpx.AsyncClient,
) -> None:
    ics = await seed_map(client)
    original = (await client.get(f"/v1/organisations/{ics['id']}/map")).json()
    # Its ODS codes are taken by the original: a copy beside it goes without them.
    for organisation in original["organisations"]:
        organisation["odsCode"] = None
    imported = await client.post("/v1/maps/import", json=original)
    assert imported.status_code == 201, imported.text
    id_map = imported.json()["idMap"]
    records = ("organisations", "assets", "activities", "planItems", "assessments")
    assert set(id_map) == {r["id"] for kind in records for r in original[kind]}
    assert not set(id_map) & set(id_map.values())
    copy = (await client.get(f"/v1/organisations/{id_map[ics['id']]}/map")).json()
    text = json.dumps(without_export_time(original))
    for old, new in id_map.items():
        text = text.replace(old, new)
    expected = json.loads(text)
    for document in (expected, copy):  # an activity's assets are listed in id order
        for activity in document["activities"]:
            activity["assetIds"].sort()
        for item in document["planItems"]:
            item["assetIds"].sort()
            item["activityIds"].sort()
    assert without_export_time(copy) == expected
