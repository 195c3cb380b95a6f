"""The engine's inputs: plain, frozen data built by the service from the database."""

import uuid
from dataclasses import dataclass, field

from app.analysis.schemas import GapStatus, OrganisationRef
from app.vocabulary import ActivityType, Area, CapabilityKind, Confidence


@dataclass(frozen=True)
class Claim:
    """One asset or activity that counts towards a capability."""

    capability_key: str
    maturity: int
    confidence: Confidence | None
    kind: CapabilityKind
    organisation_id: uuid.UUID
    id: uuid.UUID | None = None
    name: str = ""
    inherited: bool = False


@dataclass(frozen=True)
class Profile:
    """What one organisation's records say, reduced to what the engine needs."""

    organisation: OrganisationRef
    claims: tuple[Claim, ...]
    areas_recorded: frozenset[Area] = frozenset()
    unlinked_records: int = 0
    planned_assets: int = 0
    goals_in_progress: int = 0
    activity_types: frozenset[ActivityType] = frozenset()
    running_learning_communities: int = 0
    assessments: int = 0


@dataclass(frozen=True)
class State:
    """Where one organisation stands on one capability."""

    current: int
    reported: int
    best: Claim | None
    status: GapStatus
    claims: tuple[Claim, ...] = field(default=())

    @property
    def discount(self) -> int:
        return max(0, self.reported - self.current)
