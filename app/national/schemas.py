"""The national views' contract: each top-level system's summary, and each capability's
coverage across the organisations the caller can read, by a grouping."""

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from app.analysis.schemas import GroupAreaScore, ReferenceModelRef
from app.api import ApiModel, Page
from app.vocabulary import Area, OrganisationType


class MemberCount(ApiModel):
    organisation_type: OrganisationType
    members: int


class RecordCounts(ApiModel):
    assets: int
    activities: int


class SystemOverview(ApiModel):
    """A top-level system (an organisation with no parent that has members: an ICB, say) and
    its members' figures, as its system view gives them."""

    id: uuid.UUID
    name: str
    organisation_type: OrganisationType
    ods_code: str | None = None
    members: int = Field(description="Organisations below it, at every level.")
    members_by_type: list[MemberCount] = Field(
        description="The members by kind, most numerous first."
    )
    records: RecordCounts = Field(description="Of the system's own organisation and members.")
    reference_model: ReferenceModelRef
    overall_score: float = Field(
        description="summary.overallScore of its system view (gap-analysis?scope=system)."
    )
    areas: list[GroupAreaScore] = Field(
        description="The mean of its members' area scores, as the system view's groups score."
    )
    last_changed_at: datetime = Field(
        description="When its organisations, or a record of theirs, last changed (a deletion "
        "of a record leaves no date of its own)."
    )


class SystemOverviewPage(Page[SystemOverview]):
    """A page of top-level systems, oldest first."""


class CoverageGroupBy(StrEnum):
    """An organisation's property, spelled as on the wire."""

    ORGANISATION_TYPE = "organisationType"
    SECTOR = "sector"
    REGION = "region"


class CoverageGroup(ApiModel):
    group: str | None = Field(
        description="The organisation type, sector or region (null: no region recorded)."
    )
    organisations: int = Field(description="Organisations in the group.")
    applicable: int = Field(description="Those to whom the capability applies.")
    meeting: int = Field(description="Those at or above its target.")
    partial: int = Field(description="Those started but below target (or blocked).")
    missing: int = Field(description="Those with nothing towards it.")
    coverage: float | None = Field(
        description="meeting / applicable, 0-1; null when it applies to none of the group."
    )


class CapabilityGroups(ApiModel):
    capability_key: str
    area: Area
    title: str
    groups: list[CoverageGroup]


class NationalCoverage(ApiModel):
    """Each capability of the model, and how many of the organisations you can read meet it,
    by group."""

    reference_model: ReferenceModelRef
    group_by: CoverageGroupBy
    organisations: int
    capabilities: list[CapabilityGroups]
