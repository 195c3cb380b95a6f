"""Self-assessments through the API: open, answer, re-answer, submit with If-Match, the 412
that names a record changed meanwhile, a second questionnaire updating (not duplicating) its
records, others' records untouched, all or nothing, moderation rights, provenance and CSV."""

import csv
import io
from typing import Any

import httpx

from app.selfassessments.service import Author
from tests.auth_helpers import make_key
from tests.conftest import Backend, snapshot
from tests.helpers import assert_problem, create_asset, create_organisation

MODEL = "2026.2"


async def open_draft(client: httpx.AsyncClient, organisation_id: str) -> httpx.Response:
    return await client.post(
        f"/v1/organisations/{organisation_id}/self-assessments", json={"referenceModel": MODEL}
    )


async def answer(client: httpx.AsyncClient, sid: str, key: str, **body: Any) -> httpx.Response:
    return await client.put(f"/v1/self-assessments/{sid}/answers/{key}", json=body)


async def submit(client: httpx.AsyncClient, sid: str, etag: str) -> httpx.Response:
    return await client.post(f"/v1/self-assessments/{sid}/submit", headers={"If-Match": etag})


def asset_for(assets: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [a for a in assets if a["capabilityKey"] == key]


async def assets_of(client: httpx.AsyncClient, organisation_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/organisations/{organisation_id}/assets?limit=100")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def moderator_key(backend: Backend, organisation_id: str) -> str:
    _, key = await make_key(backend.app.state.sessions, "editor", organisation_id, name="mod")
    return key


def as_client(backend: Backend, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=backend.app),
        base_url="http://localhost",
        headers={"Authorization": f"Bearer {key}"},
    )


async def test_round_trip(client: httpx.AsyncClient, backend: Backend) -> None:
    trust = await create_organisation(client, name="SA Trust", organisationType="acute_trust")
    others = await create_asset(
        client,
        trust["id"],
        name="Someone else's platform",
        capabilityKey="data-platform",
        maturity=1,
    )
    opened = await open_draft(client, trust["id"])
    assert opened.status_code == 201, opened.text
    draft = opened.json()
    sid = draft["id"]
    assert opened.headers["location"].endswith(f"/v1/self-assessments/{sid}")
    assert (draft["status"], draft["referenceModel"], draft["answers"]) == ("draft", MODEL, [])
    assert draft["questionCount"] == 32
    assert_problem(await open_draft(client, trust["id"]), 409, "CONFLICT")

    first = await answer(client, sid, "data-platform", level=2, comment="Some feeds")
    assert first.status_code == 200, first.text
    again = await answer(
        client,
        sid,
        "data-platform",
        level=3,
        comment="Core feeds, in use",
        evidence=[{"title": "Board paper", "url": "https://example.nhs.uk/paper.pdf"}],
    )
    assert again.status_code == 200, again.text
    assert (await answer(client, sid, "learning-culture", level=1)).status_code == 200
    body = again.json()
    assert [(a["capabilityKey"], a["level"]) for a in body["answers"]] == [("data-platform", 3)]
    # Not applicable only where the model allows it for the type; never with a level.
    bad = await answer(client, sid, "learning-culture", notApplicable=True)
    assert_problem(bad, 422, "VALIDATION_FAILED")
    assert_problem(
        await answer(client, sid, "learning-culture", level=2, notApplicable=True),
        422,
        "VALIDATION_FAILED",
    )
    assert_problem(await answer(client, sid, "no-such-capability", level=2), 404, "NOT_FOUND")

    current = await client.get(f"/v1/self-assessments/{sid}")
    etag = current.headers["etag"]
    assert_problem(
        await client.post(f"/v1/self-assessments/{sid}/submit"), 428, "PRECONDITION_REQUIRED"
    )
    assert_problem(await submit(client, sid, 'W/"1"'), 412, "PRECONDITION_FAILED")
    submitted = await submit(client, sid, etag)
    assert submitted.status_code == 200, submitted.text
    done = submitted.json()
    assert done["status"] == "submitted"
    assert done["assessmentId"] is not None
    assets = await assets_of(client, trust["id"])
    written = [a for a in asset_for(assets, "data-platform") if a["id"] != others["id"]]
    assert len(written) == 1
    assert (written[0]["maturity"], written[0]["confidence"]) == (3, "self_assessed")
    untouched = next(a for a in assets if a["id"] == others["id"])
    assert (untouched["maturity"], untouched["version"]) == (1, 1)
    assessment = await client.get(f"/v1/assessments/{done['assessmentId']}")
    assert assessment.status_code == 200, assessment.text

    # Read-only now.
    assert_problem(await answer(client, sid, "data-platform", level=1), 409, "CONFLICT")
    assert_problem(await submit(client, sid, submitted.headers["etag"]), 409, "CONFLICT")

    # A second questionnaire updates the record the first wrote, never duplicates it.
    second = (await open_draft(client, trust["id"])).json()
    await answer(client, second["id"], "data-platform", level=4)
    etag = (await client.get(f"/v1/self-assessments/{second['id']}")).headers["etag"]
    assert (await submit(client, second["id"], etag)).status_code == 200
    assets = await assets_of(client, trust["id"])
    rewritten = [a for a in asset_for(assets, "data-platform") if a["id"] != others["id"]]
    assert [(a["id"], a["maturity"]) for a in rewritten] == [(written[0]["id"], 4)]
    # The first self-assessment's answer no longer holds its record: no moderating it back.
    stale = await client.post(
        f"/v1/self-assessments/{sid}/answers/data-platform/moderation",
        json={"decision": "agree"},
        headers={"Authorization": "Bearer " + (await moderator_key(backend, trust["id"]))},
    )
    assert_problem(stale, 409, "CONFLICT")


async def test_record_changed_meanwhile_is_412_naming_it_and_writes_nothing(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    trust = await create_organisation(client, name="Stale Trust", organisationType="acute_trust")
    first = (await open_draft(client, trust["id"])).json()
    await answer(client, first["id"], "data-platform", level=2)
    etag = (await client.get(f"/v1/self-assessments/{first['id']}")).headers["etag"]
    record_id = (await submit(client, first["id"], etag)).json()["answers"][0]["recordId"]

    second = (await open_draft(client, trust["id"])).json()
    await answer(client, second["id"], "learning-culture", level=2)
    await answer(client, second["id"], "data-platform", level=3)
    # Someone else edits the record after the draft read it.
    record = await client.get(f"/v1/assets/{record_id}")
    edited = await client.patch(
        f"/v1/assets/{record_id}",
        json={"maturity": 1},
        headers={"If-Match": record.headers["etag"]},
    )
    assert edited.status_code == 200, edited.text
    etag = (await client.get(f"/v1/self-assessments/{second['id']}")).headers["etag"]
    before = await snapshot(backend.engine)
    refused = await submit(client, second["id"], etag)
    problem = assert_problem(refused, 412, "PRECONDITION_FAILED")
    assert record_id in problem["detail"]
    assert "data-platform" in problem["detail"]
    # The 412's ETag is the self-assessment's (the resource addressed), never the record's.
    assert refused.headers["etag"] == etag
    assert await snapshot(backend.engine) == before  # all or nothing
    # Saving the answer again reads the record anew; the submit then goes through.
    await answer(client, second["id"], "data-platform", level=3)
    etag = (await client.get(f"/v1/self-assessments/{second['id']}")).headers["etag"]
    assert (await submit(client, second["id"], etag)).status_code == 200
    assert (await client.get(f"/v1/assets/{record_id}")).json()["maturity"] == 3


async def test_moderation_rights_provenance_and_csv(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ics = await create_organisation(client, name="Mod ICS", organisationType="ics")
    trust = await create_organisation(
        client, name="Mod Trust", organisationType="acute_trust", parentId=ics["id"]
    )
    sessions = backend.app.state.sessions
    _, author_key = await make_key(sessions, "editor", trust["id"], name="author")
    moderator_row, ics_editor = await make_key(sessions, "editor", ics["id"], name="ics editor")
    _, viewer = await make_key(sessions, "reader", ics["id"], name="viewer")
    async with as_client(backend, author_key) as author:
        sid = (await open_draft(author, trust["id"])).json()["id"]
        await answer(author, sid, "data-platform", level=3)
        await answer(author, sid, "learning-culture", level=2)
        etag = (await author.get(f"/v1/self-assessments/{sid}")).headers["etag"]
        assert (await submit(author, sid, etag)).status_code == 200
        url = f"/v1/self-assessments/{sid}/answers/data-platform/moderation"
        own = await author.post(url, json={"decision": "agree"})
        assert_problem(own, 403, "FORBIDDEN")
    async with as_client(backend, viewer) as reader:
        assert_problem(await reader.post(url, json={"decision": "agree"}), 403, "FORBIDDEN")
    async with as_client(backend, ics_editor) as moderator:
        agreed = await moderator.post(url, json={"decision": "agree"})
        assert agreed.status_code == 200, agreed.text
        changed = await moderator.post(
            f"/v1/self-assessments/{sid}/answers/learning-culture/moderation",
            json={"decision": "change", "level": 1, "reason": "No staff survey yet"},
        )
        assert changed.status_code == 200, changed.text
        assert_problem(
            await moderator.post(url, json={"decision": "change", "level": 1}),
            422,
            "VALIDATION_FAILED",
        )
    answers = {a["capabilityKey"]: a for a in changed.json()["answers"]}
    assert answers["learning-culture"]["level"] == 2
    assert answers["learning-culture"]["moderation"]["level"] == 1
    assert answers["learning-culture"]["moderation"]["reason"] == "No staff survey yet"
    assert answers["data-platform"]["moderation"]["decision"] == "agree"
    records = {a["capabilityKey"]: a for a in await assets_of(client, trust["id"])}
    assert records["learning-culture"]["maturity"] == 1
    assert records["data-platform"]["confidence"] == "peer_reviewed"
    assert records["data-platform"]["reviewedBy"] == moderator_row.prefix
    assert records["data-platform"]["reviewedAt"] is not None

    # The score's provenance: the questionnaire's points, and the moderated part of them.
    summary = (await client.get(f"/v1/organisations/{trust['id']}/gap-analysis")).json()["summary"]
    origin = summary["provenance"]["byOrigin"]
    assert origin["questionnaire"] > 0
    assert round(origin["records"] + origin["questionnaire"], 1) == summary["overallScore"]
    assert 0 < summary["provenance"]["moderated"] <= origin["questionnaire"]

    exported = await client.get(f"/v1/self-assessments/{sid}?format=csv")
    assert exported.status_code == 200, exported.text
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["capabilityKey"], r["level"], r["moderatedLevel"]) for r in rows] == [
        ("data-platform", "3", ""),
        ("learning-culture", "2", "1"),
    ]


async def test_not_applicable_counts_once_submitted_where_the_model_allows_it(
    client: httpx.AsyncClient,
) -> None:
    charity = await create_organisation(
        client, name="SA Hospice", organisationType="voluntary_sector"
    )
    before = (await client.get(f"/v1/organisations/{charity['id']}/gap-analysis")).json()
    sid = (await open_draft(client, charity["id"])).json()["id"]
    declared = await answer(client, sid, "data-platform", notApplicable=True, comment="Host's")
    assert declared.status_code == 200, declared.text
    await answer(client, sid, "learning-culture", level=2)
    etag = (await client.get(f"/v1/self-assessments/{sid}")).headers["etag"]
    done = (await submit(client, sid, etag)).json()
    # No record is written for it; the analysis and the stored assessment leave it out.
    assert [a["recordId"] is None for a in done["answers"]] == [True, False]
    assert asset_for(await assets_of(client, charity["id"]), "data-platform") == []
    after = (await client.get(f"/v1/organisations/{charity['id']}/gap-analysis")).json()
    assert after["summary"]["notApplicable"] == before["summary"]["notApplicable"] + 1
    status = {g["capabilityKey"]: g["status"] for g in after["gaps"]}
    assert status["data-platform"] == "not_applicable"
    stored = (await client.get(f"/v1/assessments/{done['assessmentId']}")).json()
    assert stored["analysis"]["summary"]["notApplicable"] == after["summary"]["notApplicable"]
    assert stored["analysis"]["summary"]["provenance"]["byOrigin"]["questionnaire"] > 0
    # Moderating an answer with no level is refused.
    moderated = await client.post(
        f"/v1/self-assessments/{sid}/answers/data-platform/moderation", json={"decision": "agree"}
    )
    assert_problem(moderated, 403, "FORBIDDEN")  # the caller answered it


def test_an_author_is_one_person_however_the_link_spells_their_name() -> None:
    answered = Author("api_key:abc", "Dr A Patel")
    assert answered == Author("api_key:abc", "  dr a   PATEL ")
    assert answered == Author("api_key:abc", "Dr\u00a0A Patel")
    assert answered != Author("api_key:abc", "J Okafor")
    assert answered != Author("api_key:other", "Dr A Patel")
    assert Author("api_key:abc", None) != answered
    assert Author("api_key:abc", None) == Author("api_key:abc", None)


async def test_a_record_moved_to_another_capability_is_not_the_questionnaires_any_more(
    client: httpx.AsyncClient,
) -> None:
    trust = await create_organisation(client, name="Moved Trust", organisationType="acute_trust")
    first = (await open_draft(client, trust["id"])).json()
    await answer(client, first["id"], "data-platform", level=2)
    etag = (await client.get(f"/v1/self-assessments/{first['id']}")).headers["etag"]
    record_id = (await submit(client, first["id"], etag)).json()["answers"][0]["recordId"]
    # Someone makes the record about something else (no capability) before the next draft.
    record = await client.get(f"/v1/assets/{record_id}")
    moved = await client.patch(
        f"/v1/assets/{record_id}",
        json={"capabilityKey": None},
        headers={"If-Match": record.headers["etag"]},
    )
    assert moved.status_code == 200, moved.text
    second = (await open_draft(client, trust["id"])).json()
    await answer(client, second["id"], "data-platform", level=4)
    etag = (await client.get(f"/v1/self-assessments/{second['id']}")).headers["etag"]
    done = await submit(client, second["id"], etag)
    assert done.status_code == 200, done.text
    assert done.json()["answers"][0]["recordId"] != record_id
    untouched = (await client.get(f"/v1/assets/{record_id}")).json()
    assert (untouched["maturity"], untouched["version"]) == (2, moved.json()["version"])


async def test_a_record_another_model_versions_draft_wrote_meanwhile_is_412(
    client: httpx.AsyncClient,
) -> None:
    trust = await create_organisation(client, name="Two Drafts", organisationType="acute_trust")
    url = f"/v1/organisations/{trust['id']}/self-assessments"
    older = (await client.post(url, json={"referenceModel": "2026.1"})).json()
    newer = (await client.post(url, json={"referenceModel": "2026.2"})).json()
    assert (await answer(client, older["id"], "data-platform", level=1)).status_code == 200
    assert (await answer(client, newer["id"], "data-platform", level=3)).status_code == 200
    etag = (await client.get(f"/v1/self-assessments/{newer['id']}")).headers["etag"]
    record_id = (await submit(client, newer["id"], etag)).json()["answers"][0]["recordId"]
    # The older draft's answer found no record when it was saved; one exists now.
    etag = (await client.get(f"/v1/self-assessments/{older['id']}")).headers["etag"]
    refused = await submit(client, older["id"], etag)
    problem = assert_problem(refused, 412, "PRECONDITION_FAILED")
    assert record_id in problem["detail"]
    # Saved again, the answer updates that record rather than make a second one.
    await answer(client, older["id"], "data-platform", level=1)
    etag = (await client.get(f"/v1/self-assessments/{older['id']}")).headers["etag"]
    done = await submit(client, older["id"], etag)
    assert done.status_code == 200, done.text
    assert done.json()["answers"][0]["recordId"] == record_id
    assert len(asset_for(await assets_of(client, trust["id"]), "data-platform")) == 1
