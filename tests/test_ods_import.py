"""Importing ODS Organisation Reference Data: create or update by ODS code, parents from the
relationships, idempotent, all or nothing. Records come from a fixture in the ORD JSON shape."""

import copy
import json
from typing import Any

import httpx
import pytest

from app.auth.principal import OPERATOR
from app.config import PROJECT_ROOT
from app.errors import Conflict, ValidationFailed
from app.ods.service import import_ods
from tests.conftest import Backend, snapshot
from tests.helpers import create_organisation

FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "ods-ord-records.json"


def records() -> list[dict[str, Any]]:
    return list(json.loads(FIXTURE.read_text(encoding="utf-8")))


async def by_code(client: httpx.AsyncClient, code: str) -> dict[str, Any]:
    page = (await client.get("/v1/organisations", params={"odsCode": code})).json()
    assert len(page["items"]) == 1, code
    return dict(page["items"][0])


async def test_the_fixture_imports_with_types_and_parents(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    result = await import_ods(backend.app.state.sessions.reads, records(), principal=OPERATOR)
    assert sorted(result.created) == sorted(
        ["Y99901", "Y99902", "U99901", "R9Z", "R9Y", "E99999999", "FZZ99", "Q9Z"]
    )
    assert result.inactive == ["Y99903"]
    assert result.updated == []
    # Parents named but not held here: a pharmacy's head office, the ICB's NHS England region.
    assert dict(result.parents_not_found) == {"FZZ99": ["FZZ00"], "Q9Z": ["Y9Z"]}

    icb = await by_code(client, "Q9Z")
    assert icb["organisationType"] == "icb"
    # Shown in a readable case; ODS's own spelling kept as the official name.
    assert icb["name"] == "NHS Fictionshire Integrated Care Board"
    assert icb["officialName"] == "NHS FICTIONSHIRE INTEGRATED CARE BOARD"
    assert icb["parentId"] is None
    pcn = await by_code(client, "U99901")
    assert (pcn["organisationType"], pcn["parentId"]) == ("primary_care_network", icb["id"])
    for practice in ("Y99901", "Y99902"):  # partner of the PCN (RE8) beats commissioner (RE4)
        row = await by_code(client, practice)
        assert (row["organisationType"], row["parentId"]) == ("gp_practice", pcn["id"])
    for trust in ("R9Z", "R9Y"):
        row = await by_code(client, trust)
        assert (row["organisationType"], row["parentId"]) == ("trust", icb["id"])
    council = await by_code(client, "E99999999")
    assert (council["organisationType"], council["parentId"]) == ("local_authority", None)
    assert (await by_code(client, "FZZ99"))["organisationType"] == "other"
    closed = await client.get("/v1/organisations", params={"odsCode": "Y99903"})
    assert closed.json()["items"] == []

    # And out again as FHIR, the parent named by the ODS code it came in with, the official
    # name as an alias.
    fhir = (await client.get(f"/v1/organisations/{pcn['id']}/fhir")).json()
    assert fhir["partOf"]["identifier"]["value"] == "Q9Z"
    assert fhir["partOf"]["display"] == "NHS Fictionshire Integrated Care Board"
    assert fhir["alias"] == [pcn["officialName"]]


async def test_a_second_run_changes_nothing(client: httpx.AsyncClient, backend: Backend) -> None:
    await import_ods(backend.app.state.sessions.reads, records(), principal=OPERATOR)
    before = await snapshot(backend.engine)
    again = await import_ods(backend.app.state.sessions.reads, records(), principal=OPERATOR)
    assert again.created == []
    assert again.updated == []
    assert len(again.unchanged) == 8
    assert again.summary() == "0 created, 0 updated, 8 unchanged, 1 inactive skipped, " + (
        "2 with no known parent"
    )
    assert await snapshot(backend.engine) == before


async def test_order_in_the_file_does_not_matter(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    await import_ods(
        backend.app.state.sessions.reads, list(reversed(records())), principal=OPERATOR
    )
    icb = await by_code(client, "Q9Z")
    pcn = await by_code(client, "U99901")
    assert pcn["parentId"] == icb["id"]
    assert (await by_code(client, "Y99901"))["parentId"] == pcn["id"]


async def test_updates_keep_what_ods_cannot_say(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """A trust recorded here as acute keeps that kind (ODS only says 'NHS trust'); its name
    follows ODS; a parent named by no relationship is kept."""
    ics = await create_organisation(client, name="Fictionshire ICS", organisationType="ics")
    trust = await create_organisation(
        client, name="Fictionton Hospitals", organisationType="acute_trust", odsCode="R9Z"
    )
    council = await create_organisation(
        client,
        name="Fictionshire Council",
        organisationType="local_authority",
        odsCode="E99999999",
        parentId=ics["id"],
    )
    result = await import_ods(backend.app.state.sessions.reads, records(), principal=OPERATOR)
    assert set(result.updated) == {"R9Z", "E99999999"}
    updated = await by_code(client, "R9Z")
    assert updated["id"] == trust["id"]
    assert updated["organisationType"] == "acute_trust"
    assert updated["name"] == "Fictionton Teaching Hospitals NHS Foundation Trust"
    assert updated["officialName"] == "FICTIONTON TEACHING HOSPITALS NHS FOUNDATION TRUST"
    assert updated["parentId"] == (await by_code(client, "Q9Z"))["id"]
    assert updated["version"] == 3  # renamed, then linked: one bump each
    kept = await by_code(client, "E99999999")
    assert kept["parentId"] == ics["id"]
    assert kept["name"] == "Fictionshire County Council"
    assert council["version"] == 1
    assert kept["version"] == 2


async def test_a_cycle_refuses_the_whole_file(client: httpx.AsyncClient, backend: Backend) -> None:
    data = records()
    icb = data[-1]["Organisation"]
    # The ICB now says it is located in the geography of one of its own trusts.
    icb["Rels"]["Rel"] = [copy.deepcopy(data[4]["Organisation"]["Rels"]["Rel"][0])]
    icb["Rels"]["Rel"][0]["Target"]["OrgId"]["extension"] = "R9Y"
    before = await snapshot(backend.engine)
    with pytest.raises(Conflict, match="cycle"):
        await import_ods(backend.app.state.sessions.reads, data, principal=OPERATOR)
    assert await snapshot(backend.engine) == before


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda o: o.pop("OrgId"), (3, "Organisation", "OrgId")),
        (lambda o: o["OrgId"].update(extension="NOT VALID"), (3, "Organisation", "OrgId")),
        (lambda o: o.update(Status="Closed"), (3, "Organisation", "Status")),
        (lambda o: o["Roles"].update(Role=[]), (3, "Organisation", "Roles", "Role")),
        (lambda o: o.update(Name="x" * 201), (3, "Organisation", "Name")),
        (lambda o: o["OrgId"].update(extension="r9z"), (4, "Organisation", "OrgId", "extension")),
    ],
)
async def test_a_bad_record_is_named_and_nothing_is_written(
    client: httpx.AsyncClient, backend: Backend, change: Any, path: tuple[Any, ...]
) -> None:
    data = records()
    change(data[3]["Organisation"])
    before = await snapshot(backend.engine)
    with pytest.raises(ValidationFailed) as refused:
        await import_ods(backend.app.state.sessions.reads, data, principal=OPERATOR)
    assert refused.value.errors[0].field[: len(path)] == path
    assert await snapshot(backend.engine) == before


async def test_not_a_list_of_records(client: httpx.AsyncClient, backend: Backend) -> None:
    with pytest.raises(ValidationFailed, match="not Organisation Reference Data"):
        await import_ods(backend.app.state.sessions.reads, "Organisation", principal=OPERATOR)
    # A single record will do.
    one = await import_ods(backend.app.state.sessions.reads, records()[0], principal=OPERATOR)
    assert one.created == ["Y99901"]
    assert one.parents_not_found == [("Y99901", ["U99901", "99Z"])]


async def test_a_dry_run_answers_what_a_run_would_do_and_writes_nothing(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    before = await snapshot(backend.engine)
    reads = backend.app.state.sessions.reads
    dry = await import_ods(reads, records(), principal=OPERATOR, dry_run=True)
    assert await snapshot(backend.engine) == before
    real = await import_ods(reads, records(), principal=OPERATOR)
    assert (dry.created, dry.updated, dry.inactive) == (real.created, real.updated, real.inactive)
    assert dry.summary() == "Dry run, nothing written; would be: " + real.summary()
    assert ("create", "Q9Z", "NHS Fictionshire Integrated Care Board") in dry.actions()
    # The rules apply as in a real run: a cycle refuses a dry run too.
    data = records()
    icb = data[-1]["Organisation"]
    icb["Rels"]["Rel"] = [copy.deepcopy(data[4]["Organisation"]["Rels"]["Rel"][0])]
    icb["Rels"]["Rel"][0]["Target"]["OrgId"]["extension"] = "R9Y"
    with pytest.raises(Conflict, match="cycle"):
        await import_ods(reads, data, principal=OPERATOR, dry_run=True)


async def test_record_numbers_count_from_one(backend: Backend) -> None:
    data = records()
    data.append(copy.deepcopy(data[0]))  # the tenth record repeats the first's code
    data[2]["Organisation"].pop("OrgId")
    with pytest.raises(ValidationFailed) as refused:
        await import_ods(backend.app.state.sessions.reads, data, principal=OPERATOR)
    assert refused.value.errors[0].message == "record 3 Organisation.OrgId: Field required"
    assert refused.value.errors[0].field[0] == 2  # the JSON pointer's index stays 0-based
    data = records()
    data.append(copy.deepcopy(data[0]))
    with pytest.raises(ValidationFailed) as twice:
        await import_ods(backend.app.state.sessions.reads, data, principal=OPERATOR)
    assert twice.value.errors[0].message.startswith("record 10 Organisation.OrgId.extension:")
    assert "is also record 1's" in twice.value.errors[0].message
