"""Examples for the OpenAPI document, computed by the real engine so they can never drift.

A three-capability model and two small organisations keep them short; the numbers in them are
what the service would answer for those records.
"""

import uuid
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel

from app.analysis import engine
from app.analysis.profile import Claim, PlannedItem, Profile
from app.analysis.schemas import OrganisationRef
from app.assessments.compare import compare, compare_systems
from app.assessments.schemas import AssessmentRef
from app.reference.schemas import ReferenceModelInput, ReferenceModelPublic, to_public
from app.vocabulary import ActivityStatus, CapabilityKind, Confidence, Rag

WHEN = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
TRUST = OrganisationRef(id=uuid.UUID("8f2b5c1e-0d7a-4e39-9d57-2c1f7a3b9e10"), name="Leeds Trust")
PEER = OrganisationRef(id=uuid.UUID("3c9d4e2a-6b1f-4a8e-b0c7-5d2e8f1a4b63"), name="Bradford Trust")
ICS = OrganisationRef(
    id=uuid.UUID("1a7e9c3b-5f2d-4b6a-8e0c-9d4f2b7a1c58"), name="West Yorkshire ICS"
)


def _capability(key: str, area: str, weight: float, depends_on: list[str]) -> dict[str, Any]:
    levels = ("absent", "planned", "developing", "established", "embedded")
    return {
        "key": key,
        "area": area,
        "kind": "asset",
        "title": key.replace("-", " ").capitalize(),
        "description": f"Example capability {key}.",
        "audience": "organisation",
        "weight": weight,
        "targetMaturity": 3,
        "levels": {level: f"{level.capitalize()}." for level in levels},
        "dependsOn": depends_on,
        "loopStage": "data_to_knowledge" if depends_on else "practice_to_data",
        "actions": [f"Build {key.replace('-', ' ')}."],
        "sources": [{"table": 4, "rank": 5, "percentage": round(weight * 100)}],
    }


def model() -> ReferenceModelPublic:
    data = {
        "version": "2024.1",
        "title": "Example",
        "description": "A three-capability excerpt.",
        "publishedOn": "2024-06-01",
        "weighting": "Highest source percentage / 100.",
        "minimumConfidence": "peer_reviewed",
        "capabilities": [
            _capability("data-platform", "data", 0.59, []),
            _capability("analytics-workforce", "data", 0.59, ["data-platform"]),
            _capability("learning-culture", "improvement", 0.70, []),
        ],
    }
    return to_public(ReferenceModelInput.model_validate(data, strict=False), version="2024.1")


def _claim(owner: OrganisationRef, key: str, maturity: int, confidence: Confidence) -> Claim:
    asset_id = uuid.uuid5(owner.id, key)
    return Claim(key, maturity, confidence, CapabilityKind.ASSET, owner.id, asset_id, key.title())


def examples() -> dict[str, dict[str, Any]]:
    """Schema name -> one example value."""
    reference = model()
    peer = Profile(
        organisation=PEER,
        claims=(_claim(PEER, "learning-culture", 3, Confidence.EVIDENCED),),
    )
    before = Profile(
        organisation=TRUST, claims=(_claim(TRUST, "data-platform", 3, Confidence.SELF_ASSESSED),)
    )
    plan = PlannedItem(
        uuid.uuid5(TRUST.id, "plan"),
        "analytics-workforce",
        "Recruit two analysts",
        ActivityStatus.ACTIVE,
        Rag.AMBER,
        owner="Head of analytics",
        due_date=date(2024, 9, 30),
    )
    after = Profile(
        organisation=TRUST,
        claims=(_claim(TRUST, "data-platform", 3, Confidence.EVIDENCED),),
        plan_items=(plan,),
        next_review_due=date(2024, 12, 1),
    )
    peers = [(PEER, engine.met_keys(peer, reference))]
    first = engine.analyse(before, reference, generated_at=WHEN, peers=peers)
    second = engine.analyse(after, reference, generated_at=WHEN, peers=peers)
    system_before = engine.analyse_system(ICS, [before, peer], reference, generated_at=WHEN)
    system = engine.analyse_system(ICS, [after, peer], reference, generated_at=WHEN)

    def ref(analysis_id: int, score: float) -> AssessmentRef:
        return AssessmentRef.model_validate(
            {
                "id": uuid.UUID(int=analysis_id),
                "created_at": WHEN,
                "reference_model": {"version": "2024.1"},
                "overall_score": score,
                "label": None,
            }
        )

    comparison = compare(
        first,
        second,
        before_ref=ref(1, first.summary.overall_score),
        after_ref=ref(2, second.summary.overall_score),
    )
    system_comparison = compare_systems(
        system_before,
        system,
        before_ref=ref(3, system_before.summary.overall_score),
        after_ref=ref(4, system.summary.overall_score),
    )
    examples: dict[str, BaseModel] = {
        "SystemAssessmentComparison": system_comparison,
        "GapAnalysis": second,
        "SystemGapAnalysis": system,
        "AssessmentComparison": comparison,
        "Capability": reference.capabilities[1],
        "ReferenceModelPublic": reference,
    }
    return {name: value.model_dump(mode="json", by_alias=True) for name, value in examples.items()}
