"""The gap-analysis contract: what one organisation (or a whole system) has, lacks, and should
do first. Every number in ``why`` can be recomputed by hand (docs/gap-analysis.md)."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from app.analysis.plan_schemas import Plan, PlanItemRef, Review, TopFivePlanned
from app.api import ApiModel
from app.reference.parts import NationalEnabler, Source
from app.vocabulary import Area, Audience, CapabilityKind, Confidence, LoopStage, Travel


class GapStatus(StrEnum):
    MET = "met"
    NEEDS_DEVELOPMENT = "needs_development"
    MISSING = "missing"
    BLOCKED = "blocked"
    NOT_APPLICABLE = "not_applicable"


class LinkStatus(StrEnum):
    IN_PLACE = "in_place"
    WEAK = "weak"
    BROKEN = "broken"


class Strategy(StrEnum):
    BUILD_ONCE = "build_once_for_system"
    SPREAD = "spread_from_members"
    EACH_MEMBER = "build_in_each_member"


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
    credited_maturity: int = Field(
        description="After the model's evidence rules (confidence discount, ceilings)."
    )
    confidence: Confidence | None = Field(description="Null for activities (records, not ratings).")
    inherited: bool = Field(
        description="True when the asset is shared with members by an organisation above."
    )


class AreaSummary(ApiModel):
    area: Area
    score: float = Field(ge=0, le=100)
    capabilities_met: int
    capabilities_total: int = Field(description="Capabilities that apply to this organisation.")
    missing: int
    needs_development: int
    blocked: int = Field(default=0, description="At target, but a hard prerequisite is unmet.")
    not_applicable: int = Field(default=0, description="Not for this type of organisation.")


class ScoreByConfidence(ApiModel):
    """Points of the overall score by how far the evidence that earns them has been checked."""

    self_assessed: float = Field(ge=0, le=100, description="Resting on self-assessment alone.")
    peer_reviewed: float = Field(ge=0, le=100, description="Checked by a named reviewer.")
    evidenced: float = Field(ge=0, le=100, description="Backed by linked evidence.")
    unrated: float = Field(
        ge=0,
        le=100,
        description="Earned by activities: records of work, which carry no confidence rating.",
    )


class ScoreByOrigin(ApiModel):
    """Points of the overall score by where the evidence came from: records kept in this
    service, and the records a self-assessment's questionnaire wrote; later origins arrive as
    fields of their own."""

    records: float = Field(
        ge=0, le=100, description="The assets and activities recorded in this service."
    )
    questionnaire: float = Field(
        default=0,
        ge=0,
        le=100,
        description="Records a submitted self-assessment wrote, unchanged by anyone since.",
    )


class ScoreProvenance(ApiModel):
    """What the credited score rests on. Each breakdown is in points of ``overallScore`` and
    its fields add up to it exactly (to 0.1: rounded by largest remainder). A capability's
    points go to the confidence of the evidence credited for it (after the model's proof
    checks), so the self-assessed share is the part of the score a reviewer has not seen."""

    by_confidence: ScoreByConfidence
    by_origin: ScoreByOrigin
    moderated: float = Field(
        default=0,
        ge=0,
        le=100,
        description="Of the questionnaire's points, those a moderator checked (agreed with or "
        "changed): the peer-validated part of the self-assessment.",
    )


class Summary(ApiModel):
    overall_score: float = Field(
        ge=0,
        le=100,
        description="The organisation's overall score: the weighted share of target maturity "
        "reached. The same name as an assessment's overallScore.",
    )
    capabilities_met: int
    capabilities_total: int = Field(description="Capabilities that apply to this organisation.")
    missing: int
    needs_development: int
    blocked: int = Field(default=0, description="At target, but a hard prerequisite is unmet.")
    not_applicable: int = Field(default=0, description="Not for this type of organisation.")
    unlinked_records: int = Field(
        description="Assets and activities that count towards no capability of this model (no "
        "capabilityKey, or a key this model version lacks). Link them."
    )
    areas: list[AreaSummary]
    provenance: ScoreProvenance | None = Field(
        default=None,
        description="What the overall score rests on, by confidence and by origin. Null only "
        "in analyses stored before it was reported.",
    )


class Gap(ApiModel):
    capability_key: str
    area: Area
    audience: Audience = Field(
        description="system: usually built once for an ICS or network and shared with members."
    )
    title: str
    status: GapStatus
    current_maturity: int = Field(description="Best credited maturity among the evidence.")
    target_maturity: int = Field(
        description="The target for this type of organisation (0 when not applicable)."
    )
    confidence: Confidence | None = Field(description="Confidence of the best evidence.")
    evidence: list[EvidenceItem]
    blocked_by: list[str] = Field(
        default=[], description="Unmet hard prerequisites: it cannot be met before them."
    )
    note: str | None = Field(description="Why the status is what it is, when not obvious.")


class Why(ApiModel):
    """The parts of the priority score: 100 x weight x gapFactor x prerequisiteFactor."""

    weight: float = Field(
        description="The weight in the score: the capability's weight, or under the "
        "organisation_first ranking its Table 4 percentage / 100 (0.30 without one)."
    )
    tie_break: float = Field(
        default=0.0,
        description="organisation_first ranking: Table 3 percentage / 100, which breaks ties.",
    )
    target_maturity: int
    current_maturity: int
    reported_maturity: int = Field(description="Best maturity as recorded, before discount.")
    confidence_discount: int = Field(description="Levels lost to evidence below the minimum.")
    gap: int = Field(description="targetMaturity - currentMaturity")
    gap_factor: float = Field(description="gap / targetMaturity")
    unlocks: int = Field(
        description="Unmet capabilities that depend on this one, transitively (through "
        "enabling links too)."
    )
    prerequisite_factor: float = Field(
        description="1 + 0.1 x unlocks, the bonus capped as the model's rules say."
    )
    known_gap: bool = Field(
        default=False,
        description="Recorded below its target (rule knownGapsFirst): a weakness the "
        "organisation has shown ranks before capabilities with nothing recorded (after the "
        "Box 11 steps), and among each group by priorityScore: weight x gap x prerequisites. "
        "A claim at target that only lacks proof is not a known gap.",
    )


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
        description="What the list is ordered by (after gettingStartedStep): priorityScore, or "
        "the priorityScore of a capability that needs this one first, if higher."
    )
    getting_started_step: int | None = Field(
        default=None,
        description="The Box 11 step (1-4) this answers while the organisation has not taken "
        "it; such recommendations come first, in step order.",
    )
    why: Why
    actions: list[str] = Field(description="What the organisation itself can do.")
    national_enabler: NationalEnabler | None = Field(
        default=None,
        description="The national action this derives from: for national bodies, not for the "
        "organisation.",
    )
    blocked_by: list[str] = Field(description="Unmet prerequisites; always ranked above this.")
    sources: list[Source]
    available_in_system: list[OrganisationRef] = Field(
        description="Organisations in the same system that already meet it: spread, not build."
    )
    plan_items: list[PlanItemRef] = Field(
        default=[], description="The organisation's plan items for this capability."
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
    """The LHS learning cycle (practice -> data -> knowledge -> practice)."""

    closed: bool = Field(description="Every link of practice -> data -> knowledge is in place.")
    cycle: str = Field(
        default="The learning cycle of a learning health system (practice -> data -> knowledge "
        "-> practice), as in the wider LHS literature.",
        description="What the links are read against.",
    )
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
    plan: Plan = Field(default_factory=Plan)
    review: Review = Field(default_factory=Review)


class CapabilityCoverage(ApiModel):
    capability_key: str
    area: Area
    title: str
    members_meeting: int
    members_total: int = Field(description="Members it applies to.")
    coverage: float = Field(ge=0, le=1)
    meeting: list[OrganisationRef]
    not_meeting: list[OrganisationRef]


class SystemRecommendation(ApiModel):
    rank: int
    capability_key: str
    area: Area
    title: str
    strategy: Strategy
    travels: Travel | None = Field(
        default=None, description="How the capability moves between members (model 2026.1 on)."
    )
    host_candidate: OrganisationRef | None = Field(
        default=None,
        description="build_once_for_system: the member best placed to host it for everyone.",
    )
    priority_score: float = Field(description="100 x weight x (1 - coverage) x prerequisiteFactor")
    ranking_score: float = Field(
        description="What the list is ordered by (after gettingStartedStep): priorityScore, or "
        "the priorityScore of a capability that needs this one first, if higher."
    )
    getting_started_step: int | None = Field(
        default=None,
        description="The Box 11 step (1-4) it answers while most members lack it; first.",
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
    overall_score: float = Field(
        ge=0,
        le=100,
        description="The system's overall score: the mean of its members' overall scores (each "
        "as its own analysis computes it). The same name as an assessment's overallScore.",
    )
    capabilities_met_everywhere: int
    capabilities_total: int
    provenance: ScoreProvenance | None = Field(
        default=None,
        description="What the members' average score rests on: the mean of each member's "
        "breakdown, adding up to overallScore. Null only in analyses stored before it was "
        "reported.",
    )


class SystemMember(ApiModel):
    """A member of the system, as the roll-up sees it."""

    organisation: OrganisationRef
    overall_score: float = Field(
        ge=0, le=100, description="The member's overall score, as its own analysis computes it."
    )
    top_five_planned: TopFivePlanned


class MemberPlanItem(ApiModel):
    organisation: OrganisationRef
    plan_item: PlanItemRef


class DuplicatedEffort(ApiModel):
    """A capability the system should build once, planned separately by two or more members."""

    capability_key: str
    title: str
    members: int = Field(description="Members that plan it separately.")
    plan_items: list[MemberPlanItem] = Field(
        description="Their plan items for it (stopped ones left out), by member."
    )


class SystemGapAnalysis(ApiModel):
    scope: Literal["system"]
    organisation: OrganisationRef
    reference_model: ReferenceModelRef
    generated_at: datetime
    summary: SystemSummary
    capabilities: list[CapabilityCoverage]
    recommendations: list[SystemRecommendation]
    members: list[SystemMember] = Field(default=[], description="Each member, by name.")
    duplicated_effort: list[DuplicatedEffort] = Field(
        default=[],
        description="Capabilities to build once for the system (strategy "
        "build_once_for_system) that two or more members plan separately, in rank order.",
    )


AnyGapAnalysis = Annotated[GapAnalysis | SystemGapAnalysis, Field(discriminator="scope")]
