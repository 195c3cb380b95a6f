"""The questionnaire from the model: coverage for every current model version and organisation
type (pure), and the route's answers (a retired model has none)."""

import httpx
import pytest

from app.analysis.credit import in_scope
from app.questionnaire.service import build
from app.reference.schemas import RETIRED
from app.reference.service import shipped_models
from app.vocabulary import OrganisationType
from tests.helpers import assert_problem

CURRENT = [m for m in shipped_models() if m.version not in RETIRED]


@pytest.mark.parametrize("model", CURRENT, ids=lambda m: m.version)
def test_every_applicable_capability_has_a_question_and_every_level_a_descriptor(model) -> None:  # type: ignore[no-untyped-def]
    for organisation_type in OrganisationType:
        questionnaire = build(model, organisation_type)
        asked = [q.capability_key for area in questionnaire.areas for q in area.questions]
        applicable = [c.key for c in in_scope(model) if c.applies(organisation_type)]
        assert asked == applicable, organisation_type  # each once, in the model's order
        assert questionnaire.question_count == len(asked)
        assert [a.area for a in questionnaire.areas] == list(
            dict.fromkeys(c.area for c in model.capabilities if c.key in asked)
        )
        for area in questionnaire.areas:
            for question in area.questions:
                assert question.area == area.area
                assert [a.level for a in question.answers] == [0, 1, 2, 3, 4]
                assert all(a.descriptor.strip() for a in question.answers)


def test_the_new_model_brings_not_applicable_and_evidence_prompts_the_older_none() -> None:
    by_version = {m.version: m for m in shipped_models()}
    newest = build(by_version["2026.2"], OrganisationType.VOLUNTARY_SECTOR)
    questions = [q for area in newest.areas for q in area.questions]
    assert any(q.not_applicable_allowed for q in questions)
    assert any(a.evidence_prompt for q in questions for a in q.answers)
    # The allowance is per type: a question allowing it for one type may not for another.
    acute = build(by_version["2026.2"], OrganisationType.ACUTE_TRUST)
    allowed = {
        q.capability_key for a in acute.areas for q in a.questions if q.not_applicable_allowed
    }
    assert allowed != {q.capability_key for q in questions if q.not_applicable_allowed}
    older = build(by_version["2026.1"], OrganisationType.VOLUNTARY_SECTOR)
    older_questions = [q for area in older.areas for q in area.questions]
    assert not any(q.not_applicable_allowed for q in older_questions)
    assert not any(a.evidence_prompt for q in older_questions for a in q.answers)


async def test_the_route(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/v1/reference-models/2026.2/questionnaire?organisationType=gp_practice"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["referenceModel"]["version"] == "2026.2"
    assert body["organisationType"] == "gp_practice"
    first = body["areas"][0]["questions"][0]
    assert set(first) >= {"capabilityKey", "question", "answers", "notApplicableAllowed"}
    retired = await client.get(
        "/v1/reference-models/2024.1/questionnaire?organisationType=gp_practice"
    )
    assert_problem(retired, 409, "MODEL_RETIRED")
    missing = await client.get("/v1/reference-models/9999.1/questionnaire?organisationType=ics")
    assert_problem(missing, 404, "NOT_FOUND")
    bad = await client.get("/v1/reference-models/2026.2/questionnaire?organisationType=castle")
    assert_problem(bad, 422, "VALIDATION_FAILED")
