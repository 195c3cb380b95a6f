"""The engine's inputs: plain, frozen data built by the service from the database."""

import uuid
from dataclasses import dataclass, field
from datetime import date

from app.analysis.schemas import GapStatus, OrganisationRef
from app.vocabulary import (
    ActivityStatus,
    ActivityType,
    Area,
    CapabilityKind,
    Confidence,
    OrganisationType,
    Rag,
)


@dataclass(frozen=True)
class Claim:
    """One asset or activity that counts towards a capability.

    ``evidence_links``, ``reviewed`` (an asset's reviewer is named) and ``has_outcome`` (an
    activity's) are what the evidence rules of newer model versions look at.
    """

    capability_key: str
    maturity: int
    confidence: Confidence | None
    kind: CapabilityKind
    organisation_id: uuid.UUID
    id: uuid.UUID | None = None
    name: str = ""
    inherited: bool = False
    evidence_links: int = 0
    reviewed: bool = False
    has_outcome: bool = False
    # Written by a self-assessment's submit and unchanged by anyone since; ``moderated``: a
    # moderator agreed with it or changed it (the score's provenance counts both).
    questionnaire: bool = False
    moderated: bool = False


@dataclass(frozen=True)
class PlannedItem:
    """One item of the organisation's action plan. It never counts towards a capability (only
    records do); the analysis lists it beside the capability it is for."""

    id: uuid.UUID
    capability_key: str
    title: str
    status: ActivityStatus = ActivityStatus.PLANNED
    rag: Rag = Rag.GREEN
    owner: str | None = None
    due_date: date | None = None


@dataclass(frozen=True)
class Profile:
    """What one organisation's records say, reduced to what the engine needs."""

    organisation: OrganisationRef
    claims: tuple[Claim, ...]
    organisation_type: OrganisationType | None = None
    areas_recorded: frozenset[Area] = frozenset()
    unlinked_records: int = 0
    planned_assets: int = 0
    goals_in_progress: int = 0
    activity_types: frozenset[ActivityType] = frozenset()
    running_learning_communities: int = 0
    assessments: int = 0
    improvement_goals: int = 0
    planned_keys: frozenset[str] = frozenset()
    plan_items: tuple[PlannedItem, ...] = ()
    next_review_due: date | None = None
    # Capabilities the latest submitted self-assessment answered "not applicable here"; they
    # count as not applicable only where the model allows that answer for the type.
    declared_not_applicable: frozenset[str] = frozenset()


@dataclass(frozen=True)
class State:
    """Where one organisation stands on one capability."""

    current: int
    reported: int
    best: Claim | None
    status: GapStatus
    claims: tuple[Claim, ...] = field(default=())
    target: int = 0
    blocked_by: tuple[str, ...] = ()
    # Levels an unmet hard prerequisite takes off the credit (not the evidence's fault).
    held_back: int = 0
    # Assets shared from above that do not count here (sharingFollowsTravel), still shown.
    not_counted: tuple[Claim, ...] = ()

    @property
    def discount(self) -> int:
        return max(0, self.reported - self.current)

    @property
    def evidence_discount(self) -> int:
        """Levels lost to the evidence rules alone (confidence, ceilings)."""
        return max(0, self.reported - self.current - self.held_back)

    @property
    def known_gap(self) -> bool:
        """Recorded below its target: a weakness the organisation has shown, not silence,
        and not a claim at target that only lacks proof."""
        return bool(self.claims) and self.reported < self.target and self.applicable

    @property
    def lacks_only_proof(self) -> bool:
        """Recorded at its target and held back by nothing but the evidence rules: what it
        needs is a reviewer or a link, not the work itself."""
        return (
            bool(self.claims)
            and self.applicable
            and self.status != GapStatus.MET
            and self.reported >= self.target
            and not self.held_back
        )

    @property
    def applicable(self) -> bool:
        return self.status != GapStatus.NOT_APPLICABLE
