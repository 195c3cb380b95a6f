"""The benchmark contract: aggregates only, never a name or another organisation's value."""

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from app.api import ApiModel
from app.vocabulary import Area, OrganisationType


class Position(StrEnum):
    """Where the organisation's own value falls among the group's quartiles."""

    BELOW_LOWER_QUARTILE = "below_lower_quartile"
    LOWER_QUARTILE_TO_MEDIAN = "lower_quartile_to_median"
    MEDIAN_TO_UPPER_QUARTILE = "median_to_upper_quartile"
    ABOVE_UPPER_QUARTILE = "above_upper_quartile"


class WithheldReason(StrEnum):
    NO_SNAPSHOT = "no_snapshot"
    TOO_FEW_ORGANISATIONS = "too_few_organisations"
    TOO_FEW_SYSTEMS = "too_few_systems"


class GroupKind(StrEnum):
    """Who the organisation is compared with (a deployment setting)."""

    SERVICE = "service"  # organisations of its type outside its own system
    SCOPE = "scope"  # organisations of its type inside the caller's scope


class Withheld(ApiModel):
    reason: WithheldReason
    needed: int = Field(description="The number the rule asks for (organisations or systems).")
    detail: str


class Figure(ApiModel):
    """One figure. The group's numbers are null when withheld, and ``withheld`` says why."""

    own_value: float | None = Field(
        description="The organisation's own value in the snapshot (null: not in it yet)."
    )
    median: float | None
    lower_quartile: float | None
    upper_quartile: float | None
    position: Position | None
    n: int | None = Field(description="Organisations behind the group's figures.")
    systems: int | None = Field(
        description="Systems (top-level organisations) other than the organisation's own that "
        "they come from."
    )
    withheld: Withheld | None = None


class AreaFigure(Figure):
    area: Area


class CapabilityFigure(Figure):
    capability_key: str


class Benchmark(ApiModel):
    organisation_id: uuid.UUID
    organisation_type: OrganisationType
    is_demo: bool = Field(description="Demo organisations are compared with demo data only.")
    group: GroupKind
    taken_at: datetime | None = Field(description="When the snapshot was taken (null: never).")
    reference_model: str | None
    minimum_organisations: int
    minimum_systems: int
    overall: Figure = Field(description="The overall score, 0-100.")
    areas: list[AreaFigure] = Field(description="Each area's score, 0-100.")
    capabilities: list[CapabilityFigure] = Field(
        description="Each capability that applies to the type: current maturity, 0-4."
    )
