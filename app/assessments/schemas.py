"""The assessment contract: stored gap analyses, and what changed between two of them."""

import uuid
from datetime import datetime

from pydantic import ConfigDict, Field

from app.analysis.schemas import GapAnalysis, GapStatus, ReferenceModelRef, Summary
from app.api import ApiInput, ApiModel, Page, Text200
from app.reference.schemas import VERSION_PATTERN
from app.vocabulary import Area


class AssessmentCreate(ApiInput):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"referenceModel": "2024.1", "label": "Q2 board report"}]}
    )

    reference_model: str | None = Field(
        default=None,
        pattern=VERSION_PATTERN,
        description="Model version to assess against; default the latest base model.",
    )
    label: Text200 | None = None


class AssessmentSummary(ApiModel):
    id: uuid.UUID
    organisation_id: uuid.UUID
    reference_model: ReferenceModelRef
    label: str | None
    overall_score: float
    created_at: datetime
    summary: Summary


class AssessmentPublic(AssessmentSummary):
    analysis: GapAnalysis = Field(description="The gap analysis as it was, never recomputed.")


class AssessmentRef(ApiModel):
    id: uuid.UUID
    created_at: datetime
    reference_model: ReferenceModelRef
    overall_score: float
    label: str | None


class AreaChange(ApiModel):
    area: Area
    from_score: float
    to_score: float
    change: float


class GapChange(ApiModel):
    capability_key: str
    title: str
    from_status: GapStatus | None = Field(description="Null when the capability is new.")
    to_status: GapStatus | None = Field(description="Null when the capability was removed.")
    from_maturity: int | None
    to_maturity: int | None


class RankChange(ApiModel):
    capability_key: str
    title: str
    from_rank: int | None = Field(description="Null when newly recommended.")
    to_rank: int | None = Field(description="Null when no longer recommended.")
    movement: int | None = Field(description="Places moved up (positive) or down (negative).")


class AssessmentComparison(ApiModel):
    """From the earlier assessment to the later one, whichever order they were named in."""

    from_assessment: AssessmentRef = Field(alias="from")
    to_assessment: AssessmentRef = Field(alias="to")
    reference_model_changed: bool
    score_change: float
    areas: list[AreaChange]
    gaps_closed: list[GapChange]
    gaps_opened: list[GapChange]
    maturity_changes: list[GapChange] = Field(
        description="Other changes of status or maturity (e.g. missing -> needs_development)."
    )
    recommendations_moved: list[RankChange]


class AssessmentPage(Page[AssessmentSummary]):
    """A page of assessment summaries, oldest first."""
