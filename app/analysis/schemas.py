"""The gap-analysis contract: what one organisation (or a whole system) has, lacks, and should
do first. Every number in ``why`` can be recomputed by hand (docs/gap-analysis.md)."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from app.api import ApiModel
from app.reference.schemas import Source
from app.vocabulary import Area, Audience, CapabilityKind, Confidence, LoopStage


class GapStatus(StrEnum):
    MET = "met"
    NEEDS_DEVELOPMENT = "needs_development"
    MISSING = "missing"


class LinkStatus(StrEnum):
    IN_PLACE = "in_place"
    WEAK = "weak"
    BROKEN = "broken"


class Strategy(StrEnum):
    BUILD_ONCE = "build_once_for_system"
    SPREAD = "spread_from_members"


class OrganisationRef(ApiModel):
    id: uuid.UUID
    name: str


class ReferenceModelRef(ApiModel):
    version: str


class EvidenceItem(ApiModel):
    """An asset or activity that counts towards a capability."""

    kind: CapabilityKind
    id: uuid.UUID
    name: str
    organisation_id: uuid.UUID
    maturity: int = Field(description="As recorded (activities: planned 1, active/completed 3).")
    credited_maturity: int = Field(description="After the confidence discount.")
    confidence: Confidence | None = Field(description="Null for activities (records, not ratings).")
    inherited: bool = Field(
        description="True when the asset is shared with members by an organisation above."
    )


class AreaSummary(ApiModel):
    area: Area
    score: float = Field(ge=0, le=100)
    capabilities_met: int
    capabilities_total: int
    missing: int
    needs_development: int


class Summary(ApiModel):
    score: float = Field(ge=0, le=100, description="Weighted share of target maturity reached.")
    capabilities_met: int
    capabilities_total: int
    missing: int
    needs_development: int
    unlinked_records: int = Field(
        description="Assets and activities that count towards no capability of this model (no "
        "capabilityKey, or a key this model version lacks). Link them."
    )
    areas: list[AreaSummary]


class Gap(ApiModel):
    capability_key: str
    area: Area
    audience: Audience = Field(
        description="system: usually built once for an ICS or network and shared with members."
    )
    title: str
    status: GapStatus
    current_maturity: int = Field(description="Best credited maturity among the evidence.")
    target_maturity: int
    confidence: Confidence | None = Field(description="Confidence of the best evidence.")
    evidence: list[EvidenceItem]
    note: str | None = Field(description="Why the status is what it is, when not obvious.")


class Why(ApiModel):
    """The parts of the priority score: 100 x weight x gapFactor x prerequisiteFactor."""

    weight: float
    target_maturity: int
    current_maturity: int
    reported_maturity: int = Field(description="Best maturity as recorded, before discount.")
    confidence_discount: int = Field(description="Levels lost to evidence below the minimum.")
    gap: int = Field(description="targetMaturity - currentMaturity")
    gap_factor: float = Field(description="gap / targetMaturity")
    unlocks: int = Field(description="Unmet capabilities that depend on this one, transitively.")
    prerequisite_factor: float = Field(description="1 + 0.1 x unlocks")


class Recommendation(ApiModel):
    rank: int
    capability_key: str
    area: Area
    audience: Audience = Field(
        description="system: usually built once for an ICS or network and shared with members."
    )
    title: str
    status: GapStatus
    priority_score: float
    ranking_score: float = Field(
        description="What the list is ordered by: priorityScore, or the priorityScore of a "
        "capability that needs this one first, if higher."
    )
    why: Why
    actions: list[str]
    blocked_by: list[str] = Field(description="Unmet prerequisites; always ranked above this.")
    sources: list[Source]
    available_in_system: list[OrganisationRef] = Field(
        description="Organisations in the same system that already meet it: spread, not build."
    )


class GettingStartedStep(ApiModel):
    step: int = Field(ge=1, le=8)
    title: str
    done: bool
    evidence: list[str] = Field(description="What in the records shows the step as done.")


class GettingStarted(ApiModel):
    steps: list[GettingStartedStep]
    next_step: int | None = Field(description="The first step not done; null when all are.")


class LoopLink(ApiModel):
    stage: LoopStage
    status: LinkStatus
    capabilities_met: list[str]
    capabilities_unmet: list[str]
    explanation: str


class LearningLoop(ApiModel):
    closed: bool = Field(description="Every link of practice -> data -> knowledge is in place.")
    links: list[LoopLink]
    broken_links: list[LoopStage]


class GapAnalysis(ApiModel):
    scope: Literal["organisation"]
    organisation: OrganisationRef
    reference_model: ReferenceModelRef
    generated_at: datetime
    summary: Summary
    gaps: list[Gap]
    recommendations: list[Recommendation]
    getting_started: GettingStarted
    learning_loop: LearningLoop


class CapabilityCoverage(ApiModel):
    capability_key: str
    area: Area
    title: str
    members_meeting: int
    members_total: int
    coverage: float = Field(ge=0, le=1)
    meeting: list[OrganisationRef]
    not_meeting: list[OrganisationRef]


class SystemRecommendation(ApiModel):
    rank: int
    capability_key: str
    area: Area
    title: str
    strategy: Strategy
    priority_score: float = Field(description="100 x weight x (1 - coverage) x prerequisiteFactor")
    ranking_score: float = Field(
        description="What the list is ordered by: priorityScore, or the priorityScore of a "
        "capability that needs this one first, if higher."
    )
    coverage: float
    weight: float
    unlocks: int
    prerequisite_factor: float
    explanation: str
    spread_from: list[OrganisationRef]
    blocked_by: list[str]
    actions: list[str]


class SystemSummary(ApiModel):
    members: int
    average_score: float
    capabilities_met_everywhere: int
    capabilities_total: int


class SystemGapAnalysis(ApiModel):
    scope: Literal["system"]
    organisation: OrganisationRef
    reference_model: ReferenceModelRef
    generated_at: datetime
    summary: SystemSummary
    capabilities: list[CapabilityCoverage]
    recommendations: list[SystemRecommendation]


AnyGapAnalysis = Annotated[GapAnalysis | SystemGapAnalysis, Field(discriminator="scope")]
