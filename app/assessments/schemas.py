"""The assessment contract: stored gap analyses, and what changed between two of them."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from app.analysis.schemas import AnyGapAnalysis, GapStatus, ReferenceModelRef
from app.api import ApiInput, ApiModel, Page
from app.fields import Text200
from app.reference.schemas import VERSION_PATTERN
from app.vocabulary import Area, Scope


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
    scope: Scope = Field(
        default=Scope.ORGANISATION,
        description="organisation: this one alone; system: everything below it (an ICS).",
    )


class AssessmentSummary(ApiModel):
    id: uuid.UUID
    organisation_id: uuid.UUID
    scope: Scope
    reference_model: ReferenceModelRef
    label: str | None
    overall_score: float = Field(
        description="The analysis's summary.overallScore (for a system: its members' mean)."
    )
    created_at: datetime


class AssessmentPublic(AssessmentSummary):
    analysis: AnyGapAnalysis = Field(description="The analysis as it was, never recomputed.")


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

    scope: Literal["organisation"]
    from_assessment: AssessmentRef = Field(alias="from")
    to_assessment: AssessmentRef = Field(alias="to")
    reference_model_changed: bool
    model_note: str | None = Field(
        default=None,
        description="Set when the two used different reference models: their scores, gaps and "
        "ranks are not like for like.",
    )
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


class CoverageChange(ApiModel):
    capability_key: str
    title: str
    from_coverage: float | None = Field(description="Null when the capability is new.")
    to_coverage: float | None = Field(description="Null when the capability was removed.")
    change: float | None
    from_members_meeting: int | None
    to_members_meeting: int | None


class SystemAssessmentComparison(ApiModel):
    """Two system assessments of one ICS or network, from the earlier to the later."""

    scope: Literal["system"]
    from_assessment: AssessmentRef = Field(alias="from")
    to_assessment: AssessmentRef = Field(alias="to")
    reference_model_changed: bool
    model_note: str | None = Field(
        default=None,
        description="Set when the two used different reference models: their scores, gaps and "
        "ranks are not like for like.",
    )
    score_change: float = Field(description="Change of the members' average score.")
    now_met_everywhere: list[str]
    no_longer_met_everywhere: list[str]
    coverage_changes: list[CoverageChange] = Field(description="Capabilities whose coverage moved.")
    recommendations_moved: list[RankChange]


AnyComparison = Annotated[
    AssessmentComparison | SystemAssessmentComparison, Field(discriminator="scope")
]
